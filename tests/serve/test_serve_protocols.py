"""Both protocols against a real server: the Open Inference Protocol v2 and MLflow's formats."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_v2_health_and_metadata(cancer) -> None:
    c = cancer.client
    assert c.get("/v2/health/live").json() == {"live": True}
    assert c.get("/v2/health/ready").json() == {"ready": True}
    server = c.get("/v2").json()
    assert server["name"] == "mlops-lab" and "version" in server
    assert server["extensions"] == ["binary_tensor_data"]
    name, version = cancer.bundle.name, cancer.bundle.version
    meta = c.get(f"/v2/models/{name}").json()
    assert meta["name"] == name and meta["versions"] == [version]
    assert meta["platform"].startswith("onnx")
    assert [i["name"] for i in meta["inputs"]] == list(cancer.X.columns)
    assert all(i["datatype"] == "FP64" for i in meta["inputs"])
    assert [o["name"] for o in meta["outputs"]] == ["predict", "predict_proba"]
    assert c.get(f"/v2/models/{name}/versions/{version}").json() == meta
    assert c.get(f"/v2/models/{name}/ready").json() == {"name": name, "ready": True}
    assert c.get(f"/v2/models/{name}/versions/{version}/ready").status_code == 200
    missing = c.get("/v2/models/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    assert c.get(f"/v2/models/{name}/versions/999").status_code == 404


def test_v2_infer_one_tensor_per_column(cancer) -> None:
    X = cancer.X.head(7)
    body = {
        "id": "req-1",
        "inputs": [
            {"name": col, "shape": [len(X)], "datatype": "FP64", "data": X[col].tolist()}
            for col in X.columns
        ],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    r = cancer.client.post(f"/v2/models/{cancer.bundle.name}/infer", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_name"] == cancer.bundle.name
    assert out["model_version"] == cancer.bundle.version
    assert out["id"] == "req-1"
    predict, proba = out["outputs"]
    assert predict == {
        "name": "predict",
        "shape": [7],
        "datatype": "INT64",
        "data": cancer.model.predict(X).tolist(),
    }
    assert proba["name"] == "predict_proba" and proba["shape"] == [7, 2]
    assert proba["datatype"] == "FP64"  # as the model metadata declares, from ONNX too
    np.testing.assert_allclose(
        np.reshape(proba["data"], (7, 2)), cancer.model.predict_proba(X), atol=1e-4
    )


def test_v2_infer_one_matrix_and_version_path(cancer) -> None:
    X = cancer.X.head(3)
    body = {
        "inputs": [
            {"name": "input-0", "shape": [3, 30], "datatype": "FP32", "data": X.to_numpy().tolist()}
        ]
    }
    b = cancer.bundle
    r = cancer.client.post(f"/v2/models/{b.name}/versions/{b.version}/infer", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == cancer.model.predict(X).tolist()
    assert r.headers["x-request-id"] == r.json()["id"]


def test_v2_categorical_columns_as_bytes(iris) -> None:
    X = iris.X.head(4)
    inputs = []
    for col in X.columns:
        kind = "BYTES" if col == "petal_size" else "FP64"
        inputs.append({"name": col, "shape": [4, 1], "datatype": kind, "data": X[col].tolist()})
    r = iris.client.post(f"/v2/models/{iris.bundle.name}/infer", json={"inputs": inputs})
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == iris.model.predict(X).tolist()


@pytest.mark.parametrize("fmt", ["dataframe_split", "dataframe_records", "instances", "inputs"])
def test_mlflow_json_formats(cancer, fmt) -> None:
    X = cancer.X.head(5)
    payload = {
        "dataframe_split": json.loads(X.to_json(orient="split", index=False)),
        "dataframe_records": X.to_dict(orient="records"),
        "instances": X.to_dict(orient="records"),
        "inputs": {c: X[c].tolist() for c in X.columns},
    }[fmt]
    r = cancer.client.post("/invocations", json={fmt: payload})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": cancer.model.predict(X).tolist()}


def test_mlflow_rows_without_columns_and_predict_proba(cancer) -> None:
    X = cancer.X.head(2)
    r = cancer.client.post(
        "/invocations",
        json={"instances": X.to_numpy().tolist(), "params": {"method": "predict_proba"}},
    )
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["predictions"], cancer.model.predict_proba(X), atol=1e-4)


def test_mlflow_csv(iris) -> None:
    X = iris.X.head(6)
    r = iris.client.post(
        "/invocations", content=X.to_csv(index=False), headers={"content-type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": iris.model.predict(X).tolist()}


def test_openapi_docs(cancer) -> None:
    spec = cancer.client.get("/openapi.json").json()
    assert "/invocations" in spec["paths"]
    assert "/v2/models/{model_name}/infer" in spec["paths"]
    assert cancer.client.get("/docs").status_code == 200


def test_onnx_and_sklearn_servers_agree(cancer, thread_server) -> None:
    from mlops_lab.serve import create_app

    X = cancer.X.sample(60, random_state=3)
    body = {"dataframe_split": json.loads(X.to_json(orient="split", index=False))}
    body["params"] = {"method": "predict_proba"}
    onnx = cancer.client.post("/invocations", json=body).json()["predictions"]
    app = create_app(cancer.bundle, runtime="sklearn", prediction_log=None)
    import httpx

    with thread_server(app) as url:
        sk = httpx.post(url + "/invocations", json=body, timeout=30).json()["predictions"]
    np.testing.assert_allclose(onnx, sk, atol=1e-4)
