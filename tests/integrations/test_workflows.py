"""mlops-lab ci init writes workflows valid against GitHub's and GitLab's published schemas."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlops_lab.cli import main
from mlops_lab.errors import InvalidArgumentError
from mlops_lab.integrations.workflows import ci_init

SCHEMAS = {"github": "vendor.github-workflows", "gitlab": "vendor.gitlab-ci"}


def _check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    return subprocess.run(
        [exe, "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("iris", "churn"):
        folder = tmp_path / "pipelines" / name
        folder.mkdir(parents=True)
        (folder / "pipeline.json").write_text("{}")
    (tmp_path / "pipelines" / "notes").mkdir()  # not a pipeline: no pipeline.json
    return tmp_path


@pytest.mark.parametrize("provider", ["github", "gitlab"])
def test_generated_workflow_is_valid_against_the_provider_schema(project, provider) -> None:
    path = ci_init(provider, root=project)
    result = _check_jsonschema(SCHEMAS[provider], path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text()
    assert "mlops-lab check" in text
    assert "mlops-lab pipeline run churn" in text and "mlops-lab pipeline run iris" in text
    assert "notes" not in text
    assert "mlops-lab package iris@champion --out bundles/iris --archive" in text


def test_github_workflow_runs_on_changed_data_and_uploads_the_bundles(project) -> None:
    doc = yaml.safe_load(ci_init("github", root=project, pipelines=["iris"]).read_text())
    on = doc["on"]
    assert "data/**" in on["push"]["paths"] and on["schedule"][0]["cron"] == "0 3 * * *"
    steps = doc["jobs"]["mlops"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("actions/upload-artifact") for u in uses)
    assert any(u.startswith("actions/cache") for u in uses)  # the store survives between runs
    assert [s["run"] for s in steps if "run" in s][1] == "mlops-lab check"


def test_a_broken_workflow_is_caught_by_the_schema_check(project) -> None:
    path = ci_init("github", root=project)
    doc = yaml.safe_load(path.read_text())
    del doc["jobs"]["mlops"]["runs-on"]
    path.write_text(yaml.safe_dump(doc))
    assert _check_jsonschema(SCHEMAS["github"], path).returncode != 0


def test_cli_ci_init_and_its_mistakes(project, monkeypatch, capsys) -> None:
    monkeypatch.chdir(project)
    assert main(["ci", "init", "--provider", "gitlab"]) == 0
    assert (project / ".gitlab-ci.yml").is_file()
    assert main(["ci", "init", "--provider", "gitlab"]) == 2
    assert "exists (pass overwrite=True / --overwrite)" in capsys.readouterr().err
    assert main(["ci", "init", "--provider", "gitlab", "--overwrite"]) == 0
    with pytest.raises(InvalidArgumentError, match="provider: expected one of github, gitlab"):
        ci_init("jenkins", root=project)
