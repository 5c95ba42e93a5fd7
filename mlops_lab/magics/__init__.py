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

_capture: Any = None


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
        if _capture is not None:
            _capture.enabled = bool(change["new"])

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


def capture() -> Any:
    """The cell capture of the loaded extension (``None`` before ``%load_ext``)."""
    return _capture


def load(ipython: Any) -> None:
    """Register the magics and the cell capture on ``ipython`` (idempotent)."""
    global _capture
    from ..tracking.cells import CellCapture

    magics = MlopsMagics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)
    if _capture is None or _capture.shell is not ipython:
        if _capture is not None:
            _capture.unregister()
        _capture = CellCapture(ipython)
        _capture.register()
        _capture.begin_current()
    _capture.enabled = magics.capture_cells
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
    global _capture
    if _capture is not None:
        _capture.unregister()
        _capture = None
