"""Notebook cell capture: every cell the kernel executes, from ``%load_ext`` on.

IPython's ``pre_run_cell`` / ``post_run_cell`` events give the source, the
front-end's cell id, the execution count, the outcome and the duration of each
cell. :class:`CellCapture` keeps the whole session's history in memory, in
execution order, whether a run is open or not (see :attr:`CellCapture.history`).

A run stores what it needs of it: when the run starts, the cells completed
before it (``kind = 'context'``: the imports, data loading and helpers above
``%mlops start``, which promotion slices from); then every cell executed while
it is open, including the cell that opens it and the one that ends it.
:meth:`CellCapture.run_as_run` runs a cell's body as one run (``%%mlops run``).

The context is stored once per session and store, not once per run: a run
stores the cells completed since the previous run of the session in the same
store started, and a ``kind = 'context_from'`` row naming that run, whose
context comes first (:meth:`~mlops_lab.store.Store.cells` follows the chain).
A session with many runs writes each cell once, instead of every earlier cell
again for every run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .session import session


class CellCapture:
    """Records the session's cells, and the open runs' cells into the store."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.enabled = True
        self.history: list[dict[str, Any]] = []
        self._suppressed = 0
        self._started: list[tuple[str, str | None, float, list]] = []
        self._touched: list[list] = []
        # Per store: the last run whose context was stored, and the cells it covered.
        self._context_runs: dict[str, tuple[str, int]] = {}
        self._registered = False
        session().add_listener(self._on_run_event)

    def register(self) -> None:
        self._registered = True
        events = self.shell.events
        events.register("pre_run_cell", self.pre_run_cell)
        events.register("post_run_cell", self.post_run_cell)

    def unregister(self) -> None:
        self._registered = False  # a capture still referenced somewhere stops recording
        events = self.shell.events
        for name, fn in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                events.unregister(name, fn)
            except ValueError:
                pass

    def begin_current(self) -> None:
        """Treat the cell now executing (the one running ``%load_ext``) as started.

        Its ``pre_run_cell`` fired before the hooks existed; the kernel stored its
        source in the input history first, so it can be recorded when it ends.
        """
        if self._started:
            return
        try:
            source = self.shell.history_manager.input_hist_raw[-1]
        except (AttributeError, IndexError):
            return
        cell_id = None
        try:  # ipykernel: the request being executed carries the front-end's cell id
            cell_id = (self.shell.get_parent() or {}).get("metadata", {}).get("cellId")
        except Exception:
            cell_id = None
        if isinstance(source, str) and "load_ext" in source:
            self._started.append((source, cell_id, time.time(), list(session().stack)))
            self._touched.append([])

    @contextmanager
    def suppress(self) -> Iterator[None]:
        """Do not record cells run inside this block (a ``%%mlops run`` body)."""
        self._suppressed += 1
        try:
            yield
        finally:
            self._suppressed -= 1

    def current_cell_id(self) -> str | None:
        """The front-end's id of the cell now executing (``None`` if it sent none)."""
        return self._started[0][1] if self._started else None

    def exclude(self, run: Any) -> None:
        """Leave ``run`` out of the cell now executing (it records its cell itself)."""
        for touched in self._touched:
            if run in touched:
                touched.remove(run)
        for _, _, _, open_runs in self._started:
            if run in open_runs:
                open_runs.remove(run)

    def run_as_run(
        self,
        source: str,
        *,
        name: str | None = None,
        experiment: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> tuple[Any, BaseException | None]:
        """Execute ``source`` in the shell as one run: ``%%mlops run``'s body.

        The run opens as :func:`~mlops_lab.start_run` opens it (refused while another
        run is open; inside a pipeline step, the step's run), records ``source`` as
        its one cell with its outcome, and ends ``finished`` or ``failed``.

        Returns
        -------
        tuple
            ``(run, error)``: the run, and the exception the cell raised (or ``None``).
        """
        sess = session()
        run = sess.start_run(name, experiment=experiment, tags=tags, parent=None)
        self.exclude(run)
        started = time.time()
        with self.suppress():
            result = self.shell.run_cell(source, store_history=False)
        error = result.error_in_exec or result.error_before_exec
        run.store.add_cell(
            run.run_id,
            {
                "source": source,
                "cell_id": self.current_cell_id(),
                "execution_count": getattr(self.shell, "execution_count", None),
                "status": "error" if error else "ok",
                "error_name": type(error).__name__ if error else None,
                "error_value": str(error)[:2000] if error else None,
                "started": started,
                "duration_s": time.time() - started,
                "kind": "cell",
            },
        )
        if sess.active is run:
            sess.end_run(run, "failed" if error else "finished")
        return run, error

    def _on_run_event(self, event: str, run: Any) -> None:
        if event != "start" or not self._registered:
            return
        if self._touched:
            self._touched[-1].append(run)
        if not self.enabled or not self.history:
            return
        store = run.store
        key = str(store.db_path)
        covered = len(self.history)
        previous = self._context_runs.get(key)
        if previous is not None and previous[1] <= covered:
            since, start = previous
            context = [{"source": since, "kind": "context_from"}]
        else:
            context, start = [], 0
        context += [{**cell, "kind": "context"} for cell in self.history[start:]]
        try:
            store.add_cells(run.run_id, context)
        except Exception as exc:  # capture must never break the user's notebook
            _warn(exc)
            return
        self._context_runs[key] = (run.run_id, covered)

    def pre_run_cell(self, info: Any) -> None:
        # The default project may have changed (``%config MlopsMagics.store``): its runs
        # get their context too.
        session().add_listener(self._on_run_event)
        source = getattr(info, "raw_cell", "") or ""
        cell_id = getattr(info, "cell_id", None)
        self._started.append((source, cell_id, time.time(), list(session().stack)))
        self._touched.append([])

    def post_run_cell(self, result: Any) -> None:
        if not self._started:
            return
        source, cell_id, started, open_runs = self._started.pop()
        touched = self._touched.pop()
        sess = session()
        sess.flush()  # a cell is a natural point to make logged metrics visible
        if not self.enabled or self._suppressed or not source.strip():
            return
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        count = getattr(result, "execution_count", None)
        if count is None:
            count = getattr(self.shell, "execution_count", None)
        cell = {
            "source": source,
            "cell_id": cell_id,
            "execution_count": count,
            "status": "error" if error is not None else "ok",
            "error_name": type(error).__name__ if error is not None else None,
            "error_value": str(error)[:2000] if error is not None else None,
            "started": started,
            "duration_s": time.time() - started,
            "kind": "cell",
        }
        self.history.append(cell)
        runs = {r.run_id: r for r in [*open_runs, *touched]}
        for run in runs.values():
            try:
                run.store.add_cell(run.run_id, cell)
            except Exception as exc:  # capture must never break the user's notebook
                _warn(exc)


def _warn(exc: Exception) -> None:
    import warnings

    from ..errors import MlopsLabWarning

    warnings.warn(f"mlops-lab could not record the cell: {exc}", MlopsLabWarning, stacklevel=2)
