"""``mlops-lab ci init``: a CI workflow for the project, generated rather than hand-written.

The workflow installs the project, runs ``mlops-lab check`` (the data and model
checks of ``mlops-lab.toml``), runs each promoted pipeline when data, pipelines
or the checks change (and on a schedule), packages the champion and uploads
the bundle as an artifact. The store (``.mlops/``) is kept in the CI cache
between runs, so the gate compares with the previous champion; point
``MLOPS_LAB_HOME`` at persistent storage to share it more widely.
Providers: ``github`` (``.github/workflows/mlops-lab.yml``) and ``gitlab``
(``.gitlab-ci.yml``); the tests validate both against the providers' published
schemas.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError

PROVIDERS = MappingProxyType(
    {"github": ".github/workflows/mlops-lab.yml", "gitlab": ".gitlab-ci.yml"}
)
WATCHED = ("data/**", "pipelines/**", "mlops-lab.toml")


def _pipelines(root: Path, names: list[str] | None) -> list[str]:
    if names:
        return list(names)
    folder = root / "pipelines"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "pipeline.json").is_file())


def _install(extras: str) -> str:
    return f'pip install -e ".[{extras}]"' if extras else "pip install -e ."


def github_workflow(pipelines: list[str], *, python: str, extras: str, schedule: str) -> dict:
    steps: list[dict[str, Any]] = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": python}},
        {
            "name": "Restore the mlops-lab store",
            "uses": "actions/cache@v4",
            "with": {
                "path": ".mlops",
                "key": "mlops-lab-store-${{ github.run_id }}",
                "restore-keys": "mlops-lab-store-",
            },
        },
        {"name": "Install", "run": _install(extras)},
        {"name": "Data and model checks", "run": "mlops-lab check"},
    ]
    for name in pipelines:
        steps += [
            {"name": f"Pipeline {name}", "run": f"mlops-lab pipeline run {name}"},
            {
                "name": f"Package {name}@champion",
                "run": f"mlops-lab package {name}@champion --out bundles/{name} --archive",
            },
        ]
    if pipelines:
        steps.append(
            {
                "name": "Upload bundles",
                "uses": "actions/upload-artifact@v4",
                "with": {"name": "bundles", "path": "bundles/*.tar.gz"},
            }
        )
    return {
        "name": "mlops-lab",
        "on": {
            "push": {"paths": list(WATCHED)},
            "pull_request": {"paths": list(WATCHED)},
            "schedule": [{"cron": schedule}],
            "workflow_dispatch": {},
        },
        "jobs": {"mlops": {"runs-on": "ubuntu-latest", "timeout-minutes": 60, "steps": steps}},
    }


def gitlab_pipeline(pipelines: list[str], *, python: str, extras: str, schedule: str) -> dict:
    del schedule  # GitLab schedules are set in the project's settings, not in the file
    changes = {"changes": list(WATCHED)}
    rules = [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}, changes]
    out: dict[str, Any] = {
        "stages": ["check", "train"],
        "default": {
            "image": f"python:{python}",
            "cache": {"key": "mlops-lab-store", "paths": [".mlops/"]},
            "before_script": [_install(extras)],
        },
        "check": {"stage": "check", "script": ["mlops-lab check"], "rules": rules},
    }
    for name in pipelines:
        out[f"train-{name}"] = {
            "stage": "train",
            "script": [
                f"mlops-lab pipeline run {name}",
                f"mlops-lab package {name}@champion --out bundles/{name} --archive",
            ],
            "artifacts": {"paths": [f"bundles/{name}.tar.gz"], "expire_in": "30 days"},
            "rules": rules,
        }
    return out


def ci_init(
    provider: str = "github",
    *,
    root: str | Path = ".",
    pipelines: list[str] | None = None,
    python: str = "3.11",
    extras: str = "serve,onnx",
    schedule: str = "0 3 * * *",
    overwrite: bool = False,
) -> Path:
    """Write the CI workflow for ``provider`` under ``root``; return its path.

    Parameters
    ----------
    provider
        ``"github"`` or ``"gitlab"``.
    pipelines
        Pipelines to run (default: every folder of ``pipelines/`` with a ``pipeline.json``).
    extras
        The project's extras to install (``serve,onnx`` packages the bundle with ONNX).
    schedule
        Cron for a scheduled retraining run (GitHub; GitLab schedules live in its settings).
    """
    import yaml

    if provider not in PROVIDERS:
        raise InvalidArgumentError(
            f"provider: expected one of {', '.join(PROVIDERS)}, got {provider!r}"
        )
    base = Path(root)
    names = _pipelines(base, pipelines)
    build = github_workflow if provider == "github" else gitlab_pipeline
    document = build(names, python=python, extras=extras, schedule=schedule)
    path = base / PROVIDERS[provider]
    if path.exists() and not overwrite:
        raise InvalidArgumentError(f"{path} exists (pass overwrite=True / --overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by `mlops-lab ci init`; re-run it after promoting a new pipeline.\n"
    path.write_text(header + yaml.safe_dump(document, sort_keys=False, width=100))
    return path
