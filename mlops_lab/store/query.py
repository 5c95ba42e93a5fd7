"""Runs as a table: the query behind ``ml.runs()``.

The filter and order-by are compiled to SQL (see :mod:`.filter`); params,
latest metrics and tags of the selected runs are read as plain long
``(run_id, key, value)`` rows and pivoted into columns with numpy, which keeps
tens of thousands of runs interactive (no JSON built by SQLite or parsed back,
and no per-value Python work beyond turning params back into their types).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .filter import compile_filter, compile_order

if TYPE_CHECKING:
    import pandas as pd

    from .store import Store

RUN_COLUMNS = ["run_id", "name", "experiment", "status", "start_time", "end_time", "duration_s"]
_EXTRA_COLUMNS = ["parent_id"]


def convert_param(value: str, vtype: str) -> Any:
    """Turn a stored param back into the Python value it was logged as."""
    if vtype == "int":
        return int(value)
    if vtype == "float":
        return float(value)
    if vtype == "bool":
        return value == "True"
    if vtype == "none":
        return None
    if vtype == "json":
        return json.loads(value)
    return value


def select_runs(
    store: Store,
    *,
    experiment: str | list[str] | None = None,
    filter: str | None = None,
    order_by: str | list[str] | None = None,
    limit: int | None = None,
    parent: str | None = None,
    include_children: bool = True,
) -> tuple[str, list[Any]]:
    """SQL (and params) selecting the run ids that match, in order."""
    where: list[str] = []
    params: list[Any] = []
    if experiment is not None:
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        where.append(f"e.name IN ({', '.join('?' for _ in names)})")
        params.extend(names)
    if filter:
        sql, fparams = compile_filter(filter)
        where.append(sql)
        params.extend(fparams)
    if parent is not None:
        where.append("r.parent_id = ?")
        params.append(parent)
    elif not include_children:
        where.append("r.parent_id IS NULL")
    order_sql = "r.start_time DESC, r.rowid DESC"
    if order_by:
        osql, oparams = compile_order(order_by)
        order_sql = f"{osql}, {order_sql}"
        params.extend(oparams)
    sql = (
        "SELECT r.run_id, r.name, e.name, r.status, r.start_time, r.end_time, r.parent_id "
        "FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order_sql}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return sql, params


def _summary_frame(texts: list[str | None], prefix: str) -> pd.DataFrame:
    """One column per key of the runs' summary objects, named ``prefix.key``, sorted."""
    import pandas as pd

    objects = json.loads("[" + ",".join([t or "{}" for t in texts]) + "]")
    frame = pd.DataFrame.from_records(objects, nrows=len(objects)) if objects else pd.DataFrame()
    frame = frame.reindex(columns=sorted(frame.columns))
    if prefix == "metrics":
        frame = frame.astype("float64")
    else:
        from pandas.api.types import is_numeric_dtype

        for col in frame.columns:
            if not is_numeric_dtype(frame[col]):  # text, mixed: missing is None, not NaN
                values = frame[col].astype(object)
                frame[col] = values.where(values.notna(), None)
    frame.columns = [f"{prefix}.{c}" for c in frame.columns]
    return frame


def runs_frame(store: Store, **options: Any) -> pd.DataFrame:
    """The runs that match ``options`` (see :func:`select_runs`) as one DataFrame.

    Params, latest metrics and tags come from each run's summary objects (one
    JSON text per run, kept current on every write), so the table costs one
    row per run to read, however many values the runs logged.
    """
    import pandas as pd

    sql, params = select_runs(store, **options)
    sql = sql.replace(
        "r.end_time, r.parent_id FROM",
        "r.end_time, r.parent_id, r.params_json, r.metrics_json, r.tags_json FROM",
        1,
    )
    rows = store.db.read(sql, params)
    data: dict[str, Any] = {
        "run_id": [r[0] for r in rows],
        "name": [r[1] for r in rows],
        "experiment": [r[2] for r in rows],
        "status": [r[3] for r in rows],
    }
    start = [r[4] for r in rows]
    end = [r[5] for r in rows]
    data["start_time"] = pd.to_datetime(pd.Series(start, dtype="float64"), unit="s", utc=True)
    data["end_time"] = pd.to_datetime(pd.Series(end, dtype="float64"), unit="s", utc=True)
    data["duration_s"] = [
        (e - s) if e is not None and s is not None else math.nan
        for s, e in zip(start, end, strict=True)
    ]
    frame = pd.DataFrame(data)
    frame["parent_id"] = [r[6] for r in rows]
    parts = [
        _summary_frame([r[7] for r in rows], "params"),
        _summary_frame([r[8] for r in rows], "metrics"),
        _summary_frame([r[9] for r in rows], "tags"),
    ]
    parts = [p for p in parts if len(p.columns)]
    if parts:
        frame = pd.concat([frame, *parts], axis=1)
    return frame


def group_runs(frame: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """Mean, std, min, max and count of every metric per group of runs.

    ``by`` names columns of the runs table (``params.model``, ``tags.team``,
    ``experiment``); the result has one row per group and columns such as
    ``metrics.acc.mean``, plus ``runs`` (how many runs are in the group).
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"group_by: no column {missing[0]!r} in the selected runs; "
            f"params, tags and attributes available: "
            + ", ".join(c for c in frame.columns if not c.startswith("metrics."))
        )
    metrics = [c for c in frame.columns if c.startswith("metrics.")]
    grouped = frame.groupby(keys, dropna=False, sort=True)
    out = grouped.size().rename("runs").to_frame()
    if metrics:
        stats = grouped[metrics].agg(["mean", "std", "min", "max", "count"])
        stats.columns = [f"{m}.{s}" for m, s in stats.columns]
        out = out.join(stats)
    return out.reset_index()


def runs_page(
    store: Store, *, offset: int = 0, limit: int = 50, **options: Any
) -> tuple[pd.DataFrame, int]:
    """One page of :func:`runs_frame` (``limit`` runs from ``offset``) and the match count.

    ``options`` are those of :func:`select_runs` (except ``limit``); the count
    is of every run that matches, so a caller can tell how many pages there are.
    """
    sql, params = select_runs(store, **options)
    row = store.db.read_one(f"SELECT count(*) FROM ({sql})", params)
    total = int(row[0]) if row else 0
    if offset >= total or limit <= 0:
        frame = runs_frame(store, **options, limit=0)
    else:
        frame = runs_frame(store, **options, limit=offset + limit).iloc[offset:]
    return frame.reset_index(drop=True), total
