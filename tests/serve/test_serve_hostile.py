"""Hostile requests against the real server on 127.0.0.1: every one is a 4xx JSON answer.

Raw bodies go over HTTP with httpx, as an attacker would send them: JSON
nested past the interpreter's recursion limit, integers of thousands of
digits or beyond the float range, request ids built to break a header,
out-of-range integers for int64 columns, strings in numeric tensors. Each
answer is a 4xx with a JSON ``error``; the model predicts nothing (the
``mlops_predicted_rows_total`` counter stays at 0) and every request still
gets its row in the prediction log (nothing lost).
"""

from __future__ import annotations

import html
import json
import time

import numpy as np
import pytest

import mlops_lab as ml
from mlops_lab.store.prediction_records import predictions

EVIL = '</title><script>alert("xss")</script><img src=x onerror=alert(1)>'


def _rows(store, name: str, n: int) -> list[dict]:
    deadline = time.monotonic() + 20
    rows = predictions(store, name)
    while len(rows) < n and time.monotonic() < deadline:
        time.sleep(0.05)
        rows = predictions(store, name)
    return rows


def _refused(r, *statuses: int) -> dict:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    if statuses:
        assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"]
    return body


def _nothing_predicted(served_or_client) -> None:
    """No row reached the model and no answer was a 5xx (from the server's own /metrics)."""
    client = getattr(served_or_client, "client", served_or_client)
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith("mlops_predicted_rows_total{"):
            assert line.endswith(" 0"), line
        if line.startswith("mlops_requests_total{"):
            assert 'code="200"' not in line and 'code="5' not in line, line
    assert 'kind="server"' not in text


def _v2_columns(X) -> list[dict]:
    return [
        {"name": c, "shape": [len(X)], "datatype": "FP64", "data": X[c].tolist()} for c in X.columns
    ]


# -- item: stored XSS in the docs pages ---------------------------------------------------


def test_docs_pages_escape_a_hostile_bundle_name(cancer, thread_server) -> None:
    """A bundle is data: whatever name it carries, the docs pages show it as text.

    The name is set on the loaded bundle (the loader's own checks are another
    layer; the server must be safe whatever name reaches it).
    """
    import httpx

    from mlops_lab.packaging import load_bundle
    from mlops_lab.serve import create_app

    bundle = load_bundle(cancer.bundle.path)
    bundle.metadata["name"] = EVIL
    bundle.metadata["version"] = "<b>1</b>"
    app = create_app(bundle, prediction_log=None)
    with thread_server(app) as url:
        for page in ("/docs", "/redoc"):
            r = httpx.get(url + page, timeout=30)
            assert r.status_code == 200
            assert "<script>alert" not in r.text and "<img src=x" not in r.text
            assert "<b>1</b>" not in r.text
            assert html.escape(EVIL, quote=True) in r.text  # shown, as text
        spec = httpx.get(url + "/openapi.json", timeout=30).json()
        assert spec["info"]["title"] == f"{EVIL} (version <b>1</b>)"  # JSON, not HTML
        assert EVIL not in spec["info"]["description"]
        # An unknown model's 404 quotes the served name inside JSON only.
        r = httpx.get(url + "/v2/models/other", timeout=30)
        assert r.status_code == 404 and r.headers["content-type"] == "application/json"


def test_a_forged_input_example_is_not_shown(cancer, thread_server) -> None:
    """An input example that is not rows of the model's columns leaves the spec's example empty."""
    import shutil

    import httpx

    from mlops_lab.packaging import load_bundle
    from mlops_lab.serve import create_app

    bundle = load_bundle(cancer.bundle.path)
    forged = cancer.bundle.path.parent / "forged"
    shutil.copytree(cancer.bundle.path, forged)
    (forged / "input_example.json").write_text(json.dumps({"columns": 3, "data": {"x": 1}}))
    bundle.path = forged
    with thread_server(create_app(bundle, prediction_log=None)) as url:
        spec = httpx.get(url + "/openapi.json", timeout=30).json()
        assert httpx.get(url + "/docs", timeout=30).status_code == 200
    body = spec["paths"]["/invocations"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"]["dataframe_split"]["data"] == []


# -- item: hostile JSON --------------------------------------------------------------------

DEEP = 100_000
NEAR_LIMIT = 900  # under json's recursion limit: it parses, and then must not recurse
BIG_INT = "1" * 5000  # beyond Python's int max str digits (4300)
HUGE_INT = "9" * 400  # parses, but is beyond the float range


def _hostile_bodies(name: str) -> dict[str, tuple[str, bytes]]:
    nested = "[" * NEAR_LIMIT + "1" + "]" * NEAR_LIMIT
    row = ", ".join(["1.0"] * 29)
    return {
        "deep-array": ("/invocations", b"[" * DEEP + b"]" * DEEP),
        "deep-object": ("/invocations", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
        "deep-instances": ("/invocations", b'{"instances": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
        "deep-v2": (f"/v2/models/{name}/infer", b'{"inputs": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
        "near-limit-v2-data": (
            f"/v2/models/{name}/infer",
            (
                '{"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", "data": '
                + nested
                + "}]}"
            ).encode(),
        ),
        "near-limit-columns": (
            "/invocations",
            ('{"dataframe_split": {"columns": [' + nested + '], "data": [[1]]}}').encode(),
        ),
        "near-limit-instances": ("/invocations", ('{"instances": [[' + nested + "]]}").encode()),
        "near-limit-records": (
            "/invocations",
            ('{"dataframe_records": [{"mean radius": ' + nested + "}]}").encode(),
        ),
        "int-5000-digits": ("/invocations", f'{{"instances": [[{BIG_INT}, {row}]]}}'.encode()),
        "int-5000-digits-v2": (
            f"/v2/models/{name}/infer",
            (
                '{"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", '
                f'"data": [{BIG_INT}, {row}]}}]}}'
            ).encode(),
        ),
        "int-beyond-float-rows": (
            "/invocations",
            f'{{"instances": [[{HUGE_INT}, {row}]]}}'.encode(),
        ),
        "int-beyond-float-records": (
            "/invocations",
            f'{{"dataframe_records": [{{"mean radius": {HUGE_INT}}}]}}'.encode(),
        ),
        "int-beyond-float-v2": (
            f"/v2/models/{name}/infer",
            (
                '{"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64", '
                f'"data": [{HUGE_INT}, {row}]}}]}}'
            ).encode(),
        ),
        "shape-of-huge-ints": (
            f"/v2/models/{name}/infer",
            (
                f'{{"inputs": [{{"name": "x", "shape": [{HUGE_INT}, {HUGE_INT}], '
                '"datatype": "FP64", "data": [1]}]}'
            ).encode(),
        ),
    }


def test_hostile_json_is_a_4xx_and_nothing_is_lost(cancer, store) -> None:
    bodies = _hostile_bodies(cancer.bundle.name)
    for label, (path, body) in bodies.items():
        r = cancer.client.post(path, content=body, headers={"content-type": "application/json"})
        error = _refused(r, 400, 422)["error"]
        assert len(error) < 1000, (label, error[:200])
    _nothing_predicted(cancer)
    rows = _rows(store, cancer.bundle.name, len(bodies))
    assert len(rows) == len(bodies)  # every refused request was logged
    assert all(400 <= row["status"] < 500 for row in rows)
    assert len({row["request_id"] for row in rows}) == len(bodies)
    # The records of a float column beyond the float range name the column.
    r = cancer.client.post("/invocations", content=bodies["int-beyond-float-rows"][1])
    assert r.json()["column"] == "mean radius" and "out of range" in r.json()["error"]


@pytest.mark.parametrize(
    "request_id",
    ["ünïcødé-€", "a\r\nSet-Cookie: session=stolen", "line\nbreak", "x" * 129, "", "a b", 42],
    ids=["non-latin-1", "crlf-header-injection", "lf", "too-long", "empty", "space", "number"],
)
def test_v2_request_id_is_checked_before_any_header(cancer, store, request_id) -> None:
    X = cancer.X.head(2)
    body = {"id": request_id, "inputs": _v2_columns(X)}
    r = cancer.client.post(f"/v2/models/{cancer.bundle.name}/infer", json=body)
    error = _refused(r, 400)["error"]
    assert "'id'" in error
    assert "set-cookie" not in r.headers
    assert r.headers["x-request-id"] == r.headers["x-prediction-id"]  # the server's own id
    assert r.json()["request_id"] == r.headers["x-prediction-id"]
    _nothing_predicted(cancer)
    (row,) = _rows(store, cancer.bundle.name, 1)
    assert row["status"] == 400 and row["client_request_id"] is None
    assert row["request_id"] == r.headers["x-prediction-id"]


@pytest.mark.parametrize("header", ["x" * 500, "<script>", "a b", "täst".encode()])
def test_request_id_header_is_checked(cancer, header) -> None:
    r = cancer.client.post(
        "/invocations",
        json={"instances": cancer.X.head(1).to_numpy().tolist()},
        headers={"x-request-id": header},
    )
    assert "x-request-id header" in _refused(r, 400)["error"]
    assert r.headers["x-request-id"] == r.headers["x-prediction-id"] != header
    _nothing_predicted(cancer)


def test_a_plain_request_id_is_echoed(cancer) -> None:
    ok = "trace-01HZX:abc/def+1=@"
    r = cancer.client.post(
        "/invocations",
        json={"instances": cancer.X.head(1).to_numpy().tolist()},
        headers={"x-request-id": ok},
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == ok
    body = {"id": "v2-id.7", "inputs": _v2_columns(cancer.X.head(1))}
    r = cancer.client.post(f"/v2/models/{cancer.bundle.name}/infer", json=body)
    assert r.status_code == 200 and r.json()["id"] == "v2-id.7" == r.headers["x-request-id"]


# -- item: int64 columns and v2 datatypes ----------------------------------------------------


@pytest.fixture
def counts(serve_model, thread_server, tmp_path):
    """A model with an int64 column ``visits`` beside float columns."""
    import httpx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from mlops_lab.packaging import package
    from mlops_lab.serve import create_app

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    X["visits"] = np.arange(len(X), dtype="int64") % 7
    with ml.start_run("counts") as run:
        model = LogisticRegression(max_iter=2000).fit(X, y)
        ml.log_model(model, input_example=X.head())
    bundle = package(run, tmp_path / "counts-bundle")
    assert bundle.schema.columns[-1].dtype == "int64"
    app = create_app(bundle)
    with thread_server(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield bundle, X, client


@pytest.mark.parametrize(
    "value",
    [2**63, 2**64 + 5, -(2**63) - 1, 10**30, "1e19", "-9.3e18"],
    ids=["2^63", "2^64+5", "below-min", "10^30", "float-1e19", "float-below-min"],
)
@pytest.mark.parametrize("fmt", ["instances", "dataframe_records", "v2-columns", "v2-matrix"])
def test_int64_column_refuses_out_of_range(counts, store, value, fmt) -> None:
    bundle, X, client = counts
    rows = X.head(2).to_numpy(dtype=object).tolist()
    literal = str(value)
    marker = 123456789  # a placeholder replaced by the raw literal in the JSON text
    rows[1][-1] = marker
    if fmt == "instances":
        path, body = "/invocations", {"instances": rows}
    elif fmt == "dataframe_records":
        path = "/invocations"
        body = {"dataframe_records": [dict(zip(X.columns, r, strict=True)) for r in rows]}
    elif fmt == "v2-columns":
        path = f"/v2/models/{bundle.name}/infer"
        body = {
            "inputs": [
                {
                    "name": c,
                    "shape": [2],
                    "datatype": "INT64" if c == "visits" else "FP64",
                    "data": [r[j] for r in rows],
                }
                for j, c in enumerate(X.columns)
            ]
        }
    else:
        path = f"/v2/models/{bundle.name}/infer"
        body = {"inputs": [{"name": "x", "shape": [2, 5], "datatype": "FP64", "data": rows}]}
    text = json.dumps(body).replace(str(marker), literal)
    r = client.post(path, content=text, headers={"content-type": "application/json"})
    if fmt == "v2-columns" and isinstance(value, str):  # a float in an INT64 tensor
        assert "INT64 holds integers" in _refused(r, 422)["error"]
        return
    out = _refused(r, 422)
    assert out["column"] == "visits" and out["row"] == 1, out
    assert "out of range for int64" in out["error"]
    _nothing_predicted(client)


def test_int64_column_still_takes_large_values_in_range(counts) -> None:
    _, X, client = counts
    rows = X.head(2).to_numpy(dtype=object).tolist()
    rows[1][-1] = 2**63 - 1
    r = client.post(
        "/invocations",
        json={"dataframe_records": [dict(zip(X.columns, r, strict=True)) for r in rows]},
    )
    assert r.status_code == 200, r.text


def test_v2_strings_in_a_numeric_tensor_are_refused(cancer) -> None:
    X = cancer.X.head(2)
    url = f"/v2/models/{cancer.bundle.name}/infer"
    inputs = _v2_columns(X)
    inputs[3]["data"] = ["12.5", "13"]
    out = _refused(cancer.client.post(url, json={"inputs": inputs}), 422)
    assert out["column"] == X.columns[3] and "FP64 holds numbers" in out["error"]
    matrix = X.to_numpy().tolist()
    matrix[1][4] = "0.1"
    body = {"inputs": [{"name": "input-0", "shape": [2, 30], "datatype": "FP64", "data": matrix}]}
    out = _refused(cancer.client.post(url, json=body), 400)
    assert "'input-0'" in out["error"] and "FP64 holds numbers" in out["error"]
    body["inputs"][0]["data"] = [[True] * 30] * 2
    assert "FP64" in _refused(cancer.client.post(url, json=body), 400)["error"]
    _nothing_predicted(cancer)


# -- item: what the token covers ------------------------------------------------------------


def test_with_a_token_only_health_checks_are_open(serve_model) -> None:
    served = serve_model("cancer", token="s3cret")
    c, name = served.client, served.bundle.name
    for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
        assert c.get(path).status_code == 200, path
    closed = [
        ("GET", "/docs"),
        ("GET", "/redoc"),
        ("GET", "/openapi.json"),
        ("GET", "/version"),
        ("GET", "/metrics"),
        ("GET", "/v2"),
        ("GET", f"/v2/models/{name}"),
        ("GET", "/v2/models/unknown"),
        ("GET", "/v2/models/unknown/versions/9/ready"),
        ("POST", "/v2/models/unknown/infer"),
        ("POST", "/v2/models/unknown/versions/1/infer"),
        ("POST", f"/v2/models/{name}/infer"),
        ("POST", "/invocations"),
    ]
    for method, path in closed:
        for auth in (None, "Bearer wrong", "s3cret", "Basic czNjcmV0"):
            headers = {"authorization": auth} if auth else {}
            r = c.request(method, path, content=b"{not json", headers=headers)
            assert r.status_code == 401, (method, path, auth, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
            assert name not in r.text and "mean radius" not in r.text  # nothing about the model
    ok = {"authorization": "Bearer s3cret"}
    assert c.get("/docs", headers=ok).status_code == 200
    assert "mean radius" in c.get("/openapi.json", headers=ok).text
    assert c.get("/version", headers=ok).json()["model"] == name
    missing = c.get("/v2/models/unknown", headers=ok)
    assert missing.status_code == 404 and name in missing.json()["error"]


# -- item: the prediction log keeps every request ---------------------------------------


def test_a_client_id_never_overwrites_another_request(cancer, store) -> None:
    X = cancer.X
    url = f"/v2/models/{cancer.bundle.name}/infer"
    first = cancer.client.post(
        "/invocations",
        json={"instances": X.iloc[:3].to_numpy().tolist()},
        headers={"x-request-id": "dup"},
    )
    second = cancer.client.post(
        "/invocations", json={"instances": [[1, 2]]}, headers={"x-request-id": "dup"}
    )
    third = cancer.client.post(url, json={"id": "dup", "inputs": _v2_columns(X.iloc[3:4])})
    assert [first.status_code, second.status_code, third.status_code] == [200, 422, 200]
    assert first.headers["x-request-id"] == third.json()["id"] == "dup"
    keys = [r.headers["x-prediction-id"] for r in (first, second, third)]
    assert len(set(keys)) == 3
    rows = _rows(store, cancer.bundle.name, 3)
    assert sorted(row["request_id"] for row in rows) == sorted(keys)
    assert [row["client_request_id"] for row in rows] == ["dup"] * 3
    by_key = {row["request_id"]: row for row in rows}
    assert json.loads(by_key[keys[0]]["inputs"])["mean radius"] == X["mean radius"][:3].tolist()
    assert by_key[keys[1]]["status"] == 422 and by_key[keys[2]]["n_rows"] == 1
    # Feedback by the server's key is exact; by the client's id it reaches its requests.
    ml.log_feedback(keys[0], [0, 1, 1])
    ml.log_feedback("dup", [1])
    labels = {row["request_id"]: row["label"] for row in predictions(store, cancer.bundle.name)}
    assert labels[keys[0]] == [0, 1, 1] and labels[keys[2]] == [1]


def test_migration_adds_the_client_id_column_once(tmp_path) -> None:
    import sqlite3

    from mlops_lab.store import Store
    from mlops_lab.store.schema import MIGRATIONS, SCHEMA_VERSION, _prediction_client_ids

    before = MIGRATIONS.index(_prediction_client_ids)  # the version just before it ran

    root = tmp_path / "old"
    Store(root).experiments()  # creates the database at the current version
    db = root / "mlops.db"
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE predictions DROP COLUMN client_request_id")
    conn.execute(
        "INSERT INTO predictions (request_id, model, created, status) VALUES ('r1', 'm', 1, 200)"
    )
    conn.execute(f"PRAGMA user_version = {before}")
    conn.commit()
    conn.close()
    store = Store(root)
    assert predictions(store, "m")[0]["client_request_id"] is None
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    # Run again over a database that already has the column (another migration added it).
    conn.execute(f"PRAGMA user_version = {before}")
    conn.commit()
    conn.close()
    assert predictions(Store(root), "m")[0]["request_id"] == "r1"
