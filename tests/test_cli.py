"""The mlops-lab command line: commands, formats and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import mlops_lab as ml
from mlops_lab.cli import main


@pytest.fixture
def two_runs() -> None:
    for name, acc in (("low", 0.5), ("high", 0.9)):
        with ml.start_run(name, experiment="cli"):
            ml.log_param("C", 1.0)
            ml.log_metric("acc", acc)


def test_runs_table(two_runs: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--sort", "metrics.acc desc"]) == 0
    out = capsys.readouterr().out
    assert "2 run(s)" in out
    assert out.index("high") < out.index("low")


def test_runs_json_and_csv(two_runs: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--format", "json", "--filter", "metrics.acc > 0.8"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["high"]
    assert records[0]["metrics.acc"] == 0.9
    assert main(["runs", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("run_id,name,experiment")


def test_show_and_experiments(two_runs: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "high"]) == 0
    assert "acc" in capsys.readouterr().out
    assert main(["experiments"]) == 0
    assert "cli\t2 runs" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "nope"], "no run matches 'nope'"),
        (["runs", "--filter", "metrics.acc >"], "expected a number"),
        (["runs", "--group-by", "params.zzz"], "params.zzz"),
    ],
)
def test_mistakes_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_console_script_runs_in_a_subprocess(two_runs: None, tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mlops_lab.cli", "runs", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert {r["name"] for r in json.loads(out.stdout)} == {"low", "high"}


def test_store_option(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", str(tmp_path / "other"), "runs"]) == 0
    assert "no runs match" in capsys.readouterr().out


def test_compare_writes_a_self_contained_page(
    two_runs: None, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "cmp.html"
    assert main(["compare", "low", "high", "--metric", "acc", "--html", str(page)]) == 0
    assert f"2 runs to {page}" in capsys.readouterr().out
    text = page.read_text()
    assert "Plotly.newPlot" in text
    assert "low" in text
    assert "high" in text
