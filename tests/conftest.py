"""Shared fixtures: a fresh store per test, and a real IPython shell with the extension."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_lab.project import set_default_root
from mlops_lab.store import Store
from mlops_lab.tracking import session as session_module


def _fail_skips_under_ci(report):  # type: ignore[no-untyped-def]
    """Under CI=true a skip fails: nothing the suite needs may be silently missing."""
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("CI") == "true":
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which must run every test: {report.longrepr}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    return _fail_skips_under_ci((yield))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):  # type: ignore[no-untyped-def]
    return _fail_skips_under_ci((yield))


@pytest.fixture(autouse=True)
def store_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own store under tmp_path (MLOPS_LAB_HOME) and a clean session."""
    root = tmp_path / ".mlops"
    monkeypatch.setenv("MLOPS_LAB_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    set_default_root(None)
    session_module.reset()
    yield root
    session_module.reset()
    set_default_root(None)


@pytest.fixture
def store(store_root: Path) -> Store:
    return session_module.session().project.store


@pytest.fixture
def shell(store_root: Path) -> Iterator[object]:
    """A real InteractiveShell with %load_ext mlops_lab; ``run_cell`` re-raises errors."""
    from IPython.core.interactiveshell import InteractiveShell

    import mlops_lab.magics as magics_module

    class TestingShell(InteractiveShell):
        def run_cell(self, raw_cell, *args, **kwargs):
            result = super().run_cell(raw_cell, *args, **kwargs)
            # %%mlops run executes its body with a nested run_cell: let the magic see errors.
            if kwargs.get("store_history") is False:
                return result
            result.raise_error()
            return result

    ip = TestingShell.instance()
    ip.run_cell("%load_ext mlops_lab")
    ip.extension_manager.loaded.add("mlops_lab")
    yield ip
    magics_module.unload(ip)
    ip.extension_manager.loaded.discard("mlops_lab")
    TestingShell.clear_instance()
    InteractiveShell.clear_instance()
