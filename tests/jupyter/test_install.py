"""An installed mlops-lab shows its panel in JupyterLab with no further step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def jupyter(tmp_path: Path, *args: str) -> str:
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(tmp_path / name.lower())
    done = subprocess.run(
        [sys.executable, "-m", "jupyter", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return ANSI.sub("", done.stdout + done.stderr)


def test_labextension_is_installed_and_enabled(tmp_path: Path) -> None:
    out = jupyter(tmp_path, "labextension", "list")
    assert re.search(r"mlops-lab v\S+ enabled\s+OK \(python, mlops-lab\)", out), out


def test_server_extension_is_enabled(tmp_path: Path) -> None:
    out = jupyter(tmp_path, "server", "extension", "list")
    assert re.search(r"mlops_lab\.jupyter\s+enabled", out), out
    assert re.search(r"mlops_lab\.jupyter\s+OK", out), out


@pytest.mark.parametrize("module", ["mlops_lab", "mlops_lab.magics"])
def test_import_stays_free_of_the_server_stack(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('tornado', 'jupyter_server', 'jupyterlab') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
