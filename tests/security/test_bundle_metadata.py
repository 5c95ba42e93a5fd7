"""metadata.json is covered by its own digest and every field is checked on load."""

from __future__ import annotations

import json

import pytest
from forgery import reseal

import mlops_lab as ml
from mlops_lab.cli import main
from mlops_lab.errors import BundleError, BundleIntegrityError
from mlops_lab.packaging.manifest import NAME
from mlops_lab.registry.api import check_name


@pytest.fixture
def bundle_dir(iris_run, tmp_path):
    return ml.package(iris_run, tmp_path / "b", onnx=False).path


def test_a_changed_metadata_json_is_refused(bundle_dir, capsys) -> None:
    meta = json.loads((bundle_dir / "metadata.json").read_text())
    meta["metrics"] = {"accuracy": 0.999}
    (bundle_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleIntegrityError, match=r"'metadata\.json' was modified") as info:
        ml.load_bundle(bundle_dir)
    assert info.value.file == "metadata.json"
    assert main(["serve", str(bundle_dir)]) == 2
    assert "metadata.json' was modified" in capsys.readouterr().err


def test_a_metadata_json_without_its_digest_is_refused(bundle_dir) -> None:
    meta = json.loads((bundle_dir / "metadata.json").read_text())
    del meta["metadata_sha256"]
    (bundle_dir / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleIntegrityError, match="no valid metadata_sha256"):
        ml.load_bundle(bundle_dir)


BAD_FIELDS = [
    ("name", "<script>alert(1)</script>", "'name' must be a name"),
    ("name", "", "'name' must be a name"),
    ("name", 7, "'name' must be a name"),
    ("name", "a" * 129, "'name' must be a name"),
    ("version", 3, "'version' must be a version"),
    ("version", "1 <b>", "'version' must be a version"),
    ("format_version", "2", "'format_version' must be 2"),
    ("format_version", 1, "'format_version' must be 2"),
    ("run_id", "../../etc", "'run_id' must be a run id"),
    ("metrics", {"acc": "high"}, "'metrics' must be an object whose values are a number"),
    ("metrics", [1, 2], "'metrics' must be an object"),
    ("params", {"C": {"nested": 1}}, "'params' must be an object whose values are a JSON scalar"),
    ("aliases", "champion", "'aliases' must be a list"),
    ("datasets", [{"digest": "../x"}], r"'datasets\[0\]': 'digest' must be a sha256"),
    ("model", "LogisticRegression", "'model' must be an object"),
    ("model", {"digest": "../../x", "flavor": "sklearn"}, "'model.digest' must be a sha256"),
    ("model", {"digest": "0" * 64, "flavor": 1}, "'model.flavor' must be a string"),
    ("onnx", {"status": ["verified"]}, "'onnx.status' must be a string"),
    ("schema_columns", "a,b", "'schema_columns' must be a list"),
    ("files", ["model.skops"], "'files' must be an object"),
    ("files", {"model.skops": "short"}, "'files' must be an object whose values are a sha256"),
    ("files", {"/etc/passwd": "0" * 64}, "'files' must be an object whose keys are plain"),
    ("files", {"schema.json": "0" * 64}, "'files' does not list 'model.skops'"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS)
def test_a_resealed_metadata_with_a_bad_field_is_refused_naming_it(
    bundle_dir, field, value, message
) -> None:
    meta = json.loads((bundle_dir / "metadata.json").read_text())
    meta[field] = value
    (bundle_dir / "metadata.json").write_text(json.dumps(meta))
    _seal_only(bundle_dir)  # the attacker's own digest: only the field check stands
    with pytest.raises(BundleError, match=message):
        ml.load_bundle(bundle_dir)


def _seal_only(folder) -> None:
    import hashlib

    meta = json.loads((folder / "metadata.json").read_text())
    meta.pop("metadata_sha256", None)
    rest = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    meta["metadata_sha256"] = hashlib.sha256(rest.encode()).hexdigest()
    (folder / "metadata.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("missing", ["name", "version", "model", "files", "format_version"])
def test_a_missing_field_is_named(bundle_dir, missing) -> None:
    meta = json.loads((bundle_dir / "metadata.json").read_text())
    del meta[missing]
    (bundle_dir / "metadata.json").write_text(json.dumps(meta))
    _seal_only(bundle_dir)
    with pytest.raises(BundleError, match=f"field '{missing}' is missing"):
        ml.load_bundle(bundle_dir)


@pytest.mark.parametrize("text", ["[1, 2]", '"a string"', "null", "{", "\xff\xfe", "[" * 100000])
def test_metadata_that_is_not_an_object_is_a_bundle_error(bundle_dir, text) -> None:
    (bundle_dir / "metadata.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(BundleError):
        ml.load_bundle(bundle_dir)


def test_a_malformed_schema_json_is_a_bundle_error(bundle_dir) -> None:
    (bundle_dir / "schema.json").write_text(json.dumps({"columns": "oops"}))
    reseal(bundle_dir)
    with pytest.raises(BundleError, match=r"schema\.json is not a valid input schema"):
        ml.load_bundle(bundle_dir)


def test_a_file_changed_after_opening_is_refused_when_read(iris_run, tmp_path) -> None:
    folder = ml.package(iris_run, tmp_path / "b", onnx=False).path
    bundle = ml.load_bundle(folder, lazy=True)
    (folder / "model.skops").write_bytes(b"PK changed")
    with pytest.raises(BundleIntegrityError, match="changed after the bundle was opened"):
        bundle.model  # noqa: B018


def test_registry_names_are_bundle_names_and_run_names_become_safe_ones(tmp_path) -> None:
    for name in ["iris", "churn-model_v2.1", "A" * 100, "9lives"]:
        assert check_name(name) and NAME.match(name)
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"x": [0.0, 1.0, 0.2, 0.9]})
    with ml.start_run('<img src=x onerror="alert(1)"> _model') as run:
        ml.log_model(LogisticRegression().fit(X, [0, 1, 0, 1]), input_example=X)
    bundle = ml.package(run, tmp_path / "b", onnx=False)
    assert NAME.match(bundle.name)
    assert "<" not in bundle.name and " " not in bundle.name
