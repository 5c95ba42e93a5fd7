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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from .filter import compile_filter, compile_order

if TYPE_CHECKING:
    import pandas as pd

    from .store import Store

_RUNS = "FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id"
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
        "SELECT r.run_id, r.name, e.name, r.status, r.start_time, r.end_time, r.parent_id " + _RUNS
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


_MIN_BLOCK = 1 << 20  # bytes of JSON text below which pyarrow parses in one block
_KINDS = ("params", "metrics", "tags")


def _parse_lines(body: bytes, count: int) -> Any:
    """``count`` JSON objects, one a line, as a pyarrow table; None where pyarrow cannot.

    pyarrow reads the objects straight into typed columns, with no Python object
    per value, in blocks (a key's type is unified across blocks as within one),
    in the calling thread: the kinds of summary are parsed side by side in the
    read's own threads, and pyarrow's threads on top of those only contend for
    the same cores (100,000 runs read about a fifth faster without them, on
    two). NaN and Infinity are not JSON, so pyarrow refuses them: text holding
    them goes to the ``json`` module. A body whose objects hold line breaks of
    their own (hand-written JSON) is not parsed here either.
    """
    import io
    import os

    import pyarrow as pa
    import pyarrow.json as pa_json

    if not count or b"NaN" in body or b"Infinity" in body or body.count(b"\n") != count - 1:
        return None
    block = max(_MIN_BLOCK, len(body) // (os.cpu_count() or 1) + 1)
    try:
        table = pa_json.read_json(
            io.BytesIO(body),
            read_options=pa_json.ReadOptions(block_size=block, use_threads=False),
        )
    except (pa.ArrowException, ValueError):
        return None
    return table if table.num_rows == count else None


def _table_columns(table: Any, prefix: str, order: Any = None) -> dict[str, Any] | None:
    """The columns of :func:`_summary_columns` from a pyarrow table, or None where they differ.

    Used only when that gives the frame the JSON module would: number, text,
    boolean and null values (a date-like text would be a timestamp here, a list
    a list column, an int past int64 a float).
    """
    import numpy as np
    import pyarrow as pa

    if order is not None:
        table = table.take(pa.array(order))
    out: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        nulls = column.null_count > 0
        if pa.types.is_integer(kind) or pa.types.is_floating(kind):
            if prefix == "metrics" or nulls or pa.types.is_floating(kind):
                values = column.to_numpy().astype("float64", copy=False)
                if prefix != "metrics" and (np.abs(values) >= 2.0**63).any():
                    return None
            else:
                values = column.to_numpy().astype("int64", copy=False)
        elif prefix == "metrics":
            return None
        elif pa.types.is_boolean(kind) and not nulls:
            values = column.to_numpy()
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            values = _text_values(column)
        elif pa.types.is_boolean(kind) or pa.types.is_null(kind):
            values = np.array(column.to_pylist(), dtype=object)
        else:
            return None
        out[f"{prefix}.{name}"] = values
    return dict(sorted(out.items()))


def _arrow_columns(body: bytes, count: int, prefix: str) -> dict[str, Any] | None:
    """The columns of :func:`_summary_columns` as pyarrow gives them, or None where it cannot."""
    table = _parse_lines(body, count)
    return None if table is None else _table_columns(table, prefix)


def _text_values(column: Any) -> Any:
    """A pyarrow text column as an object array of str (None where null).

    A column of few distinct values (a model's name, a team) makes one Python
    str per distinct value, shared by its rows, as a category would.
    """
    import numpy as np

    encoded = column.combine_chunks().dictionary_encode()
    distinct = len(encoded.dictionary)
    if distinct * 4 > len(column):
        return np.array(column.to_pylist(), dtype=object)
    words = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
    return words[encoded.indices.fill_null(distinct).to_numpy()]


def _summary_columns(body: bytes, count: int, prefix: str, order: Any = None) -> dict[str, Any]:
    """One column per key of the runs' summary objects, named ``prefix.key``, sorted.

    ``body`` is ``count`` JSON objects, one a line with no newline inside,
    line ``order[i]`` for the frame's row ``i`` (all in order when ``order``
    is None).
    """
    columns = _parsed_columns(body, count, _parse_lines(body, count), prefix, order)
    if columns is None:
        raise ValueError("a summary object holds a line break")
    return columns


def _parsed_columns(
    body: bytes, count: int, table: Any, prefix: str, order: Any
) -> dict[str, Any] | None:
    """:func:`_summary_columns` of a body already parsed (``table`` None: pyarrow could not).

    None when the body's objects hold line breaks of their own.
    """
    if not count:
        return {}
    fast = None if table is None else _table_columns(table, prefix, order)
    if fast is not None:
        return fast
    if body.count(b"\n") != count - 1:
        return None
    objects = json.loads(b"[" + body.replace(b"\n", b",") + b"]")
    if order is not None:
        objects = [objects[i] for i in order]
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


_BASE = "r.end_time, r.parent_id FROM"


def _line(kind: str) -> str:
    """SQL for a run's summary text, ``{}`` when empty."""
    return f"coalesce(nullif(r.{kind}_json, ''), '{{}}')"


def _lines(texts: tuple) -> bytes:
    """Summary texts one a line; a newline can only be whitespace in JSON, so a space."""
    return b"\n".join([(t or b"{}").replace(b"\n", b" ") for t in texts])


def _read_rows(store: Store, options: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The selected runs' columns, row by row with their summaries (one ordered read)."""
    sql, params = select_runs(store, **options)
    texts = ", ".join(f"CAST(r.{kind}_json AS BLOB)" for kind in _KINDS)
    rows = store.db.read(sql.replace(_BASE, f"r.end_time, r.parent_id, {texts} FROM"), params)
    cols = list(zip(*rows, strict=True)) if rows else [()] * 10
    values: dict[str, Any] = {}
    for i, prefix in enumerate(_KINDS, 7):
        values.update(_summary_columns(_lines(cols[i]), len(rows), prefix))
    return cols[:7], values


_TEXT_COLUMNS = ("r.run_id", "r.name", "e.name", "r.status", "r.parent_id")


def _scan_sql(where_sql: str, kinds: tuple[str, ...], *, columns: bool = False) -> str:
    """An aggregate over the selected runs in scan order: count, a text per kind of summary.

    ``where_sql`` is a selection's ``FROM ...`` part; with ``columns``, the
    rowids and the text columns come first, as JSON arrays.
    """
    parts = ["count(*)"]
    if columns:
        parts += [f"json_group_array({c})" for c in ("r.rowid", *_TEXT_COLUMNS)]
    parts += [f"CAST(group_concat({_line(kind)}, char(10)) AS BLOB)" for kind in kinds]
    return f"SELECT {', '.join(parts)} {where_sql}"


def _json_array(text: str) -> Any:
    """A JSON array as a numpy object array."""
    import numpy as np

    return np.array(json.loads(text), dtype=object)


# The aggregates' kinds, each parsed as it comes: the short scan first, so that its
# parse runs while SQLite reads the longer one.
_SCANS = (("metrics",), ("params", "tags"))


def _in_order(rows: list[tuple], sort: bool) -> tuple[Any, Any, Any] | None:
    """The rowids, start and end times of ``rows`` as arrays, sorted as ``ml.runs()``
    sorts by default when ``sort`` (latest start first, then latest rowid).

    The sort is numpy's, and gives SQLite's order for the times mlops-lab
    writes (numbers, or NULL last); None for any other value.
    """
    import numpy as np

    ids, starts, ends = zip(*rows, strict=True)
    if sort and not set(map(type, starts)) <= {float, int, type(None)}:
        return None  # text sorts after every number in SQLite
    rowids = np.array(ids, dtype=np.int64)
    try:
        start, end = np.array(starts, dtype=np.float64), np.array(ends, dtype=np.float64)
    except (TypeError, ValueError):  # a forged time: read row by row, refused by name there
        return None
    if sort:
        by = np.lexsort((-rowids, -start))  # NaN (NULL) sorts last, as NULL does in DESC
        rowids, start, end = rowids[by], start[by], end[by]
    return rowids, start, end


def _read_columns(store: Store, options: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The selected runs' columns (those of :func:`select_runs`) and their summaries' columns.

    With no ``limit``, three reads from one snapshot. One is the rowids and
    times, in order (sorted by SQLite for an ``order_by``, by numpy for the
    default order). Two are aggregates in SQLite's scan order: the text
    columns as JSON arrays and each kind of summary as one text, which SQLite
    builds as it scans (no Python object per run and value); pyarrow parses
    each text in a thread while the next read runs. The rowids put the two in
    the same order. With a ``filter``, the ordered read comes first and the
    aggregates take its rowids, so that the filter is evaluated once. What
    this cannot read (a text past SQLite's length limit, a blob, hand-written
    JSON with line breaks) is read row by row instead.
    """
    import sqlite3
    from concurrent.futures import Future, ThreadPoolExecutor

    import numpy as np

    if options.get("limit") is not None:
        return _read_rows(store, options)
    sort = not options.get("order_by")
    sql, params = select_runs(store, **options, ordered=not sort)
    ordered_query = (
        "SELECT r.rowid, r.start_time, r.end_time FROM" + sql.split(" FROM", 1)[1],
        params,
    )
    unsorted_sql, unsorted_params = select_runs(
        store, **{k: v for k, v in options.items() if k != "order_by"}, ordered=False
    )
    filtered = bool(options.get("filter"))
    found: list[str] = []  # with a filter: the ordered read's rowids, as one JSON array

    def aggregate(kinds: tuple[str, ...]) -> Callable[[], tuple[str, list[Any]]]:
        def query() -> tuple[str, list[Any]]:
            first = kinds is _SCANS[0]
            if not filtered:
                where = "FROM" + unsorted_sql.split(" FROM", 1)[1]
                return _scan_sql(where, kinds, columns=first), unsorted_params
            selected = f"{_RUNS} WHERE r.rowid IN (SELECT value FROM json_each(?))"
            return _scan_sql(selected, kinds, columns=first), found

        return query

    queries: list[Any] = [aggregate(kinds) for kinds in _SCANS]
    queries.insert(0 if filtered else len(queries), ordered_query)
    first_scan = 1 if filtered else 0
    parsing: dict[str, Future] = {}
    decoding: list[Future] = []
    with ThreadPoolExecutor(2, thread_name_prefix="mlops-runs") as pool:

        def scanned(index: int, rows: list[tuple]) -> None:
            scan = index - first_scan
            if filtered and index == 0:
                found[:] = [json.dumps([row[0] for row in rows])]
            elif 0 <= scan < len(_SCANS) and rows[0][0]:
                kinds, count = _SCANS[scan], rows[0][0]
                for kind, body in zip(kinds, rows[0][-len(kinds) :], strict=True):
                    parsing[kind] = pool.submit(_parse_lines, body, count)
                if scan == 0:  # the rowids and text columns, decoded while SQLite reads on
                    texts = rows[0][1 : -len(kinds)]
                    decoding[:] = [pool.submit(_json_array, text) for text in texts]

        try:
            results = store.db.read_snapshot(queries, each=scanned)
        except (sqlite3.DataError, sqlite3.OperationalError):  # too long, or a blob
            return _read_rows(store, options)
        tables = {kind: future.result() for kind, future in parsing.items()}
        arrays = [future.result() for future in decoding]
    ordered = results.pop(0 if filtered else len(_SCANS))
    (count, *_, metrics_body), (params_count, params_body, tags_body) = (
        scan[0] for scan in results
    )
    if not count or {count, params_count, len(ordered)} != {count} or not arrays:
        return _read_rows(store, options)
    times = _in_order(ordered, sort)
    if times is None or len(tables) != len(_KINDS):
        return _read_rows(store, options)
    wanted, start, end = times
    lines = arrays[0].astype(np.int64)
    order = None
    if not np.array_equal(lines, wanted):
        sorter = np.argsort(lines, kind="stable")
        order = sorter[np.searchsorted(lines, wanted, sorter=sorter)]
        if not np.array_equal(lines[order], wanted):
            return _read_rows(store, options)
    values: dict[str, Any] = {}
    bodies = {"params": params_body, "metrics": metrics_body, "tags": tags_body}
    for prefix in _KINDS:
        columns = _parsed_columns(bodies[prefix], count, tables[prefix], prefix, order)
        if columns is None:
            return _read_rows(store, options)
        values.update(columns)
    run_id, name, experiment, status, parent_id = (
        values if order is None else values[order] for values in arrays[1:]
    )
    return [run_id, name, experiment, status, start, end, parent_id], values


def runs_frame(store: Store, **options: Any) -> pd.DataFrame:
    """The runs that match ``options`` (see :func:`select_runs`) as one DataFrame.

    Params, latest metrics and tags come from each run's summary objects (one
    JSON text per run, kept current on every write), so the table costs one
    row per run to read, however many values the runs logged.
    """
    with _no_cycle_collection():
        return _frame(store, options)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Hold the cycle collector while the frame is built.

    The frame's build makes hundreds of thousands of tuples and lists, none in a
    cycle; each few hundred would start a collection, which walks every object of
    the process (a notebook with MLflow or torch loaded holds millions).
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _seconds(store: Store, values: Any, column: str, run_ids: Any) -> Any:
    """A column of times (seconds since the epoch; None: not yet) as float64."""
    import numpy as np

    try:
        return np.array(values, dtype="float64")
    except (TypeError, ValueError):
        for run_id, value in zip(run_ids, values, strict=True):
            if value is not None and not isinstance(value, int | float):
                path = str(store.db.db_path)
                raise StoreError(
                    f"run {run_id} has {column} {value!r}, which is not a time in seconds: "
                    f"{path} holds a value mlops-lab does not write",
                    path=path,
                ) from None
        raise


def _frame(store: Store, options: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    cols, values = _read_columns(store, options)
    index = pd.RangeIndex(len(cols[0]))
    start = _seconds(store, cols[4], "start_time", cols[0])
    end = _seconds(store, cols[5], "end_time", cols[0])

    def series(column: Any, dtype: Any = None) -> pd.Series:
        return pd.Series(column, index=index, dtype=dtype, copy=False)

    data: dict[str, Any] = {
        "run_id": series(list(cols[0])),
        "name": series(list(cols[1])),
        "experiment": series(list(cols[2])),
        "status": series(list(cols[3])),
        "start_time": pd.to_datetime(series(start, "float64"), unit="s", utc=True),
        "end_time": pd.to_datetime(series(end, "float64"), unit="s", utc=True),
        "duration_s": series(end - start),
        "parent_id": series(list(cols[6])),
    }
    for name, column in values.items():
        # dtype given: an object column of text stays object (pandas would infer str).
        data[name] = series(column, column.dtype)
    return pd.DataFrame(data, index=index, copy=False)


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
