"""`mlops-lab demo`, the README's main command, run for real in a temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_lab.store import Store
from mlops_lab.store.query import runs_frame


@pytest.mark.kernel
def test_demo_runs_end_to_end_and_its_summary_matches_the_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_LAB_HOME"}
    result = subprocess.run(
        [sys.executable, "-m", "mlops_lab.cli", "demo", "--dir", str(tmp_path / "demo")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    store = Store(tmp_path / "demo" / ".mlops")
    frame = runs_frame(store, order_by="metrics.test_accuracy desc")
    assert f"runs tracked:   {len(frame)}" in out
    assert len(frame) >= 13
    assert set(frame["status"]) == {"finished"}
    best = frame.iloc[0]
    match = re.search(r"best run:\s+(\S+) \((\w{8})\), test_accuracy ([0-9.]+)", out)
    assert match, out
    assert match.group(2) == best["run_id"][:8]
    assert float(match.group(3)) == pytest.approx(best["metrics.test_accuracy"], abs=1e-4)
    executed = tmp_path / "demo" / "notebooks" / "01-track-and-compare.ipynb"
    assert executed.is_file()
    # The hand-made run kept its cells and its model.
    baseline = frame[frame["name"] == "logistic-baseline"].iloc[0]
    cells = store.cells(baseline["run_id"])
    assert cells[0]["source"].startswith("%mlops start logistic-baseline")
    assert any(a["kind"] == "model" for a in store.artifacts(baseline["run_id"]))
    record = store.run_record(baseline["run_id"])
    assert record["source_type"] == "notebook"
    assert record["source_path"].endswith("01-track-and-compare.ipynb")
