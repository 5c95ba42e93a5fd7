"""The REST routes of the Experiments panel, through a real (in-process) Jupyter server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tornado.httpclient

import mlops_lab as ml
from mlops_lab.jupyter import payloads


async def get(jp_fetch, *parts: str, **params: object) -> dict:
    response = await jp_fetch("mlops-lab", "api", *parts, params=params)
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.body)


async def error(jp_fetch, *parts: str, **params: object) -> tuple[int, dict]:
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch("mlops-lab", "api", *parts, params=params)
    return info.value.code, json.loads(info.value.response.body)


async def test_experiments_with_run_counts(jp_fetch, tracked_runs, store_root: Path) -> None:
    body = await get(jp_fetch, "experiments")
    assert body["store"] == {"root": str(store_root.resolve()), "exists": True}
    assert [(e["name"], e["n_runs"]) for e in body["experiments"]] == [("iris", 4), ("wine", 1)]


async def test_runs_newest_first_with_values(jp_fetch, tracked_runs) -> None:
    body = await get(jp_fetch, "runs")
    assert body["total"] == 5
    assert [r["name"] for r in body["runs"]] == ["baseline", "svm-3", "gbm-2", "rf-1", "rf-0"]
    gbm = body["runs"][2]
    assert gbm["run_id"] == tracked_runs["gbm-2"]
    assert gbm["status"] == "finished"
    assert gbm["experiment"] == "iris"
    assert gbm["metrics"] == {"acc": 0.95, "loss": pytest.approx(0.05)}
    assert gbm["params"] == {"model": "gbm", "C": pytest.approx(0.3), "layers": [2, 2]}
    assert gbm["tags"]["team"] == "vision"
    assert gbm["start_time"] <= gbm["end_time"]
    assert gbm["duration_s"] >= 0
    # NaN metrics are left out; infinities travel as strings (JSON has no Infinity).
    assert "loss" not in body["runs"][1]["metrics"]
    assert body["runs"][0]["metrics"] == {"acc": "Infinity"}


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"experiment": "wine"}, ["baseline"]),
        ({"filter": "params.model = 'rf'"}, ["rf-1", "rf-0"]),
        ({"filter": "name ilike '%GBM%'"}, ["gbm-2"]),
        ({"filter": "metrics.acc > 0.9", "order_by": "metrics.acc"}, ["rf-0", "gbm-2", "baseline"]),
        ({"order_by": "name"}, ["baseline", "gbm-2", "rf-0", "rf-1", "svm-3"]),
        ({"experiment": "iris", "order_by": "metrics.acc desc", "limit": 2}, ["gbm-2", "rf-0"]),
    ],
)
async def test_runs_filter_and_sort(jp_fetch, tracked_runs, params, names) -> None:
    body = await get(jp_fetch, "runs", **params)
    assert [r["name"] for r in body["runs"]] == names


async def test_runs_pages(jp_fetch, tracked_runs) -> None:
    pages = [await get(jp_fetch, "runs", limit=2, offset=o) for o in (0, 2, 4, 6)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [[r["name"] for r in p["runs"]] for p in pages] == [
        ["baseline", "svm-3"],
        ["gbm-2", "rf-1"],
        ["rf-0"],
        [],
    ]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"filter": "metrics.acc >"}, "expected"),
        ({"order_by": "metrics.acc sideways"}, ""),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "ten"}, "limit: expected an integer"),
    ],
)
async def test_bad_arguments_are_400_with_a_message(jp_fetch, tracked_runs, params, words) -> None:
    code, body = await error(jp_fetch, "runs", **params)
    assert code == 400
    assert words in body["message"]


async def test_run_detail(jp_fetch, tracked_runs) -> None:
    body = await get(jp_fetch, "runs", tracked_runs["rf-1"])
    assert body["run_id"] == tracked_runs["rf-1"]
    assert body["name"] == "rf-1"
    assert body["params"] == {"model": "rf", "C": pytest.approx(0.2), "layers": [1, 1]}
    assert body["metrics"] == {"acc": 0.87, "loss": pytest.approx(0.13)}
    assert body["tags"]["team"] == "vision"
    assert body["children"] == []
    assert isinstance(body["cells"], list)
    assert isinstance(body["datasets"], list)
    # A unique id prefix and a name are references too.
    assert (await get(jp_fetch, "runs", tracked_runs["rf-1"][:10]))["name"] == "rf-1"
    assert (await get(jp_fetch, "runs", "gbm-2"))["run_id"] == tracked_runs["gbm-2"]


async def test_unknown_run_is_404(jp_fetch, tracked_runs) -> None:
    code, body = await error(jp_fetch, "runs", "no-such-run")
    assert code == 404
    assert "no-such-run" in body["message"]


async def test_models_and_versions(jp_fetch, tracked_runs) -> None:
    body = await get(jp_fetch, "models")
    assert body == {"available": True, "models": []}
    code, _ = await error(jp_fetch, "models", "iris")
    assert code == 404


async def test_models_without_registry(jp_fetch, tracked_runs, monkeypatch) -> None:
    monkeypatch.setattr(payloads, "_registry", lambda: None)
    assert await get(jp_fetch, "models") == {"available": False, "models": []}


async def test_registered_model_versions(jp_fetch, store_root) -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    with ml.start_run("fit", experiment="iris") as run:
        model = sklearn.LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        ml.log_model(model)
        ml.log_metric("acc", 1.0)
    ml.register_model(run, "iris-clf", alias="champion")
    ml.register_model(run, "iris-clf", alias="challenger")
    models = (await get(jp_fetch, "models"))["models"]
    assert [(m["name"], m["latest_version"]) for m in models] == [("iris-clf", 2)]
    assert "champion=1" in models[0]["aliases"]
    versions = (await get(jp_fetch, "models", "iris-clf"))["versions"]
    assert [(v["version"], v["aliases"], v["run_id"]) for v in versions] == [
        (2, "challenger", run.run_id),
        (1, "champion", run.run_id),
    ]


async def test_no_store_yet_is_empty_and_not_created(
    jp_fetch, store_root: Path, jp_root_dir: Path, monkeypatch
) -> None:
    monkeypatch.delenv("MLOPS_LAB_HOME")
    assert (await get(jp_fetch, "runs"))["runs"] == []
    body = await get(jp_fetch, "experiments")
    assert body["store"] == {"root": str((jp_root_dir / ".mlops").resolve()), "exists": False}
    assert (await get(jp_fetch, "models"))["models"] == []
    assert not (jp_root_dir / ".mlops").exists()
    assert not store_root.exists()


async def test_store_found_from_the_server_root_dir(
    jp_fetch, jp_root_dir: Path, monkeypatch
) -> None:
    monkeypatch.delenv("MLOPS_LAB_HOME")
    project = jp_root_dir / ".mlops"
    ml.Store(project)  # not yet a database: the first run creates it
    from mlops_lab.project import set_default_root

    set_default_root(project)
    try:
        with ml.start_run("in-root", experiment="found"):
            ml.log_metric("acc", 0.5)
    finally:
        set_default_root(None)
    body = await get(jp_fetch, "runs")
    assert [r["name"] for r in body["runs"]] == ["in-root"]
    assert body["store"]["root"] == str(project.resolve())


@pytest.mark.parametrize(
    "path",
    ["experiments", "runs", "runs/abc", "models", "models/iris"],
)
async def test_unauthenticated_requests_are_rejected(jp_fetch, tracked_runs, path) -> None:
    with pytest.raises(tornado.httpclient.HTTPClientError) as info:
        await jp_fetch(
            "mlops-lab",
            "api",
            *path.split("/"),
            headers={"Authorization": ""},
            follow_redirects=False,
        )
    assert info.value.code == 403
    assert "run_id" not in info.value.response.body.decode()
