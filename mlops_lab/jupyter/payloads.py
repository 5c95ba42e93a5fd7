"""The JSON bodies of the Experiments panel's REST routes, read from a :class:`Store`.

Plain functions from a store (and query arguments) to JSON-ready dicts: no
tornado here, so they can be tested and reused without a server. Values that
JSON cannot carry are made safe on the way out: timestamps become epoch
seconds, NaN and infinities become the strings ``"NaN"``, ``"Infinity"`` and
``"-Infinity"``, and params that are not plain JSON become their text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypedDict

from ..store.query import convert_param, runs_page

if TYPE_CHECKING:
    import pandas as pd

    from ..store import Store

MAX_LIMIT = 500
_RUN_FIELDS = ("run_id", "name", "experiment", "status", "parent_id")


class StoreInfo(TypedDict):
    root: str
    exists: bool


class RunSummary(TypedDict):
    run_id: str
    name: str | None
    experiment: str
    status: str
    start_time: float | None
    end_time: float | None
    duration_s: float | None
    parent_id: str | None
    params: dict[str, Any]
    metrics: dict[str, float | str]
    tags: dict[str, str]


class RunsPage(TypedDict):
    store: StoreInfo
    total: int
    offset: int
    limit: int
    runs: list[RunSummary]


def json_value(value: Any) -> Any:
    """``value`` as something ``json.dumps(allow_nan=False)`` accepts."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return json_value(value.item())
    return str(value)


def store_info(store: Store) -> StoreInfo:
    return {"root": str(store.root), "exists": store.db_path.exists()}


def experiments(store: Store) -> dict[str, Any]:
    """``{store, experiments: [{experiment_id, name, created, n_runs}]}``."""
    info = store_info(store)
    return {"store": info, "experiments": store.experiments() if info["exists"] else []}


def _seconds(value: Any) -> float | None:
    """A pandas Timestamp (or epoch seconds) as epoch seconds; NaT and NaN as ``None``."""
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        try:
            return float(value.timestamp())
        except ValueError:  # NaT
            return None
    number = float(value)
    return None if math.isnan(number) else number


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _summaries(frame: pd.DataFrame) -> list[RunSummary]:
    groups = {
        prefix: [c for c in frame.columns if c.startswith(prefix + ".")]
        for prefix in ("params", "metrics", "tags")
    }
    out: list[RunSummary] = []
    for row in frame.to_dict("records"):

        def present(prefix: str, row: dict[str, Any] = row) -> dict[str, Any]:
            # Missing values are NaN or None in the frame (a metric logged as NaN
            # cannot be told from one never logged: both are left out).
            return {
                column[len(prefix) + 1 :]: json_value(row[column])
                for column in groups[prefix]
                if not _missing(row[column])
            }

        duration = row.get("duration_s")
        summary: dict[str, Any] = {field: row[field] for field in _RUN_FIELDS}
        summary.update(
            start_time=_seconds(row["start_time"]),
            end_time=_seconds(row["end_time"]),
            duration_s=None if duration is None or math.isnan(duration) else float(duration),
            params=present("params"),
            metrics=present("metrics"),
            tags=present("tags"),
        )
        out.append(summary)  # type: ignore[arg-type]
    return out


def runs(
    store: Store,
    *,
    experiment: str | None = None,
    filter: str | None = None,
    order_by: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> RunsPage:
    """One page of runs, newest first unless ``order_by`` says otherwise.

    ``filter`` and ``order_by`` use the language of :func:`mlops_lab.runs`;
    a mistake raises :class:`~mlops_lab.errors.FilterSyntaxError`.
    """
    from ..errors import InvalidArgumentError

    if offset < 0:
        raise InvalidArgumentError(f"offset: expected a non-negative integer, got {offset}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit: expected 1 to {MAX_LIMIT}, got {limit}")
    info = store_info(store)
    if not info["exists"]:
        return {"store": info, "total": 0, "offset": offset, "limit": limit, "runs": []}
    reap(store)
    frame, total = runs_page(
        store,
        experiment=experiment or None,
        filter=filter or None,
        order_by=order_by or None,
        offset=offset,
        limit=limit,
    )
    return {
        "store": info,
        "total": total,
        "offset": offset,
        "limit": limit,
        "runs": _summaries(frame),
    }


def run_detail(store: Store, ref: str) -> dict[str, Any]:
    """Everything the panel shows of one run: record, params, metrics, tags, data, code."""
    from ..errors import RunNotFoundError

    if not store.db_path.exists():
        raise RunNotFoundError(f"no run {ref!r}: there is no store at {store.root}", run_id=ref)
    run_id = store.resolve_run(ref)
    record = store.run_record(run_id)
    params = {k: convert_param(v, t) for k, (v, t) in store.params(run_id).items()}
    start, end = record.get("start_time"), record.get("end_time")
    body = {
        "run_id": run_id,
        "name": record.get("name"),
        "experiment": record.get("experiment"),
        "status": record.get("status"),
        "start_time": start,
        "end_time": end,
        "duration_s": None if end is None or start is None else end - start,
        "parent_id": record.get("parent_id"),
        "source": {
            key: record.get(key)
            for key in ("source_type", "source_path", "git_commit", "git_branch", "host", "user")
            if record.get(key) is not None
        },
        "params": params,
        "metrics": store.latest_metrics(run_id),
        "tags": store.tags(run_id),
        "datasets": store.run_inputs(run_id),
        "artifacts": store.artifacts(run_id),
        "cells": store.cells(run_id),
        "children": store.child_run_ids(run_id),
    }
    return json_value(body)


def reap(store: Store) -> None:
    """Mark runs whose process died ``killed``, as ``ml.runs()`` does before reading."""
    from ..tracking import capture

    store.reap_dead_runs(host=capture.process()["host"], alive=capture.pid_alive)


def _registry() -> Any:
    try:
        from .. import registry
    except ImportError:
        return None
    if not hasattr(registry, "models") or not hasattr(registry, "model_versions"):
        return None
    return registry


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for row in frame.to_dict("records"):
        rows.append(
            {
                k: _seconds(v) if k in ("created", "updated") else json_value(v)
                for k, v in row.items()
                if not _missing(v)
            }
        )
    return rows


def models(store: Store) -> dict[str, Any]:
    """``{available, models}``: registered models, or ``available: false`` without a registry."""
    registry = _registry()
    if registry is None:
        return {"available": False, "models": []}
    if not store.db_path.exists():
        return {"available": True, "models": []}
    return {"available": True, "models": _records(registry.models(store=store))}


def model_versions(store: Store, name: str) -> dict[str, Any]:
    """``{name, versions}``: the versions of one model, newest first, with their aliases."""
    registry = _registry()
    if registry is None:
        return {"name": name, "versions": []}
    from ..errors import ModelNotFoundError

    if not store.db_path.exists():
        raise ModelNotFoundError(f"no registered model {name!r}", ref=name, name=name)
    return {"name": name, "versions": _records(registry.model_versions(name, store=store))}
