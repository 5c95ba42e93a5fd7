"""`mlops-lab demo`, the README's main command, run once for real in a temporary folder.

The demo executes the four example notebooks with papermill in one fresh store;
:func:`demo_result` runs it once per session so that ``test_notebooks.py`` asserts
on the same executed notebooks instead of running them a second time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_lab.demo import NOTEBOOKS
from mlops_lab.store import Store
from mlops_lab.store.query import runs_frame

pytestmark = pytest.mark.kernel


@dataclass
class DemoResult:
    folder: Path
    stdout: str
    stderr: str
    seconds: float

    @property
    def store(self) -> Store:
        return Store(self.folder / ".mlops")

    @property
    def work(self) -> Path:
        return self.folder / "notebooks"


_result: DemoResult | None = None


def demo_result(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    """Run ``mlops-lab demo`` in a subprocess once per session (and fail loudly if it fails)."""
    global _result
    if _result is None:
        folder = tmp_path_factory.mktemp("demo") / "demo"
        env = {k: v for k, v in os.environ.items() if k != "MLOPS_LAB_HOME"}
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "mlops_lab.cli", "demo", "--dir", str(folder)],
            cwd=folder.parent,
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        seconds = time.perf_counter() - started
        assert proc.returncode == 0, proc.stdout + proc.stderr[-5000:]
        _result = DemoResult(folder, proc.stdout, proc.stderr, seconds)
    return _result


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return demo_result(tmp_path_factory)


def _line(out: str, label: str) -> list[str]:
    return [
        line.split(":", 1)[1].strip()
        for line in out.splitlines()
        if line.strip().startswith(label + ":")
    ]


def test_summary_counts_runs_and_names_the_best_run(demo: DemoResult) -> None:
    frame = runs_frame(demo.store)
    assert len(frame) >= 40
    assert set(frame["status"]) == {"finished"}
    assert _line(demo.stdout, "runs tracked") == [f"{len(frame)} ({len(frame)} finished)"]
    match = re.search(r"best run:\s+(\S+) \((\w{8})\), test_accuracy ([0-9.]+)", demo.stdout)
    assert match, demo.stdout
    cancer = frame[frame["experiment"] == "breast-cancer"]
    best_value = cancer["metrics.test_accuracy"].max()
    assert float(match.group(3)) == pytest.approx(best_value, abs=1e-4)
    named = cancer[cancer["run_id"].str.startswith(match.group(2))].iloc[0]
    assert named["name"] == match.group(1)
    assert named["metrics.test_accuracy"] == pytest.approx(best_value)


def test_summary_validations_and_drift_match_the_store(demo: DemoResult) -> None:
    from mlops_lab.store.data_records import drift_history, validations

    checks = validations(demo.store)
    failed = sum(not c["passed"] for c in checks)
    assert failed >= 1
    assert _line(demo.stdout, "validations") == [f"{len(checks)} recorded, {failed} failed"]
    comparisons: dict[str, list[bool]] = {}
    for row in drift_history(demo.store):
        comparisons.setdefault(row["drift_id"], []).append(row["drifted"])
    expected = sorted(f"{sum(v)} of {len(v)} columns drifted" for v in comparisons.values())
    assert sorted(_line(demo.stdout, "drift check")) == expected
    assert any(sum(v) >= len(v) * 0.2 for v in comparisons.values())


def test_summary_models_bundle_and_prediction_match_the_store(demo: DemoResult) -> None:
    import json

    from mlops_lab.registry import get_model_version, model_versions
    from mlops_lab.store.prediction_records import predictions

    models = _line(demo.stdout, "model")
    for name in ("wine", "cancer"):
        versions = model_versions(name, store=demo.store)
        champion = get_model_version(f"{name}@champion", store=demo.store)
        entry = next(m for m in models if m.startswith(f"{name}:"))
        assert entry.startswith(f"{name}: {len(versions)} versions;")
        assert f"champion v{champion.version}" in entry
    bundle = demo.work / "bundles" / "wine"
    meta = json.loads((bundle / "metadata.json").read_text())
    assert _line(demo.stdout, "bundle") == [f"{bundle} (wine v{meta['version']})"]
    assert int(meta["version"]) == get_model_version("wine@champion", store=demo.store).version
    served = [r for r in predictions(demo.store, "wine") if r["status"] == 200]
    assert served
    first = json.loads(served[0]["outputs"])["predict"]
    assert _line(demo.stdout, "prediction") == [
        f"the served wine v{served[0]['version']} answered {first} for "
        f"{served[0]['n_rows']} rows ({len(served)} requests logged)"
    ]


def test_demo_writes_the_notebooks_and_a_comparison_page(demo: DemoResult) -> None:
    assert _line(demo.stdout, "notebook") == [str(demo.work / n) for n in NOTEBOOKS]
    page = demo.folder / "comparison.html"
    assert _line(demo.stdout, "comparison") == [str(page)]
    assert page.stat().st_size > 10_000 and "plotly" in page.read_text()
    for i in range(1, len(NOTEBOOKS) + 1):
        assert f"[{i}/{len(NOTEBOOKS)}] executing" in demo.stdout
    assert re.search(r"finished in [0-9.]+ s \([0-9.]+ s CPU\)", demo.stdout)


def test_demo_output_and_notebooks_have_no_kernel_log_lines(demo: DemoResult) -> None:
    import nbformat

    assert "IPKernelApp" not in demo.stdout + demo.stderr, demo.stderr[-3000:]
    for name in NOTEBOOKS:
        nb = nbformat.read(demo.work / name, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                assert "IPKernelApp" not in text, (name, cell.source[:80], text)


def test_demo_ends_with_a_jupyter_lab_command_that_works_here(demo: DemoResult) -> None:
    from importlib.util import find_spec

    from mlops_lab.demo import next_steps

    expected = next_steps(demo.work)
    assert demo.stdout.rstrip().splitlines()[-len(expected) :] == expected
    assert expected[-1].endswith(f"jupyter lab {demo.work}")
    assert (len(expected) == 1) == (find_spec("jupyterlab") is not None)


def test_without_jupyterlab_the_demo_says_how_to_install_it(tmp_path: Path) -> None:
    from mlops_lab.demo import next_steps

    lines = next_steps(tmp_path, lab_installed=False)
    assert '  pip install "mlops-lab[lab]"' in lines
    assert lines[-1] == f"  jupyter lab {tmp_path}"
    assert lines.index('  pip install "mlops-lab[lab]"') < len(lines) - 1
    assert next_steps(tmp_path, lab_installed=True) == [
        f"Open the notebooks in JupyterLab:  jupyter lab {tmp_path}"
    ]


def test_the_demo_folder_of_a_checkout_is_ignored_by_git() -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "mlops-lab-demo/notebooks/01.ipynb"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
