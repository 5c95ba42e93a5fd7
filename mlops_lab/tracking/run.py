"""The :class:`Run`: one tracked execution, open for logging or read back.

A ``Run`` is a handle (store + id, and the :class:`~mlops_lab.Project` that
opened it, if any); every property reads the store, after flushing buffered
metrics, so it always shows what is stored. An open run is
also a context manager::

    with ml.start_run("baseline") as run:
        ml.log_param("C", 1.0)
        ml.log_metric("acc", 0.93)
    run.status            # 'finished' ('failed' if the block raised)
    run.metrics           # {'acc': 0.93}
"""

from __future__ import annotations

import html
import json
import math
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError
from ..store.query import convert_param
from .models import load_model

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from ..project import Project
    from ..store import Store

# How long reading a run waits for the git status of runs this process started.
GIT_READ_WAIT_S = 2.0


def param_value(key: str, value: Any) -> tuple[str, str]:
    """``(text, vtype)`` of a param: its stored text and the type to read it back as."""
    if isinstance(value, bool):
        return str(value), "bool"
    if value is None:
        return "None", "none"
    if isinstance(value, str):
        return value, "str"
    type_name = type(value).__module__ + "." + type(value).__name__
    if (
        isinstance(value, int)
        or type_name.startswith("numpy.int")
        or type_name.startswith("numpy.uint")
    ):
        return str(int(value)), "int"
    if isinstance(value, float) or type_name.startswith("numpy.float"):
        return repr(float(value)), "float"
    if type_name == "numpy.bool":
        return str(bool(value)), "bool"
    if isinstance(value, list | tuple | dict):
        try:
            return json.dumps(value, sort_keys=isinstance(value, dict)), "json"
        except (TypeError, ValueError):
            pass
    return repr(value) if not hasattr(value, "get_params") else type(value).__name__, "repr"


class Run:
    """A tracked run (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        name: str | None = None,
        project: Project | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self._name = name
        self._project = project

    @property
    def project(self) -> Project:
        """The project that buffers this run's metrics and ends it (default: the default one)."""
        if self._project is not None:
            return self._project
        from ..project import default_project

        return default_project()

    def _flush(self) -> None:
        """Write the metrics buffered for this run, wherever they are buffered."""
        from ..project import flush_for

        if self._project is not None:
            self._project.flush()
        flush_for(self.store)

    # -- identity ----------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self.run_id

    @property
    def info(self) -> dict[str, Any]:
        """The run's record: status, times, parent, source, git, host, environment id."""
        from ..project import GIT_WATCHER, peek_process_resource

        self._flush()
        watcher = peek_process_resource(GIT_WATCHER)
        if watcher is not None and watcher.pending:  # a dirty flag still to be written
            watcher.wait(GIT_READ_WAIT_S)
        return self.store.run_record(self.run_id)

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = self.info["name"]
        return self._name or ""

    @property
    def status(self) -> str:
        return self.info["status"]

    @property
    def experiment(self) -> str:
        return self.info["experiment"]

    @property
    def parent_id(self) -> str | None:
        return self.info["parent_id"]

    @property
    def start_time(self) -> float:
        return self.info["start_time"]

    @property
    def end_time(self) -> float | None:
        return self.info["end_time"]

    @property
    def duration_s(self) -> float | None:
        info = self.info
        return None if info["end_time"] is None else info["end_time"] - info["start_time"]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)

    # -- logged values -------------------------------------------------------------------

    @property
    def params(self) -> dict[str, Any]:
        """Params with the Python types they were logged with."""
        return {k: convert_param(v, t) for k, (v, t) in self.store.params(self.run_id).items()}

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of every metric (highest step, then latest time)."""
        self._flush()
        return self.store.latest_metrics(self.run_id)

    def metric_history(self, key: str) -> pd.DataFrame:
        """Every value logged for ``key``: a DataFrame of step, value, timestamp."""
        import pandas as pd

        self._flush()
        rows = self.store.metric_history(self.run_id, key)
        frame = pd.DataFrame(rows, columns=["step", "value", "timestamp"])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
        return frame

    @property
    def tags(self) -> dict[str, str]:
        return self.store.tags(self.run_id)

    @property
    def cells(self) -> list[dict[str, Any]]:
        """The code executed while the run was open, in order, with outcome and duration."""
        return self.store.cells(self.run_id)

    @property
    def environment(self) -> dict[str, Any]:
        """Python version, platform and ``packages`` (name -> version)."""
        return self.store.environment(self.info.get("env_id"))

    @property
    def git(self) -> dict[str, Any]:
        info = self.info
        if not info.get("git_root"):
            return {}
        dirty = info.get("git_dirty")
        return {
            "commit": info.get("git_commit"),
            "branch": info.get("git_branch"),
            "dirty": None if dirty is None else bool(dirty),
            "root": info.get("git_root"),
        }

    @property
    def datasets(self) -> list[dict[str, Any]]:
        return self.store.run_inputs(self.run_id)

    @property
    def artifacts(self) -> list[dict[str, Any]]:
        return self.store.artifacts(self.run_id)

    @property
    def children(self) -> list[Run]:
        return [
            Run(self.store, r, project=self._project) for r in self.store.child_run_ids(self.run_id)
        ]

    def artifact_path(self, path: str) -> Path:
        """The stored file of artifact ``path`` (read-only: it is shared by content)."""
        for art in self.artifacts:
            if art["path"] == path:
                return self.store.blobs.path(art["digest"])
        names = ", ".join(a["path"] for a in self.artifacts) or "none"
        raise InvalidArgumentError(
            f"run {self.run_id[:8]} has no artifact {path!r} (it has: {names})"
        )

    def load_model(self, name: str = "model") -> Any:
        """Load the model logged as ``name``, safely (see :func:`mlops_lab.load_model`)."""
        return load_model(self, name)

    # -- logging, when open ---------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> None:
        self.project.log_params({key: value}, run=self)

    def log_params(self, params: dict[str, Any]) -> None:
        self.project.log_params(params, run=self)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self.project.buffer_metric(self, key, value, step)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.project.log_metrics(metrics, step, run=self)

    def set_tag(self, key: str, value: Any) -> None:
        self.store.set_tags(self.run_id, {str(key): str(value)})

    def end(self, status: str = "finished") -> None:
        self.project.end_run(status, run=self)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.project.end_run("failed" if exc_type is not None else "finished", run=self)

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<Run {self.run_id[:8]} {self._name or ''}>".replace(" >", ">")

    def _repr_html_(self) -> str:
        info = self.info
        metrics = self.metrics
        params = self.params

        def table(title: str, items: dict[str, Any]) -> str:
            if not items:
                return ""
            rows = "".join(
                f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>"
                for k, v in items.items()
            )
            return f"<b>{title}</b><table>{rows}</table>"

        head = (
            f"<b>Run {html.escape(info['name'] or '')}</b> <code>{self.run_id[:8]}</code> "
            f"({html.escape(info['experiment'])}) &middot; {info['status']}"
        )
        return f"<div>{head}{table('Params', params)}{table('Metrics', metrics)}{table('Tags', self.tags)}</div>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)
