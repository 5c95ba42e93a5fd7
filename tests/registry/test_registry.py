from __future__ import annotations

import numpy as np
import pytest

import mlops_lab as ml
from mlops_lab.errors import InvalidArgumentError, ModelNotFoundError, RegistryError
from mlops_lab.registry import parse_ref, record_event


def _train(name: str, acc: float, *, C: float = 1.0, model_name: str = "model") -> ml.Run:
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    with ml.start_run(name) as run:
        ml.log_param("C", C)
        model = LogisticRegression(C=C).fit(X, y)
        ml.log_model(model, model_name, input_example=X[:2])
        ml.log_metric("acc", acc)
    return run


def test_register_versions_and_aliases() -> None:
    first = _train("a", 0.8)
    second = _train("b", 0.9, C=0.5)
    v1 = ml.register_model(first, "iris", alias="champion")
    v2 = ml.register_model(second.run_id, "iris", alias="challenger")
    assert (v1.name, v1.version, v1.run_id, v1.model) == ("iris", 1, first.run_id, "model")
    assert v1.aliases == ["champion"]
    assert v2.version == 2
    assert v2.metrics == {"acc": 0.9}
    assert ml.get_model_version("iris@champion").version == 1
    assert ml.get_model_version("iris").version == 2
    assert ml.get_model_version("iris/latest").version == 2
    assert ml.get_model_version("iris/1").run_id == first.run_id
    ml.set_alias("iris", "champion", 2)
    assert ml.get_model_version("iris@champion").version == 2
    assert sorted(ml.get_model_version("iris/2").aliases) == ["challenger", "champion"]
    assert ml.get_model_version("iris/1").aliases == []
    ml.delete_alias("iris", "challenger")
    with pytest.raises(ModelNotFoundError, match="no alias 'challenger'"):
        ml.get_model_version("iris@challenger")


def test_load_model_accepts_registry_references() -> None:
    run = _train("a", 0.8, C=0.25)
    ml.register_model(run, "iris", alias="champion")
    for ref in ("iris@champion", "iris/1", f"runs:/{run.run_id}/model", f"runs:/{run.run_id}"):
        model = ml.load_model(ref)
        assert model.C == 0.25
    assert ml.get_model_version("iris/1").load().C == 0.25
    # plain run references still work
    assert ml.load_model(run.run_id).C == 0.25
    assert ml.load_model("a").C == 0.25


def test_runs_reference_of_an_unregistered_model_has_version_zero() -> None:
    run = _train("a", 0.7)
    mv = ml.get_model_version(f"runs:/{run.run_id[:8]}/model")
    assert mv.version == 0
    assert mv.ref == f"runs:/{run.run_id}/model"
    assert mv.metrics == {"acc": 0.7}
    ml.register_model(run, "iris")
    assert ml.get_model_version(f"runs:/{run.run_id}/model").version == 1


def test_version_keeps_the_registered_bytes_and_metrics() -> None:
    run = _train("a", 0.8)
    mv = ml.register_model(run, "iris")
    assert mv.digest == run.artifacts[0]["digest"]
    assert mv.meta["class"].endswith("LogisticRegression")
    assert mv.meta["run_name"] == "a"


def test_models_and_model_versions_frames() -> None:
    ml.register_model(_train("a", 0.8), "iris", alias="champion")
    ml.register_model(_train("b", 0.9), "iris")
    ml.register_model(_train("c", 0.5), "wine")
    frame = ml.models()
    assert list(frame["name"]) == ["iris", "wine"]
    assert list(frame["latest_version"]) == [2, 1]
    assert frame.loc[0, "aliases"] == "champion=1"
    versions = ml.model_versions("iris")
    assert list(versions["version"]) == [2, 1]
    assert list(versions["metrics.acc"]) == [0.9, 0.8]
    assert list(versions["aliases"]) == ["", "champion"]
    assert list(versions["run_name"]) == ["b", "a"]
    assert ml.models().empty is False


def test_empty_registry_frames() -> None:
    assert ml.models().empty
    with pytest.raises(ModelNotFoundError, match="no registered model 'nope'"):
        ml.model_versions("nope")


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("iris", ("iris", None, None, None, "model")),
        ("iris/3", ("iris", 3, None, None, "model")),
        ("iris@champion", ("iris", None, "champion", None, "model")),
        ("runs:/abc123/model", (None, None, None, "abc123", "model")),
        ("runs:/abc123/clf", (None, None, None, "abc123", "clf")),
        ("runs:/abc123", (None, None, None, "abc123", "model")),
    ],
)
def test_parse_ref(ref: str, expected: tuple) -> None:
    assert tuple(parse_ref(ref)) == expected


@pytest.mark.parametrize("ref", ["", "iris/0", "iris/x", "a b", "iris@", "iris@1x", "@c", "runs:/"])
def test_bad_references_are_refused(ref: str) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_ref(ref)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("nope@champion", "no registered model 'nope' \\(registered: iris\\)"),
        ("iris/7", "no version 7 \\(latest is 1\\)"),
        ("iris@gold", "no alias 'gold' \\(it has no aliases\\)"),
    ],
)
def test_unknown_references_say_what_exists(ref: str, message: str) -> None:
    ml.register_model(_train("a", 0.8), "iris")
    with pytest.raises(ModelNotFoundError, match=message):
        ml.get_model_version(ref)


def test_register_a_run_without_that_model() -> None:
    run = _train("a", 0.8, model_name="clf")
    with pytest.raises(RegistryError, match="no model 'model' to register \\(its models: clf\\)"):
        ml.register_model(run, "iris")
    assert ml.register_model(run, "iris", model="clf").model == "clf"
    assert ml.load_model("iris/1").C == 1.0


def test_set_alias_on_a_missing_version() -> None:
    ml.register_model(_train("a", 0.8), "iris")
    with pytest.raises(ModelNotFoundError, match="no version 5"):
        ml.set_alias("iris", "champion", 5)
    with pytest.raises(InvalidArgumentError, match="reserved"):
        ml.set_alias("iris", "latest", 1)


def test_concurrent_registrations_get_distinct_versions() -> None:
    from concurrent.futures import ThreadPoolExecutor

    runs = [_train(f"r{i}", 0.5) for i in range(6)]
    with ThreadPoolExecutor(4) as pool:
        versions = list(pool.map(lambda r: ml.register_model(r, "iris").version, runs))
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]


def test_lineage_tree_shows_run_data_and_events(store) -> None:
    run = _train("a", 0.8)
    store.put_dataset("d" * 64, name="train", n_rows=4, n_cols=2, source="data/train.csv")
    store.link_input(run.run_id, "d" * 64, name="train", role="train")
    ml.register_model(run, "iris", alias="champion")
    record_event("iris@champion", "deployed", target="http://127.0.0.1:8080")
    tree = ml.lineage("iris@champion")
    text = str(tree)
    assert text.splitlines()[0].startswith("model iris/1 (champion)")
    assert f"trained by run {run.run_id[:8]} 'a' (finished)" in text
    assert "params C=1" in text
    assert "metrics acc=0.8" in text
    assert "dddddddddddd 4×2 from data/train.csv" in text
    assert "deployed http://127.0.0.1:8080" in text
    assert tree.to_dict()["children"][0]["run_id"] == run.run_id
    assert "<pre>" in tree._repr_html_()
