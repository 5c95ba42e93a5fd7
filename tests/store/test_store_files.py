"""Finding, creating and refusing store files."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.errors import NotAStoreError, StoreError, StoreVersionError
from mlops_lab.project import set_default_root
from mlops_lab.store import Store, find_root
from mlops_lab.store.connection import Connection, is_writable
from mlops_lab.store.schema import SCHEMA_VERSION
from mlops_lab.tracking import session as session_module


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
    assert ml.default_project().root == (tmp_path / "override").resolve()
    assert find_root() != (tmp_path / "override").resolve()  # finding keeps no state


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


# -- store paths of the wrong kind -------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda root: root.touch(),
            r"the store path {root} is a file; an mlops-lab store is a folder",
        ),
        (
            lambda root: (root / "mlops.db").mkdir(parents=True),
            r"{root}/mlops.db is a folder; the store expects its SQLite database file",
        ),
        (
            lambda root: (root.mkdir(), (root / "blobs").write_bytes(b"")),
            r"{root}/blobs is a file; the store keeps its blobs .* in a folder",
        ),
    ],
    ids=["store-is-a-file", "db-is-a-folder", "blobs-is-a-file"],
)
def test_a_store_path_of_the_wrong_kind_says_what_is_wrong(
    store_root: Path, make, message: str
) -> None:
    make(store_root)
    pattern = message.format(root=re.escape(str(store_root)))
    with pytest.raises(StoreError, match=pattern):
        ml.runs()
    with pytest.raises(StoreError, match=pattern), ml.start_run("x"):
        ml.log_artifact(b"model", name="m.bin")


def test_a_store_path_naming_the_database_points_at_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "project" / ".mlops"
    _filled_store(root, checkpoint=True)
    set_default_root(root / "mlops.db")
    with pytest.raises(StoreError, match=f"at the folder that holds it, {re.escape(str(root))}$"):
        ml.runs()


def test_a_store_under_a_file_says_which_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a folder")
    set_default_root(tmp_path / "plain" / ".mlops")
    with pytest.raises(
        StoreError, match=f"cannot create the store folder .*: {tmp_path}/plain is a file"
    ):
        ml.start_run("x")


# -- read-only stores ------------------------------------------------------------------


def _filled_store(root: Path, *, checkpoint: bool, died: bool = False) -> str:
    """A store at ``root`` with one finished run (and one whose process died); returns its id."""
    set_default_root(root)
    with ml.start_run("trained") as run:
        ml.log_param("C", 0.5)
        for step in range(3):
            ml.log_metric("acc", 0.8 + step / 10)
    session_module.reset()
    set_default_root(None)
    if died:
        code = "import os, mlops_lab as ml\nml.start_run('died')\nml.flush()\nos._exit(0)"
        env = {**os.environ, "MLOPS_LAB_HOME": str(root)}
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    if checkpoint:  # a store closed cleanly: no -wal or -shm beside mlops.db
        conn = sqlite3.connect(root / "mlops.db")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    return run.run_id


def test_a_forced_read_only_open_reads_and_refuses_writes(tmp_path: Path) -> None:
    root = tmp_path / "copy" / ".mlops"
    run_id = _filled_store(root, checkpoint=True)
    before = _digest(root / "mlops.db")
    assert is_writable(root / "mlops.db")
    conn = Connection(root / "mlops.db", read_only=True)
    assert conn.read("SELECT name FROM runs") == [("trained",)]
    assert conn.read_one("SELECT count(*) FROM metrics WHERE run_id = ?", (run_id,)) == (3,)
    assert conn.read_only
    with pytest.raises(StoreError, match=r"is read-only .*: it can be read, not written"):
        conn.write(lambda c: c.execute("DELETE FROM runs"))
    conn.close()
    assert _digest(root / "mlops.db") == before


READER = """
import sys, mlops_lab as ml
from mlops_lab.errors import StoreError
runs = ml.runs()
print("runs", sorted(runs["name"]))
run = ml.get_run("trained")
print("metrics", run.metrics, "params", run.params, "steps", list(run.metric_history("acc")["step"]))
try:
    ml.start_run("more")
except StoreError as exc:
    print("write refused:", exc)
"""


def _run_read_only(folder: Path, code: str, store: Path) -> subprocess.CompletedProcess:
    """Run ``code`` with ``folder`` read-only for it: a read-only bind mount in a mount
    namespace of its own when root (chmod does not stop root), else ``chmod -R a-w``."""
    env = {**os.environ, "MLOPS_LAB_HOME": str(store)}
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare(1): cannot make a read-only folder")
        probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"root without mount namespaces ({probe.stderr.decode().strip()})")
        script = 'mount --bind -o ro "$1" "$1" && exec "$2" -c "$3"'
        argv = ["unshare", "--mount", "sh", "-c", script, "sh", str(folder), sys.executable, code]
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


@pytest.mark.parametrize("checkpoint", [True, False], ids=["closed-cleanly", "with-wal-files"])
def test_a_read_only_store_can_be_read(tmp_path: Path, checkpoint: bool) -> None:
    source = tmp_path / "source" / ".mlops"
    _filled_store(source, checkpoint=checkpoint, died=True)
    copy = tmp_path / "readonly"
    shutil.copytree(source.parent, copy)
    before = {p.name: _digest(p) for p in (copy / ".mlops").iterdir() if p.is_file()}
    done = _run_read_only(copy, READER, copy / ".mlops")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "runs ['died', 'trained']"  # 'died' cannot be marked killed: still read
    assert lines[1] == "metrics {'acc': 1.0} params {'C': 0.5} steps [0, 1, 2]"
    assert lines[2].startswith(f"write refused: the store {copy / '.mlops'} is read-only")
    after = {p.name: _digest(p) for p in (copy / ".mlops").iterdir() if p.is_file()}
    assert after == before


def test_a_new_store_in_a_read_only_folder_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "readonly"
    folder.mkdir()
    code = "import mlops_lab as ml\ntry:\n    ml.start_run('x')\nexcept Exception as e:\n    print(type(e).__name__, e)"
    done = _run_read_only(folder, code, folder / ".mlops")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"StoreError cannot create the store folder {folder / '.mlops'}: "
    )
    assert not (folder / ".mlops").exists()
