"""A real JupyterLab in headless Chromium, for tests that drive the UI.

``jupyterlab`` (session scope) serves a temporary root folder on 127.0.0.1 with
a random token, with Jupyter's and IPython's folders kept out of HOME;
``lab_root`` is that folder: tests put notebooks and a store
(``lab_root / ".mlops"``, which the server and the kernels find) there. ``page`` is a fresh
Chromium page (Playwright, Debian's ``/usr/bin/chromium``, never a downloaded
browser); when a test fails, a screenshot and the server log tail go to
``tests/browser/artifacts/``.

Browser tests are marked ``browser``; without Chromium or Playwright they are
skipped with a reason, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
_PER_RUN_DIRS = (
    "JUPYTER_CONFIG_DIR",
    "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR",
    "IPYTHONDIR",
    "JUPYTERLAB_SETTINGS_DIR",
    "JUPYTERLAB_WORKSPACES_DIR",
)


def require_browser() -> None:
    """Skip (fail under CI=true) unless Chromium, Playwright and JupyterLab are here."""
    missing = [] if Path(CHROMIUM).exists() else [CHROMIUM]
    for module in ("playwright", "jupyterlab"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        reason = "browser tests need " + ", ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI installs chromium with apt and the [test] extra)")
        pytest.skip(reason)


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def open_url(self, path: str = "lab") -> str:
        return f"{self.url}/{path}?token={self.token}"

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder JupyterLab serves (and the kernels start in)."""
    return tmp_path_factory.mktemp("lab-root")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the server and its kernels: private Jupyter folders, no CI hints."""
    home = tmp_path_factory.mktemp("lab-home")
    env = {k: v for k, v in os.environ.items() if k not in ("MLOPS_LAB_HOME", "CI")}
    for name in _PER_RUN_DIRS:
        env[name] = str(home / name.lower())
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    settings = Path(env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    return env


@pytest.fixture(scope="session")
def jupyterlab(lab_root: Path, lab_env: dict[str, str]) -> Iterator[Lab]:
    """JupyterLab serving ``lab_root`` on 127.0.0.1 with a token."""
    require_browser()
    port, token = _free_port(), secrets.token_hex(16)
    log = lab_root.parent / f"{lab_root.name}-jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={lab_root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    lab = Lab(f"http://127.0.0.1:{port}", token, lab_root, log)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            env=lab_env,
            cwd=lab_root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail("jupyter lab exited:\n" + lab.log_tail())
                try:
                    urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail("jupyter lab did not answer in 60 s:\n" + lab.log_tail())
                    time.sleep(0.25)
            yield lab
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    # Module scope: Playwright's sync API keeps an asyncio loop running on the main
    # thread while it is open, which would break later asyncio-based tests.
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page (1400x1000, 60 s timeouts); a failing test leaves a screenshot."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-failure.png"))
        except Exception as exc:  # a crashed page must not hide the test's own error
            print(f"no failure screenshot: {exc}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def screenshot() -> object:
    """``screenshot(page_or_locator, name)``: save ``artifacts/<name>.png``, return its path."""

    def save(target: object, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        target.screenshot(path=str(path))  # type: ignore[attr-defined]
        return path

    return save


KERNEL_READY = """async () => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.sessionContext) return false;
  await w.sessionContext.ready;
  const k = w.sessionContext.session?.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


@pytest.fixture
def open_notebook(page: object, jupyterlab: Lab) -> object:
    """``open_notebook(path)``: open it in JupyterLab, wait until its kernel is idle."""

    def open_(path: str) -> None:
        page.goto(jupyterlab.open_url(f"lab/tree/{path}"))  # type: ignore[attr-defined]
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell")  # type: ignore[attr-defined]
        page.wait_for_function(KERNEL_READY, polling=250)  # type: ignore[attr-defined]

    return open_
