"""mlops-lab deploy: a real MLServer serves the generated folder and answers as mlops-lab does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx
import pytest
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlops_lab as ml
from mlops_lab.cli import main
from mlops_lab.errors import InvalidArgumentError
from mlops_lab.integrations.deploy import deploy, inference_service, k8s_name

MLSERVER = "1.7.1"
_MLSERVER_MAIN = "import sys; from mlserver.cli import main; sys.argv[0] = 'mlserver'; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlserver_python() -> Path:
    """The Python of a virtual environment of MLServer's own (it pins an older FastAPI), cached."""
    pins = [f"{d}=={metadata.version(d)}" for d in ("scikit-learn", "pandas", "numpy", "scipy")]
    key = "-".join(p.replace("==", "") for p in pins)
    cache = Path(os.environ.get("MLOPS_LAB_TEST_CACHE", Path.home() / ".cache" / "mlops-lab-tests"))
    venv = cache / f"mlserver-{MLSERVER}-{key}"
    exe = venv / "bin" / "python"
    probe = "import mlserver_sklearn, uvloop; assert uvloop.__version__ < '0.22'"
    ready = exe.exists() and subprocess.run([str(exe), "-c", probe]).returncode == 0
    if not ready:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "pip"),
                "install",
                "-q",
                f"mlserver=={MLSERVER}",
                f"mlserver-sklearn=={MLSERVER}",
                "uvloop<0.22",  # MLServer 1.7's workers call get_event_loop(), which 0.22 removed
                *pins,
            ],
            check=True,
            timeout=1200,
        )
    return exe


def _bundle(tmp_path: Path, which: str):
    if which == "cancer":
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    else:
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        model = Ridge(alpha=0.1).fit(X, y)
    with ml.start_run(which) as run:
        ml.log_model(model, input_example=X.head())
    return ml.package(run, tmp_path / f"bundle-{which}"), X


def _v2_request(rows) -> dict:
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": str(c), "datatype": "FP64", "shape": [len(rows)], "data": rows[c].tolist()}
            for c in rows.columns
        ],
    }


def _wait_ready(url: str, process: subprocess.Popen, log: Path, model: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mlserver exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/v2/models/{model}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"mlserver not ready: {log.read_text()[-3000:]}")


@pytest.mark.slow
@pytest.mark.parametrize("which", ["cancer", "diabetes"])
def test_mlserver_serves_the_folder_and_answers_like_mlops_lab(tmp_path, mlserver_python, which):
    bundle, X = _bundle(tmp_path, which)
    out = tmp_path / "mlserver"
    assert main(["deploy", str(bundle.path), "--target", "mlserver", "--out", str(out)]) == 0
    settings = json.loads((out / "model-settings.json").read_text())
    assert settings["implementation"] == "mlserver_sklearn.SKLearnModel"
    http, grpc, metrics = _free_port(), _free_port(), _free_port()
    (out / "settings.json").write_text(
        json.dumps(
            {"http_port": http, "grpc_port": grpc, "metrics_port": metrics, "host": "127.0.0.1"}
        )
    )
    log = tmp_path / "mlserver.log"
    with open(log, "wb") as fh:
        process = subprocess.Popen(
            [str(mlserver_python), "-c", _MLSERVER_MAIN, "start", str(out)],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{http}"
        _wait_ready(url, process, log, bundle.name)
        rows = X.sample(12, random_state=1)
        theirs = httpx.post(
            f"{url}/v2/models/{bundle.name}/infer", json=_v2_request(rows), timeout=30
        )
        assert theirs.status_code == 200, theirs.text
        with ml.start_server(bundle) as ours:
            mine = httpx.post(
                f"{ours.url}/v2/models/{bundle.name}/infer", json=_v2_request(rows), timeout=30
            )
        assert mine.status_code == 200, mine.text
        their_pred = theirs.json()["outputs"][0]["data"]
        my_pred = next(o for o in mine.json()["outputs"] if o["name"] == "predict")["data"]
        assert their_pred == pytest.approx(my_pred, rel=1e-6)
        assert my_pred == pytest.approx(bundle.model.predict(rows).tolist(), rel=1e-6)
    finally:
        process.terminate()
        process.wait(30)


def test_kserve_manifest_and_docker_context(tmp_path) -> None:
    bundle, _ = _bundle(tmp_path, "diabetes")
    dep = deploy(bundle.path, "kserve", tmp_path / "ks", storage_uri="s3://models/diabetes")
    manifest = yaml.safe_load((dep.path / "inferenceservice.yaml").read_text())
    assert manifest == inference_service("diabetes", "s3://models/diabetes")
    model = manifest["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "sklearn"} and model["protocolVersion"] == "v2"
    assert (dep.path / "model" / "model-settings.json").is_file()
    assert "kubectl apply" in str(dep)
    docker = deploy(bundle.path, "docker", tmp_path / "docker")
    assert {"Dockerfile", "metadata.json", "model.skops"} <= set(docker.files)
    ml.load_bundle(docker.path)  # the copy verifies: digests intact
    assert "--host" in (docker.path / "Dockerfile").read_text()
    assert k8s_name("Churn_Model.v2") == "churn-model-v2"


def test_deploy_mistakes_name_the_argument(tmp_path) -> None:
    bundle, _ = _bundle(tmp_path, "diabetes")
    with pytest.raises(InvalidArgumentError, match="target: expected one of docker, kserve"):
        deploy(bundle.path, "sagemaker", tmp_path / "x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidArgumentError, match="is not empty"):
        deploy(bundle.path, "docker", tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"  # nothing lost
    (bundle.path / "model.skops").write_bytes(b"tampered")
    with pytest.raises(ml.MlopsLabError):
        deploy(bundle.path, "mlserver", tmp_path / "y")
    assert not (tmp_path / "y").exists()
