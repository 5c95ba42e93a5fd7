"""Comparing autologged scikit-learn runs: Pipelines, ColumnTransformers, a search, a regressor.

Their params hold lists (``steps``, ``pre__transformers``), dicts (``param_grid``),
``None``, NaN and booleans, and one key per nested param; the views must take all
of them and show nested params per estimator.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlops_lab as ml

REPO = Path(__file__).parents[2]


def _pipeline(C: float, *, with_mean: bool = True):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = Pipeline([("imp", SimpleImputer()), ("scaler", StandardScaler(with_mean=with_mean))])
    pre = ColumnTransformer(
        [
            ("num", numeric, ["mean radius", "mean texture", "mean area"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["size"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(C=C, max_iter=500))])


@pytest.fixture
def autologged(store_root) -> dict[str, list[str]]:
    """Runs made by ml.autolog(): three Pipeline(ColumnTransformer, LR), a grid search, a Ridge."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X[["mean radius", "mean texture", "mean area"]].copy()
    X["size"] = np.where(X["mean area"] > X["mean area"].median(), "big", "small")
    Xd, yd = load_diabetes(return_X_y=True, as_frame=True)
    ml.autolog()
    try:
        for C in (0.1, 1.0, 10.0):
            _pipeline(C, with_mean=C != 10.0).fit(X, y)
        lr_ids = list(ml.runs()["run_id"])
        GridSearchCV(_pipeline(1.0), {"clf__C": [0.1, 1.0]}, cv=3).fit(X, y)
        Pipeline([("scale", StandardScaler()), ("reg", Ridge(alpha=0.5))]).fit(Xd, yd)
    finally:
        ml.autolog(False)
    frame = ml.runs()
    return {"lr": lr_ids[::-1], "all": list(frame["run_id"])}  # lr: oldest first (C order)


def test_autolog_logs_nested_and_list_params(autologged) -> None:
    """What the comparison has to handle, as autolog really logs it."""
    pipe = ml.get_run(autologged["lr"][0]).params
    assert pipe["steps"] == [["pre", "ColumnTransformer"], ["clf", "LogisticRegression"]]
    assert pipe["pre__transformers"][0][:2] == ["num", "Pipeline"]
    assert pipe["pre__num__scaler"] == "StandardScaler"
    assert pipe["clf__class_weight"] is None
    assert math.isnan(pipe["pre__num__imp__missing_values"])
    search = next(ml.get_run(r) for r in autologged["all"] if ml.get_run(r).name == "GridSearchCV")
    assert search.params["param_grid"] == {"clf__C": [0.1, 1.0]}
    assert len(pipe) > 40  # one key per nested param


def test_compare_pipelines_renders_static_and_widget(autologged, tmp_path) -> None:
    cmp = ml.compare(autologged["lr"], metric="training_accuracy")
    text = cmp.to_html(tmp_path / "cmp.html")
    assert text.count("Plotly.newPlot") == 3
    views = cmp.views
    axes = [d.label for d in views.parcoords.data[0].dimensions]
    assert axes[:2] == ["clf›C", "pre›num›scaler›with_mean"]  # only params that vary
    assert "steps" not in axes and not any(a.startswith("pre›cat") for a in axes)
    assert list(views.scatter.data[0].x) == [0.1, 1.0, 10.0]  # x: the varying number
    assert views.scatter.layout.xaxis.title.text == "clf__C"
    # The diff groups nested params by estimator and keeps only what differs.
    rows = {r.label: r.values for r in cmp.diff().param_rows()}
    assert rows == {
        "clf": [
            "LogisticRegression(C=0.1)",
            "LogisticRegression(C=1)",
            "LogisticRegression(C=10)",
        ],
        "pre › num › scaler": [
            "StandardScaler(with_mean=True)",
            "StandardScaler(with_mean=True)",
            "StandardScaler(with_mean=False)",
        ],
    }
    assert set(cmp.diff().params) == {"clf__C", "pre__num__scaler__with_mean"}
    for html_text in (text, views.diff.value):
        assert "pre › num › scaler" in html_text and "StandardScaler(with_mean=False)" in html_text
        assert "pre__num__scaler__with_mean" not in html_text
        assert "pre__num__imp" not in html_text
    # Unique labels for runs that autolog names alike.
    assert len(set(cmp.runs.names)) == 3 and all(n.startswith("Pipeline (") for n in cmp.runs.names)


def test_show_all_params_option(autologged) -> None:
    cmp = ml.compare(autologged["lr"])
    views = cmp.views
    views.only_differences.value = False
    rows = {r.label: r.values for r in cmp.diff().param_rows()}
    assert "pre › num › imp" in rows and "pre › cat" in rows and "steps" in rows
    assert rows["pre › num › imp"][0].startswith("SimpleImputer(add_indicator=False, copy=True")
    assert "missing_values=nan" in rows["pre › num › imp"][0]
    assert rows["steps"][0] == "[['pre', 'ColumnTransformer'], ['clf', 'LogisticRegression']]"
    assert "pre › num › imp" in views.diff.value
    assert "SimpleImputer(add_indicator=False" in views.diff.value


def test_compare_mixed_autologged_runs(autologged, tmp_path) -> None:
    """The README's tour: autolog on, fit several kinds of models, compare the last 10."""
    cmp = ml.compare(last=10)
    assert len(cmp.runs) == len(autologged["all"]) == 7
    assert cmp.metric == "training_accuracy"  # the metric most runs log
    cmp.to_html(tmp_path / "all.html")
    views = cmp.views
    assert len(views.parcoords.data[0].dimensions) <= 18
    rows = {r.label: r.values for r in cmp.diff().param_rows()}
    names = cmp.diff().names
    search = names.index("GridSearchCV")
    assert rows["param_grid"][search] == "{clf__C: [0.1, 1]}"
    ridge = next(i for i, r in enumerate(rows["reg"]) if r != "—")
    assert rows["reg"][ridge] == "Ridge"
    assert not any("__" in label for label in rows if label not in ("best_clf__C",))
    # Runs missing the metric: the bars say how many runs log it.
    assert views.curves.data[0].type == "bar"
    assert "(4 of 7 runs log it)" in views.curves.layout.title.text
    views.metric.value = "mean_test_score"  # logged by the search's candidates only
    assert list(views.curves.data[0].x) == ["GridSearchCV candidate 2", "GridSearchCV candidate 1"]
    for x in [c for c in views.x.options]:
        views.x.value = x  # every choice of x draws
    # The Ridge run has no training_accuracy: the widgets' state is still valid JSON.
    for fig in (views.parcoords, views.curves, views.scatter):
        json.dumps(fig.get_state(), allow_nan=False, default=str)
    views.aggregate.value = True
    assert "Mean ± std" in views.groups.value


def test_compare_verb_on_autologged_runs(shell, autologged) -> None:
    cmp = shell.run_cell("%mlops compare --last 10").result
    assert len(cmp.runs) == 7
    html_text = cmp._repr_mimebundle_()["text/html"]
    assert "LogisticRegression(C=10)" in html_text


def test_cli_compare_exits_0_with_a_readable_diff(autologged, store_root, tmp_path) -> None:
    out = tmp_path / "cmp.html"
    ids = [r[:8] for r in autologged["lr"]]
    env = {**os.environ, "MLOPS_LAB_HOME": str(store_root), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "mlops_lab.cli", "compare", *ids, "--html", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    text = result.stdout
    assert "3 runs compared" in text
    assert "Params that differ" in text
    assert "  pre › num › scaler\n" in text and "StandardScaler(with_mean=False)" in text
    assert "LogisticRegression(C=0.1)" in text
    assert "pre__num__imp" not in text and "steps" not in text  # equal: not shown
    assert out.stat().st_size > 1_000_000  # plotly.js embedded
    every = subprocess.run(
        [sys.executable, "-m", "mlops_lab.cli", "compare", "--last", "10", "--html", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert every.returncode == 0, every.stderr
    assert "7 runs compared" in every.stdout and "param_grid" in every.stdout
