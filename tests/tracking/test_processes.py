"""Real processes against one store: concurrent writers, dead processes, scripts, git."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mlops_lab as ml


def _python(
    code: str, cwd: Path, *, check: bool = True, script: Path | None = None
) -> subprocess.CompletedProcess:
    if script is not None:
        script.write_text(textwrap.dedent(code))
        args = [sys.executable, str(script)]
    else:
        args = [sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=check,
        env=os.environ.copy(),
        timeout=300,
    )


WRITER = """
import sys, mlops_lab as ml
worker = int(sys.argv[1])
for r in range(5):
    with ml.start_run(f"w{worker}-r{r}", experiment="concurrency"):
        ml.log_params({"worker": worker, "r": r})
        for step in range(400):
            ml.log_metric("loss", 1.0 / (step + 1), step=step)
            if step % 50 == 0:
                ml.set_tag("progress", str(step))
                ml.flush()
"""


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(store_root: Path, tmp_path: Path, store) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(w)], cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        for w in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "locked" not in err
    frame = ml.runs(experiment="concurrency")
    assert len(frame) == 30
    assert set(frame["status"]) == {"finished"}
    assert store.db.read_one("SELECT count(*) FROM metrics")[0] == 30 * 400
    assert store.db.read_one("SELECT count(*) FROM params")[0] == 30 * 2
    assert (frame["metrics.loss"] == 1.0 / 400).all()
    conn_check = store.db.read_one("PRAGMA integrity_check")[0]
    assert conn_check == "ok"


def test_a_run_whose_process_died_is_killed(tmp_path: Path) -> None:
    _python(
        """
        import os, mlops_lab as ml
        ml.start_run("doomed")
        ml.log_metric("x", 1.0)
        ml.flush()
        os._exit(9)
        """,
        tmp_path,
        check=False,
    )
    run = ml.get_run("doomed")
    assert run.status == "running"  # a lookup only reads; listing the runs reaps
    assert ml.runs().loc[0, "status"] == "killed"
    assert run.status == "killed"
    assert run.metrics == {"x": 1.0}


def test_a_stale_heartbeat_on_another_host_is_killed(store) -> None:
    with ml.start_run("remote") as run:
        pass
    store.update_run(run.run_id, status="running", host="elsewhere", heartbeat=1.0, end_time=None)
    ml.runs()
    assert ml.get_run("remote").status == "killed"


def test_a_live_run_in_another_process_stays_running(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import mlops_lab as ml, sys, time\nml.start_run('alive')\nprint('up', flush=True)\nsys.stdin.read()",
        ],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "up"
        assert list(ml.runs()["status"]) == ["running"]  # reaping leaves a live process alone
        assert ml.get_run("alive").status == "running"
    finally:
        proc.communicate("", timeout=60)
    assert ml.get_run("alive").status == "finished"  # closed at interpreter exit


def test_a_script_records_its_source_and_exit_flushes(tmp_path: Path) -> None:
    _python(
        """
        import mlops_lab as ml
        ml.start_run("script-run")
        for i in range(10):
            ml.log_metric("m", i)
        """,
        tmp_path,
        script=tmp_path / "train.py",
    )
    run = ml.get_run("script-run")
    assert run.status == "finished"
    assert len(run.metric_history("m")) == 10
    assert run.info["source_type"] == "script"
    assert run.info["source_path"] == str(tmp_path / "train.py")
    assert run.cells[0]["kind"] == "script"
    assert 'ml.start_run("script-run")' in run.cells[0]["source"]


def test_a_script_that_raises_leaves_the_run_failed(tmp_path: Path) -> None:
    result = _python(
        """
        import mlops_lab as ml
        ml.start_run("crash")
        raise RuntimeError("bad data")
        """,
        tmp_path,
        check=False,
        script=tmp_path / "crash.py",
    )
    assert "bad data" in result.stderr
    assert ml.get_run("crash").status == "failed"


def test_git_commit_branch_and_dirty_flag(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "train.py").write_text("print('hi')\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    code = "import mlops_lab as ml\nwith ml.start_run('{name}'):\n    pass\n"
    (repo / "clean.py").write_text(code.format(name="clean"))
    subprocess.run([*git, "add", "clean.py"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "second"], cwd=repo, check=True)
    subprocess.run([sys.executable, "clean.py"], cwd=repo, check=True, env=os.environ.copy())
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert head != commit
    clean = ml.get_run("clean").git
    assert clean["commit"] == head and clean["branch"] == "main" and clean["root"] == str(repo)
    assert clean["dirty"] is False
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "dirty.py").write_text(code.format(name="dirty"))
    subprocess.run([sys.executable, "dirty.py"], cwd=repo, check=True, env=os.environ.copy())
    assert ml.get_run("dirty").git["dirty"] is True
