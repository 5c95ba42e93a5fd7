"""A real external client of the Open Inference Protocol: tritonclient's HTTP client.

Both of its encodings: JSON tensors (``binary_data=False``) and Triton's
binary tensor data extension (``binary_data=True``, its default), for inputs
and outputs. The datatypes of the answer are exactly those the model
metadata declares.
"""

from __future__ import annotations

import numpy as np
import pytest

httpclient = pytest.importorskip("tritonclient.http", reason="pip install 'tritonclient[http]'")


def _client(served):
    return httpclient.InferenceServerClient(url=served.url.removeprefix("http://"))


def _declared(client, name: str) -> dict[str, str]:
    meta = client.get_model_metadata(name)
    return {o["name"]: o["datatype"] for o in meta["outputs"]}


def test_tritonclient_metadata(cancer) -> None:
    client = _client(cancer)
    name, version = cancer.bundle.name, cancer.bundle.version
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(name)
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    meta = client.get_model_metadata(name)
    assert meta["name"] == name and meta["versions"] == [version]
    assert _declared(client, name) == {"predict": "INT64", "predict_proba": "FP64"}
    client.close()


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_infer_matrix(cancer, binary) -> None:
    client = _client(cancer)
    name, version = cancer.bundle.name, cancer.bundle.version
    X = cancer.X.head(6).to_numpy(np.float32)
    tensor = httpclient.InferInput("input-0", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X, binary_data=binary)
    outputs = [
        httpclient.InferRequestedOutput("predict", binary_data=binary),
        httpclient.InferRequestedOutput("predict_proba", binary_data=binary),
    ]
    result = client.infer(name, [tensor], outputs=outputs, model_version=version)
    response = result.get_response()
    declared = _declared(client, name)
    for out in response["outputs"]:
        assert out["datatype"] == declared[out["name"]], out
        assert ("parameters" in out) is binary and ("data" in out) is not binary
    predict = result.as_numpy("predict")
    assert predict.dtype == np.int64
    np.testing.assert_array_equal(predict, cancer.model.predict(cancer.X.head(6)))
    proba = result.as_numpy("predict_proba")
    assert proba.dtype == np.float64
    proba = proba.reshape(6, 2)
    np.testing.assert_allclose(proba, cancer.model.predict_proba(cancer.X.head(6)), atol=1e-4)
    client.close()


def test_tritonclient_default_binary_request_without_outputs(iris) -> None:
    """tritonclient's defaults: binary inputs (BYTES too), all outputs binary."""
    client = _client(iris)
    X = iris.X.head(5)
    inputs = []
    for col in X.columns:
        if col == "petal_size":
            values = X[[col]].to_numpy(dtype=object).astype(bytes)
            tensor = httpclient.InferInput(col, [5, 1], "BYTES")
        else:
            values = X[[col]].to_numpy(np.float64)
            tensor = httpclient.InferInput(col, [5, 1], "FP64")
        tensor.set_data_from_numpy(values)  # binary_data=True is the default
        inputs.append(tensor)
    result = client.infer(iris.bundle.name, inputs)
    (out,) = result.get_response()["outputs"]
    assert out["name"] == "predict" and out["parameters"]["binary_data_size"] == 5 * 8
    np.testing.assert_array_equal(result.as_numpy("predict"), iris.model.predict(X))
    client.close()


def test_forged_binary_requests_are_4xx(cancer) -> None:
    """Lengths that do not add up are refused before anything is predicted."""
    url = f"/v2/models/{cancer.bundle.name}/infer"
    header = (
        b'{"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", '
        b'"parameters": {"binary_data_size": 240}}]}'
    )
    values = np.ones(30).tobytes()
    cases = {
        "short": (header + values[:-8], str(len(header))),
        "long": (header + values + b"extra", str(len(header))),
        "header-past-the-body": (header + values, str(len(header) + 10_000)),
        "header-not-a-number": (header + values, "twelve"),
        "no-header-length": (header + values, None),
    }
    for label, (body, length) in cases.items():
        headers = {"inference-header-content-length": length} if length else {}
        r = cancer.client.post(url, content=body, headers=headers)
        assert r.status_code == 400, (label, r.status_code, r.text)
        assert r.json()["error"], label
    ok = cancer.client.post(
        url, content=header + values, headers={"inference-header-content-length": str(len(header))}
    )
    assert ok.status_code == 200, ok.text
