"""``mlops-lab status``: a project's automation at a glance, and its MLOps level.

For every promoted pipeline: its champion and challenger, its last run with the
gate's decision, and what that model served recently (versions, requests,
errors). For the project: the latest validation per dataset that failed, the
columns whose latest drift score drifted, whether checks, model checks and a
CI workflow exist, and the MLOps level reached:

- level 0: experiments are tracked; training, registering and deploying are manual;
- level 1: a promoted pipeline has run (validate, train, evaluate, gate, register)
  and something triggers it (a CI workflow or a schedule);
- level 2: CI/CD: a workflow runs the data and model checks and the pipeline,
  and the served model is the registry's champion.

Each unmet condition is listed as what is missing for the next level.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_RECENT_S = 7 * 86400
WORKFLOWS = (".github/workflows/mlops-lab.yml", ".gitlab-ci.yml")


@dataclass
class PipelineStatus:
    name: str
    champion: str | None = None
    challenger: str | None = None
    last_run: str | None = None
    last_status: str | None = None
    last_started: float | None = None
    decision: str | None = None
    runs: int = 0
    served_versions: list[str] = field(default_factory=list)
    requests: int = 0
    errors: int = 0


@dataclass
class ProjectStatus:
    """What ``mlops-lab status`` prints; ``level`` and ``missing`` say where the project is."""

    runs: int
    models: list[str]
    pipelines: list[PipelineStatus]
    failing_validations: list[str]
    drifted_columns: list[str]
    checks: list[str]
    workflow: str | None
    level: int
    missing: list[str]

    def __str__(self) -> str:
        lines = [
            f"MLOps level {self.level}: {self.runs} runs tracked, "
            f"{len(self.models)} registered models, {len(self.pipelines)} pipelines"
        ]
        for p in self.pipelines:
            last = "never run"
            if p.last_run:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(p.last_started or 0))
                last = f"last run {p.last_run[:8]} {p.last_status} at {when}"
                if p.decision:
                    last += f", gate: {p.decision}"
            lines.append(f"  pipeline {p.name}: {last} ({p.runs} runs)")
            lines.append(
                f"    champion {p.champion or '-'} · challenger {p.challenger or '-'}"
                + (
                    f" · served {', '.join(p.served_versions)} "
                    f"({p.requests} requests, {p.errors} errors in 7 days)"
                    if p.served_versions
                    else " · not served in 7 days"
                )
            )
        lines.append(f"  checks: {', '.join(self.checks) if self.checks else 'none declared'}")
        lines.append(f"  CI workflow: {self.workflow or 'none'}")
        if self.failing_validations:
            lines.append(f"  failing validations: {', '.join(self.failing_validations)}")
        if self.drifted_columns:
            lines.append(f"  drifted columns: {', '.join(self.drifted_columns)}")
        if self.missing:
            lines.append(f"  for level {self.level + 1}:")
            lines += [f"    - {m}" for m in self.missing]
        return "\n".join(lines)


def _pipeline_status(name: str, store: Any, now: float) -> PipelineStatus:
    from ..store import registry_records as records
    from ..store.prediction_records import predictions, served_models
    from ..tracking.api import runs

    status = PipelineStatus(name)
    for model, alias in records.all_aliases(store):
        if model == name and alias in ("champion", "challenger"):
            setattr(status, alias, f"{name}/{records.alias_version(store, name, alias)}")
    frame = runs(
        filter=f"tags.`mlops.kind` = 'pipeline' and tags.`mlops.pipeline` = '{_quote(name)}'",
        order_by="start_time desc",
    )
    status.runs = len(frame)
    if len(frame):
        row = frame.iloc[0]
        status.last_run = str(row["run_id"])
        status.last_status = str(row["status"])
        started = row["start_time"]
        status.last_started = started.timestamp() if hasattr(started, "timestamp") else started
        status.decision = store.tags(status.last_run).get("gate.decision")
    if name in served_models(store):
        rows = predictions(store, name, since=now - _RECENT_S)
        status.served_versions = sorted({str(r["version"]) for r in rows if r["version"]})
        status.requests = len(rows)
        status.errors = sum(1 for r in rows if r["status"] != 200)
    return status


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def project_status(root: str | Path = ".", *, store: Any = None) -> ProjectStatus:
    """The status of the project whose folder is ``root`` (its pipelines, store and CI)."""
    from ..data.check import find_config, load_config
    from ..pipeline.spec import list_pipelines
    from ..project import default_project
    from ..registry import models as registered
    from ..store import data_records

    store = store or default_project().store
    base = Path(root)
    now = time.time()
    pipelines = [_pipeline_status(name, store, now) for name in list_pipelines(base / "pipelines")]
    model_frame = registered(store=store)
    models = [str(n) for n in model_frame["name"]] if len(model_frame) else []
    failing: list[str] = []
    seen: set[str] = set()
    for row in data_records.validations(store):
        if row["digest"] in seen:
            continue
        seen.add(row["digest"])
        if not row["passed"]:
            failing.append(f"dataset {row['digest'][:12]}")
    latest: dict[str, bool] = {}
    for row in data_records.drift_history(store):
        latest[row["column"]] = bool(row.get("drifted"))
    drifted = sorted(c for c, d in latest.items() if d)
    config = find_config(base)
    checks: list[str] = []
    if config is not None:
        declared = load_config(config)
        checks = [f"{len(v)} {k}" for k, v in declared.items() if v]
    workflow = next((w for w in WORKFLOWS if (base / w).is_file()), None)
    n_runs = sum(e["n_runs"] for e in store.experiments())
    level, missing = _level(pipelines, checks, workflow, n_runs)
    return ProjectStatus(
        runs=n_runs,
        models=models,
        pipelines=pipelines,
        failing_validations=failing,
        drifted_columns=drifted,
        checks=checks,
        workflow=workflow,
        level=level,
        missing=missing,
    )


def _level(
    pipelines: list[PipelineStatus], checks: list[str], workflow: str | None, n_runs: int
) -> tuple[int, list[str]]:
    ran = [p for p in pipelines if p.runs]
    level1 = {
        "promote a run into a pipeline (%mlops promote RUN --name NAME)": bool(pipelines),
        "run the pipeline at least once (mlops-lab pipeline run NAME)": bool(ran),
        "trigger retraining automatically (mlops-lab ci init, or a schedule)": workflow is not None,
    }
    if not all(level1.values()):
        missing = [k for k, ok in level1.items() if not ok]
        if not n_runs:
            missing.insert(0, "track experiments (%load_ext mlops_lab, %mlops start)")
        return 0, missing
    level2 = {
        "declare data checks in mlops-lab.toml ([[check.validate]] / [[check.drift]])": any(
            c.endswith(("validate", "drift")) for c in checks
        ),
        "declare model checks in mlops-lab.toml ([[check.model]])": any(
            c.endswith("model") for c in checks
        ),
        "serve the champion (mlops-lab serve NAME@champion)": any(
            p.champion and p.champion.split("/")[-1] in p.served_versions for p in ran
        ),
    }
    if not all(level2.values()):
        return 1, [k for k, ok in level2.items() if not ok]
    return 2, []
