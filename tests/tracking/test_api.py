"""The tracking API: runs, params, metrics, tags, artifacts and the runs table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.errors import (
    InvalidArgumentError,
    NoActiveRunError,
    ParamConflictError,
    RunAlreadyActiveError,
    RunNotFoundError,
)


def test_context_manager_finishes_and_records() -> None:
    with ml.start_run("baseline", experiment="exp", tags={"team": "a"}) as run:
        assert ml.active_run() == run
        ml.log_param("C", 1.0)
        ml.log_params({"model": "rf", "n": 5, "flag": True, "layers": [64, 32], "none": None})
        ml.log_metric("acc", 0.9)
        ml.set_tag("stage", "dev")
    assert ml.active_run() is None
    got = ml.get_run(run.run_id)
    assert got.status == "finished"
    assert got.experiment == "exp"
    assert got.params == {
        "C": 1.0,
        "model": "rf",
        "n": 5,
        "flag": True,
        "layers": [64, 32],
        "none": None,
    }
    assert got.metrics == {"acc": 0.9}
    assert got.tags == {"team": "a", "stage": "dev"}
    assert got.duration_s is not None and got.duration_s >= 0


def test_a_raising_block_marks_the_run_failed() -> None:
    with pytest.raises(ZeroDivisionError), ml.start_run("boom") as run:
        1 / 0  # noqa: B018
    assert ml.get_run(run.run_id).status == "failed"
    assert ml.active_run() is None


def test_params_are_immutable() -> None:
    with ml.start_run() as run:
        ml.log_param("C", 1.0)
        ml.log_param("C", 1.0)  # the same value is a no-op
        with pytest.raises(ParamConflictError, match=r"'C'.*already '1.0'.*'2.0'") as info:
            ml.log_params({"seed": 1, "C": 2.0})
        assert info.value.run_id == run.run_id
        # all or nothing: seed was not stored either
        assert ml.get_run(run.run_id).params == {"C": 1.0}


def test_metric_history_steps_and_latest() -> None:
    with ml.start_run() as run:
        for value in (0.5, 0.4, 0.3):
            ml.log_metric("loss", value)  # steps 0, 1, 2
        ml.log_metric("loss", 0.9, step=1)  # a late value for an old step
        ml.log_metrics({"acc": 0.7, "f1": 0.6}, step=10)
    history = run.metric_history("loss")
    assert list(history["step"]) == [0, 1, 1, 2]
    assert list(history["value"]) == [0.5, 0.4, 0.9, 0.3]
    assert pd.api.types.is_datetime64_any_dtype(history["timestamp"])
    assert run.metrics == {"acc": 0.7, "f1": 0.6, "loss": 0.3}


def test_nan_inf_unicode_and_long_values_round_trip() -> None:
    long_value = "x" * 100_000
    with ml.start_run("ünïcode-ラン") as run:
        ml.log_metrics({"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "précision": 0.5})
        ml.log_param("说明", long_value)
        ml.set_tag("émoji", "🚀")
    got = ml.get_run("ünïcode-ラン")
    metrics = got.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == math.inf and metrics["-inf"] == -math.inf
    assert metrics["précision"] == 0.5
    assert got.params["说明"] == long_value
    assert got.tags["émoji"] == "🚀"
    frame = ml.runs()
    assert math.isnan(frame.loc[0, "metrics.nan"])
    assert frame.loc[0, "metrics.inf"] == math.inf
    assert frame.loc[0, "metrics.-inf"] == -math.inf
    assert math.isnan(run.metric_history("nan")["value"].iloc[0])


def test_numpy_values_are_logged_as_numbers() -> None:
    import numpy as np

    with ml.start_run() as run:
        ml.log_params({"n": np.int64(3), "alpha": np.float32(0.5)})
        ml.log_metric("acc", np.float64(0.25))
    assert run.params == {"n": 3, "alpha": 0.5}
    assert run.metrics == {"acc": 0.25}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ml.log_metric("acc", 0.9), NoActiveRunError, "needs an open run"),
        (lambda: ml.log_param("C", 1), NoActiveRunError, "needs an open run"),
        (lambda: ml.set_tag("a", "b"), NoActiveRunError, "needs an open run"),
        (lambda: ml.get_run("nope"), RunNotFoundError, "no run matches 'nope'"),
        (lambda: ml.runs(limit=-1), InvalidArgumentError, "limit"),
        (lambda: ml.runs(group_by="params.missing"), InvalidArgumentError, "params.missing"),
    ],
)
def test_mistakes_give_clear_errors(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_bad_metric_value_names_the_key() -> None:
    with ml.start_run(), pytest.raises(InvalidArgumentError, match=r"metric 'acc'.*number"):
        ml.log_metric("acc", "high")


def test_one_run_at_a_time_unless_parent() -> None:
    with ml.start_run("parent") as parent:
        with pytest.raises(RunAlreadyActiveError, match="still open"):
            ml.start_run("second")
        with ml.start_run("child", parent=True) as child:
            ml.log_metric("x", 1)
        assert ml.active_run() == parent
    assert ml.get_run(child.run_id).parent_id == parent.run_id
    assert [r.run_id for r in parent.children] == [child.run_id]


def test_ending_a_parent_ends_its_children() -> None:
    parent = ml.start_run("p")
    child = ml.start_run("c", parent=parent)
    ml.end_run()  # ends the child (active)
    ml.end_run()
    assert ml.get_run(parent.run_id).status == "finished"
    parent2 = ml.start_run("p2")
    child2 = ml.start_run("c2", parent=parent2)
    parent2.end("failed")
    assert ml.get_run(child2.run_id).status == "failed"
    assert ml.active_run() is None
    assert child.status == "finished"


def test_get_run_by_prefix_name_and_default() -> None:
    with ml.start_run("alpha") as a:
        pass
    with ml.start_run("beta") as b:
        pass
    assert ml.get_run(a.run_id[:8]) == a
    assert ml.get_run("beta") == b
    assert ml.get_run() == b  # the latest


def test_runs_table_columns_and_types() -> None:
    for i in range(3):
        with ml.start_run(f"r{i}", experiment="e1" if i < 2 else "e2"):
            ml.log_params({"model": "rf" if i else "lr", "seed": i, "C": 0.5 * (i + 1)})
            ml.log_metric("acc", 0.8 + i / 100)
    frame = ml.runs()
    assert list(frame.columns[:8]) == [
        "run_id",
        "name",
        "experiment",
        "status",
        "start_time",
        "end_time",
        "duration_s",
        "parent_id",
    ]
    assert {"params.model", "params.seed", "params.C", "metrics.acc"} <= set(frame.columns)
    assert frame["params.seed"].dtype == "int64"
    assert frame["params.C"].dtype == "float64"
    assert list(frame["name"]) == ["r2", "r1", "r0"]  # newest first
    assert list(ml.runs(experiment="e1")["name"]) == ["r1", "r0"]
    assert len(ml.runs(limit=2)) == 2
    assert ml.runs(filter="metrics.acc > 10").empty


def test_group_by_aggregates_repeated_runs() -> None:
    for model, accs in (("rf", [0.8, 0.9, 1.0]), ("lr", [0.5, 0.7])):
        for seed, acc in enumerate(accs):
            with ml.start_run():
                ml.log_params({"model": model, "seed": seed})
                ml.log_metric("acc", acc)
    grouped = ml.runs(group_by="params.model").set_index("params.model")
    assert grouped.loc["rf", "runs"] == 3
    assert grouped.loc["rf", "metrics.acc.mean"] == pytest.approx(0.9)
    assert grouped.loc["rf", "metrics.acc.std"] == pytest.approx(0.1)
    assert grouped.loc["lr", "metrics.acc.min"] == 0.5
    assert grouped.loc["lr", "metrics.acc.max"] == 0.7
    assert grouped.loc["lr", "metrics.acc.count"] == 2


def test_reads_see_buffered_metrics_immediately() -> None:
    with ml.start_run() as run:
        for i in range(100):
            ml.log_metric("m", i)
        assert run.metrics["m"] == 99
        assert ml.runs().loc[0, "metrics.m"] == 99
        assert len(run.metric_history("m")) == 100


def test_environment_is_stored_once(store) -> None:
    with ml.start_run() as a:
        pass
    with ml.start_run() as b:
        pass
    env = a.environment
    assert env["python"].count(".") == 2
    assert "pandas" in {k.lower() for k in env["packages"]}
    assert a.info["env_id"] == b.info["env_id"]
    assert store.db.read_one("SELECT count(*) FROM environments")[0] == 1
    info = a.info
    assert info["host"] and info["pid"]


def test_runs_table_values_round_trip_exactly() -> None:
    awkward = 0.1 + 0.2  # 0.30000000000000004: 17 significant digits
    with ml.start_run("exact"):
        ml.log_params(
            {"f": awkward, "big": 2**62, "nan": math.nan, "inf": -math.inf, "q": 'say "hi"\n'}
        )
        ml.log_params({"nested": {"a": [1, 2.5, None]}, "flag": False, "none": None})
        ml.log_metrics({"m": awkward, "tiny": 5e-324, "huge": 1.7976931348623157e308})
        ml.set_tag("quote", 'it\'s "quoted"\\')
    row = ml.runs().iloc[0]
    assert row["params.f"] == awkward
    assert row["params.big"] == 2**62
    assert math.isnan(row["params.nan"])
    assert row["params.inf"] == -math.inf
    assert row["params.q"] == 'say "hi"\n'
    assert row["params.nested"] == {"a": [1, 2.5, None]}
    assert row["params.flag"] is False or row["params.flag"] == False  # noqa: E712
    assert row["params.none"] is None
    assert row["metrics.m"] == awkward
    assert row["metrics.tiny"] == 5e-324
    assert row["metrics.huge"] == 1.7976931348623157e308
    assert row["tags.quote"] == 'it\'s "quoted"\\'


def test_missing_values_in_the_runs_table() -> None:
    with ml.start_run("a"):
        ml.log_params({"model": "rf", "n": 3})
        ml.log_metric("acc", 0.5)
    with ml.start_run("b"):
        ml.set_tag("team", "x")
    frame = ml.runs().set_index("name")
    assert frame.loc["b", "params.model"] is None
    assert math.isnan(frame.loc["b", "params.n"])
    assert math.isnan(frame.loc["b", "metrics.acc"])
    assert frame.loc["a", "tags.team"] is None
    assert frame["metrics.acc"].dtype == "float64"
