"""What a run records about where it ran: environment, git, host, process, source.

Everything here is cheap on the run's start path: the package list is read
once per process (again only when a ``site-packages`` folder changes), git's
commit and branch are read from the files under ``.git/`` without starting a
process, and only the dirty flag runs ``git status``: once on a process's first
run in a repository, then in one background thread for the whole process, at
most once a second per repository (see the git section below).
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

NOTEBOOK_ENV_VAR = "MLOPS_LAB_NOTEBOOK"


def _site_dirs_key() -> tuple:
    """The folders packages are installed in, with their modification times.

    The working folder (``''`` on a kernel's ``sys.path``) is left out: its time
    changes with every file a notebook writes, and installed packages record
    their metadata in site-packages (an editable install too).
    """
    key = []
    for entry in sys.path:
        if entry in ("", "."):
            continue
        try:
            key.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            continue
    return tuple(key)


def environment() -> dict[str, Any]:
    """Python, platform and installed packages, with ``env_id`` (a digest of them)."""
    return dict(_environment(_site_dirs_key()))


@functools.lru_cache(maxsize=1)
def _environment(site_dirs: tuple) -> dict[str, Any]:
    """The environment, read again only when a folder of ``sys.path`` changed (``site_dirs``)."""
    from importlib import metadata  # 20 ms of email and zipfile modules: at the first run

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
    return {"env_id": env_id, "python": python, "platform": plat, "packages_json": packages_json}


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
#
# Commit and branch come from the files under ``.git/`` (HEAD, loose refs,
# packed-refs, a worktree's ``gitdir``): a few reads, no process. The dirty flag
# needs ``git status``: once on the first run of a process in a repository (at
# most :data:`GIT_FIRST_TIMEOUT_S`), then by ONE background thread for the whole
# process, at most once per :data:`GIT_REFRESH_S` per repository: a run starting
# meanwhile is recorded with the last answer (when HEAD, its ref and the index are
# unchanged since) and corrected if the next status, started after the run, says
# otherwise. Reading a run back (``Run.info``) or exiting waits for that answer,
# without the rate limit, so the flag read is the one for the tree as the run saw it.
# The process's one :class:`GitWatcher` is a process resource of the project holder
# (:func:`mlops_lab.project.git_watcher`); a forked child makes its own.

GIT_REFRESH_S = 1.0
GIT_STATUS_TIMEOUT_S = 20.0
# The first run of a process in a repository asks git status itself, for this long at
# most (then the background thread takes over), so that runs after it start from a
# known answer instead of each waiting for a correction.
GIT_FIRST_TIMEOUT_S = 0.5


def git_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` upwards that holds a ``.git`` (dir or file)."""
    folder = os.fspath(start)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return Path(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _read(path: str) -> str | None:
    # os.open/os.read: a text-mode open() costs ten times more than these small files.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 1 << 20).decode("utf-8", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def _git_dirs(root: str) -> tuple[str, str]:
    """``(gitdir, commondir)``: where HEAD and the index live, and where refs live."""
    dot_git = os.path.join(root, ".git")
    gdir = dot_git
    if os.path.isfile(dot_git):  # a worktree or submodule: "gitdir: <path>"
        text = _read(dot_git) or ""
        target = text.removeprefix("gitdir:").strip()
        gdir = os.path.normpath(os.path.join(root, target))
    common = gdir
    pointer = _read(os.path.join(gdir, "commondir"))
    if pointer:
        common = os.path.normpath(os.path.join(gdir, pointer))
    return gdir, common


def _packed_ref(common: str, ref: str) -> str | None:
    text = _read(os.path.join(common, "packed-refs"))
    if not text:
        return None
    suffix = " " + ref
    for line in text.splitlines():
        if line.endswith(suffix) and not line.startswith(("#", "^")):
            return line.split(" ", 1)[0]
    return None


def _resolve_ref(gdir: str, common: str, ref: str, depth: int = 0) -> str | None:
    for folder in (gdir, common):
        value = _read(os.path.join(folder, ref))
        if value:
            if value.startswith("ref:") and depth < 5:  # a symbolic ref to another ref
                return _resolve_ref(gdir, common, value[4:].strip(), depth + 1)
            return value
    return _packed_ref(common, ref)


def _head_of(gdir: str, common: str, head: str | None) -> tuple[str | None, str | None]:
    if not head:
        return None, None
    if not head.startswith("ref:"):
        return head, None  # detached
    ref = head[4:].strip()
    return _resolve_ref(gdir, common, ref), ref.removeprefix("refs/heads/")


def git_head(root: Path) -> tuple[str | None, str | None]:
    """``(commit, branch)`` of the repository at ``root``, read from its files.

    A detached HEAD has no branch; a branch with no commit yet has no commit.
    """
    gdir, common = _git_dirs(os.fspath(root))
    return _head_of(gdir, common, _read(os.path.join(gdir, "HEAD")))


def _stat_key(path: str) -> tuple[int, int, int] | None:
    # git rewrites HEAD, refs and the index through a lock file renamed over the old
    # one, so the inode changes on every write even within one mtime tick.
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=64)
def _key_paths(gdir: str, common: str, head: str | None) -> tuple[str, ...]:
    ref = head[4:].strip() if head and head.startswith("ref:") else None
    paths = [os.path.join(gdir, "HEAD"), os.path.join(gdir, "index")]
    if ref:
        paths.append(os.path.join(gdir, ref))
        if common != gdir:
            paths.append(os.path.join(common, ref))
    return tuple(paths)


def _repo_key(gdir: str, common: str, head: str | None) -> tuple:
    """What changes when a commit, checkout, reset or ``git add`` happens.

    ``packed-refs`` counts only when the branch has no loose ref (a loose one wins).
    """
    key = (head, *map(_stat_key, _key_paths(gdir, common, head)))
    if len(key) > 3 and all(k is None for k in key[3:]):
        key += (_stat_key(os.path.join(common, "packed-refs")),)
    return key


def git_dirty(root: Path, timeout: float = GIT_STATUS_TIMEOUT_S) -> bool | None:
    """Does ``git status`` list anything (changed, staged or untracked files)?

    ``None`` when git is not installed or cannot tell. ``--no-optional-locks``
    keeps status from rewriting the index, as editors' git integrations do.
    """
    git = shutil.which("git")
    if git is None:
        return None
    try:
        out = subprocess.run(
            [git, "--no-optional-locks", "status", "--porcelain"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip())


class _Repo:
    """One repository's last ``git status`` answer and the runs waiting for the next."""

    __slots__ = (
        "asked",
        "branch",
        "commit",
        "common",
        "dirty",
        "gdir",
        "head",
        "head_stat",
        "key",
        "last_start",
        "ref_key",
        "root",
        "waiting",
    )

    def __init__(self, root: str, gdir: str, common: str) -> None:
        self.root = root
        self.gdir = gdir
        self.common = common
        self.head_stat: tuple | None = None
        self.head: str | None = None
        self.ref_key: tuple | None = None  # _repo_key when commit and branch were read
        self.commit: str | None = None
        self.branch: str | None = None
        self.dirty: bool | None = None
        self.key: tuple | None = None  # _repo_key when ``dirty`` was asked for
        self.last_start = -math.inf
        self.waiting: list[tuple[Callable[[bool | None], None], bool | None]] = []
        self.asked = False  # has a run of this process asked git status here yet?


class GitWatcher:
    """The process's git state: repositories seen, and the one thread running status."""

    def __init__(self, interval: float = GIT_REFRESH_S) -> None:
        self.interval = interval
        self._repos: dict[str, _Repo] = {}
        self._roots: dict[str, str] = {}
        self._cond = threading.Condition()
        self._urgent = False
        self._busy = False
        self._thread: threading.Thread | None = None

    def info(
        self, start: Path, on_dirty: Callable[[bool | None], None], *, retry: bool = True
    ) -> dict[str, Any]:
        """Commit, branch, root and the dirty flag as last known; ``on_dirty`` corrects it.

        ``on_dirty(flag)`` is called from the background thread, only when the first
        ``git status`` started after this call disagrees with the flag returned here.
        """
        start_s = os.fspath(start)
        root = self._root(start_s)
        if root is None:
            return {}
        repo = self._repos.get(root)
        if repo is None:
            gdir, common = _git_dirs(root)
            repo = self._repos[root] = _Repo(root, gdir, common)
        key = _repo_key(repo.gdir, repo.common, repo.head)
        if key[1] is None and retry:  # the repository is gone, moved or re-created
            self._roots.pop(start_s, None)
            repo.gdir, repo.common = _git_dirs(root)
            repo.head_stat = repo.ref_key = repo.key = None
            return self.info(start, on_dirty, retry=False)
        if key[1] is None or key[1] != repo.head_stat:  # HEAD itself was rewritten
            head_path = os.path.join(repo.gdir, "HEAD")
            repo.head_stat, repo.head = key[1], _read(head_path)
            key = _repo_key(repo.gdir, repo.common, repo.head)
            repo.head_stat = key[1]
        if key != repo.ref_key:
            repo.ref_key = key
            repo.commit, repo.branch = _head_of(repo.gdir, repo.common, repo.head)
        if not repo.asked:
            repo.asked = True
            started = time.monotonic()
            dirty = git_dirty(Path(root), timeout=GIT_FIRST_TIMEOUT_S)
            if dirty is not None:
                with self._cond:
                    repo.dirty, repo.key, repo.last_start = dirty, key, started
                return self._record(repo, dirty)
        known = repo.dirty if repo.key == key else None
        with self._cond:
            # Wake the thread only if it has not already scheduled this repository:
            # a wake-up per run would make every run contend for the GIL.
            if not repo.waiting:
                self._ensure_thread()
                self._cond.notify()
            repo.waiting.append((on_dirty, known))
        return self._record(repo, known)

    @staticmethod
    def _record(repo: _Repo, dirty: bool | None) -> dict[str, Any]:
        return {
            "git_commit": repo.commit,
            "git_branch": repo.branch,
            "git_root": repo.root,
            "git_dirty": None if dirty is None else int(dirty),
        }

    def _root(self, start: str) -> str | None:
        # The repository found from ``start`` last time, while its HEAD is there (checked
        # by the caller's stat: a HEAD gone sends it back here).
        root = self._roots.get(start)
        if root is not None:
            return root
        found = git_root(Path(start))
        root = None if found is None else os.fspath(found)
        if root is not None:
            self._roots[start] = root
        return root

    @property
    def pending(self) -> bool:
        return self._busy or any(repo.waiting for repo in list(self._repos.values()))

    def wait(self, timeout: float) -> bool:
        """Run the pending checks now (no rate limit) and wait up to ``timeout`` seconds.

        Returns False if some check had not answered by then.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            if not self.pending:
                return True
            self._urgent = True
            self._ensure_thread()
            self._cond.notify_all()
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="mlops-lab-git", daemon=True)
            self._thread.start()

    def _next(self) -> _Repo:
        """The repository whose status is due, waiting (under the lock) until one is."""
        while True:
            now = time.monotonic()
            due: float | None = None
            for repo in self._repos.values():
                if not repo.waiting:
                    continue
                at = now if self._urgent else repo.last_start + self.interval
                if at <= now:
                    return repo
                due = at if due is None else min(due, at)
            self._urgent = False
            self._cond.wait(None if due is None else due - now)

    def _loop(self) -> None:
        while True:
            with self._cond:
                repo = self._next()
                waiting, repo.waiting = repo.waiting, []
                repo.last_start = time.monotonic()
                self._busy = True
            try:
                head = _read(os.path.join(repo.gdir, "HEAD"))
                key = _repo_key(repo.gdir, repo.common, head)
                dirty = git_dirty(Path(repo.root))
                repo.dirty, repo.key = dirty, key
                for on_dirty, known in waiting:
                    if dirty is not None and dirty != known:
                        try:
                            on_dirty(dirty)
                        except Exception:  # the store may be gone; the flag is a nicety
                            pass
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


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
