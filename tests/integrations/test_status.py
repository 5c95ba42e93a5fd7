"""mlops-lab status: pipelines, champions, gate decisions, checks, CI and the MLOps level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

import mlops_lab as ml
from mlops_lab.cli import main
from mlops_lab.integrations.status import PipelineStatus, _level, project_status
from mlops_lab.integrations.workflows import ci_init
from mlops_lab.pipeline import Param, PipelineSpec


def _promoted(root: Path) -> None:
    PipelineSpec(
        name="clf",
        folder=root / "pipelines" / "clf",
        params={"C": Param("float", 1.0)},
        steps=[{"name": "train", "kind": "notebook", "notebook": "train.ipynb"}],
    ).save()


def _registered_champion() -> None:
    X, y = np.array([[0.0], [1.0], [0.2], [0.8]]), np.array([0, 1, 0, 1])
    for C in (1.0, 0.1):
        with ml.start_run(f"C={C}") as run:
            ml.log_model(LogisticRegression(C=C).fit(X, y))
        ml.register_model(run, "clf")
    ml.set_alias("clf", "champion", 1)
    ml.set_alias("clf", "challenger", 2)


def test_an_empty_project_is_level_0_and_says_what_to_do(tmp_path, capsys) -> None:
    status = project_status(tmp_path)
    assert status.level == 0 and status.runs == 0
    assert status.missing[0].startswith("track experiments")
    assert main(["status", "--root", str(tmp_path)]) == 0
    assert "MLOps level 0" in capsys.readouterr().out


def test_a_pipeline_that_ran_with_a_workflow_is_level_1(tmp_path) -> None:
    _promoted(tmp_path)
    _registered_champion()
    status = project_status(tmp_path)
    assert status.level == 0
    assert any("run the pipeline" in m for m in status.missing)
    with ml.start_run("pipeline clf", tags={"mlops.kind": "pipeline", "mlops.pipeline": "clf"}):
        ml.set_tag("gate.decision", "champion")
    ci_init("github", root=tmp_path)
    (tmp_path / "mlops-lab.toml").write_text(
        '[[check.validate]]\ndata = "a.csv"\nschema = "s.json"\n'
    )
    status = project_status(tmp_path)
    (pipe,) = status.pipelines
    assert (pipe.champion, pipe.challenger, pipe.decision, pipe.runs) == (
        "clf/1",
        "clf/2",
        "champion",
        1,
    )
    assert status.level == 1 and status.workflow == ".github/workflows/mlops-lab.yml"
    assert status.checks == ["1 validate"]
    assert any("[[check.model]]" in m for m in status.missing)
    assert any("serve the champion" in m for m in status.missing)
    text = str(status)
    assert "pipeline clf: last run" in text and "gate: champion" in text and "for level 2" in text


def test_level_2_needs_checks_of_data_and_models_and_the_champion_served() -> None:
    served = PipelineStatus("clf", champion="clf/3", runs=4, served_versions=["3"])
    stale = PipelineStatus("clf", champion="clf/3", runs=4, served_versions=["2"])
    workflow = ".gitlab-ci.yml"
    assert _level([served], ["1 validate", "1 model"], workflow, 10) == (2, [])
    level, missing = _level([stale], ["1 validate", "1 model"], workflow, 10)
    assert level == 1 and missing == ["serve the champion (mlops-lab serve NAME@champion)"]
