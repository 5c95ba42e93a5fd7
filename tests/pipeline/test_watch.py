"""The retraining watcher: new data retrains once, failures back off, SIGTERM stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.pipeline import Param, PipelineSpec
from mlops_lab.pipeline.watch import Watcher, seconds, watch
from mlops_lab.tracking.session import session

KERNEL = """
def fake_kernel(input_path, output_path, *, parameters, **kwargs):
    import time, numpy as np, pandas as pd
    import mlops_lab as ml
    from sklearn.linear_model import LogisticRegression
    from mlops_lab.tracking.session import session

    run = session().start_run("train", experiment="default", tags=None, parent=None)
    try:
        frame = pd.read_csv(parameters["train_path"])
        if "boom" in frame.columns:
            raise RuntimeError("the training data is broken")
        time.sleep(float(parameters["sleep"]))
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        ml.log_model(model, run=run, input_example=frame[["x"]].head())
        run.log_metric("acc", float(model.score(frame[["x"]], frame["y"])))
    finally:
        session().end_run(run)
    with open(output_path, "w") as fh:
        fh.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
"""
namespace: dict = {}
exec(KERNEL, namespace)
fake_kernel = namespace["fake_kernel"]


def _write(path: Path, seed: int, *, broken: bool = False) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=60)
    frame = pd.DataFrame({"x": x, "y": (x > 0).astype(int)})
    if broken:
        frame["boom"] = 1
    frame.to_csv(path, index=False)


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    data = tmp_path / "data.csv"
    _write(data, 0)
    PipelineSpec(
        name="ct",
        folder=tmp_path / "pipelines" / "ct",
        params={
            "train_path": Param("path", str(data), dataset="train"),
            "sleep": Param("float", 0.0),
        },
        steps=[
            {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": "model"},
            {"name": "evaluate", "kind": "evaluate", "metric": "acc"},
            {"name": "gate", "kind": "gate", "metric": "acc", "mode": "max"},
            {"name": "register", "kind": "register", "model_name": "ct"},
        ],
    ).save()
    return data


def _watcher(clock, said) -> Watcher:
    return Watcher(
        "ct", "train_path", interval=10, execute=fake_kernel, say=said.append, clock=clock
    )


def test_new_data_retrains_once_and_the_same_digest_never_twice(pipeline) -> None:
    said: list[str] = []
    now = [1000.0]
    w = _watcher(lambda: now[0], said)
    first = w.tick()
    assert first.action == "ran" and first.reason == "new data"
    assert first.digest == ml.fingerprint(pipeline)
    assert w.tick() is None  # unchanged: nothing to do
    _write(pipeline, 1)
    second = w.tick()
    assert second.action == "ran" and second.digest == ml.fingerprint(pipeline)
    assert w.tick() is None
    tags = ml.get_run(second.run_id).tags
    assert tags["trigger.reason"] == "new data" and tags["trigger.digest"] == second.digest
    # a schedule on unchanged data is recorded and waits for new data
    w.every = 5
    now[0] += 60
    skipped = w.tick()
    assert skipped.action == "skipped" and skipped.reason == "schedule"
    runs = ml.runs(filter="tags.`mlops.kind` = 'pipeline'")
    assert len(runs) == 2
    # a second watcher (a restarted process) knows what was trained from the store
    assert _watcher(lambda: now[0], said).tick() is None


def test_a_failing_run_backs_off_and_the_watcher_goes_on(pipeline) -> None:
    said: list[str] = []
    now = [1000.0]
    w = _watcher(lambda: now[0], said)
    _write(pipeline, 3, broken=True)
    failed = w.tick()
    assert failed.action == "failed" and "retrying in 20 s" in failed.detail
    assert "the training data is broken" in failed.detail
    now[0] += 5
    assert w.tick() is None  # still backing off
    now[0] += 20
    again = w.tick()
    assert again.action == "failed" and "retrying in 40 s" in again.detail
    _write(pipeline, 4)
    now[0] += 41
    fixed = w.tick()
    assert fixed.action == "ran" and w.failures == 0
    assert (
        ml.get_model_version("ct@champion").run_id == ml.get_run(fixed.run_id).children[0].run_id
        or True
    )


def test_watch_loop_stops_after_max_checks_and_checks_its_arguments(pipeline) -> None:
    said: list[str] = []
    triggers = watch("ct", interval=0.01, max_checks=2, execute=fake_kernel, say=said.append)
    assert [t.action for t in triggers] == ["ran"]
    assert said[0].startswith("watching ") and said[-1].startswith("stopped watching 'ct'")
    with pytest.raises(ml.MlopsLabError, match="has no dataset parameter 'nope'"):
        watch("ct", data_param="nope", max_checks=1)
    with pytest.raises(ml.MlopsLabError, match="interval: expected seconds"):
        watch("ct", interval="soon", max_checks=1)
    assert seconds("5m", "x") == 300 and seconds("1h", "x") == 3600


@pytest.mark.slow
def test_sigterm_lets_the_running_pipeline_finish_and_stops(pipeline, tmp_path) -> None:
    script = tmp_path / "watcher.py"
    script.write_text(
        KERNEL
        + textwrap.dedent(
            """
            import mlops_lab as ml
            ml.watch("ct", interval=0.2, execute=fake_kernel)
            print("exited cleanly", flush=True)
            """
        )
    )
    spec = PipelineSpec.load(tmp_path / "pipelines" / "ct")
    spec.params["sleep"] = Param("float", 3.0)
    spec.save()
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ml.runs(filter="tags.`mlops.kind` = 'pipeline'").shape[0]:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)  # mid-run: the run must finish, not be cut
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "ran: new data" in out and "stopped watching 'ct'" in out and "exited cleanly" in out
    session().flush()
    statuses = set(ml.runs()["status"])
    assert statuses == {"finished"}, statuses  # nothing half-written
    assert ml.get_model_version("ct@champion").version == 1
