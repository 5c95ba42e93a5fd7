"""The runs table at scale: pyarrow-parsed summaries, unsorted reads, bulk inserts.

Every frame is compared with the one the ``json`` module and
``DataFrame.from_records`` give for the same store (:func:`reference_frame`,
the way ``ml.runs()`` built its frame before), on real stores written through
the tracking API: columns, dtypes and values must be the same.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any

import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.errors import FilterSyntaxError, InvalidArgumentError
from mlops_lab.store import RunRows, Store, query
from mlops_lab.store.query import runs_frame, select_runs
from mlops_lab.tracking.run import param_value


def _reference_part(texts: list[str | None], prefix: str) -> pd.DataFrame:
    from pandas.api.types import is_numeric_dtype

    objects = json.loads("[" + ",".join([t or "{}" for t in texts]) + "]")
    frame = pd.DataFrame.from_records(objects, nrows=len(objects)) if objects else pd.DataFrame()
    frame = frame.reindex(columns=sorted(frame.columns))
    if prefix == "metrics":
        frame = frame.astype("float64")
    else:
        for col in frame.columns:
            if not is_numeric_dtype(frame[col]):
                values = frame[col].astype(object)
                frame[col] = values.where(values.notna(), None)
    frame.columns = [f"{prefix}.{c}" for c in frame.columns]
    return frame


def reference_frame(store: Store, **options: Any) -> pd.DataFrame:
    """The runs frame built row by row from the JSON module's objects."""
    sql, params = select_runs(store, **options)
    sql = sql.replace(
        "r.end_time, r.parent_id FROM",
        "r.end_time, r.parent_id, r.params_json, r.metrics_json, r.tags_json FROM",
        1,
    )
    rows = store.db.read(sql, params)
    start = [r[4] for r in rows]
    end = [r[5] for r in rows]
    data: dict[str, Any] = {
        "run_id": [r[0] for r in rows],
        "name": [r[1] for r in rows],
        "experiment": [r[2] for r in rows],
        "status": [r[3] for r in rows],
        "start_time": pd.to_datetime(pd.Series(start, dtype="float64"), unit="s", utc=True),
        "end_time": pd.to_datetime(pd.Series(end, dtype="float64"), unit="s", utc=True),
        "duration_s": [
            (e - s) if e is not None and s is not None else math.nan
            for s, e in zip(start, end, strict=True)
        ],
    }
    frame = pd.DataFrame(data)
    frame["parent_id"] = [r[6] for r in rows]
    parts = [
        _reference_part([r[i] for r in rows], p)
        for i, p in ((7, "params"), (8, "metrics"), (9, "tags"))
    ]
    parts = [p for p in parts if len(p.columns)]
    return pd.concat([frame, *parts], axis=1) if parts else frame


def assert_same(store: Store, **options: Any) -> pd.DataFrame:
    expected = reference_frame(store, **options)
    got = runs_frame(store, **options)
    assert list(got.columns) == list(expected.columns)
    assert list(got.dtypes) == list(expected.dtypes)
    pd.testing.assert_frame_equal(got, expected)
    return got


OPTIONS = [
    {},
    {"limit": 3},
    {"filter": "metrics.acc > 0.5", "order_by": "metrics.acc desc"},
    {"order_by": ["params.lr", "start_time"]},
    {"experiment": "other"},
    {"filter": "tags.team = 'vision'", "order_by": "params.C"},
]


def _mixed_runs(*, with_nan: bool) -> None:
    """Runs whose params and tags cover every kind of column, some keys missing."""
    runs: list[tuple[str, str, dict[str, Any], dict[str, float], dict[str, str]]] = [
        (
            "a",
            "default",
            {"lr": 0.1, "C": 1, "model": "rf", "flag": True, "opt": None},
            {"acc": 0.9, "loss": 0.3},
            {"team": "vision"},
        ),
        (
            "b",
            "default",
            {"lr": 0.01, "C": 10, "model": "gbm", "flag": False, "only_b": "x"},
            {"acc": 0.7},
            {"team": "nlp", "note": "ünïcode ✓"},
        ),
        (
            "c",
            "other",
            {"lr": 1e-5, "C": 3, "flag": True, "depth": 2**70, "mixed": "text"},
            {"acc": 0.2, "loss": float("inf")},
            {},
        ),
        (
            "d",
            "default",
            {"lr": 2.0, "model": "lr", "mixed": 0.5, "when": "2026-11-01"},
            {"acc": 1.0, "loss": -float("inf")},
            {"team": "vision"},
        ),
        ("e", "other", {"C": 7, "grid": [1, 2, 3], "cfg": {"k": 1}}, {}, {"team": ""}),
    ]
    if with_nan:
        runs.append(("f", "default", {"lr": float("nan"), "C": 2}, {"acc": float("nan")}, {}))
    for name, experiment, params, metrics, tags in runs:
        with ml.start_run(name, experiment=experiment, tags=tags):
            ml.log_params(params)
            if metrics:
                ml.log_metrics(metrics)
    with ml.start_run("no-values"):
        pass
    with ml.start_run("child-parent"), ml.start_run("child", parent=True):
        ml.log_metric("acc", 0.55)


@pytest.mark.parametrize("with_nan", [False, True])
@pytest.mark.parametrize("options", OPTIONS)
def test_mixed_store_same_frame_as_json_records(
    store: Store, with_nan: bool, options: dict[str, Any]
) -> None:
    _mixed_runs(with_nan=with_nan)
    frame = assert_same(store, **options)
    assert len(frame) > 0


def test_plain_columns_are_parsed_by_pyarrow_and_others_fall_back(store: Store) -> None:
    """Numbers, text and booleans take the pyarrow path; NaN, lists and dates do not."""
    for i in range(5):
        with ml.start_run(f"r{i}", tags={"team": "x" if i % 2 else "y"}):
            ml.log_params({"lr": 0.1 * i, "C": i, "model": f"m{i}", "flag": i % 2 == 0})
            ml.log_metrics({"acc": i / 10, "inf": float("inf")})
    rows = store.db.read(
        "SELECT CAST(params_json AS BLOB), CAST(metrics_json AS BLOB), "
        "CAST(tags_json AS BLOB) FROM runs"
    )
    params, metrics, tags = (b"\n".join(c) for c in zip(*rows, strict=True))
    fast = query._arrow_columns(params, 5, "params")
    assert fast is not None
    assert {k: str(v.dtype) for k, v in fast.items()} == {
        "params.C": "int64",
        "params.flag": "bool",
        "params.lr": "float64",
        "params.model": "object",
    }
    assert query._arrow_columns(tags, 5, "tags") is not None
    assert query._arrow_columns(metrics, 5, "metrics") is None  # Infinity is not JSON
    dated = b'{"when":"2026-11-01"}\n{"when":"2026-11-02"}'
    assert query._arrow_columns(dated, 2, "params") is None  # pyarrow would make timestamps
    assert query._summary_columns(dated, 2, "params")["params.when"].tolist() == [
        "2026-11-01",
        "2026-11-02",
    ]
    assert query._arrow_columns(b'{"g":[1,2]}', 1, "params") is None
    assert_same(store)


def test_runs_written_meanwhile_do_not_break_the_order(store: Store) -> None:
    """Ids and rows are read from one snapshot: a frame is always in its order, complete."""
    for i in range(20):
        with ml.start_run(f"r{i}"):
            ml.log_metric("acc", i / 20)
    frame = runs_frame(store, order_by="metrics.acc desc")
    assert frame["name"].tolist() == [f"r{i}" for i in reversed(range(20))]
    assert frame["metrics.acc"].is_monotonic_decreasing


def _records(n: int, exp: int) -> list[tuple[dict[str, Any], dict[str, Any], list, dict]]:
    base = time.time() - 1000
    out = []
    for i in range(n):
        start = base + i
        record = {
            "run_id": uuid.uuid4().hex,
            "name": f"run-{i}",
            "experiment_id": exp,
            "status": "running",
            "start_time": start,
            "heartbeat": start,
            "source_type": "script",
        }
        params = {"p": i, "f": i / 3, "s": f"v{i % 3}", "b": i % 2 == 0}
        if i % 4 == 0:
            params["rare"] = "yes"
        metrics = [("acc", i / 10, 0, start + 0.1), ("acc", i / 5, 1, start + 0.2)]
        if i == 3:
            metrics.append(("loss", float("nan"), 0, start + 0.3))
        out.append((record, params, metrics, {"team": "x" if i % 2 else "y"}))
    return out


def _decoded(rows: list[tuple], json_at: list[int]) -> list[tuple]:
    return [tuple(json.loads(v) if i in json_at else v for i, v in enumerate(r)) for r in rows]


def test_insert_runs_writes_what_the_run_by_run_calls_write(tmp_path) -> None:
    """Same runs through insert_runs and through create_run/log_params/end_run: same tables."""
    one, bulk = Store(tmp_path / "one"), Store(tmp_path / "bulk")
    exp_one, exp_bulk = one.experiment_id("bench"), bulk.experiment_id("bench")
    assert exp_one == exp_bulk
    runs = _records(12, exp_one)
    batch = []
    for record, params, metrics, tags in runs:
        items = [(k, *param_value(k, v)) for k, v in params.items()]
        one.create_run(record, tags)
        one.log_params(record["run_id"], items)
        end = record["start_time"] + 1
        one.end_run(record["run_id"], "finished", end, [(record["run_id"], *m) for m in metrics])
        finished = {**record, "status": "finished", "end_time": end, "heartbeat": end}
        batch.append(RunRows(finished, items, metrics, tags))
    assert bulk.insert_runs(batch) == 12
    for table, order in (
        ("runs", "run_id"),
        ("params", "run_id, key"),
        ("metrics", "run_id, key, step"),
        ("latest_metrics", "run_id, key"),
        ("tags", "run_id, key"),
    ):
        sql = f"SELECT * FROM {table} ORDER BY {order}"
        got, expected = bulk.db.read(sql), one.db.read(sql)
        if table == "runs":  # summary objects: same values, key order may differ
            cols = [d[1] for d in bulk.db.read("PRAGMA table_info(runs)")]
            json_at = [cols.index(c) for c in ("params_json", "metrics_json", "tags_json")]

            got, expected = _decoded(got, json_at), _decoded(expected, json_at)
        assert repr(got) == repr(expected), table  # repr: NaN equals NaN
    pd.testing.assert_frame_equal(runs_frame(bulk), runs_frame(one))
    assert_same(bulk)
    assert_same(bulk, filter="metrics.acc > 1", order_by="params.f desc")


def test_insert_runs_refuses_bad_batches_and_writes_nothing(tmp_path) -> None:
    store = Store(tmp_path / "s")
    exp = store.experiment_id("e")
    ((record, *_rest),) = _records(1, exp)
    store.insert_runs([RunRows(record)])
    with pytest.raises(InvalidArgumentError, match="already in"):
        store.insert_runs([RunRows({**record, "run_id": "fresh"}), RunRows(record)])
    with pytest.raises(InvalidArgumentError, match="no column 'colour'"):
        store.insert_runs([RunRows({**record, "run_id": "x", "colour": "red"})])
    with pytest.raises(InvalidArgumentError, match="has columns"):
        store.insert_runs([RunRows({**record, "run_id": "y"}), RunRows({"run_id": "z"})])
    with pytest.raises(InvalidArgumentError, match="param 'a' twice"):
        store.insert_runs(
            [RunRows({**record, "run_id": "w"}, [("a", "1", "int"), ("a", "2", "int")])]
        )
    assert [r[0] for r in store.db.read("SELECT run_id FROM runs")] == [record["run_id"]]
    assert store.insert_runs([]) == 0


def _read_rows_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Record each time the frame is read row by row instead of through the aggregates."""
    calls: list[dict] = []
    read_rows = query._read_rows

    def spy(store: Store, options: dict[str, Any]) -> Any:
        calls.append(options)
        return read_rows(store, options)

    monkeypatch.setattr(query, "_read_rows", spy)
    return calls


def test_many_blocks_unify_each_key_as_one_block_does(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks parsed apart still give a key one type: ints then floats, keys seen late."""
    import os

    for i in range(60):
        params: dict[str, Any] = {"n": i if i < 40 else i + 0.5, "model": f"m{i % 3}"}
        if i >= 50:
            params["late"] = f"only-{i}"  # many distinct values: not dictionary-shared
        if i % 7 == 0:
            params["flag"] = i % 2 == 0
        with ml.start_run(f"r{i}", tags={"team": "x" if i < 30 else "y"}):
            ml.log_params(params)
            ml.log_metrics({"acc": i / 60} if i < 45 else {"acc": i / 60, "loss": 1 / (i + 1)})
    calls = _read_rows_calls(monkeypatch)
    monkeypatch.setattr(query, "_MIN_BLOCK", 64)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)  # 8 blocks, whatever this machine has
    body = b"\n".join(r[0] for r in store.db.read("SELECT CAST(params_json AS BLOB) FROM runs"))
    table = query._parse_lines(body, 60)
    assert table is not None and table.column("n").num_chunks > 1
    for options in [
        {},
        {"limit": 3},
        {"filter": "metrics.acc > 0.5", "order_by": "metrics.acc desc"},
        {"order_by": ["params.n", "start_time"]},
        {"filter": "tags.team = 'y'", "order_by": "params.model"},
    ]:
        frame = assert_same(store, **options)
        assert len(frame)
    assert calls == [{"limit": 3}]  # only the limited read goes row by row
    frame = runs_frame(store, order_by="params.n")
    assert str(frame["params.n"].dtype) == "float64" and frame["params.n"].iloc[-1] == 59.5
    assert frame["params.late"].iloc[-1] == "only-59" and frame["params.late"].isna().sum() == 50


def test_forged_summaries_are_read_row_by_row_to_the_same_frame(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Line breaks inside hand-written JSON, NaN with them, a blob name: still the same frame."""
    _mixed_runs(with_nan=False)
    calls = _read_rows_calls(monkeypatch)
    assert_same(store)
    assert calls == []
    ids = [r[0] for r in store.db.read("SELECT run_id FROM runs ORDER BY rowid")]

    def forge(sql: str, *params: Any) -> None:
        store.db.write(lambda conn: conn.execute(sql, params))

    forge("UPDATE runs SET params_json = ? WHERE run_id = ?", '{"lr":\n 0.5,\n"C": 4}', ids[0])
    frame = assert_same(store)
    assert frame.set_index("run_id").loc[ids[0], "params.C"] == 4
    assert len(calls) == 1
    forge("UPDATE runs SET metrics_json = ? WHERE run_id = ?", '{"acc":\nNaN}', ids[1])
    assert math.isnan(assert_same(store).set_index("run_id").loc[ids[1], "metrics.acc"])
    assert len(calls) == 2
    forge("UPDATE runs SET name = ? WHERE run_id = ?", b"\x00blob", ids[2])
    assert assert_same(store).set_index("run_id").loc[ids[2], "name"] == b"\x00blob"
    assert len(calls) == 3


def test_past_sqlites_length_limit_the_runs_are_read_row_by_row(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    for i in range(30):
        with ml.start_run(f"r{i}"):
            ml.log_params({"text": "x" * 100, "i": i})
    calls = _read_rows_calls(monkeypatch)
    store.db.raw.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 2000)  # each run fits, all do not
    frame = assert_same(store, order_by="params.i desc")
    assert frame["params.i"].tolist() == list(reversed(range(30)))
    assert len(calls) == 1


def test_the_cycle_collector_is_held_only_while_the_frame_is_built(store: Store) -> None:
    import gc

    with ml.start_run("a"):
        ml.log_metric("acc", 0.5)
    assert gc.isenabled()
    seen: list[bool] = []
    read_columns = query._read_columns

    def spy(*args: Any) -> Any:
        seen.append(gc.isenabled())
        return read_columns(*args)

    query._read_columns = spy  # type: ignore[assignment]
    try:
        runs_frame(store)
        assert seen == [False] and gc.isenabled()
        with pytest.raises(FilterSyntaxError):
            runs_frame(store, filter="metrics.acc >>> 1")
        assert gc.isenabled()
        gc.disable()  # a caller's own choice is kept
        runs_frame(store)
        assert not gc.isenabled()
    finally:
        gc.enable()
        query._read_columns = read_columns  # type: ignore[assignment]


def test_default_order_sorted_by_numpy_is_sqlites_with_ties(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Latest start first, then latest rowid: runs started at the same time, and integers."""
    _mixed_runs(with_nan=True)
    ids = [r[0] for r in store.db.read("SELECT run_id FROM runs ORDER BY rowid")]
    tie = time.time() - 50
    store.db.write(
        lambda conn: conn.executemany(
            "UPDATE runs SET start_time = ? WHERE run_id = ?",
            [(tie, ids[0]), (tie, ids[3]), (tie, ids[5]), (int(tie), ids[1]), (int(tie), ids[2])],
        )
    )
    calls = _read_rows_calls(monkeypatch)
    frame = assert_same(store)
    assert calls == []
    assert frame["run_id"].tolist()[-5:] == [ids[5], ids[3], ids[0], ids[2], ids[1]]
    assert_same(store, filter="metrics.acc > 0.1")
    assert calls == []


@pytest.mark.parametrize("column", ["start_time", "end_time"])
def test_a_forged_time_is_refused_by_run_and_column(store: Store, column: str) -> None:
    from mlops_lab.errors import StoreError

    for name in ("a", "b"):
        with ml.start_run(name):
            ml.log_param("x", 1)
    (run_id,) = store.db.read_one("SELECT run_id FROM runs WHERE name = 'a'") or ()
    store.db.write(
        lambda conn: conn.execute(f"UPDATE runs SET {column} = 'soon' WHERE run_id = ?", (run_id,))
    )
    for options in ({}, {"order_by": "params.x"}, {"limit": 5}):
        with pytest.raises(StoreError, match=f"run {run_id} has {column} 'soon'"):
            runs_frame(store, **options)
    before = store.db.read("SELECT run_id, name FROM runs ORDER BY rowid")
    assert len(before) == 2  # nothing lost
