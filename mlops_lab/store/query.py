"""Runs as a table: the query behind ``ml.runs()``.

The filter and order-by are compiled to SQL (see :mod:`.filter`). Params,
latest metrics and tags come from each run's summary objects (one JSON text
per kind per run, see :mod:`.summaries`), read as bytes and parsed by pyarrow
straight into typed columns, with no Python object per value; text that
pyarrow would read differently (NaN, Infinity, lists, date-like strings) goes
through the ``json`` module instead, to the same frame. A hundred thousand
runs stay interactive."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from .filter import compile_filter, compile_order

if TYPE_CHECKING:
    import pandas as pd

    from .store import Store

RUN_COLUMNS = ("run_id", "name", "experiment", "status", "start_time", "end_time", "duration_s")
_EXTRA_COLUMNS = ("parent_id",)


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
    ordered: bool = True,
) -> tuple[str, list[Any]]:
    """SQL (and params) selecting the runs that match, in order (unless not ``ordered``)."""
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
    if order_by and ordered:
        osql, oparams = compile_order(order_by)
        order_sql = f"{osql}, {order_sql}"
        params.extend(oparams)
    sql = (
        "SELECT r.run_id, r.name, e.name, r.status, r.start_time, r.end_time, r.parent_id "
        "FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    if ordered:
        sql += f" ORDER BY {order_sql}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return sql, params


_MISSING = math.nan  # what a run without the key holds before its column is typed


def _column(values: list[Any], prefix: str) -> Any:
    """One column of summary values, typed as pandas would type it.

    Float, int, bool and text columns (the common cases) become their numpy
    arrays directly; anything else goes through pandas' inference. A missing
    value is NaN in a numeric column and None in any other.
    """
    import numpy as np

    if prefix == "metrics":
        return np.array(values, dtype="float64")
    types = set(map(type, values))
    if types <= {float, int}:
        if int in types and any(not -(2**63) <= v < 2**63 for v in values if type(v) is int):
            return _inferred(values)  # past int64: pandas keeps Python ints (object)
        if float in types:
            return np.array(values, dtype="float64")
        array = np.array(values)
        if array.dtype == np.int64:
            return array
    elif types == {bool}:
        return np.array(values, dtype=bool)
    elif types <= {str, float} and str in types:
        if float not in types:
            return np.array(values, dtype=object)
        if all(v != v for v in values if type(v) is float):  # only missing (or NaN)
            return np.array([None if type(v) is float else v for v in values], dtype=object)
    return _inferred(values)


def _inferred(values: list[Any]) -> Any:
    import pandas as pd
    from pandas.api.types import is_numeric_dtype

    column = pd.Series(values)
    if is_numeric_dtype(column):
        return column.to_numpy()
    column = column.astype(object)
    return column.where(column.notna(), None).to_numpy()


def _arrow_columns(texts: list[bytes | None], prefix: str) -> dict[str, Any] | None:
    """The columns of :func:`_summary_columns` parsed by pyarrow, or None where it cannot.

    pyarrow reads the objects straight into typed columns, with no Python object
    per value. It is used only when that gives the frame the JSON module would:
    no NaN or Infinity in the text (not JSON, so pyarrow refuses them), and only
    number, text, boolean and null values (a date-like text would become a
    timestamp, a list a list column).
    """
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.json as pa_json

    body = b"\n".join([t or b"{}" for t in texts])
    if b"NaN" in body or b"Infinity" in body:
        return None
    try:
        table = pa_json.read_json(
            io.BytesIO(body),
            read_options=pa_json.ReadOptions(block_size=len(body) + 1),  # one block: one inference
        )
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(texts):
        return None
    out: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        nulls = column.null_count > 0
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            if prefix == "metrics" or nulls or pa.types.is_floating(kind):
                values = column.to_numpy().astype("float64", copy=False)
                # An int past int64 reads as a float here, as an int (object) in Python.
                if prefix != "metrics" and (np.abs(values) >= 2.0**63).any():
                    return None
            else:
                values = column.to_numpy().astype("int64", copy=False)
        elif prefix == "metrics":
            return None
        elif pa.types.is_boolean(kind) and not nulls:
            values = column.to_numpy()
        elif (
            pa.types.is_boolean(kind)
            or pa.types.is_null(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
        ):
            values = np.array(column.to_pylist(), dtype=object)
        else:
            return None
        out[f"{prefix}.{name}"] = values
    return dict(sorted(out.items()))


def _summary_columns(texts: list[bytes | None], prefix: str) -> dict[str, Any]:
    """One column per key of the runs' summary objects, named ``prefix.key``, sorted."""
    if not texts:
        return {}
    fast = _arrow_columns(texts, prefix)
    if fast is not None:
        return fast
    objects = json.loads(b"[" + b",".join([t or b"{}" for t in texts]) + b"]")
    shapes = set(map(tuple, objects))
    if len(shapes) == 1:  # every run has the same keys in the same order: transpose
        keys = next(iter(shapes))
        columns = dict(
            zip(keys, map(list, zip(*map(dict.values, objects), strict=True)), strict=True)
        )
    else:
        names: set[str] = set().union(*shapes)
        columns = {k: [o.get(k, _MISSING) for o in objects] for k in names}
    return {f"{prefix}.{k}": _column(columns[k], prefix) for k in sorted(columns)}


_SUMMARIES = "CAST(r.params_json AS BLOB), CAST(r.metrics_json AS BLOB), CAST(r.tags_json AS BLOB)"


def _read_columns(store: Store, options: dict[str, Any]) -> list[tuple]:
    """The selected runs' columns (those of :func:`select_runs`, then the three summaries).

    The summaries come as bytes (UTF-8 JSON), which is what the parsers take. With
    no ``limit``, the run ids are sorted on their own and the rows read unsorted,
    then put in that order: SQLite's sorter would otherwise carry every summary.
    """
    sql, params = select_runs(store, **options)
    base = "r.end_time, r.parent_id FROM"
    if options.get("limit") is not None:
        rows = store.db.read(
            sql.replace(base, f"r.end_time, r.parent_id, {_SUMMARIES} FROM"), params
        )
        return list(zip(*rows, strict=True)) if rows else [()] * 10
    unsorted_sql, unsorted_params = select_runs(
        store, **{k: v for k, v in options.items() if k != "order_by"}, ordered=False
    )
    unsorted_sql = unsorted_sql.replace(
        base, f"r.end_time, r.parent_id, {_SUMMARIES}, r.rowid FROM"
    )
    ids_sql = "SELECT r.rowid FROM" + sql.split(" FROM", 1)[1]
    ids, rows = store.db.read_snapshot([(ids_sql, params), (unsorted_sql, unsorted_params)])
    if not rows:
        return [()] * 10
    position = {row[-1]: i for i, row in enumerate(rows)}
    ordered = [rows[position[rowid]] for (rowid,) in ids]
    return list(zip(*ordered, strict=True))[:10]


def runs_frame(store: Store, **options: Any) -> pd.DataFrame:
    """The runs that match ``options`` (see :func:`select_runs`) as one DataFrame.

    Params, latest metrics and tags come from each run's summary objects (one
    JSON text per run, kept current on every write), so the table costs one
    row per run to read, however many values the runs logged.
    """
    import numpy as np
    import pandas as pd

    cols = _read_columns(store, options)
    start = np.array(cols[4], dtype="float64")
    end = np.array(cols[5], dtype="float64")
    data: dict[str, Any] = {
        "run_id": list(cols[0]),
        "name": list(cols[1]),
        "experiment": list(cols[2]),
        "status": list(cols[3]),
        "start_time": pd.to_datetime(pd.Series(start, dtype="float64"), unit="s", utc=True),
        "end_time": pd.to_datetime(pd.Series(end, dtype="float64"), unit="s", utc=True),
        "duration_s": end - start,
    }
    frame = pd.DataFrame(data)
    frame["parent_id"] = list(cols[6])
    summaries: dict[str, Any] = {}
    for index, prefix in ((7, "params"), (8, "metrics"), (9, "tags")):
        summaries.update(_summary_columns(list(cols[index]), prefix))
    if summaries:
        # dtype given: an object column of text stays object (pandas would infer str).
        series = {
            name: pd.Series(values, index=frame.index, dtype=values.dtype, copy=False)
            for name, values in summaries.items()
        }
        frame = pd.concat([frame, pd.DataFrame(series)], axis=1)
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
