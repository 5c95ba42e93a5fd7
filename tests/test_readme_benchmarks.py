"""The README's benchmark tables are what ``benchmarks/readme_table.py`` writes from the
results files: a hand edit, a deleted row, a results table with no place in the README
and a results file that lost its figures all fail."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SCRIPT = ROOT / "benchmarks" / "readme_table.py"


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


readme_table = _module()


def _block(text: str, name: str) -> str:
    match = re.search(rf"<!-- bench:{name} -->\n(.*?)<!-- /bench:{name} -->", text, re.S)
    assert match is not None, f"no bench:{name} block"
    return match.group(1)


def _copy(tmp_path: Path, *results: str) -> Path:
    """A project root with the real README and some of the real results files."""
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    for name in results:
        shutil.copy(ROOT / "benchmarks" / name, tmp_path / "benchmarks" / name)
    return tmp_path


def test_readme_equals_what_the_results_files_give() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["tracking", "data", "serve"])
def test_each_block_comes_from_its_results_file(name: str) -> None:
    given = readme_table.sources(ROOT)
    assert name in given
    body = _block(README, name)
    assert body.rstrip("\n") == given[name][0]
    assert body.count("\n| ") >= 2  # a header and figures, not the placeholder
    figure = re.search(r"\| ([0-9][0-9,.]*x) \|", body)
    assert figure is not None
    doctored = README.replace(body, body.replace(figure.group(0), "| 9,999x |", 1))
    assert readme_table.render(doctored, given) == README  # a hand edit is undone
    deleted = README.replace(body, "\n".join(body.splitlines()[:-1]) + "\n")
    assert deleted != README
    assert readme_table.render(deleted, given) == README  # a deleted row comes back


def test_check_fails_on_a_hand_edit(tmp_path: Path) -> None:
    root = _copy(
        tmp_path, "RESULTS.md", "RESULTS_data.md", "RESULTS_serve.md", "RESULTS_pipeline.md"
    )
    assert readme_table.main(["--check"], root) == 0
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("| ratio |", "| ratio (hand edited) |", 1))
    assert readme_table.main(["--check"], root) == 1
    assert readme_table.main([], root) == 0
    assert readme.read_text() == README


def test_the_figures_are_the_results_files_figures() -> None:
    serve = (ROOT / "benchmarks" / "RESULTS_serve.md").read_text()
    ratio = re.search(r"\| throughput mlops-lab / MLflow \| ([^|]+) \|", serve)
    assert ratio is not None
    assert f"| {ratio.group(1).strip()} |" in _block(README, "serve").splitlines()[2]
    data = (ROOT / "benchmarks" / "RESULTS_data.md").read_text()
    for line in _block(README, "data").splitlines()[2:]:
        assert line in data
    tracking = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    first = _block(README, "tracking").splitlines()[2]
    figure, peer, ours, ratio_cell = (c.strip() for c in first.strip("|").split("|"))
    figure = re.sub(r" \(target [^)]*: not met\)$", "", figure)  # the README's note on a miss
    assert re.search(
        rf"\| {re.escape(figure)} \| {re.escape(peer)} \(.*\| {re.escape(ours)} \(.*"
        rf"\| {re.escape(ratio_cell)} \|",
        tracking,
    )


def test_a_new_results_file_fills_its_block(tmp_path: Path) -> None:
    """The generic way: a results file with a bench:NAME table fills the README's block."""
    root = _copy(tmp_path, "RESULTS.md", "RESULTS_data.md", "RESULTS_serve.md")
    readme = root / "README.md"
    assert readme_table.main([], root) == 0  # without its file, the block says so
    assert "*No figures yet: `benchmarks/RESULTS_pipeline.md` is not written" in _block(
        readme.read_text(), "pipeline"
    )
    table = (
        "| figure | papermill | mlops-lab | ratio |\n|---|---|---|---|\n"
        "| `pipeline run` over bare `papermill.execute_notebook` | 5.38 s | 5.36 s | 1.00x |"
    )
    (root / "benchmarks" / "RESULTS_pipeline.md").write_text(
        f"# Pipeline benchmark\n\nprose\n\n<!-- bench:pipeline -->\n{table}\n"
        "<!-- /bench:pipeline -->\n"
    )
    assert readme_table.main(["--check"], root) == 1
    assert readme_table.main([], root) == 0
    assert _block(readme.read_text(), "pipeline") == table + "\n"
    assert readme_table.main(["--check"], root) == 0


def test_a_results_table_with_no_place_in_the_readme(tmp_path: Path, capsys) -> None:
    root = _copy(tmp_path, "RESULTS.md", "RESULTS_data.md", "RESULTS_serve.md")
    (root / "benchmarks" / "RESULTS_drift.md").write_text(
        "<!-- bench:drift -->\n| figure | a | b | c |\n<!-- /bench:drift -->\n"
    )
    assert readme_table.main(["--check"], root) == 2
    assert "README.md has no block for bench:drift (from RESULTS_drift.md)" in (
        capsys.readouterr().err
    )


def test_a_results_file_without_its_figures(tmp_path: Path, capsys) -> None:
    root = _copy(tmp_path, "RESULTS.md", "RESULTS_data.md")
    (root / "benchmarks" / "RESULTS_serve.md").write_text("# Model serving\n\nnothing yet\n")
    assert readme_table.main(["--check"], root) == 2
    assert "RESULTS_serve.md: no table headed 'server'" in capsys.readouterr().err
    data = root / "benchmarks" / "RESULTS_data.md"
    data.write_text(
        re.sub(r"<!-- bench:data -->.*<!-- /bench:data -->", "", data.read_text(), flags=re.S)
    )
    (root / "benchmarks" / "RESULTS_serve.md").unlink()
    assert readme_table.main([], root) == 0
    text = (root / "README.md").read_text()
    assert "`benchmarks/RESULTS_data.md` holds no such table" in _block(text, "data")
    assert "`benchmarks/RESULTS_serve.md` is not written" in _block(text, "serve")


def test_the_pipeline_block_is_made_from_the_pipeline_table() -> None:
    results = (ROOT / "benchmarks" / "RESULTS_pipeline.md").read_text()
    body = _block(README, "pipeline")
    assert body.rstrip("\n") == readme_table.pipeline(results)
    single = readme_table._table(results, "what")[2]  # ml.run_pipeline's row
    assert f"({readme_table._seconds(single[2]):.2f} s)" in body.splitlines()[2]
    with pytest.raises(readme_table.ResultsError, match="single run"):
        readme_table.pipeline("| what | wall | overhead | ratio |\n|---|---|---|---|\n")
