"""The extension's cell capture belongs to the shell it is loaded in.

Two real ``InteractiveShell`` objects in one process, each with ``%load_ext
mlops_lab``: each records its own cells; unloading one leaves the other
recording; loading again keeps a shell's history, loading after unloading
starts a new one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from mlops_lab import magics as magics_module


def _run(shell: InteractiveShell, code: str) -> None:
    """Run a cell as a front-end does (stored in the history, errors raised)."""
    shell.run_cell(code, store_history=True).raise_error()


def _sources(shell: InteractiveShell) -> list[str]:
    return [c["source"] for c in magics_module.capture(shell).history]


@pytest.fixture
def shells(store_root) -> Iterator[tuple[InteractiveShell, InteractiveShell]]:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    made = (InteractiveShell(config=config), InteractiveShell(config=config))
    for shell in made:
        _run(shell, "%load_ext mlops_lab")
    yield made
    for shell in made:
        magics_module.unload(shell)
        shell.history_manager.end_session()
    InteractiveShell.clear_instance()


def test_each_shell_records_its_own_cells(shells) -> None:
    one, two = shells
    _run(one, "a = 1")
    _run(two, "b = 2")
    _run(one, "%mlops start in-one")
    _run(one, "%mlops end")

    assert magics_module.capture(one) is not magics_module.capture(two)
    assert magics_module.capture(one).shell is one
    assert _sources(one) == ["%load_ext mlops_lab", "a = 1", "%mlops start in-one", "%mlops end"]
    assert _sources(two) == ["%load_ext mlops_lab", "b = 2"]
    assert magics_module.extension(one).cell_capture is magics_module.capture(one)


def test_unloading_one_shell_leaves_the_other_recording(shells) -> None:
    one, two = shells
    magics_module.unload(one)
    _run(one, "a = 1")
    _run(two, "b = 2")

    assert magics_module.capture(one) is None
    assert _sources(two) == ["%load_ext mlops_lab", "b = 2"]


def test_loading_again_keeps_the_history_and_reloading_starts_anew(shells) -> None:
    one, two = shells
    _run(one, "a = 1")
    _run(two, "b = 2")
    kept = magics_module.capture(two)

    magics_module.load(two)  # loading twice changes nothing
    _run(two, "c = 3")
    _run(one, "%reload_ext mlops_lab")
    _run(one, "d = 4")

    assert magics_module.capture(two) is kept
    assert _sources(two) == ["%load_ext mlops_lab", "b = 2", "c = 3"]
    assert _sources(one) == ["%reload_ext mlops_lab", "d = 4"]
    registered = [c for c in one.configurables if isinstance(c, magics_module.MlopsMagics)]
    assert registered == [magics_module.extension(one)]  # %config sees one instance


def test_capture_cells_setting_is_the_shells_own(shells) -> None:
    one, two = shells
    _run(one, "%config MlopsMagics.capture_cells = False")
    _run(one, "a = 1")
    _run(two, "b = 2")

    assert "a = 1" not in _sources(one)
    assert _sources(two) == ["%load_ext mlops_lab", "b = 2"]
