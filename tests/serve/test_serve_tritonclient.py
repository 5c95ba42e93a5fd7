"""A real external client of the Open Inference Protocol: tritonclient's HTTP client."""

from __future__ import annotations

import numpy as np
import pytest

httpclient = pytest.importorskip("tritonclient.http", reason="pip install 'tritonclient[http]'")


def test_tritonclient_infer(cancer) -> None:
    url = cancer.url.removeprefix("http://")
    client = httpclient.InferenceServerClient(url=url)
    name, version = cancer.bundle.name, cancer.bundle.version
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(name)
    meta = client.get_model_metadata(name)
    assert meta["name"] == name and meta["versions"] == [version]

    X = cancer.X.head(6).to_numpy(np.float32)
    tensor = httpclient.InferInput("input-0", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X, binary_data=False)
    outputs = [
        httpclient.InferRequestedOutput("predict", binary_data=False),
        httpclient.InferRequestedOutput("predict_proba", binary_data=False),
    ]
    result = client.infer(name, [tensor], outputs=outputs, model_version=version)
    np.testing.assert_array_equal(
        result.as_numpy("predict"), cancer.model.predict(cancer.X.head(6))
    )
    proba = result.as_numpy("predict_proba")
    np.testing.assert_allclose(proba, cancer.model.predict_proba(cancer.X.head(6)), atol=1e-4)
    client.close()
