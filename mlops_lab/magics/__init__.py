"""``%mlops`` / ``%%mlops``: the notebook shell over the mlops-lab API.

The magics hold no logic of their own: each verb is a spec of the verb table
(:mod:`mlops_lab.commands`), from which :mod:`.verbs` builds its parser, call
and display. Errors a user can cause arrive as
:class:`~mlops_lab.errors.MlopsLabError` and are shown as one line
(``UsageError``), never a traceback. Settings are traitlets::

    %config MlopsMagics.store = "/data/project/.mlops"
    %config MlopsMagics.autolog = True
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Int, Unicode, observe

from ..errors import MlopsLabError
from .verbs import dispatch


@magics_class
class MlopsMagics(Magics):
    """The ``%mlops`` line magic and ``%%mlops`` cell magic."""

    store = Unicode(
        "",
        config=True,
        help="Path of the store folder; empty means MLOPS_LAB_HOME or the nearest .mlops/.",
    )
    autolog = Bool(False, config=True, help="Turn scikit-learn autologging on when loaded.")
    capture_cells = Bool(
        True,
        config=True,
        help="Record every executed cell (the session's history, and the open runs' cells).",
    )
    display_limit = Int(
        50, config=True, help="Rows shown by %mlops runs when --limit is not given."
    )

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        # The shell's cell capture (a CellCapture), set by load(): one per shell.
        self.cell_capture: Any = None
        self._apply_store(self.store)

    @observe("store")
    def _store_changed(self, change: dict[str, Any]) -> None:
        self._apply_store(change["new"])

    @observe("autolog")
    def _autolog_changed(self, change: dict[str, Any]) -> None:
        from ..tracking.autolog import autolog

        autolog(bool(change["new"]))

    @observe("capture_cells")
    def _capture_changed(self, change: dict[str, Any]) -> None:
        if self.cell_capture is not None:
            self.cell_capture.enabled = bool(change["new"])

    @staticmethod
    def _apply_store(path: str) -> None:
        from ..project import set_default_root

        set_default_root(path or None)

    @no_var_expand  # IPython would evaluate {expr} in the line: see .arguments
    @line_cell_magic
    def mlops(self, line: str, cell: str | None = None) -> Any:
        """mlops-lab: track, compare, validate, promote and serve. ``%mlops --help`` lists verbs."""
        try:
            return dispatch(self, line, cell)
        except MlopsLabError as exc:
            raise UsageError(str(exc)) from None


def extension(ipython: Any) -> Any:
    """The extension's :class:`MlopsMagics` registered on ``ipython`` (``None`` if not loaded)."""
    manager = getattr(ipython, "magics_manager", None)
    return None if manager is None else manager.registry.get(MlopsMagics.__name__)


def capture(ipython: Any = None) -> Any:
    """The cell capture of the extension loaded in ``ipython`` (default: the running shell).

    ``None`` before ``%load_ext mlops_lab`` and after unloading it. Each shell has
    its own, kept by the extension's :class:`MlopsMagics` on that shell.
    """
    if ipython is None:
        from IPython import get_ipython

        ipython = get_ipython()
    return getattr(extension(ipython), "cell_capture", None)


def load(ipython: Any) -> None:
    """Register the magics and the cell capture on ``ipython`` (idempotent)."""
    from ..tracking.cells import CellCapture

    previous = extension(ipython)
    cells = getattr(previous, "cell_capture", None)
    magics = MlopsMagics(shell=ipython)
    if previous is not None:
        previous.cell_capture = None
        if previous in ipython.configurables:
            ipython.configurables.remove(previous)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    if cells is None or cells.shell is not ipython:  # loading again keeps the history
        cells = CellCapture(ipython)
        cells.register()
        cells.begin_current()
    magics.cell_capture = cells
    cells.enabled = magics.capture_cells
    _adopt_pipeline_run()
    if magics.autolog:
        from ..tracking.autolog import autolog

        autolog(True)


def _adopt_pipeline_run() -> None:
    """In a pipeline step's kernel, the step's run is the active run from the first cell."""
    import os

    from ..project import RUN_ID_ENV_VAR, default_project

    if os.environ.get(RUN_ID_ENV_VAR):
        default_project().start_run()


def unload(ipython: Any) -> None:
    """Stop the cell capture of ``ipython`` (``%unload_ext mlops_lab``)."""
    magics = extension(ipython)
    cells = getattr(magics, "cell_capture", None)
    if cells is not None:
        cells.unregister()
        magics.cell_capture = None
