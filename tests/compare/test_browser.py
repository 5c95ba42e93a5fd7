"""``%mlops compare`` in JupyterLab, drawn by headless Chromium (Playwright).

Catches widget front-ends that do not match the kernel's widgets: the output
would then show as text ("Loading widget...") instead of a plotly figure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "compare.ipynb"


def _need_browser() -> None:
    missing = not Path(CHROMIUM).exists()
    try:
        import jupyterlab  # noqa: F401
        import playwright  # noqa: F401
    except ImportError:
        missing = True
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the browser test needs /usr/bin/chromium, jupyterlab and playwright")
        pytest.skip("needs /usr/bin/chromium, jupyterlab and playwright")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    _need_browser()
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / "demo.ipynb")
    dirs = {}
    for name in (
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_DATA_DIR",
        "JUPYTER_RUNTIME_DIR",
        "IPYTHONDIR",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
    ):
        dirs[name] = str(tmp_path / name.lower())
        os.makedirs(dirs[name], exist_ok=True)
    settings = Path(dirs["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    env = {**os.environ, **dirs, "MLOPS_LAB_HOME": str(tmp_path / ".mlops")}
    env.pop("MLOPS_LAB_WIDGETS", None)
    env.pop("CI", None)
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp_path / "lab.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail("jupyter lab exited:\n" + (tmp_path / "lab.log").read_text()[-2000:])
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        "jupyter lab did not answer:\n" + (tmp_path / "lab.log").read_text()[-2000:]
                    )
                time.sleep(0.25)
        yield url, token, tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.browser
def test_compare_widget_renders_in_jupyterlab(lab) -> None:
    from playwright.sync_api import sync_playwright

    url, token, tmp_path = lab
    artifacts = Path(os.environ.get("MLOPS_LAB_TEST_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{url}/lab/tree/demo.ipynb?token={token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
            page.wait_for_function(
                """async () => {
                  const w = window.jupyterapp.shell.currentWidget;
                  if (!w || !w.sessionContext) return false;
                  await w.sessionContext.ready;
                  const k = w.sessionContext.session?.kernel;
                  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
                }""",
                polling=250,
            )
            page.evaluate(
                "() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
            )
            page.wait_for_function(
                """() => {
                  const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
                  return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent));
                }""",
                polling=250,
            )
            output = page.locator(".jp-NotebookPanel .jp-OutputArea-output").last
            page.wait_for_selector(".jp-OutputArea-output .js-plotly-plot svg.main-svg")
            page.wait_for_selector(".jp-OutputArea-output .parcoords", state="attached")
            assert page.locator(".jp-OutputArea-output .js-plotly-plot").count() == 3
            scatter = page.locator(".jp-OutputArea-output .js-plotly-plot").nth(2)
            assert scatter.locator(".scatterlayer .point").count() == 4  # one point per run
            text = output.inner_text()
            assert "Loading widget" not in text and "<Comparison of" not in text
            assert "4 runs compared" in text
            shot = output.screenshot(path=str(artifacts / "compare-widget.png"))
            assert len(shot) > 10_000  # a drawn figure, not a blank box
        except Exception:
            page.screenshot(path=str(artifacts / "compare-failure.png"))
            raise
        finally:
            browser.close()
