"""Forged stores: blob digests never reach the file system unchecked, and a merge refuses a
store holding an identifier this project would never write, before writing anything."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.cli import main
from mlops_lab.errors import StoreError
from mlops_lab.project import set_default_root
from mlops_lab.registry.api import _ALIAS, _NAME
from mlops_lab.store import Store
from mlops_lab.store.blobs import BlobStore
from mlops_lab.store.merge_checks import ALIAS, MODEL_NAME
from mlops_lab.tracking import session as session_module

SECRET = "top secret"


@pytest.mark.parametrize(
    "digest",
    ["../../etc/passwd", "/etc/passwd", "ab/../../x", "A" * 64, "0" * 63, "0" * 65, "", "g" * 64],
)
def test_blob_paths_accept_digests_only(tmp_path, digest) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    with pytest.raises(StoreError, match="not a blob digest"):
        blobs.path(digest)
    with pytest.raises(StoreError, match="not a blob digest"):
        blobs.read_bytes(digest)
    assert blobs.path("0" * 64) == tmp_path / "blobs" / "00" / ("0" * 64)


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    return secret


def test_a_forged_artifact_row_cannot_read_another_file(iris_run, store, tmp_path) -> None:
    secret = _secret(tmp_path)
    ml.register_model(iris_run, "iris")
    with sqlite3.connect(store.db_path) as conn:
        conn.execute("UPDATE artifacts SET digest = ?", (str(secret),))
        conn.execute("UPDATE model_versions SET digest = ?", ("../" * 8 + str(secret),))
    conn.close()
    run_id = iris_run.run_id
    fresh = ml.get_run(run_id)
    with pytest.raises(StoreError, match="not a blob digest"):
        fresh.artifact_path("model")
    with pytest.raises(StoreError, match="not a blob digest"):
        ml.load_model(run_id)
    with pytest.raises(ml.MlopsLabError, match="not a blob digest"):
        ml.get_model_version("iris/1").load()


# -- merging a forged store -------------------------------------------------------------


@pytest.fixture
def theirs(tmp_path) -> Path:
    """A real store of someone else's (two runs, a model, a registered version, an alias)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    root = tmp_path / "theirs" / ".mlops"
    set_default_root(root)
    session_module.reset()
    X = pd.DataFrame({"x": [0.0, 1.0, 0.2, 0.9]})
    for i in range(2):
        with ml.start_run(f"r{i}", experiment="bob") as run:
            ml.log_metric("acc", 0.5 + i / 10)
            ml.log_dataset(X, "train")
            ml.log_model(LogisticRegression().fit(X, [0, 1, 0, 1]), input_example=X)
    ml.register_model(run, "clf", alias="champion")
    session_module.session().flush()
    session_module.reset()
    return root


@pytest.fixture
def mine(tmp_path, theirs) -> Store:
    root = tmp_path / "mine" / ".mlops"
    set_default_root(root)
    with ml.start_run("mine"):
        ml.log_metric("acc", 0.9)
    session_module.session().flush()
    return session_module.session().project.store


def _snapshot(store: Store) -> tuple[dict[str, int], list[str]]:
    conn = sqlite3.connect(store.db_path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
    conn.close()
    blobs = sorted(str(p.relative_to(store.root)) for p in store.blobs.root.rglob("*"))
    return counts, blobs


def _run_id_of(root: Path) -> str:
    with sqlite3.connect(root / "mlops.db") as conn:
        return conn.execute("SELECT run_id FROM runs LIMIT 1").fetchone()[0]


FORGERIES = [
    # (SQL run on their store, what the error names)
    ("UPDATE artifacts SET digest = '../../../../etc/passwd'", "table 'artifacts'"),
    ("UPDATE artifacts SET digest = '/etc/passwd' WHERE rowid = 2", "row 2 of table 'artifacts'"),
    ("UPDATE model_versions SET digest = '../secret.txt'", "table 'model_versions'"),
    ("UPDATE datasets SET digest = '../x'", "table 'datasets'"),
    ("UPDATE run_inputs SET digest = 'ZZ'", "table 'run_inputs'"),
    ("UPDATE runs SET run_id = '../../x' WHERE rowid = 1", "table 'runs'"),
    ("UPDATE runs SET parent_id = 'not-a-run'", "parent_id='not-a-run'"),
    ("UPDATE metric_series SET run_id = 'x' || series_id", "table 'metric_series'"),
    ("UPDATE experiments SET name = 'bob' || char(0) || 'x'", "table 'experiments'"),
    ("UPDATE experiments SET name = ''", "table 'experiments'"),
    ("UPDATE model_versions SET name = '<script>'", "table 'model_versions'"),
    ("UPDATE registered_models SET name = '../clf'", "table 'registered_models'"),
    ("UPDATE model_aliases SET alias = 'a b'", "table 'model_aliases'"),
    ("UPDATE model_versions SET version = -1", "version=-1"),
    ("UPDATE environments SET env_id = '../env'", "table 'environments'"),
]


@pytest.mark.parametrize(("sql", "named"), FORGERIES)
def test_a_forged_row_refuses_the_merge_before_anything_is_written(
    theirs, mine, sql, named
) -> None:
    with sqlite3.connect(theirs / "mlops.db") as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(sql)
    conn.close()
    before = _snapshot(mine)
    with pytest.raises(StoreError, match="nothing was merged") as info:
        ml.merge(theirs)
    assert named in str(info.value)
    assert _snapshot(mine) == before


def test_a_stray_file_in_their_blobs_refuses_the_merge(theirs, mine, tmp_path) -> None:
    (theirs / "blobs" / "ab").mkdir(exist_ok=True)
    (theirs / "blobs" / "ab" / "passwd").write_text("x")
    before = _snapshot(mine)
    with pytest.raises(StoreError, match="is not a blob"):
        ml.merge(theirs)
    assert _snapshot(mine) == before


def test_a_blob_filed_under_the_wrong_folder_refuses_the_merge(theirs, mine) -> None:
    data = b"payload"
    digest = hashlib.sha256(data).hexdigest()
    wrong = "00" if not digest.startswith("00") else "11"
    (theirs / "blobs" / wrong).mkdir(exist_ok=True)
    (theirs / "blobs" / wrong / digest).write_bytes(data)
    with pytest.raises(StoreError, match="is not a blob"):
        ml.merge(theirs)


def test_cli_merge_names_the_bad_row_in_one_line(theirs, mine, capsys) -> None:
    with sqlite3.connect(theirs / "mlops.db") as conn:
        conn.execute("UPDATE artifacts SET digest = '../../../../etc/passwd'")
    conn.close()
    assert main(["merge", str(theirs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "table 'artifacts'" in err[0] and "'../../../../etc/passwd'" in err[0]


def test_a_clean_store_still_merges(theirs, mine) -> None:
    report = ml.merge(theirs)
    assert report.rows["runs"] == 2
    run_id = _run_id_of(theirs)
    assert ml.load_model(run_id) is not None
    assert ml.load_model("clf@champion") is not None


def test_merge_checks_follow_the_registry_rules() -> None:
    assert MODEL_NAME.pattern == _NAME.pattern
    assert ALIAS.pattern == _ALIAS.pattern
