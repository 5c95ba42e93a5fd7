"""Notebook cell capture: every cell executed while a run is open is recorded.

IPython's ``pre_run_cell`` / ``post_run_cell`` events give the source, the
execution count, the outcome and the duration of each cell. A cell is
recorded for the runs open when it started and for those it started, so the
cell that opens a run and the one that ends it are part of the run. Cells
run by ``%%mlops run`` record their body themselves (see :meth:`suppress`).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from .session import session


class CellCapture:
    """Records cells into the open runs of the process's session."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.enabled = True
        self._depth = 0
        self._suppressed = 0
        self._started: list[tuple[str, float, list]] = []
        self._touched: list[list] = []
        session().add_listener(self._on_run_event)

    def register(self) -> None:
        events = self.shell.events
        events.register("pre_run_cell", self.pre_run_cell)
        events.register("post_run_cell", self.post_run_cell)

    def unregister(self) -> None:
        events = self.shell.events
        for name, fn in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                events.unregister(name, fn)
            except ValueError:
                pass

    @contextmanager
    def suppress(self):
        """Do not record cells run inside this block (a ``%%mlops run`` body)."""
        self._suppressed += 1
        try:
            yield
        finally:
            self._suppressed -= 1

    def exclude(self, run: Any) -> None:
        """Leave ``run`` out of the cell now executing (it records its cell itself)."""
        for touched in self._touched:
            if run in touched:
                touched.remove(run)
        for _, _, open_runs in self._started:
            if run in open_runs:
                open_runs.remove(run)

    def _on_run_event(self, event: str, run: Any) -> None:
        if event == "start" and self._touched:
            self._touched[-1].append(run)

    def pre_run_cell(self, info: Any) -> None:
        source = getattr(info, "raw_cell", "") or ""
        self._started.append((source, time.time(), list(session().stack)))
        self._touched.append([])

    def post_run_cell(self, result: Any) -> None:
        if not self._started:
            return
        source, started, open_runs = self._started.pop()
        touched = self._touched.pop()
        sess = session()
        sess.flush()  # a cell is a natural point to make logged metrics visible
        if not self.enabled or self._suppressed or not source.strip():
            return
        runs = {r.run_id: r for r in [*open_runs, *touched]}
        if not runs:
            return
        error = getattr(result, "error_in_exec", None) or getattr(result, "error_before_exec", None)
        cell = {
            "source": source,
            "execution_count": getattr(result, "execution_count", None),
            "status": "error" if error is not None else "ok",
            "error_name": type(error).__name__ if error is not None else None,
            "error_value": str(error)[:2000] if error is not None else None,
            "started": started,
            "duration_s": time.time() - started,
            "kind": "cell",
        }
        for run in runs.values():
            try:
                run.store.add_cell(run.run_id, cell)
            except Exception as exc:  # capture must never break the user's notebook
                import warnings

                from ..errors import MlopsLabWarning

                warnings.warn(
                    f"mlops-lab could not record the cell: {exc}", MlopsLabWarning, stacklevel=1
                )
