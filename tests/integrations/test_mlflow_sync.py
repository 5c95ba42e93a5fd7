"""Two-way sync with a real `mlflow server` (SQLite backend, 127.0.0.1, a free port)."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import mlops_lab as ml
from mlops_lab.cli import main
from mlops_lab.integrations.mlflow_sync import DONE_TAG, ORIGIN_TAG, pull, push
from mlops_lab.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("mlflow-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (closed at teardown)
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a loaded 2-core machine takes a while
    while True:
        assert process.poll() is None, (folder / "server.log").read_text()[-3000:]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, (folder / "server.log").read_text()[-3000:]
        time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(30)
    log.close()


@pytest.fixture
def client(mlflow_server):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)


def _populate(experiment: str) -> tuple[str, list[str], object]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    with ml.start_run("sweep", experiment=experiment) as parent:
        ml.log_param("grid", "C")
        children = []
        for i, C in enumerate((0.1, 1.0)):
            with ml.start_run(f"C={C}", experiment=experiment, parent=parent) as child:
                ml.log_params({"C": C, "solver": "lbfgs"})
                for step in range(5):
                    ml.log_metric("loss", 1.0 / (step + 1 + i), step=step)
                ml.log_metric("odd", float("nan"))
                model = LogisticRegression(C=C, max_iter=500).fit(X, y)
                ml.log_model(model, input_example=X.head())
                ml.set_tag("team", "vision")
                children.append(child.run_id)
    for run_id in children:
        ml.register_model(run_id, f"iris-{experiment}")
    ml.set_alias(f"iris-{experiment}", "champion", 2)
    return parent.run_id, children, X


def test_push_is_complete_and_idempotent(mlflow_server, client) -> None:
    parent_id, children, X = _populate("sync")
    result = push(mlflow_server, experiment="sync", progress=False)
    assert sorted(result.created) == sorted([parent_id, *children])
    assert result.models == ["iris-sync/1", "iris-sync/2"]
    exp = client.get_experiment_by_name("sync")
    remote = {r.data.tags[ORIGIN_TAG]: r for r in client.search_runs([exp.experiment_id])}
    assert set(remote) == {parent_id, *children}
    child = remote[children[1]]
    assert child.data.tags["mlflow.parentRunId"] == remote[parent_id].info.run_id
    assert child.data.tags[DONE_TAG] == "1" and child.data.tags["team"] == "vision"
    assert child.data.params == {"C": "1.0", "solver": "lbfgs"}
    assert child.info.status == "FINISHED"
    history = client.get_metric_history(child.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 2)) for s in range(5)]
    assert math.isnan(client.get_metric_history(child.info.run_id, "odd")[0].value)
    files = {f.path for f in client.list_artifacts(child.info.run_id, "environment")}
    assert files == {"environment/requirements.txt"}
    # the champion loads with MLflow's own pyfunc and predicts as the local model does
    import mlflow.pyfunc

    champion = mlflow.pyfunc.load_model("models:/iris-sync@champion")
    local = ml.load_model("iris-sync@champion")
    assert np.array_equal(champion.predict(X.head(20)), local.predict(X.head(20)))
    # a second push adds nothing
    again = push(mlflow_server, experiment="sync", progress=False)
    assert again.created == [] and len(again.skipped) == 3 and again.models == []
    assert len(client.search_runs([exp.experiment_id])) == 3
    assert len(client.search_model_versions("name = 'iris-sync'")) == 2


def test_an_interrupted_push_is_written_again_once(mlflow_server, client) -> None:
    _, children, _ = _populate("resume")
    push(mlflow_server, experiment="resume", models=False, progress=False)
    exp = client.get_experiment_by_name("resume")
    half = next(
        r for r in client.search_runs([exp.experiment_id]) if r.data.tags[ORIGIN_TAG] == children[0]
    )
    client.delete_tag(half.info.run_id, DONE_TAG)  # as if the push died before the end
    result = push(mlflow_server, experiment="resume", models=False, progress=False)
    assert result.resumed == [children[0]] and result.created == [children[0]]
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 3
    redone = next(r for r in runs if r.data.tags[ORIGIN_TAG] == children[0])
    assert len(client.get_metric_history(redone.info.run_id, "loss")) == 5


def test_pull_an_mlflow_experiment_into_an_empty_store(mlflow_server, client, tmp_path) -> None:
    exp_id = client.create_experiment("made-by-mlflow")
    parent = client.create_run(exp_id, run_name="outer")
    inner = client.create_run(
        exp_id, run_name="inner", tags={"mlflow.parentRunId": parent.info.run_id}
    )
    client.log_param(inner.info.run_id, "alpha", "0.5")
    for step in range(3):
        client.log_metric(inner.info.run_id, "rmse", 10.0 - step, step=step)
    client.set_terminated(inner.info.run_id, "FAILED")
    client.set_terminated(parent.info.run_id)
    store = Store.open(tmp_path / "fresh" / ".mlops")
    result = pull("made-by-mlflow", mlflow_server, store=store, progress=False)
    assert sorted(result.created) == sorted([parent.info.run_id, inner.info.run_id])
    rec = store.run_record(inner.info.run_id)
    assert rec["status"] == "failed" and rec["parent_id"] == parent.info.run_id
    assert store.params(inner.info.run_id)["alpha"][0] == "0.5"
    assert [v for _, v, _ in store.metric_history(inner.info.run_id, "rmse")] == [10.0, 9.0, 8.0]
    again = pull("made-by-mlflow", mlflow_server, store=store, progress=False)
    assert again.created == [] and len(again.skipped) == 2


def test_cli_push_and_pull(mlflow_server, capsys, tmp_path) -> None:
    with ml.start_run("cli-run", experiment="cli"):
        ml.log_metric("acc", 0.9)
    assert (
        main(["mlflow", "push", "--uri", mlflow_server, "--experiment", "cli", "--no-progress"])
        == 0
    )
    assert "1 runs written" in capsys.readouterr().out
    assert (
        main(["mlflow", "push", "--uri", mlflow_server, "--experiment", "cli", "--no-progress"])
        == 0
    )
    assert "0 runs written, 1 already there" in capsys.readouterr().out
    assert main(["mlflow", "pull", "nope", "--uri", mlflow_server, "--no-progress"]) == 2
    assert "no MLflow experiment 'nope'" in capsys.readouterr().err
