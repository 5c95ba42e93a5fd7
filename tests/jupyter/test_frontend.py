"""The panel's TypeScript: ESLint and the unit tests of its logic (``jlpm lint``, ``jlpm test``).

Needs Node.js and a source checkout (``extension/``); the Node modules come
from ``yarn.lock`` (``jlpm install``, which refuses to change the lockfile in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXTENSION = Path(__file__).parents[2] / "extension"


def jlpm() -> list[str]:
    for candidate in (Path(sys.executable).parent / "jlpm", shutil.which("jlpm")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    return []


@pytest.fixture(scope="module")
def node_project() -> Path:
    if not (EXTENSION / "package.json").exists():
        pytest.skip("no extension/ sources (not a source checkout)")
    if shutil.which("node") is None or not jlpm():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("the TypeScript checks need node and jlpm (jupyter_builder) in CI")
        pytest.skip("needs node and jlpm (jupyter_builder)")
    if not (EXTENSION / "node_modules" / ".bin" / "eslint").exists():
        subprocess.run([*jlpm(), "install"], cwd=EXTENSION, check=True, timeout=600)
    return EXTENSION


@pytest.mark.parametrize("script", ["lint", "test"])
def test_typescript(node_project: Path, script: str) -> None:
    done = subprocess.run(
        [*jlpm(), script], cwd=node_project, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
