"""Every client mistake is a 4xx with a JSON body naming the problem, never a 500."""

from __future__ import annotations

import json

import pytest


def _split(X) -> dict:
    return {"dataframe_split": json.loads(X.to_json(orient="split", index=False))}


def _post(served, body: dict):
    return served.client.post("/invocations", json=body)


def test_missing_column(iris) -> None:
    body = {"dataframe_records": iris.X.drop(columns=["sepal_width"]).head(2).to_dict("records")}
    r = _post(iris, body)
    assert r.status_code == 422
    assert r.json()["column"] == "sepal_width"
    assert "missing" in r.json()["error"]


def test_extra_column(iris) -> None:
    X = iris.X.head(2).assign(bogus=1.0)
    r = _post(iris, _split(X))
    assert r.status_code == 422
    assert r.json()["column"] == "bogus" and "unexpected column" in r.json()["error"]


def test_wrong_type(iris) -> None:
    records = iris.X.head(3).to_dict("records")
    records[2]["sepal_length"] = "tall"
    r = _post(iris, {"dataframe_records": records})
    assert r.status_code == 422
    body = r.json()
    assert body["column"] == "sepal_length" and body["row"] == 2
    assert "expected a number" in body["error"] and "'tall'" in body["error"]


def test_number_for_a_text_column(iris) -> None:
    records = iris.X.head(1).to_dict("records")
    records[0]["petal_size"] = 3
    r = _post(iris, {"dataframe_records": records})
    assert r.status_code == 422 and r.json()["column"] == "petal_size"
    assert "expected a string" in r.json()["error"]


def test_unseen_category_rejected(iris) -> None:
    records = iris.X.head(2).to_dict("records")
    records[1]["petal_size"] = "gigantic"
    r = _post(iris, {"dataframe_records": records})
    assert r.status_code == 422
    body = r.json()
    assert body["column"] == "petal_size" and body["row"] == 1
    assert "unseen category 'gigantic'" in body["error"]
    assert "small" in body["error"]


def test_unseen_category_allowed(serve_model) -> None:
    served = serve_model("iris", unseen_categories="allow")
    records = served.X.head(2).to_dict("records")
    records[1]["petal_size"] = "gigantic"
    r = _post(served, {"dataframe_records": records})
    assert r.status_code == 200, r.text  # the model's encoder ignores unknown categories


@pytest.mark.parametrize("value", ["NaN", "null"])
def test_nan_and_null_where_training_had_none(cancer, value) -> None:
    X = cancer.X.head(2)
    rows = X.to_numpy().tolist()
    text = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": rows}})
    col = X.columns[4]
    row1 = json.dumps(rows[1])
    patched = row1.replace(json.dumps(rows[1][4]), value, 1)
    text = text.replace(row1, patched)
    r = cancer.client.post(
        "/invocations", content=text, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["column"] == col and r.json()["row"] == 1
    assert "missing value" in r.json()["error"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe", b"[1, 2", b'{"dataframe_split": '],
    ids=["garbage", "empty", "not-utf8", "truncated-list", "truncated-object"],
)
def test_malformed_json(cancer, body) -> None:
    r = cancer.client.post(
        "/invocations", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "JSON" in r.json()["error"] or "empty" in r.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        [1, 2, 3],
        {"something_else": []},
        {"dataframe_split": [], "instances": []},
        {"dataframe_split": {"data": "x"}},
        {"dataframe_records": {"a": 1}},
        {"instances": "text"},
        {"instances": [[1, 2]]},
        {"instances": [None]},
        {"instances": []},
        {"inputs": {"mean radius": [1.0]}},
        {"instances": [[1] * 30], "params": {"method": "explain"}},
    ],
)
def test_wrong_shapes_are_client_errors(cancer, body) -> None:
    r = _post(cancer, body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"inputs": []},
        {"inputs": [{"name": "x"}]},
        {"inputs": [{"name": "x", "shape": [1], "datatype": "FLOAT", "data": [1]}]},
        {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1]}]},
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
        {"inputs": [{"name": "mean radius", "shape": [1], "datatype": "FP64", "data": [1]}]},
        {"inputs": [{"name": "x", "shape": [-1], "datatype": "FP64", "data": []}]},
        {
            "inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": [1] * 30}],
            "outputs": [{"name": "logits"}],
        },
    ],
)
def test_v2_protocol_errors(cancer, body) -> None:
    r = cancer.client.post(f"/v2/models/{cancer.bundle.name}/infer", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]


def test_v2_column_error_names_the_column(iris) -> None:
    X = iris.X.head(2)
    inputs = [
        {"name": c, "shape": [2], "datatype": "FP64", "data": X[c].tolist()} for c in X.columns
    ]
    inputs[0]["data"] = ["a", "b"]
    r = iris.client.post(f"/v2/models/{iris.bundle.name}/infer", json={"inputs": inputs})
    assert r.status_code == 422 and r.json()["column"] == "sepal_length"


def test_unknown_model_in_infer_path(cancer) -> None:
    r = cancer.client.post("/v2/models/other/infer", json={"inputs": []})
    assert r.status_code == 404 and "other" in r.json()["error"]


def test_unsupported_content_type(cancer) -> None:
    r = cancer.client.post("/invocations", content=b"x", headers={"content-type": "image/png"})
    assert r.status_code == 415


def test_csv_errors(iris) -> None:
    r = iris.client.post(
        "/invocations",
        content=b"sepal_length,sepal_width,petal_width,petal_size\nabc,1,1,small\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["column"] == "sepal_length"
    r = iris.client.post("/invocations", content=b"", headers={"content-type": "text/csv"})
    assert r.status_code == 400


@pytest.fixture
def limited(serve_model):
    return serve_model("cancer", max_body_bytes=20_000, max_rows=10)


def test_oversize_body(limited) -> None:
    X = limited.X.head(200)
    r = _post(limited, _split(X))
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_oversize_body_without_content_length(limited) -> None:
    def chunks():
        yield b'{"instances": ['
        for _ in range(2000):
            yield b"[" + b",".join([b"1.0"] * 30) + b"],"
        yield b"[1]]}"

    r = limited.client.post(
        "/invocations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_too_many_rows(limited) -> None:
    X = limited.X.head(11)
    r = _post(limited, {"instances": X.to_numpy().round(2).tolist()})
    assert r.status_code == 413 and "11 rows" in r.json()["error"]
    assert _post(limited, {"instances": X.head(10).to_numpy().tolist()}).status_code == 200


@pytest.fixture
def guarded(serve_model):
    return serve_model("cancer", token="s3cret")


def test_bearer_token(guarded) -> None:
    body = {"instances": guarded.X.head(1).to_numpy().tolist()}
    assert guarded.client.get("/v2/health/ready").status_code == 200
    r = _post(guarded, body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "token" in r.json()["error"]
    bad = guarded.client.post("/invocations", json=body, headers={"authorization": "Bearer nope"})
    assert bad.status_code == 401
    ok = guarded.client.post("/invocations", json=body, headers={"authorization": "Bearer s3cret"})
    assert ok.status_code == 200
    assert guarded.client.get("/metrics").status_code == 401
    assert guarded.client.get(f"/v2/models/{guarded.bundle.name}").status_code == 401


def test_infinity_is_refused(cancer) -> None:
    text = '{"instances": [[' + ", ".join(["1.0"] * 29 + ["Infinity"]) + "]]}"
    r = cancer.client.post(
        "/invocations", content=text, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "infinite" in r.json()["error"]
    assert r.json()["column"] == cancer.bundle.schema.names[-1]
