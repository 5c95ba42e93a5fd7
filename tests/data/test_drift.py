from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.data.drift import DriftReference
from mlops_lab.errors import DataError, InvalidArgumentError


def _sample(n: int, seed: int, *, shift: float = 0.0, probs=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "k": rng.integers(0, 50, n) + int(shift * 10),
            "c": rng.choice(["a", "b", "c"], n, p=list(probs)),
        }
    )


@pytest.mark.parametrize(
    ("n", "numeric_test", "category_test"),
    [(500, "ks", "chisquare"), (20_000, "wasserstein", "jensenshannon")],
)
def test_tests_are_chosen_by_type_and_size(n, numeric_test, category_test) -> None:
    report = ml.drift(_sample(n, 1), _sample(n, 2))
    assert report["x"].test == numeric_test and report["c"].test == category_test
    assert "numeric" in report["x"].reason and f"{n:,}" in report["x"].reason


@pytest.mark.parametrize("n", [500, 20_000])
def test_unshifted_sample_does_not_drift(n: int) -> None:
    report = ml.drift(_sample(n, 1), _sample(n, 2))
    assert report.drifted_columns == []
    assert report.passed and not report.dataset_drift


@pytest.mark.parametrize("n", [500, 20_000])
def test_shifted_sample_drifts(n: int) -> None:
    report = ml.drift(_sample(n, 1), _sample(n, 2, shift=0.6, probs=(0.2, 0.3, 0.5)))
    assert set(report.drifted_columns) == {"x", "k", "c"}
    assert report.dataset_drift and not report.passed
    assert report.share_drifted == 1.0
    assert "DRIFT" in str(report) and "<table" in report._repr_html_()


def test_new_categories_are_reported() -> None:
    cur = _sample(500, 2)
    cur.loc[:49, "c"] = "zzz"
    c = ml.drift(_sample(500, 1), cur)["c"]
    assert c.new_categories == [{"value": "zzz", "count": 50, "share": 0.1}]


def test_user_tests_and_thresholds() -> None:
    ref, cur = _sample(20_000, 1), _sample(20_000, 2, shift=0.05)
    report = ml.drift(
        ref, cur, tests={"x": "psi", "c": "psi"}, thresholds={"x": 1e-6, "jensenshannon": 0.5}
    )
    assert report["x"].test == "psi" and report["x"].threshold == 1e-6 and report["x"].drifted
    assert report["c"].test == "psi" and report["c"].threshold == 0.2
    assert report["k"].test == "wasserstein"
    with pytest.raises(InvalidArgumentError, match="unknown test 't'"):
        ml.drift(ref, cur, tests={"x": "t"})
    with pytest.raises(InvalidArgumentError, match="'chisquare' does not apply to a numeric"):
        ml.drift(ref, cur, tests={"x": "chisquare"})


def test_reference_computed_once_and_reused(tmp_path) -> None:
    ref = _sample(20_000, 1)
    summary = ml.drift_reference(ref)
    path = summary.save(tmp_path / "ref.json")
    loaded = DriftReference.load(path)
    cur = _sample(20_000, 2, shift=0.6)
    direct, reused = ml.drift(ref, cur), ml.drift(loaded, cur)
    assert direct.to_dict() == reused.to_dict()
    assert reused.reference_digest == ml.fingerprint(ref)


def test_edge_columns() -> None:
    ref = pd.DataFrame(
        {
            "x": [np.nan] * 5 + [1.0] * 5,
            "t": pd.date_range("2024", periods=10),
            "b": [True, False] * 5,
        }
    )
    cur = pd.DataFrame(
        {"x": [np.nan] * 10, "t": pd.date_range("2025", periods=10), "b": ["yes"] * 10}
    )
    report = ml.drift(ref, cur)
    assert report["x"].test == "skipped" and not report["x"].drifted
    assert report["t"].drifted
    assert report["b"].test == "chisquare"


def test_kind_change_and_missing_column() -> None:
    ref = _sample(300, 1)
    cur = ref.assign(x=ref["x"].astype(str)).drop(columns="k")
    report = ml.drift(ref, cur)
    assert report["x"].test == "kind_changed" and report["x"].drifted
    assert report.missing_columns == ["k"] and not report.passed
    with pytest.raises(DataError, match="columns not in the reference: nope"):
        ml.drift(ref, cur, columns=["nope"])


def test_scores_are_stored_per_run_for_trending() -> None:
    ref = _sample(2_000, 1)
    for i, shift in enumerate([0.0, 0.3, 0.8]):
        with ml.start_run(f"batch-{i}"):
            ml.drift(ref, _sample(2_000, 10 + i, shift=shift))
    history = ml.drift_history("x")
    assert len(history) == 3
    assert list(history["drifted"]) == [False, True, True]
    assert history["statistic"].is_monotonic_increasing
    assert history["reference_digest"].nunique() == 1
