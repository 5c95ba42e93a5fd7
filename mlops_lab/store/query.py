"""Runs as a table: the query behind ``ml.runs()``.

The filter and order-by are compiled to SQL (see :mod:`.filter`); params,
latest metrics and tags of the selected runs are fetched as one JSON object
per run (``json_group_object``), which keeps tens of thousands of runs
interactive: SQLite builds the objects, ``json.loads`` parses them in C.
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


def _objects(store: Store, table: str, ids_sql: str, params: list[Any], value: str) -> dict:
    rows = store.db.read(
        f"SELECT run_id, json_group_object(key, {value}) FROM {table} "
        f"WHERE run_id IN (SELECT run_id FROM ({ids_sql})) GROUP BY run_id",
        params,
    )
    return {run_id: json.loads(obj) for run_id, obj in rows}


def _metric_value(value: float | str | None) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        return math.inf if not value.startswith("-") else -math.inf
    return value


def runs_frame(store: Store, **options: Any) -> pd.DataFrame:
    """The runs that match ``options`` (see :func:`select_runs`) as one DataFrame."""
    import pandas as pd

    sql, params = select_runs(store, **options)
    rows = store.db.read(sql, params)
    ids_sql = sql.replace(
        "SELECT r.run_id, r.name, e.name, r.status, r.start_time, r.end_time, r.parent_id",
        "SELECT r.run_id",
        1,
    )
    # A JSON array [value, vtype] per param; NaN metrics are NULL in SQLite.
    pvals = _objects(store, "params", ids_sql, params, "json_array(value, vtype)")
    # SQLite writes infinities as the non-JSON word Inf: pass them as strings.
    mvals = _objects(
        store,
        "latest_metrics",
        ids_sql,
        params,
        "CASE WHEN abs(value) > 1.7976931348623157e308 THEN CAST(value AS TEXT) ELSE value END",
    )
    tvals = _objects(store, "tags", ids_sql, params, "value")

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

    extra: dict[str, Any] = {}
    ids = data["run_id"]
    for prefix, values, conv in (
        ("params", pvals, lambda pair: convert_param(pair[0], pair[1])),
        ("metrics", mvals, _metric_value),
        ("tags", tvals, lambda v: v),
    ):
        keys = sorted({k for obj in values.values() for k in obj})
        for key in keys:
            column = []
            for run_id in ids:
                obj = values.get(run_id)
                if obj is None or key not in obj:
                    column.append(math.nan if prefix == "metrics" else None)
                else:
                    column.append(conv(obj[key]))
            if prefix == "metrics":
                extra[f"metrics.{key}"] = pd.Series(column, dtype="float64")
            else:
                extra[f"{prefix}.{key}"] = pd.Series(column, dtype="object")
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], axis=1)
    for col in [c for c in frame.columns if c.startswith("params.")]:
        frame[col] = _tighten(frame[col])
    return frame


def _tighten(column: pd.Series) -> pd.Series:
    """Give a params column a numeric dtype when every value present is a number."""
    present = column.dropna()
    kinds = {type(v) for v in present}
    if not kinds or not kinds <= {int, float}:
        return column
    if kinds == {int} and len(present) == len(column):
        return column.astype("int64")
    return column.astype("float64")


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
