"""The layers of DESIGN.md hold: ``lint-imports`` keeps every contract of pyproject.toml.

The contracts are run the way ``scripts/check`` runs them, in a subprocess from the
checkout's root; a second test breaks a layer in a copy of the package (with an import
inside a function, the kind a grep for top-level imports misses) and sees it reported.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_LINT = (
    "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
)


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LINT],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_import_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_against_the_layers_is_reported(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        ROOT / "mlops_lab",
        tmp_path / "mlops_lab",
        ignore=lambda folder, names: (
            [n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir()]
            + [n for n in names if n in ("__pycache__", "labextension")]
        ),
    )
    errors = tmp_path / "mlops_lab" / "errors.py"
    errors.write_text(
        errors.read_text()
        + "\n\ndef _upward() -> object:\n    from .magics import arguments\n\n    return arguments\n"
    )
    result = _lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "mlops_lab.errors is not allowed to import mlops_lab.magics" in result.stdout
