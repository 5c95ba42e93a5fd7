from __future__ import annotations

import pytest

from mlops_lab.errors import PipelineNotFoundError, PipelineParamError
from mlops_lab.pipeline import Param, PipelineSpec
from mlops_lab.pipeline.spec import convert, find, param_type


def _spec(tmp_path) -> PipelineSpec:
    return PipelineSpec(
        name="clf",
        folder=tmp_path / "pipelines" / "clf",
        params={
            "C": Param("float", 1.0),
            "max_iter": Param("int", 100),
            "fit_intercept": Param("bool", True),
            "train_path": Param("path", "data/train.csv", dataset="train"),
            "layers": Param("list", [64, 32]),
        },
        steps=[{"name": "gate", "kind": "gate", "metric": "acc", "mode": "max"}],
    )


@pytest.mark.parametrize(
    ("kind", "given", "expected"),
    [
        ("float", "0.5", 0.5),
        ("float", 2, 2.0),
        ("float", "1e-3", 0.001),
        ("int", "3", 3),
        ("int", 4.0, 4),
        ("bool", "true", True),
        ("bool", "no", False),
        ("bool", False, False),
        ("str", "rf", "rf"),
        ("path", "data/new.csv", "data/new.csv"),
        ("list", "[1, 2]", [1, 2]),
        ("list", (1, 2), [1, 2]),
        ("dict", '{"a": 1}', {"a": 1}),
        ("any", "None", None),
        ("any", "(1, 'a')", (1, "a")),
    ],
)
def test_convert(kind: str, given: object, expected: object) -> None:
    assert convert("clf", "p", kind, given) == expected


@pytest.mark.parametrize(
    ("kind", "given", "message"),
    [
        ("float", "abc", "expects a float, got 'abc'"),
        ("float", True, "expects a float, got True"),
        ("int", "0.5", "expects an int, got '0.5'"),
        ("int", 0.5, "expects an int, got 0.5"),
        ("bool", "maybe", "expects a bool"),
        ("str", 3, "expects a string, got 3"),
        ("list", "{}", "expects a list"),
        ("list", "[1,", "expects a JSON list"),
    ],
)
def test_convert_refuses(kind: str, given: object, message: str) -> None:
    with pytest.raises(PipelineParamError, match=message) as info:
        convert("clf", "p", kind, given)
    assert info.value.param == "p"


def test_spec_round_trip_and_resolve(tmp_path) -> None:
    spec = _spec(tmp_path)
    path = spec.save()
    text = path.read_text()
    assert '"type": "float"' in text
    loaded = PipelineSpec.load(spec.folder)
    assert loaded.params == spec.params
    assert loaded.gate["metric"] == "acc"
    assert loaded.resolve_params({"C": "0.25", "max_iter": "7"}) == {
        "C": 0.25,
        "max_iter": 7,
        "fit_intercept": True,
        "train_path": "data/train.csv",
        "layers": [64, 32],
    }


def test_unknown_parameter_names_the_declared_ones(tmp_path) -> None:
    spec = _spec(tmp_path)
    with pytest.raises(PipelineParamError, match="has no parameter 'c'; its parameters are: C"):
        spec.resolve_params({"c": 1})


def test_find(tmp_path) -> None:
    _spec(tmp_path).save()
    assert find("clf").name == "clf"
    assert find(tmp_path / "pipelines" / "clf").name == "clf"
    with pytest.raises(PipelineNotFoundError, match=r"no pipeline 'nope'.*\(pipelines: clf\)"):
        find("nope")


@pytest.mark.parametrize(
    ("value", "kind"),
    [(1, "int"), (1.0, "float"), (True, "bool"), ("a", "str"), ([1], "list"), ({}, "dict")],
)
def test_param_type(value: object, kind: str) -> None:
    assert param_type(value) == kind


def test_gate_decisions_read_in_words() -> None:
    from mlops_lab.pipeline.gate import decide

    rejected = decide(
        0.0008, 0.356, metric="r2", otherwise="rejected", champion_version=2, dataset="abc123" * 4
    )
    assert str(rejected) == (
        "rejected: r2 0.0008 on eval data abc123abc123 does not beat champion v2's 0.356 "
        "on the same data; rule: r2 must beat the champion's"
    )
    better = decide(12.0, 15.0, metric="rmse", mode="min", champion_version=1, min_delta=1)
    assert better.decision == "champion"
    assert "rmse 12 is below champion v1's 15 (its figure from its own run)" in str(better)
    assert "by more than 1" in str(better)
    first = decide(0.9, None, metric="acc")
    assert str(first) == "champion: acc 0.9, and there is no champion yet"
    held_back = decide(0.9, 0.8, metric="acc", champion_version=1, failed_rules=["slice x"])
    assert held_back.decision == "challenger" and str(held_back).endswith("; failed: slice x")
