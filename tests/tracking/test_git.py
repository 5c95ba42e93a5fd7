"""Git capture in real repositories: commit, branch and dirty flag, at no per-run cost.

Every test drives real ``git`` in a temporary repository and a real Python process
running a script inside it, as a user's training script or notebook kernel would.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.tracking import capture

GIT = [
    "git",
    "-c",
    "user.name=t",
    "-c",
    "user.email=t@example.com",
    "-c",
    "init.defaultBranch=main",
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two committed files (the store lives outside it)."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    (path / "train.py").write_text("print('train')\n")
    (path / "util.py").write_text("X = 1\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "first")
    return path


def run_script(
    repo: Path, code: str, *, env: dict[str, str] | None = None, name: str = "job.py"
) -> subprocess.CompletedProcess:
    """Run ``code`` as a script inside ``repo`` (left untracked unless committed first)."""
    script = repo / name
    if not script.exists():
        script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=120,
        check=False,
    )


def commit_script(repo: Path, code: str, name: str = "job.py") -> None:
    (repo / name).write_text(textwrap.dedent(code))
    git(repo, "add", name)
    git(repo, "commit", "-qm", f"add {name}")


STEPS = """
import json, pathlib, subprocess, time
import mlops_lab as ml

seen = {}
def run(name):
    with ml.start_run(name) as r:
        pass
    seen[name] = r.git["dirty"]  # read back in the same process, right away

run("clean")
pathlib.Path("train.py").write_text("print('edited')\\n")
run("modified")
subprocess.run(["git", "checkout", "--", "train.py"], check=True)
run("restored")
pathlib.Path("notes.txt").write_text("untracked\\n")
run("untracked")
pathlib.Path("notes.txt").unlink()
pathlib.Path(".gitignore").write_text("*.log\\n")
subprocess.run(["git", "add", ".gitignore"], check=True)
run("staged")
subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "ignore"],
               check=True)
pathlib.Path("out.log").write_text("ignored\\n")
run("ignored-file")
print(json.dumps(seen))
"""


def test_dirty_flag_follows_edits_within_one_process(repo: Path) -> None:
    """Runs started in quick succession (inside the rate limit) each get their own flag."""
    commit_script(repo, STEPS)
    result = run_script(repo, STEPS)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {
        "clean": False,
        "modified": True,
        "restored": False,
        "untracked": True,  # git status lists it: "?? notes.txt"
        "staged": True,
        "ignored-file": False,  # .gitignore'd, git status does not list it
    }
    assert seen == expected
    # What the store holds, read by another process after the script exited.
    assert {name: ml.get_run(name).git["dirty"] for name in expected} == expected
    head = git(repo, "rev-parse", "HEAD")
    last = ml.get_run("ignored-file").git
    assert last == {"commit": head, "branch": "main", "dirty": False, "root": str(repo)}
    assert ml.get_run("clean").git["commit"] == git(repo, "rev-parse", "HEAD~1")


def test_commit_detached_head_and_packed_refs(repo: Path) -> None:
    code = """
    import json, subprocess, mlops_lab as ml
    out = {}
    def run(name):
        with ml.start_run(name) as r:
            pass
        out[name] = r.git
    run("on-main")
    subprocess.run(["git", "checkout", "-q", "--detach"], check=True)
    run("detached")
    subprocess.run(["git", "checkout", "-q", "main"], check=True)
    subprocess.run(["git", "pack-refs", "--all"], check=True)
    run("packed")
    subprocess.run(["git", "checkout", "-q", "-b", "feature/x"], check=True)
    run("new-branch")
    print(json.dumps(out))
    """
    commit_script(repo, code)
    head = git(repo, "rev-parse", "HEAD")
    result = run_script(repo, code)
    assert result.returncode == 0, result.stderr
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()  # packed, no loose ref
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["on-main"] == {"commit": head, "branch": "main", "dirty": False, "root": str(repo)}
    assert out["detached"] == {"commit": head, "branch": None, "dirty": False, "root": str(repo)}
    assert out["packed"]["commit"] == head and out["packed"]["branch"] == "main"
    assert out["new-branch"]["commit"] == head and out["new-branch"]["branch"] == "feature/x"


def test_read_from_files_match_git_in_a_worktree(repo: Path, tmp_path: Path) -> None:
    """A linked worktree: ``.git`` is a file pointing into the main repository."""
    git(repo, "pack-refs", "--all")
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", "-b", "side", str(other))
    (other / "side.py").write_text("S = 1\n")
    git(other, "add", "side.py")
    git(other, "commit", "-qm", "side work")
    assert (other / ".git").is_file()
    code = """
    import mlops_lab as ml
    with ml.start_run("in-worktree"):
        pass
    """
    commit_script(other, code)
    result = run_script(other, code)
    assert result.returncode == 0, result.stderr
    recorded = ml.get_run("in-worktree").git
    assert recorded == {
        "commit": git(other, "rev-parse", "HEAD"),
        "branch": "side",
        "dirty": False,
        "root": str(other),
    }
    assert capture.git_head(repo) == (git(repo, "rev-parse", "HEAD"), "main")


def _bin_with(tmp_path: Path, name: str, body: str | None) -> str:
    """A PATH holding only ``python`` (and a ``git`` script when ``body`` is given)."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "python").symlink_to(sys.executable)
    if body is not None:
        fake = folder / "git"
        fake.write_text(body)
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return str(folder)


EXIT_TIMER = """
import atexit, json, time
T = {}
atexit.register(lambda: print(json.dumps({"exit_s": time.perf_counter() - T["end"]})))
import mlops_lab as ml
with ml.start_run("job"):
    pass
T["end"] = time.perf_counter()
"""


def test_no_git_on_path_still_records_commit_and_branch(repo: Path, tmp_path: Path) -> None:
    commit_script(repo, EXIT_TIMER)
    env = {**os.environ, "PATH": _bin_with(tmp_path, "bin", None)}
    result = run_script(repo, EXIT_TIMER, env=env)
    assert result.returncode == 0, result.stderr
    recorded = ml.get_run("job").git
    assert recorded["commit"] == git(repo, "rev-parse", "HEAD")
    assert recorded["branch"] == "main"
    assert recorded["dirty"] is None  # nothing can tell without git


def test_exit_does_not_wait_for_a_hanging_git(repo: Path, tmp_path: Path) -> None:
    """A git that never answers (a huge repo, a network mount) costs one second at exit."""
    commit_script(repo, EXIT_TIMER)
    path = _bin_with(tmp_path, "slowbin", "#!/bin/sh\nsleep 30\n")
    result = run_script(repo, EXIT_TIMER, env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stderr
    exit_s = json.loads(result.stdout.strip().splitlines()[-1])["exit_s"]
    assert exit_s < 2.0
    recorded = ml.get_run("job").git
    assert recorded["commit"] == git(repo, "rev-parse", "HEAD") and recorded["dirty"] is None


def test_many_runs_start_few_git_processes(repo: Path, tmp_path: Path) -> None:
    """200 runs in a loop: git status runs at most once a second, never once per run.

    A run started within a second of the last status gets its flag from the next
    one (started after the run), so an edit made just before it is never missed.
    """
    real_git = shutil.which("git")
    assert real_git is not None
    calls = tmp_path / "git-calls.txt"
    path = _bin_with(
        tmp_path, "countbin", f'#!/bin/sh\necho "$@" >> {calls}\nexec {real_git} "$@"\n'
    )
    code = """
    import json, pathlib, time
    import mlops_lab as ml
    t = time.perf_counter()
    for i in range(200):
        run = ml.start_run(f"r{i}")
        ml.end_run()
    loop_s = time.perf_counter() - t
    in_loop = run.git["dirty"]  # reading waits for the status that covers the loop
    pathlib.Path("train.py").write_text("print('edited')\\n")
    with ml.start_run("after-edit") as last:
        pass
    print(json.dumps({"loop_s": loop_s, "in_loop": in_loop, "last": last.git["dirty"]}))
    """
    commit_script(repo, code)
    result = run_script(repo, code, env={**os.environ, "PATH": path})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    statuses = [line for line in calls.read_text().splitlines() if "status" in line]
    # One status for the first run, then at most one a second during the loop, one
    # for the last run (read back at once) and maybe one at exit.
    assert 1 <= len(statuses) <= int(out["loop_s"]) + 4, (len(statuses), out)
    assert out["in_loop"] is False and out["last"] is True
    assert ml.get_run("r199").git["dirty"] is False
    assert ml.get_run("after-edit").git["dirty"] is True
