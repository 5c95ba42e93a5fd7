"""ONNX export of regressors, pipelines and searches, and the warning when there is none."""

from __future__ import annotations

import builtins

import numpy as np
import onnxruntime as ort
import pytest

import mlops_lab as ml
from mlops_lab.errors import MlopsLabWarning, OnnxExportWarning
from mlops_lab.packaging import package
from mlops_lab.packaging.onnx import feeds


def diabetes_with_category():
    """load_diabetes as a frame, with ``sex`` as text ('female'/'male') instead of a number."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X["sex"] = np.where(X["sex"] > 0, "male", "female")
    return X, y


def _assert_onnx_answers_like_sklearn(bundle, model, X) -> None:
    assert bundle.onnx["status"] == "verified", bundle.onnx
    assert "model.onnx" in bundle.files
    session = ort.InferenceSession(
        (bundle.path / "model.onnx").read_bytes(), providers=["CPUExecutionProvider"]
    )
    frame = X.head(40)
    inputs = feeds(bundle.schema, {c: frame[c].to_numpy() for c in frame.columns})
    got = np.asarray(session.run(None, inputs)[0]).ravel()
    np.testing.assert_allclose(got, model.predict(frame), rtol=1e-3, atol=1e-3)
    onnx, sk = bundle.predictor("onnx"), bundle.predictor("sklearn")
    arrays = {c: frame[c].to_numpy() for c in frame.columns}
    np.testing.assert_allclose(
        np.asarray(onnx.predict(arrays, ("predict",))["predict"], dtype=float),
        np.asarray(sk.predict(arrays, ("predict",))["predict"], dtype=float),
        rtol=1e-3,
        atol=1e-3,
    )


def test_a_ridge_pipeline_packages_with_a_verified_onnx_model(tmp_path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with ml.start_run("diabetes-ridge") as run:
        model = make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(X, y)
        ml.log_model(model, input_example=X.head())
    bundle = package(run, tmp_path / "b")
    _assert_onnx_answers_like_sklearn(bundle, model, X)
    assert "(onnx: verified)" in repr(bundle)


def test_a_column_transformer_regressor_with_text_columns_packages_with_onnx(tmp_path) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = diabetes_with_category()
    numeric = [c for c in X.columns if c != "sex"]
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ]
    )
    with ml.start_run("diabetes-mixed") as run:
        model = Pipeline([("pre", pre), ("ridge", Ridge())]).fit(X, y)
        ml.log_model(model, input_example=X.head())
    bundle = package(run, tmp_path / "b", input_example=X.sample(30, random_state=0))
    assert not bundle.schema.numeric
    assert sorted(next(c for c in bundle.schema.columns if c.name == "sex").categories) == [
        "female",
        "male",
    ]
    _assert_onnx_answers_like_sklearn(bundle, model, X)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_a_grid_search_packages_with_onnx(kind, tmp_path) -> None:
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "regressor":
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        search = GridSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [0.1, 1]})
    else:
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        search = GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            {"logisticregression__C": [0.1, 1]},
        )
    with ml.start_run(f"search-{kind}") as run:
        search.fit(X, y)
        ml.log_model(search, input_example=X.head())
    bundle = package(run, tmp_path / "b")
    assert bundle.onnx["status"] == "verified", bundle.onnx
    assert ("probabilities" in bundle.onnx["outputs"]) == (kind == "classifier")


def test_a_model_without_a_converter_warns_once_naming_the_reason(tmp_path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.kernel_ridge import KernelRidge

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with ml.start_run("no-converter") as run:
        model = KernelRidge(alpha=0.1).fit(X, y)  # skl2onnx has no converter for it
        ml.log_model(model, input_example=X.head())
    with pytest.warns(OnnxExportWarning) as caught:
        bundle = package(run, tmp_path / "b")
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "no model.onnx" in message and "KernelRidge" in message
    assert issubclass(caught[0].category, MlopsLabWarning)
    assert bundle.onnx["status"] == "failed"
    assert "model.onnx" not in bundle.files
    np.testing.assert_allclose(bundle.predict(X.head()), model.predict(X.head()))


def test_onnx_not_installed_warns_with_the_extra_to_install(tmp_path, monkeypatch) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with ml.start_run("no-onnx") as run:
        ml.log_model(Ridge().fit(X, y), input_example=X.head())
    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.startswith(("skl2onnx", "onnxruntime")):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.warns(OnnxExportWarning, match=r"pip install 'mlops-lab\[onnx\]'"):
        bundle = package(run, tmp_path / "b")
    assert bundle.onnx["status"] == "unavailable"


def test_no_warning_when_onnx_is_turned_off(tmp_path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    with ml.start_run("onnx-off") as run:
        ml.log_model(Ridge().fit(X, y), input_example=X.head())
    bundle = package(run, tmp_path / "b", onnx=False)  # warnings are errors in these tests
    assert bundle.onnx["status"] == "skipped"
