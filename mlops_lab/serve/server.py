"""Running the model server: in this process (:func:`serve`) or in the background (:func:`start_server`).

:func:`serve` resolves a bundle folder, a bundle archive or a model reference
(``name@alias``, a run id...; packaged on the fly into a temporary folder) and
runs uvicorn on it, bound to 127.0.0.1 unless told otherwise. With several
workers each one loads the bundle itself (uvicorn's app factory reads the
settings from the environment).

:func:`start_server` starts ``python -m mlops_lab serve`` as a subprocess
and returns a :class:`ServerHandle` once the server answers its readiness
check: ``.url``, ``.predict(df)``, ``.logs()``, ``.stop()``.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, MissingDependencyError, MlopsLabError
from .app import create_app
from .bundles import resolve_bundle

if TYPE_CHECKING:
    from ..project import Project

CONFIG_ENV = "MLOPS_LAB_SERVE_CONFIG"


def _uvicorn() -> Any:
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError(exc.name or "fastapi", "serve", "the model server") from exc
    return uvicorn


def parse_canary(text: str) -> tuple[str, float]:
    """``"iris@challenger:10%"`` (or ``:0.1``) as ``("iris@challenger", 0.1)``."""
    ref, sep, share = str(text).rpartition(":")
    try:
        value = float(share.rstrip("%")) / (100 if share.endswith("%") else 1)
    except ValueError:
        value = -1.0
    if not sep or not ref or not 0 < value < 1:
        raise InvalidArgumentError(
            f"--canary: expected MODEL:SHARE such as iris@challenger:10%, got {text!r}"
        )
    return ref, value


def serve(
    ref: Any,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    token: str | None = None,
    *,
    max_body_bytes: int = 5_000_000,
    max_rows: int = 10_000,
    unseen_categories: str = "reject",
    runtime: str = "auto",
    log_level: str = "warning",
    follow: bool = False,
    follow_interval: float = 2.0,
    shadow: str | None = None,
    canary: str | None = None,
) -> None:
    """Serve a model until interrupted (``mlops-lab serve``).

    Parameters
    ----------
    ref
        A bundle folder or ``.tar.gz``, or a model reference (``"name@champion"``, a run id).
    host
        The interface to bind; 127.0.0.1 (this machine only) unless told otherwise.
    token
        Require ``Authorization: Bearer TOKEN`` on every endpoint but the health checks.
    follow
        Follow ``ref`` (an alias such as ``iris@champion``, or a bundle folder): each new
        version is loaded, checked and swapped in without a failed request (see
        :mod:`.follow`).
    """
    uvicorn = _uvicorn()
    bundle = resolve_bundle(ref)
    options: dict[str, Any] = {
        "token": token,
        "max_body_bytes": max_body_bytes,
        "max_rows": max_rows,
        "unseen_categories": unseen_categories,
        "runtime": runtime,
    }
    if shadow:
        options["shadow"] = shadow
    if canary:
        options["canary"] = parse_canary(canary)
    if follow:
        if workers > 1:
            raise InvalidArgumentError("--follow serves with one worker (drop --workers)")
        options["follow"] = str(ref)
        options["follow_interval"] = follow_interval
    _record_deployment(bundle, f"http://{host}:{port}")
    print(
        f"mlops-lab: serving {bundle.name} version {bundle.version} "
        f"on http://{host}:{port} (docs at /docs)",
        file=sys.stderr,
        flush=True,
    )
    common = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": 5,
    }
    if workers <= 1:
        uvicorn.run(create_app(bundle, **options), **common)
        return
    os.environ[CONFIG_ENV] = json.dumps({"bundle": str(bundle.path), **options})
    uvicorn.run("mlops_lab.serve.server:app_from_env", factory=True, workers=workers, **common)


def _record_deployment(bundle: Any, url: str) -> None:
    """Note the deployment of a registered version in the project's store, when there is one.

    A bundle needs nothing from the store, so serving goes on without one; an
    existing store is never created by serving.
    """
    from ..store import Store, find_root

    meta = getattr(bundle, "metadata", {}) or {}
    version = str(meta.get("version", ""))
    root = find_root()
    if not version.isdigit() or not (root / "mlops.db").is_file():
        return
    try:
        from ..registry import record_event

        record_event(f"{meta['name']}/{version}", "deployed", target=url, store=Store(root))
    except MlopsLabError:
        pass  # a bundle of a version this store does not hold


def app_from_env() -> Any:
    """uvicorn's app factory for worker processes (settings in ``MLOPS_LAB_SERVE_CONFIG``)."""
    config = json.loads(os.environ[CONFIG_ENV])
    return create_app(config.pop("bundle"), **config)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ServerError(MlopsLabError):
    """The background server did not start, or answered a request with an error."""


class ServerHandle:
    """A model server running in a subprocess.

    Examples
    --------
    >>> server = ml.start_server("churn@champion")     # doctest: +SKIP
    >>> server.predict(X.head())                        # doctest: +SKIP
    >>> server.stop()                                   # doctest: +SKIP
    """

    def __init__(
        self, process: subprocess.Popen, url: str, log_path: Path, *, token: str | None
    ) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self.token = token

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def _request(
        self, path: str, body: bytes | None = None, ctype: str = "application/json"
    ) -> Any:
        headers = {"Content-Type": ctype}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise ServerError(f"{self.url}{path} answered {exc.code}: {message}") from None
        except urllib.error.URLError as exc:
            raise ServerError(f"{self.url} is not answering: {exc.reason}") from None

    def predict(self, X: Any, *, method: str = "predict") -> Any:
        """Send ``X`` (a DataFrame or rows) to ``/invocations``; return the predictions."""
        import numpy as np

        if hasattr(X, "to_json"):
            split = json.loads(X.to_json(orient="split", index=False))
        else:
            split = {"data": np.asarray(X).tolist()}
        body = json.dumps({"dataframe_split": split, "params": {"method": method}}).encode()
        return np.asarray(self._request("/invocations", body)["predictions"])

    def metadata(self) -> dict[str, Any]:
        return self._request("/version")

    def logs(self) -> str:
        """What the server printed (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @property
    def returncode(self) -> int | None:
        """The server's exit code (``None`` while it runs; ``-15`` after a plain stop)."""
        return self.process.returncode

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); see :attr:`returncode`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        code = self.process.returncode
        if self.running:
            state = "running"
        elif code in (0, -signal.SIGTERM):
            state = "stopped"
        else:
            state = f"exited with code {code}"
        return f"<ServerHandle {self.url} pid {self.process.pid} {state}>"

    def _repr_html_(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<div>Model server <a href='{self.url}/docs' target='_blank'>{self.url}</a> "
            f"&middot; pid {self.process.pid} &middot; {state}</div>"
        )


def start_server(
    ref: Any,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    token: str | None = None,
    timeout: float = 60.0,
    extra_args: list[str] | None = None,
    project: Project | None = None,
) -> ServerHandle:
    """Start ``mlops-lab serve REF`` in a subprocess and wait until it is ready.

    The server reads (and records deployments in) the store of ``project``
    (default: :func:`~mlops_lab.default_project`).
    """
    from ..project import default_project

    port = port or free_port(host)
    log_path = Path(tempfile.mkstemp(prefix="mlops-serve-", suffix=".log")[1])
    ref_text = str(getattr(ref, "path", None) or getattr(ref, "run_id", None) or ref)
    cmd = [
        sys.executable,
        "-m",
        "mlops_lab",
        "serve",
        ref_text,
        "--host",
        host,
        "--port",
        str(port),
    ]
    cmd += ["--workers", str(workers), *(extra_args or [])]
    env = dict(os.environ)
    env["MLOPS_LAB_HOME"] = str((project or default_project()).store.root)
    if token:
        env["MLOPS_LAB_SERVE_TOKEN"] = token
    with open(log_path, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    handle = ServerHandle(process, f"http://{host}:{port}", log_path, token=token)
    atexit.register(handle.stop)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(
                f"the server exited with code {process.returncode}:\n{handle.logs()[-2000:]}"
            )
        try:
            with urllib.request.urlopen(handle.url + "/v2/health/ready", timeout=1) as resp:
                if resp.status == 200:
                    return handle
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    handle.stop()
    raise ServerError(f"the server was not ready within {timeout:.0f}s:\n{handle.logs()[-2000:]}")
