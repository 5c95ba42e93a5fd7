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


def test_panel_arguments_reach_the_magic_unchanged(node_project: Path, shell, tmp_path) -> None:
    """What the panel writes into a ``%mlops`` line is read back as the same text, inert."""
    import json

    import mlops_lab as ml

    marker = tmp_path / "executed"
    names = [
        f"{{__import__('os').system('touch {marker}')}}",
        f"$(touch {marker}) $HOME {{x}} $$ it's",
    ]
    built = subprocess.run(
        [*jlpm(), "exec", "tsc", "-p", "tsconfig.test.json"],
        cwd=node_project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    script = (
        "const l = require('./build-test/src/logic.js');"
        f"console.log(JSON.stringify({json.dumps(names)}.map(l.magicArgument)));"
    )
    done = subprocess.run(
        ["node", "-e", script], cwd=node_project, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    shell.user_ns["x"] = "expanded"
    for name, argument in zip(names, json.loads(done.stdout), strict=True):
        with ml.start_run(name):
            pass
        view = shell.run_cell(f"%mlops show {argument}").result
        assert ml.get_run(name).run_id[:8] in repr(view)
    assert not marker.exists()
