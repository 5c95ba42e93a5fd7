"""What a run records about where it ran: environment, git, host, process, source.

Everything here is cheap on the run's start path: the package list is read
once per process (again only when a ``site-packages`` folder changes), git's
commit and branch are read from the files under ``.git/`` without starting a
process, and only the dirty flag runs ``git status``, in a background thread
whose answer is written to the run when it arrives.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

NOTEBOOK_ENV_VAR = "MLOPS_LAB_NOTEBOOK"

_env_cache: tuple[tuple, dict[str, Any]] | None = None


def _site_dirs_key() -> tuple:
    key = []
    for entry in sys.path:
        try:
            key.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(key)


def environment() -> dict[str, Any]:
    """Python, platform and installed packages, with ``env_id`` (a digest of them)."""
    global _env_cache
    key = _site_dirs_key()
    if _env_cache is not None and _env_cache[0] == key:
        return _env_cache[1]
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            name, version = dist.metadata["Name"], dist.version
        except Exception:  # a distribution being installed or removed right now, or broken
            continue
        if name and name not in packages:
            packages[name] = version
    packages_json = json.dumps(dict(sorted(packages.items(), key=lambda kv: kv[0].lower())))
    python = platform.python_version()
    plat = platform.platform()
    env_id = hashlib.sha256(f"{python}\n{plat}\n{packages_json}".encode()).hexdigest()
    env = {"env_id": env_id, "python": python, "platform": plat, "packages_json": packages_json}
    _env_cache = (key, env)
    return env


def process() -> dict[str, Any]:
    """Host, user, pid and the pid's start time (tells a reused pid apart)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = None
    return {
        "host": socket.gethostname(),
        "user": user,
        "pid": os.getpid(),
        "pid_start": pid_start(os.getpid()),
        "python": platform.python_version(),
    }


def pid_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it are plain.
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int, start: str | None) -> bool:
    """Is the process that had ``pid`` (and started at ``start``) still running?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if start is not None:
        now = pid_start(pid)
        if now is not None and now != start:
            return False
    return True


# -- git ---------------------------------------------------------------------------


def git_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _git_dir(root: Path) -> Path:
    dot_git = root / ".git"
    if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
        target = dot_git.read_text().strip().removeprefix("gitdir:").strip()
        return (root / target).resolve()
    return dot_git


def git_head(root: Path) -> tuple[str | None, str | None]:
    """``(commit, branch)`` of the repository at ``root``, read from its files."""
    gdir = _git_dir(root)
    try:
        head = (gdir / "HEAD").read_text().strip()
    except OSError:
        return None, None
    if not head.startswith("ref:"):
        return head or None, None
    ref = head[4:].strip()
    branch = ref.removeprefix("refs/heads/")
    common = gdir
    if (gdir / "commondir").exists():
        common = (gdir / (gdir / "commondir").read_text().strip()).resolve()
    for folder in (gdir, common):
        try:
            return (folder / ref).read_text().strip(), branch
        except OSError:
            pass
    try:
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0], branch
    except OSError:
        pass
    return None, branch  # a branch with no commit yet


def git_dirty(root: Path) -> bool | None:
    """Does the work tree differ from HEAD (tracked files)? ``None`` if git cannot tell."""
    if shutil.which("git") is None:
        return None
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip())


_git_threads: list[threading.Thread] = []


def git_info(start: Path, on_dirty: Callable[[bool | None], None]) -> dict[str, Any]:
    """Commit, branch and root now; ``on_dirty`` is called later from a thread."""
    root = git_root(start)
    if root is None:
        return {}
    commit, branch = git_head(root)
    thread = threading.Thread(
        target=lambda: on_dirty(git_dirty(root)), name="mlops-lab-git", daemon=True
    )
    thread.start()
    _git_threads[:] = [t for t in _git_threads if t.is_alive()]
    _git_threads.append(thread)
    return {"git_commit": commit, "git_branch": branch, "git_root": str(root)}


def wait_for_git(timeout: float = 5.0) -> None:
    """Let pending dirty-flag checks land (called at interpreter exit)."""
    for thread in list(_git_threads):
        thread.join(timeout)


# -- source ------------------------------------------------------------------------


def ipython_shell() -> Any | None:
    """The running IPython shell, without importing IPython when it is not loaded."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    return get_ipython()


def notebook_path(shell: Any | None) -> str | None:
    """The path of the notebook a kernel runs, when anything tells it."""
    explicit = os.environ.get(NOTEBOOK_ENV_VAR)
    if explicit:
        return explicit
    if shell is not None:
        ns = getattr(shell, "user_ns", {})
        for name in ("__vsc_ipynb_file__", "__session__"):
            value = ns.get(name)
            if isinstance(value, str) and value.endswith(".ipynb"):
                return value
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb"):
        return session
    return None


def source() -> dict[str, Any]:
    """``source_type`` (notebook, interactive, script) and ``source_path``."""
    shell = ipython_shell()
    if shell is not None:
        path = notebook_path(shell)
        kind = "notebook" if path or "ipykernel" in sys.modules else "interactive"
        return {"source_type": kind, "source_path": path}
    script = sys.argv[0] if sys.argv and sys.argv[0] else None
    if script and os.path.isfile(script):
        return {"source_type": "script", "source_path": os.path.abspath(script)}
    return {"source_type": "interactive", "source_path": None}
