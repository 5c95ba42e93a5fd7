from __future__ import annotations

import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

import mlops_lab as ml
from mlops_lab.errors import BundleError, BundleIntegrityError, ModelLoadError, OnnxExportWarning
from mlops_lab.packaging import load_bundle, package
from mlops_lab.packaging.bundle import file_digest
from mlops_lab.packaging.manifest import seal

EXPECTED_FILES = {
    "model.skops",
    "model.onnx",
    "schema.json",
    "input_example.json",
    "requirements.txt",
    "Dockerfile",
    "README.md",
}


def _rewrite_digest(folder: Path, name: str) -> None:
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files"][name] = file_digest(folder / name)
    (folder / "metadata.json").write_text(json.dumps(seal(meta)))


def test_bundle_holds_every_file_with_its_digest(cancer_run, tmp_path) -> None:
    run, model, X, _ = cancer_run
    bundle = package(run, tmp_path / "b")
    assert set(bundle.files) == EXPECTED_FILES
    for name, digest in bundle.files.items():
        assert file_digest(tmp_path / "b" / name) == digest
    meta = bundle.metadata
    assert meta["run_id"] == run.run_id
    assert meta["metrics"]["accuracy"] > 0.9
    assert meta["model"]["class"].endswith("Pipeline")
    assert meta["name"] == "breast-cancer-lr"
    assert bundle.schema.names == list(X.columns)
    np.testing.assert_array_equal(bundle.predict(X.head(20)), model.predict(X.head(20)))


def test_requirements_are_pinned_and_minimal(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    bundle = package(run, tmp_path / "b")
    lines = [
        line
        for line in (bundle.path / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    names = {line.split("==")[0] for line in lines}
    assert {"scikit-learn", "numpy", "scipy", "skops", "onnxruntime", "fastapi"} <= names
    assert "ipython" not in names and "papermill" not in names
    sklearn_line = next(line for line in lines if line.startswith("scikit-learn=="))
    assert sklearn_line == f"scikit-learn=={run.environment['packages']['scikit-learn']}"
    assert '"-m", "mlops_lab", "serve"' in (bundle.path / "Dockerfile").read_text()


def test_onnx_is_verified_and_matches_sklearn(cancer_run, tmp_path) -> None:
    run, model, X, _ = cancer_run
    bundle = package(run, tmp_path / "b", input_example=X.sample(50, random_state=0))
    assert bundle.onnx["status"] == "verified"
    assert bundle.onnx["example"] == "given"
    onnx, sk = bundle.predictor("onnx"), bundle.predictor("sklearn")
    assert onnx.runtime == "onnx"
    arrays, _ = bundle.schema.check_columns({c: X[c].tolist() for c in X.columns})
    a = onnx.predict(arrays, ("predict", "predict_proba"))
    b = sk.predict(arrays, ("predict", "predict_proba"))
    np.testing.assert_array_equal(a["predict"], model.predict(X))
    np.testing.assert_allclose(a["predict_proba"], b["predict_proba"], atol=1e-4)


def test_onnx_missing_is_recorded_and_sklearn_serves(cancer_run, tmp_path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name.startswith(("skl2onnx", "onnxruntime")):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    run, *_ = cancer_run
    with pytest.warns(OnnxExportWarning, match="onnxruntime is not installed"):
        bundle = package(run, tmp_path / "b")
    assert bundle.onnx["status"] == "unavailable"
    assert "mlops-lab[onnx]" in bundle.onnx["reason"]
    assert "model.onnx" not in bundle.files
    assert bundle.predictor().runtime == "sklearn"


def test_categories_come_from_the_model_and_mixed_types_convert(iris_run, tmp_path) -> None:
    run, model, X, _ = iris_run
    bundle = package(run, tmp_path / "b", input_example=X.sample(30, random_state=1))
    col = next(c for c in bundle.schema.columns if c.name == "petal_size")
    assert col.kind == "string"
    assert sorted(col.categories) == ["large", "medium", "small"]
    assert bundle.schema.categories_source == "model"
    assert bundle.onnx["status"] == "verified"
    np.testing.assert_array_equal(bundle.predict(X), model.predict(X))


def test_archive_loads_and_is_verified(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    bundle = package(run, tmp_path / "b", archive=True)
    assert bundle.archive == tmp_path / "b.tar.gz"
    again = load_bundle(tmp_path / "b.tar.gz")
    assert again.files == bundle.files


@pytest.mark.parametrize("name", ["model.skops", "schema.json", "requirements.txt"])
def test_tampered_file_is_refused_naming_it(cancer_run, tmp_path, name) -> None:
    run, *_ = cancer_run
    package(run, tmp_path / "b")
    with open(tmp_path / "b" / name, "ab") as fh:
        fh.write(b"\n# changed")
    with pytest.raises(BundleIntegrityError, match=f"'{name}' was modified") as info:
        load_bundle(tmp_path / "b")
    assert info.value.file == name


def test_missing_file_is_refused(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    package(run, tmp_path / "b")
    (tmp_path / "b" / "model.onnx").unlink()
    with pytest.raises(BundleIntegrityError, match=r"'model\.onnx' is missing"):
        load_bundle(tmp_path / "b")


class Exploit:
    def __reduce__(self):
        return (Path.touch, (Path("pwned"),))


def test_malicious_pickle_is_refused_even_with_matching_digest(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    folder = tmp_path / "b"
    package(run, folder)
    (folder / "model.skops").write_bytes(pickle.dumps(Exploit()))
    _rewrite_digest(folder, "model.skops")
    with pytest.raises(ModelLoadError, match="not a readable skops file"):
        load_bundle(folder)
    assert not (tmp_path / "pwned").exists()


def test_skops_file_with_untrusted_type_is_refused(cancer_run, tmp_path) -> None:
    import builtins

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    run, *_ = cancer_run
    folder = tmp_path / "b"
    package(run, folder)
    (folder / "model.skops").write_bytes(sio.dumps(FunctionTransformer(func=builtins.eval)))
    _rewrite_digest(folder, "model.skops")
    with pytest.raises(ModelLoadError, match=r"untrusted types: builtins\.eval"):  # a function
        load_bundle(folder)


def test_path_traversal_in_metadata_is_refused(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    folder = tmp_path / "b"
    package(run, folder)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files"]["../outside"] = "0" * 64
    (folder / "metadata.json").write_text(json.dumps(seal(meta)))
    with pytest.raises(BundleError, match=r"field 'files' must be .*plain file names"):
        load_bundle(folder)


def test_not_a_bundle_and_non_empty_target(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    with pytest.raises(BundleError, match="not a model bundle"):
        load_bundle(tmp_path)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "keep.txt").write_text("x")
    with pytest.raises(BundleError, match="not empty"):
        package(run, tmp_path / "b")
    assert package(run, tmp_path / "b", overwrite=True).files


def test_package_by_run_reference_forms(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    a = package(f"runs:/{run.run_id}/model", tmp_path / "a")
    b = package(run.run_id[:8], tmp_path / "c")
    assert a.run_id == b.run_id == run.run_id
    with pytest.raises(ml.MlopsLabError, match="has no model 'other'"):
        package(f"runs:/{run.run_id}/other", tmp_path / "d")


def test_archive_members_stay_inside(cancer_run, tmp_path) -> None:
    run, *_ = cancer_run
    package(run, tmp_path / "b", archive=True)
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert all(m.name.startswith("b") for m in tar.getmembers())


def test_package_a_registered_model_by_alias(cancer_run, tmp_path) -> None:
    from mlops_lab.registry import register_model

    run, *_ = cancer_run
    register_model(run, "cancer", alias="champion")
    bundle = package("cancer@champion", tmp_path / "b")
    assert (bundle.name, bundle.version) == ("cancer", "1")
    assert bundle.metadata["aliases"] == ["champion"]
    assert bundle.run_id == run.run_id


def test_packaging_and_serving_a_registered_version_show_in_its_lineage(
    cancer_run, tmp_path
) -> None:
    from mlops_lab.registry import lineage, register_model
    from mlops_lab.serve.server import _record_deployment

    run, *_ = cancer_run
    register_model(run, "cancer", alias="champion")
    bundle = package("cancer@champion", tmp_path / "b")
    _record_deployment(bundle, "http://127.0.0.1:8080")
    tree = str(lineage("cancer@champion"))
    assert "packaged" in tree
    assert str((tmp_path / "b").resolve()) in tree
    assert "deployed" in tree
    assert "http://127.0.0.1:8080" in tree


def test_serving_a_bundle_without_a_store_creates_none(cancer_run, tmp_path, monkeypatch) -> None:
    from mlops_lab.serve.server import _record_deployment

    run, *_ = cancer_run
    bundle = package(run, tmp_path / "b")
    elsewhere = tmp_path / "no-store"
    elsewhere.mkdir()
    monkeypatch.setenv("MLOPS_LAB_HOME", str(elsewhere / ".mlops"))
    _record_deployment(bundle, "http://127.0.0.1:8080")
    assert not (elsewhere / ".mlops").exists()
