"""mlops-lab deploy: a real MLServer serves the generated folder and answers as mlops-lab does."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
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
from mlops_lab.project import set_default_root
from mlops_lab.tracking import session as session_module

_MLSERVER_MAIN = "import sys; from mlserver.cli import main; sys.argv[0] = 'mlserver'; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@contextlib.contextmanager
def _mlserver(
    python: Path, folder: Path, log: Path, models: list[str], env: dict[str, str] | None = None
):
    """``mlserver start FOLDER`` in its own environment; yields its URL once ``models`` are ready."""
    with open(log, "wb") as fh:
        process = subprocess.Popen(
            [str(python), "-c", _MLSERVER_MAIN, "start", str(folder)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    try:
        port = (env or {}).get("MLSERVER_HTTP_PORT") or json.loads(
            (folder / "settings.json").read_text()
        )["http_port"]
        url = f"http://127.0.0.1:{port}"
        for model in models:
            _wait_ready(url, process, log, model)
        yield url
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def mlserver_deployments(tmp_path_factory, mlserver_python):
    """One MLServer serving both bundles' ``--target mlserver`` folders as its model repository.

    Yields the server's URL and, per bundle, the bundle, its data and its deployment folder.
    The bundles are made in a store of the fixture's own, so tests keep their fresh stores.
    """
    root = tmp_path_factory.mktemp("mlserver")
    made = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_LAB_HOME", str(root / ".mlops"))
        set_default_root(None)
        session_module.reset()
        try:
            for which in ("cancer", "diabetes"):
                bundle, X = _bundle(root, which)
                out = root / "repository" / which
                args = ["deploy", str(bundle.path), "--target", "mlserver", "--out", str(out)]
                assert main(args) == 0
                made[which] = (bundle, X, out)
        finally:
            session_module.reset()
            set_default_root(None)
    http, grpc, metrics = _free_port(), _free_port(), _free_port()
    (root / "repository" / "settings.json").write_text(
        json.dumps(
            {"http_port": http, "grpc_port": grpc, "metrics_port": metrics, "host": "127.0.0.1"}
        )
    )
    names = [bundle.name for bundle, _, _ in made.values()]
    with _mlserver(mlserver_python, root / "repository", root / "mlserver.log", names) as url:
        yield url, made


@pytest.mark.slow
@pytest.mark.parametrize("which", ["cancer", "diabetes"])
def test_mlserver_serves_the_folder_and_answers_like_mlops_lab(mlserver_deployments, which):
    url, made = mlserver_deployments
    bundle, X, out = made[which]
    settings = json.loads((out / "model-settings.json").read_text())
    assert settings["implementation"] == "mlserver_sklearn.SKLearnModel"
    assert settings["name"] == bundle.name and settings["parameters"]["uri"] == "./model.joblib"
    assert json.loads((out / "settings.json").read_text()) == {
        "http_port": 8080,
        "host": "127.0.0.1",
    }
    rows = X.sample(12, random_state=1)
    theirs = httpx.post(f"{url}/v2/models/{bundle.name}/infer", json=_v2_request(rows), timeout=30)
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


def test_kserve_manifest_and_docker_context(tmp_path) -> None:
    bundle, _ = _bundle(tmp_path, "diabetes")
    dep = deploy(bundle.path, "kserve", tmp_path / "ks", storage_uri="s3://models/diabetes")
    manifest = yaml.safe_load((dep.path / "inferenceservice.yaml").read_text())
    assert manifest == inference_service("diabetes", "s3://models/diabetes")
    model = manifest["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "sklearn"} and model["protocolVersion"] == "v2"
    assert (dep.path / "model" / "model-settings.json").is_file()
    assert not (dep.path / "model" / "settings.json").exists()  # the runtime sets host, ports
    assert "kubectl apply" in str(dep)
    assert f"upload the contents of {dep.path / 'model'} to s3://models/diabetes" in str(dep)
    default = deploy(bundle.path, "kserve", tmp_path / "ks-pvc", name="Ridge 2")
    written = yaml.safe_load((default.path / "inferenceservice.yaml").read_text())
    assert written["spec"]["predictor"]["model"]["storageUri"] == "pvc://models/ridge-2"
    assert "to pvc://models/ridge-2" in str(default)  # the upload step names the same place
    docker = deploy(bundle.path, "docker", tmp_path / "docker")
    assert {"Dockerfile", "metadata.json", "model.skops"} <= set(docker.files)
    ml.load_bundle(docker.path)  # the copy verifies: digests intact
    assert "--host" in (docker.path / "Dockerfile").read_text()
    assert k8s_name("Churn_Model.v2") == "churn-model-v2"
    for odd in ["2024 sales", "___", "", "Ünïcode-Modell", "x" * 80, "-a-"]:
        assert ISVC_NAME.fullmatch(k8s_name(odd)) and len(k8s_name(odd)) <= 63, odd
    assert k8s_name("2024 sales") == "model-2024-sales"


# KServe's own rule for an InferenceService's name (IsvcNameFmt, inference_service_validation.go)
ISVC_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
VALIDATOR = Path(__file__).with_name("kserve_validate.py")


def _sdk_check(kserve_python: Path, *manifests: Path) -> tuple[int, dict]:
    """Run the strict KServe SDK check (kserve_validate.py) on ``manifests`` in its environment."""
    done = subprocess.run(
        [str(kserve_python), str(VALIDATOR), *map(str, manifests)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def _contains(big, small) -> bool:
    """Every field of ``small`` is in ``big`` with the same value (the SDK adds defaults)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and _contains(big[k], v) for k, v in small.items()
        )
    return big == small


def test_kserve_manifest_is_an_inference_service_to_the_kserve_sdk(tmp_path, kserve_python) -> None:
    bundle, _ = _bundle(tmp_path, "diabetes")
    out = tmp_path / "ks"
    args = ["deploy", str(bundle.path), "--target", "kserve", "--out", str(out)]
    assert (
        main([*args, "--storage-uri", "s3://models/diabetes", "--name", "Diabetes_Ridge v2"]) == 0
    )
    path = out / "inferenceservice.yaml"
    manifest = yaml.safe_load(path.read_text())
    code, report = _sdk_check(kserve_python, path)
    assert report[str(path)]["errors"] == [] and code == 0, report
    roundtrip = report[str(path)]["roundtrip"]
    assert _contains(roundtrip, manifest), (roundtrip, manifest)  # the SDK kept every field
    assert roundtrip["apiVersion"] == "serving.kserve.io/v1beta1"
    assert roundtrip["kind"] == "InferenceService"
    model = roundtrip["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "sklearn"}
    assert model["protocolVersion"] == "v2"
    assert model["runtime"] == "kserve-mlserver"
    assert model["storageUri"] == "s3://models/diabetes"
    name = roundtrip["metadata"]["name"]
    assert name == "diabetes-ridge-v2" and ISVC_NAME.fullmatch(name)
    # what the storageUri must hold, as KServe mounts it at /mnt/models for MLServer
    assert sorted(p.name for p in (out / "model").iterdir()) == [
        "input_example.json",
        "model-settings.json",
        "model.joblib",
    ]
    settings = json.loads((out / "model" / "model-settings.json").read_text())
    assert settings["name"] == name  # KServe calls the model by the InferenceService's name
    assert settings["parameters"]["uri"] == "./model.joblib"


# each mistake, as a change to a correct manifest, and the one error the check must report
MISTAKES = {
    "storageURI": "$.spec.predictor.model.storageURI: unknown field of V1beta1ModelSpec"
    " (did you mean 'storageUri'?)",
    "protocol-on-predictor": "$.spec.predictor.protocolVersion: unknown field of"
    " V1beta1PredictorSpec",
    "protocol-in-model-format": "$.spec.predictor.model.modelFormat.protocolVersion: unknown"
    " field of V1beta1ModelFormat",
    "format-as-string": "$.spec.predictor.model.modelFormat: expected an object"
    " (V1beta1ModelFormat), got 'sklearn'",
    "no-format": "$.spec.predictor.model: V1beta1ModelSpec: Invalid value for `model_format`,"
    " must not be `None`",
    "protocol-v3": "$.spec.predictor.model.protocolVersion: expected one of"
    " ['v1', 'v2', 'grpc-v2']",
    "replicas-as-text": "$.spec.predictor.minReplicas: expected int, got '1'",
    "alpha-api": "$.apiVersion: expected 'serving.kserve.io/v1beta1'",
}


def _with_mistake(label: str) -> dict:
    manifest = inference_service("diabetes", "gs://models/diabetes")
    predictor = manifest["spec"]["predictor"]
    model = predictor["model"]
    if label == "storageURI":
        model["storageURI"] = model.pop("storageUri")
    elif label == "protocol-on-predictor":
        predictor["protocolVersion"] = model.pop("protocolVersion")
    elif label == "protocol-in-model-format":
        model["modelFormat"]["protocolVersion"] = model.pop("protocolVersion")
    elif label == "format-as-string":
        model["modelFormat"] = "sklearn"
    elif label == "no-format":
        del model["modelFormat"]
    elif label == "protocol-v3":
        model["protocolVersion"] = "v3"
    elif label == "replicas-as-text":
        predictor["minReplicas"] = "1"
    elif label == "alpha-api":
        manifest["apiVersion"] = "serving.kserve.io/v1alpha1"
    return manifest


def test_the_kserve_sdk_check_fails_on_each_misspelled_or_misplaced_field(
    tmp_path, kserve_python
) -> None:
    control = tmp_path / "as-written.yaml"
    control.write_text(yaml.safe_dump(inference_service("diabetes", "gs://models/diabetes")))
    paths = {label: tmp_path / f"{label}.yaml" for label in MISTAKES}
    for label, path in paths.items():
        path.write_text(yaml.safe_dump(_with_mistake(label)))
    code, report = _sdk_check(kserve_python, control, *paths.values())
    assert code == 1
    assert report[str(control)]["errors"] == []  # a correct manifest passes in the same run
    for label, path in paths.items():
        assert report[str(path)]["errors"] == [MISTAKES[label]], label


@pytest.mark.slow
def test_kserve_model_folder_serves_as_the_kserve_mlserver_runtime_starts_it(
    tmp_path, mlserver_python
) -> None:
    bundle, X = _bundle(tmp_path, "diabetes")
    dep = deploy(bundle.path, "kserve", tmp_path / "ks", name="Diabetes Ridge")
    manifest = yaml.safe_load((dep.path / "inferenceservice.yaml").read_text())
    name = manifest["metadata"]["name"]
    # The environment KServe gives the kserve-container of its kserve-mlserver
    # ClusterServingRuntime (config/runtimes/kserve-mlserver.yaml and SetMlServerDefaults),
    # with storageUri downloaded to /mnt/models, here the model folder; MLServer's image then
    # runs `mlserver start $MLSERVER_MODELS_DIR` (/mnt/models). Host and metrics port are the
    # test's own: a real pod listens on all interfaces and on 8082.
    env = {
        "MLSERVER_MODEL_IMPLEMENTATION": "mlserver_sklearn.SKLearnModel",
        "MLSERVER_MODEL_NAME": name,
        "MLSERVER_MODEL_URI": str(dep.path / "model"),
        "MLSERVER_HTTP_PORT": str(_free_port()),
        "MLSERVER_GRPC_PORT": str(_free_port()),
        "MLSERVER_METRICS_PORT": str(_free_port()),
        "MLSERVER_HOST": "127.0.0.1",
    }
    rows = X.sample(9, random_state=3)
    with _mlserver(mlserver_python, dep.path / "model", tmp_path / "ks.log", [name], env) as url:
        answer = httpx.post(f"{url}/v2/models/{name}/infer", json=_v2_request(rows), timeout=30)
        listed = httpx.post(f"{url}/v2/repository/index", json={}, timeout=30).json()
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == pytest.approx(
        bundle.model.predict(rows).tolist(), rel=1e-6
    )
    assert [m["name"] for m in listed] == [name]  # one model, under the InferenceService's name


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
