"""A forged skops file that would call a function is refused by every way a model is loaded."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from forgery import forge, payload, real_model_bytes, reseal, swap_blob

import mlops_lab as ml
from mlops_lab.cli import main
from mlops_lab.errors import ModelLoadError
from mlops_lab.project import set_default_root
from mlops_lab.store import Store
from mlops_lab.tracking import session as session_module
from mlops_lab.tracking.trust import is_trusted, loads, resolve_class, trusted_types

KINDS = ["subprocess", "numpy"]


@pytest.fixture(params=KINDS)
def attack(request, tmp_path):
    """``(forged model bytes, the function it names, the file it would write)``."""
    marker = tmp_path / "pwned.npy"
    function, node = payload(request.param, marker)
    return forge(real_model_bytes(), node), function, marker


def _refused(function: str):
    return pytest.raises(ModelLoadError, match=rf"untrusted types: {function.replace('.', '[.]')}")


def test_the_forged_file_really_runs_code_when_trusted(attack) -> None:
    """The forgery is real: skops told to trust the name runs it and writes the marker."""
    import skops.io as sio

    data, function, marker = attack
    sio.loads(data, trusted=[function])
    assert marker.exists()


def test_loads_refuses_it(attack) -> None:
    data, function, marker = attack
    with _refused(function):
        loads(data)
    assert not marker.exists()


def _forged_bundle(iris_run, folder: Path, data: bytes) -> Path:
    ml.package(iris_run, folder, onnx=False)
    (folder / "model.skops").write_bytes(data)
    reseal(folder)
    return folder


@pytest.mark.parametrize("as_archive", [False, True])
def test_load_bundle_refuses_it(attack, iris_run, tmp_path, as_archive) -> None:
    data, function, marker = attack
    folder = _forged_bundle(iris_run, tmp_path / "b", data)
    target: Path = folder
    if as_archive:
        target = tmp_path / "b.tar.gz"
        with tarfile.open(target, "w:gz") as tar:
            tar.add(folder, arcname="b")
    with _refused(function):
        ml.load_bundle(target)
    lazy = ml.load_bundle(target, lazy=True)
    with _refused(function):
        lazy.predict(lazy.input_example)
    assert not marker.exists()


def test_load_model_registry_and_package_refuse_it(attack, iris_run, store, tmp_path) -> None:
    data, function, marker = attack
    ml.register_model(iris_run, "iris", alias="champion")
    swap_blob(store.root, iris_run.artifacts[0]["digest"], data)
    with _refused(function):
        ml.load_model(iris_run.run_id)
    with _refused(function):
        iris_run.load_model()
    with _refused(function):
        ml.get_model_version("iris@champion").load()
    with _refused(function):
        ml.load_model("iris@champion")
    with _refused(function):
        ml.package("iris@champion", tmp_path / "bundle", onnx=False)
    assert main(["package", "iris@champion", "--out", str(tmp_path / "b2"), "--no-onnx"]) == 2
    assert not marker.exists()


def test_a_merged_store_cannot_bring_it_in(attack, tmp_path) -> None:
    data, function, marker = attack
    theirs = tmp_path / "theirs" / ".mlops"
    set_default_root(theirs)
    session_module.reset()
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    with ml.start_run("theirs") as run:
        ml.log_model(LogisticRegression(max_iter=300).fit(X, y))
    ml.register_model(run, "iris", alias="champion")
    session_module.session().flush()
    session_module.reset()
    swap_blob(theirs, run.artifacts[0]["digest"], data)
    mine = tmp_path / "mine" / ".mlops"
    set_default_root(mine)
    report = ml.merge(theirs)
    assert report.rows["runs"] == 1 and report.rows["model_versions"] == 1
    with _refused(function):
        ml.load_model(run.run_id)
    with _refused(function):
        ml.load_model("iris@champion")
    assert not marker.exists()


def test_serve_refuses_it(attack, iris_run, tmp_path) -> None:
    data, function, marker = attack
    folder = _forged_bundle(iris_run, tmp_path / "b", data)
    out = subprocess.run(
        [sys.executable, "-m", "mlops_lab.cli", "serve", str(folder), "--runtime", "sklearn"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 2, out.stderr
    assert function in out.stderr and "Traceback" not in out.stderr
    assert not marker.exists()


def test_the_trusted_list_holds_classes_only_and_names_no_prefix() -> None:
    names = trusted_types()
    assert "sklearn.tree._tree.Tree" in names
    assert "sklearn.linear_model._logistic.LogisticRegression" in names
    for name in names:
        cls = resolve_class(name)
        assert isinstance(cls, type), name
        assert f"{cls.__module__}.{cls.__qualname__}" == name
    for name in (
        "sklearn.",
        "sklearn",
        "numpy.",
        "sklearn.utils",
        "sklearn.utils._testing.assert_run_python_script_without_output",
        "sklearn.utils.validation.check_array",
        "numpy.save",
        "numpy.load",
        "builtins.eval",
        "builtins.type",
        "os.system",
        "functools.partial",
        "sklearn.utils._mocking.CheckingClassifier",
    ):
        assert not is_trusted(name), name


def test_the_caller_trusts_exact_names_only(attack) -> None:
    data, function, marker = attack
    prefix = function.rsplit(".", 1)[0] + "."
    with _refused(function):
        loads(data, trusted=[prefix, function.upper()])
    assert not marker.exists()
    loads(data, trusted=[function])  # the caller's own, exact decision
    assert marker.exists()


def test_a_name_is_never_imported_before_it_is_found_trusted(tmp_path, monkeypatch) -> None:
    """A file naming a module that is not loaded yet does not get it imported."""
    (tmp_path / "evilmod.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').write('x')\nclass Thing: pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from forgery import call_node

    data = forge(real_model_bytes(), call_node("evilmod.Thing"))
    with _refused("evilmod.Thing"):
        loads(data)
    assert not (tmp_path / "imported").exists()


def test_an_artifact_row_cannot_point_the_loader_elsewhere(iris_run, store) -> None:
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE artifacts SET digest = '../../../../etc/passwd'")
    conn.close()
    fresh = Store(store.root)
    with pytest.raises(ml.MlopsLabError, match="not a blob digest"):
        ml.load_model(fresh.resolve_run(iris_run.run_id))


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("forest", "left_child", 10**6, "left child 1000000"),
        ("forest", "right_child", 0, "right child 0"),
        ("forest", "feature", 999, "splits on feature 999"),
        ("hist_gbm", "left", 60000, "left child 60000"),
        ("hist_gbm", "feature_idx", 77, "splits on feature 77"),
        ("knn", "idx_end", 10**6, "a KDTree node 0 is out of range"),
        ("knn", "is_leaf", 0, "a KDTree node 30 is out of range"),
    ],
)
def test_trees_with_out_of_range_nodes_are_refused(kind, field, value, message) -> None:
    """scikit-learn indexes node arrays without bounds checks: a forged index is refused."""
    import skops.io as sio
    from forgery import forge_array
    from sklearn.datasets import load_iris
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    X, y = load_iris(return_X_y=True)
    model = {
        "forest": RandomForestClassifier(n_estimators=2, random_state=0),
        "hist_gbm": HistGradientBoostingClassifier(max_iter=2),
        "knn": KNeighborsClassifier(algorithm="kd_tree", leaf_size=5),
    }[kind].fit(X, y)
    data = sio.dumps(model)
    assert loads(data).predict(X).shape == (150,)
    with pytest.raises(ModelLoadError, match=f"malformed: .*{message}"):
        loads(forge_array(data, field, -1 if field == "is_leaf" else 0, value))
