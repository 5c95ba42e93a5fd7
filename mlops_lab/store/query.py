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
from itertools import repeat
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


def _long_rows(store: Store, table: str, columns: str, ids_sql: str | None, params: list) -> list:
    """``(run_id, key, *columns)`` rows of ``table`` for the selected runs.

    ``ids_sql`` ``None`` means every run is selected: the table is then read
    in one sequential scan instead of one index probe per run.
    """
    sql = f"SELECT run_id, key, {columns} FROM {table}"
    if ids_sql is None:
        return store.db.read(sql)
    return store.db.read(f"{sql} WHERE run_id IN (SELECT run_id FROM ({ids_sql}))", params)


def _groups(rows: list, position: dict[str, int], width: int) -> tuple[list, list]:
    """Split long rows by key: ``([(key, row_indices)], [positions, *value_columns])``.

    Keys come sorted; ``positions`` are the runs' rows in the frame. Rows of
    runs outside the frame are dropped. Done with numpy/pandas, so tens of
    thousands of runs cost no per-value Python work beyond type conversion.
    """
    import numpy as np
    import pandas as pd

    keys = np.array([r[1] for r in rows], dtype=object)
    values = [[r[i] for r in rows] for i in range(2, 2 + width)]
    positions = np.fromiter(
        map(position.get, [r[0] for r in rows], repeat(-1)), dtype=np.intp, count=len(rows)
    )
    codes, uniques = pd.factorize(keys, sort=True)
    outside = positions < 0
    if outside.any():
        codes = np.where(outside, -1, codes)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes[~outside], minlength=len(uniques)).tolist()
    start = int(outside.sum())  # rows outside the frame sort first (code -1)
    groups = []
    for key, count in zip(uniques.tolist(), counts, strict=True):
        if count:
            groups.append((key, order[start : start + count]))
        start += count
    return groups, [positions, *values]


def _object_column(n: int, positions: Any, values: list[Any]) -> list[Any]:
    column: list[Any] = [None] * n
    for pos, value in zip(positions.tolist(), values, strict=True):
        column[pos] = value
    return column


_INT64 = (-(2**63), 2**63 - 1)


def _param_column(n: int, positions: Any, texts: list[str], vtypes: list[str]) -> pd.Series:
    """One ``params.<key>`` column, as :func:`_tighten` would type it.

    A key logged with one type throughout (the usual case) is converted in
    bulk; anything else goes value by value through :func:`convert_param`.
    """
    import numpy as np
    import pandas as pd

    vtype = vtypes[0]
    if vtypes.count(vtype) == len(vtypes):
        if vtype == "str":
            return pd.Series(_object_column(n, positions, texts), dtype="object")
        if vtype == "float":
            numbers = np.array(list(map(float, texts)), dtype="float64")
            if not np.isnan(numbers).all():
                column = np.full(n, np.nan)
                column[positions] = numbers
                return pd.Series(column, dtype="float64")
        elif vtype == "int":
            ints = list(map(int, texts))
            if len(ints) < n:
                column = np.full(n, np.nan)
                column[positions] = np.array(ints, dtype="float64")
                return pd.Series(column, dtype="float64")
            if _INT64[0] <= min(ints) and max(ints) <= _INT64[1]:
                column = np.empty(n, dtype="int64")
                column[positions] = np.array(ints, dtype="int64")
                return pd.Series(column, dtype="int64")
    converted = list(map(convert_param, texts, vtypes))
    return _tighten(pd.Series(_object_column(n, positions, converted), dtype="object"))


def _param_columns(rows: list, position: dict[str, int], n: int, extra: dict[str, Any]) -> None:
    import numpy as np

    if not rows:
        return
    groups, (positions, values, vtypes) = _groups(rows, position, 2)
    values = np.array(values, dtype=object)
    vtypes = np.array(vtypes, dtype=object)
    for key, idx in groups:
        extra[f"params.{key}"] = _param_column(
            n, positions[idx], values[idx].tolist(), vtypes[idx].tolist()
        )


def _metric_columns(rows: list, position: dict[str, int], n: int, extra: dict[str, Any]) -> None:
    import numpy as np
    import pandas as pd

    if not rows:
        return
    groups, (positions, values) = _groups(rows, position, 1)
    # NaN is stored as NULL: None becomes NaN here; infinities arrive as floats.
    numbers = np.array(values, dtype="float64")
    for key, idx in groups:
        column = np.full(n, np.nan)
        column[positions[idx]] = numbers[idx]
        extra[f"metrics.{key}"] = pd.Series(column, dtype="float64")


def _tag_columns(rows: list, position: dict[str, int], n: int, extra: dict[str, Any]) -> None:
    import numpy as np
    import pandas as pd

    if not rows:
        return
    groups, (positions, values) = _groups(rows, position, 1)
    values = np.array(values, dtype=object)
    for key, idx in groups:
        column = _object_column(n, positions[idx], values[idx].tolist())
        extra[f"tags.{key}"] = pd.Series(column, dtype="object")


def _selects_all(options: dict[str, Any]) -> bool:
    """Do these :func:`select_runs` options select every run of the store?"""
    return (
        options.get("experiment") is None
        and not options.get("filter")
        and options.get("limit") is None
        and options.get("parent") is None
        and options.get("include_children", True)
    )


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
    if _selects_all(options):
        ids_sql = None
    # Params, latest metrics and tags arrive as long (run_id, key, value) rows and are
    # pivoted with numpy; NaN metrics are NULL in SQLite.
    prow = _long_rows(store, "params", "value, vtype", ids_sql, params)
    mrow = _long_rows(store, "latest_metrics", "value", ids_sql, params)
    trow = _long_rows(store, "tags", "value", ids_sql, params)

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

    n = len(rows)
    position = {run_id: i for i, run_id in enumerate(data["run_id"])}
    extra: dict[str, Any] = {}
    _param_columns(prow, position, n, extra)
    _metric_columns(mrow, position, n, extra)
    _tag_columns(trow, position, n, extra)
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], axis=1)
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
