"""Importing mlops_lab and loading the extension stay light; the public API is tidy.

Loading is checked in a fresh interpreter, so modules imported by other tests
do not hide a heavy import. Wall-clock times are measured by
``benchmarks/bench_tracking.py``, not asserted here (shared machines are noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys

import mlops_lab

HEAVY = ("plotly", "sklearn", "papermill", "fastapi")

_LOAD_EXT = (
    "import mlops_lab; "
    "from IPython.core.interactiveshell import InteractiveShell; "
    "ip = InteractiveShell.instance(); "
    "ip.run_line_magic('load_ext', 'mlops_lab'); "
    "import sys, json; "
    "print(json.dumps(sorted(m for m in ('plotly', 'sklearn', 'papermill', 'fastapi', 'pandas') "
    "if m in sys.modules)))"
)


def _modules_after(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_load_ext_imports_no_heavy_module() -> None:
    loaded = _modules_after(_LOAD_EXT)
    assert not [m for m in loaded if m in HEAVY], f"%load_ext mlops_lab imported {loaded}"


def test_import_imports_no_heavy_module() -> None:
    code = (
        "import mlops_lab, sys, json; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert _modules_after(code) == []


def test_all_is_sorted() -> None:
    assert mlops_lab.__all__ == sorted(mlops_lab.__all__)


def test_all_names_resolve() -> None:
    missing = []
    for name in mlops_lab.__all__:
        try:
            getattr(mlops_lab, name)
        except (AttributeError, ImportError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing, missing


def test_dir_lists_all() -> None:
    assert set(mlops_lab.__all__) <= set(dir(mlops_lab))


def test_the_type_checking_imports_are_the_export_table() -> None:
    """``TYPE_CHECKING`` re-imports every lazy export, and nothing else (one table)."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(mlops_lab.__file__).read_text())
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    imported = {
        alias.asname or alias.name
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == set(mlops_lab._EXPORTS)
