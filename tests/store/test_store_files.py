"""Finding, creating and refusing store files."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.errors import NotAStoreError, StoreVersionError
from mlops_lab.store import Store, find_root, set_default_root
from mlops_lab.store.schema import SCHEMA_VERSION


def test_env_var_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_LAB_HOME", str(tmp_path / "elsewhere"))
    assert find_root() == (tmp_path / "elsewhere").resolve()


def test_nearest_store_walking_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_LAB_HOME")
    (tmp_path / "project" / ".mlops").mkdir(parents=True)
    deep = tmp_path / "project" / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_root() == (tmp_path / "project" / ".mlops").resolve()


def test_created_in_cwd_when_none_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_LAB_HOME")
    work = tmp_path / "fresh"
    work.mkdir()
    monkeypatch.chdir(work)
    assert find_root() == work.resolve() / ".mlops"
    with ml.start_run("first"):
        pass
    assert (work / ".mlops" / "mlops.db").is_file()


def test_override_beats_env(tmp_path: Path) -> None:
    set_default_root(tmp_path / "override")
    assert find_root() == (tmp_path / "override").resolve()


def test_schema_version_and_wal(store: Store) -> None:
    with ml.start_run():
        pass
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "content",
    [b"just some text that is not a database\n" * 10, b"SQLite format 3\x00" + b"\xff" * 4000],
    ids=["text", "corrupt-sqlite"],
)
def test_a_foreign_file_is_refused_and_left_untouched(store_root: Path, content: bytes) -> None:
    store_root.mkdir(parents=True)
    db = store_root / "mlops.db"
    db.write_bytes(content)
    before = _digest(db)
    with pytest.raises(NotAStoreError, match=str(db)):
        ml.start_run("x")
    assert _digest(db) == before
    assert sorted(p.name for p in store_root.iterdir()) == ["mlops.db"]


def test_another_applications_database_is_refused(store_root: Path) -> None:
    store_root.mkdir(parents=True)
    db = store_root / "mlops.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    before = _digest(db)
    with pytest.raises(NotAStoreError, match="another application"):
        ml.runs()
    assert _digest(db) == before


def test_a_newer_schema_is_refused(store: Store) -> None:
    with ml.start_run():
        pass
    store.db.close()
    conn = sqlite3.connect(store.db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreVersionError, match="newer"):
        Store(store.root).experiments()


def test_blobs_are_content_addressed(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "report.txt"
    source.write_text("hello")
    with ml.start_run("a"):
        d1 = ml.log_artifact(source)
        d2 = ml.log_artifact(b"hello", name="copy.txt")
    assert d1 == d2 == hashlib.sha256(b"hello").hexdigest()
    files = [p for p in (store.root / "blobs").rglob("*") if p.is_file()]
    assert len(files) == 1
    run = ml.get_run("a")
    assert {a["path"] for a in run.artifacts} == {"report.txt", "copy.txt"}
    assert run.artifact_path("copy.txt").read_bytes() == b"hello"
