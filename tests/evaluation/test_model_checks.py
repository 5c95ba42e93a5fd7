"""CI for models: mlops-lab check runs [[check.model]] entries; evaluate is one verb in both shells."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

import mlops_lab as ml
from mlops_lab.cli import main


@pytest.fixture
def registered(tmp_path: Path) -> Path:
    frame = load_diabetes(as_frame=True).frame
    train, test = frame.iloc[:300], frame.iloc[300:]
    model = Ridge(alpha=0.1).fit(train.drop(columns="target"), train["target"])
    with ml.start_run("ridge") as run:
        ml.log_model(model, input_example=train.drop(columns="target").head())
    ml.register_model(run, "diabetes")
    ml.set_alias("diabetes", "champion", 1)
    test.to_csv(tmp_path / "holdout.csv", index=False)
    return tmp_path


def _config(folder: Path, thresholds: str) -> Path:
    path = folder / "mlops-lab.toml"
    path.write_text(
        "[[check.model]]\n"
        'model = "diabetes@champion"\n'
        'data = "holdout.csv"\n'
        'target = "target"\n'
        f"thresholds = {{ {thresholds} }}\n"
    )
    return path


def test_check_exits_1_when_a_model_threshold_fails(registered, capsys) -> None:
    config = _config(registered, "r2 = { min_value = 0.99 }")
    assert main(["check", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL: r2" in out and "below the floor 0.99" in out
    assert "0 of 1 checks passed" in out


def test_check_exits_0_when_the_thresholds_hold(registered, capsys) -> None:
    config = _config(registered, "r2 = { min_value = 0.1 }, rmse = 80.0")
    assert main(["check", "--config", str(config)]) == 0
    assert "1 of 1 checks passed" in capsys.readouterr().out


def test_a_bad_model_entry_is_reported_not_raised(registered, capsys) -> None:
    config = _config(registered, "r2 = { floor = 0.1 }")
    assert main(["check", "--config", str(config)]) == 1
    assert "unknown rule floor" in capsys.readouterr().out


def test_cli_evaluate_prints_the_report_and_applies_thresholds(registered, capsys) -> None:
    data = str(registered / "holdout.csv")
    assert main(["evaluate", "diabetes/1", data, "--target", "target", "--no-log"]) == 0
    out = capsys.readouterr().out
    assert "diabetes/1: regression on 142 rows" in out and "rmse" in out
    code = main(["evaluate", "diabetes/1", data, "-t", "target", "--threshold", "rmse=1"])
    assert code == 1
    assert "above the ceiling 1" in capsys.readouterr().out
    assert main(["evaluate", "diabetes/1", data, "-t", "nope"]) == 2
    assert "target: no column 'nope'" in capsys.readouterr().err


def test_magic_evaluate_is_the_same_verb(registered, shell, capsys) -> None:
    shell.user_ns["holdout"] = pd.read_csv(registered / "holdout.csv")
    shell.run_cell(
        "report = %mlops evaluate diabetes@champion holdout --target target --threshold r2=0.99"
    )
    report = shell.user_ns["report"]
    assert isinstance(report, ml.EvaluationReport) and report.task == "regression"
    assert "FAIL: r2" in capsys.readouterr().out
    assert ml.get_run(report.run_id).tags["mlops.evaluation.model"] == "diabetes/1"
