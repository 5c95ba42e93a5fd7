"""Projects: each owns its store, runs and buffer; the active run is per thread and per task."""

from __future__ import annotations

import ast
import asyncio
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.errors import InvalidArgumentError, NoActiveRunError, RunNotFoundError, StoreError
from mlops_lab.store import Store, connection

PACKAGE = Path(ml.__file__).resolve().parent


def test_two_projects_do_not_see_each_others_runs(tmp_path: Path) -> None:
    with ml.Project(tmp_path / "a") as a, ml.Project(tmp_path / "b") as b:
        with a.start_run("in-a"):
            a.log_metric("acc", 0.9)
            with b.start_run("in-b"):  # another project: not a child, no "still open" error
                b.log_metric("acc", 0.1)
                assert a.active_run().name == "in-a"
                assert b.active_run().name == "in-b"
        assert list(a.runs()["name"]) == ["in-a"]
        assert list(b.runs()["name"]) == ["in-b"]
        assert a.get_run("in-a").metrics == {"acc": 0.9}
        assert b.get_run("in-b").metrics == {"acc": 0.1}
        with pytest.raises(RunNotFoundError, match="in-b"):
            a.get_run("in-b")
    assert ml.runs().empty  # the default project saw neither
    assert a.store.root == (tmp_path / "a").resolve()


def test_closing_a_project_ends_its_runs_and_writes_its_buffer(tmp_path: Path) -> None:
    project = ml.Project(tmp_path / "p")
    run = project.start_run("open")
    for step in range(5):
        project.log_metric("loss", 1.0 / (step + 1))
    project.close()
    store = Store(tmp_path / "p")
    assert store.run_record(run.run_id)["status"] == "finished"
    assert store.latest_metrics(run.run_id) == {"loss": 0.2}
    assert len(store.metric_history(run.run_id, "loss")) == 5
    with pytest.raises(StoreError, match="is closed"):
        project.start_run("again")
    failing = ml.Project(tmp_path / "q")

    def fails() -> None:
        with failing:
            failing.start_run("boom")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fails()
    assert failing.get_run("boom").status == "failed"


def test_a_thread_starts_with_no_active_run_and_keeps_its_own(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def worker() -> None:
        seen["inherited"] = ml.active_run()
        with ml.start_run("in-thread") as run:
            ml.log_metric("x", 1.0)
            seen["own"] = ml.active_run()
            seen["run"] = run
            started.set()
            resume.wait(10)

    started, resume = threading.Event(), threading.Event()
    with ml.start_run("main") as main:
        thread = threading.Thread(target=worker)
        thread.start()
        assert started.wait(10)
        assert ml.active_run() is main  # the thread's run did not become this thread's
        ml.log_metric("x", 2.0)
        resume.set()
        thread.join(10)
    assert seen["inherited"] is None
    assert seen["own"] is seen["run"]
    assert ml.get_run("in-thread").metrics == {"x": 1.0}
    assert ml.get_run("main").metrics == {"x": 2.0}
    assert ml.get_run("in-thread").parent_id is None
    with pytest.raises(NoActiveRunError):
        ml.log_metric("x", 3.0)


def test_asyncio_tasks_each_see_their_own_active_run(tmp_path: Path) -> None:
    project = ml.Project(tmp_path / "async")

    async def task(name: str, gate: asyncio.Event, order: list[str]) -> str:
        run = project.start_run(name)
        await gate.wait()  # both runs are open at once, each the active run of its task
        assert project.active_run() is run
        project.log_metric("value", float(len(name)))
        order.append(name)
        project.end_run()
        return run.run_id

    async def main() -> list[str]:
        gate, order = asyncio.Event(), []
        tasks = [asyncio.create_task(task(n, gate, order)) for n in ("one", "three")]
        await asyncio.sleep(0.01)
        assert project.active_run() is None  # neither task's run is the caller's
        gate.set()
        ids = await asyncio.gather(*tasks)
        assert sorted(order) == ["one", "three"]
        return ids

    with project:
        ids = asyncio.run(main())
        assert project.active_run() is None
        assert [project.get_run(i).metrics for i in ids] == [{"value": 3.0}, {"value": 5.0}]
        assert set(project.runs()["status"]) == {"finished"}


def test_module_functions_go_through_the_default_project(store_root: Path) -> None:
    project = ml.default_project()
    assert project is ml.default_project()
    assert project.root == store_root.resolve()
    with ml.start_run("default") as run:
        assert project.active_run() is run
        ml.log_metric("acc", 0.5)
        project.log_metric("acc", 0.6)  # the same buffer and the same run
    assert ml.get_run("default").metrics == {"acc": 0.6}
    assert [len(run.metric_history("acc"))] == [2]
    other = ml.Project(store_root.parent / "other")
    with ml.start_run("elsewhere", project=other):
        ml.log_metric("acc", 0.1, project=other)
    assert list(ml.runs(project=other)["name"]) == ["elsewhere"]
    assert list(ml.runs()["name"]) == ["default"]
    other.close()


def test_set_default_root_moves_the_default_project(tmp_path: Path) -> None:
    from mlops_lab.project import set_default_root

    first = ml.default_project()
    set_default_root(tmp_path / "moved")
    moved = ml.default_project()
    assert moved is not first and moved.root == (tmp_path / "moved").resolve()
    with ml.start_run("there"):
        pass
    assert Store(tmp_path / "moved").resolve_run("there")


@contextmanager
def write_locked(store: Store) -> Iterator[None]:
    """Hold ``store``'s write lock from another connection, as a second writer would."""
    store.db.raw.execute("PRAGMA busy_timeout = 20")
    other = sqlite3.connect(store.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.db.raw.execute(f"PRAGMA busy_timeout = {connection.BUSY_TIMEOUT_MS}")


def test_a_failed_end_run_keeps_the_buffered_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "_RETRIES", 2)
    with ml.Project(tmp_path / "p") as project:
        parent = project.start_run("parent")
        child = project.start_run("child", parent=True)
        for step in range(20):
            project.log_metric("loss", 1.0 / (step + 1), run=parent)
            project.log_metric("loss", 2.0 / (step + 1), run=child)
        with write_locked(project.store):
            with pytest.raises(StoreError, match="database is locked"):
                project.end_run(run=parent)
            pending = project.pending()
            assert sorted((r[0], r[3]) for r in pending) == sorted(
                (r.run_id, s) for r in (parent, child) for s in range(20)
            )
            assert project.active_run() is child  # nothing ended: it can be retried
        assert project.end_run(run=parent) is parent
        assert project.pending() == []
        assert project.active_run() is None
        for run, scale in ((parent, 1.0), (child, 2.0)):
            rows = project.store.metric_history(run.run_id, "loss")
            assert [(s, v) for s, v, _ in rows] == [(s, scale / (s + 1)) for s in range(20)]
            assert project.store.run_record(run.run_id)["status"] == "finished"


def test_runs_reaps_dead_runs_and_lookups_do_not(store: Store) -> None:
    with ml.start_run("remote") as run:
        pass
    store.update_run(run.run_id, status="running", host="elsewhere", heartbeat=1.0, end_time=None)
    assert ml.get_run("remote").status == "running"  # a lookup reads, it does not reap
    assert ml.runs().loc[0, "status"] == "killed"
    assert ml.get_run("remote").status == "killed"
    assert ml.default_project().reap_dead_runs() == []  # already marked


def test_reap_dead_runs_keeps_live_and_own_runs(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    with ml.Project(tmp_path / "s") as project:
        mine = project.start_run("mine")
        with ml.Project(tmp_path / "s") as other:
            theirs = other.start_run("theirs")
        store.update_run(theirs.run_id, status="running", end_time=None, pid=2**22 + 7)
        dead = store.reap_dead_runs(
            host=mine.info["host"], alive=lambda pid, start: False, keep={mine.run_id}
        )
        assert dead == [theirs.run_id]
        assert project.get_run("mine").status == "running"
        assert project.get_run("theirs").status == "killed"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (also inside functions), relative ones made absolute."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names |= {f"{module}.{a.name}" for a in node.names}
    return names


def test_the_store_layer_imports_nothing_above_it() -> None:
    for path in sorted((PACKAGE / "store").glob("*.py")):
        above = {
            n
            for n in _imports(path)
            if n.startswith(("mlops_lab.tracking", "mlops_lab.project", "mlops_lab.registry"))
        }
        assert not above, f"{path.name} imports {sorted(above)}"
    code = (
        "import sys, mlops_lab.store, mlops_lab.store.merge\n"
        "bad = [m for m in sys.modules if m.startswith(('mlops_lab.tracking', 'mlops_lab.project'))]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registry_and_data_functions_take_a_project(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X, y = np.array([[0.0], [1.0], [0.2], [0.8]]), np.array([0, 1, 0, 1])
    frame = pd.DataFrame({"x": X[:, 0], "y": y})
    with ml.Project(tmp_path / "p") as project:
        with project.start_run("train") as run:
            project.log_model(LogisticRegression().fit(X, y))
            digest = ml.log_dataset(frame, "train", project=project)
        ml.register_model(run.run_id, "clf", alias="champion", project=project)
        assert ml.get_model_version("clf@champion", project=project).run_id == run.run_id
        assert list(ml.models(project=project)["name"]) == ["clf"]
        model = ml.load_model("clf@champion", project=project)
        assert model.predict([[0.9]]).tolist() == [1]
        with pytest.raises(InvalidArgumentError, match="registry reference"):
            project.load_model("clf@champion")
        report = ml.validate(frame, against=run.run_id, project=project, record=False)
        assert report.passed
        assert project.store.dataset(digest) is not None
    assert ml.models().empty  # the default project's registry is untouched
    with pytest.raises(RunNotFoundError):
        ml.get_run("train")
