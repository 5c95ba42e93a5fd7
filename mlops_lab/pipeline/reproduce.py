"""Reproducing a model version: the same pipeline, parameters and data; the same metrics?

``reproduce("clf/3")`` finds the pipeline run that trained version 3, checks
that every dataset parameter still names a file with the digest recorded
then (:class:`~mlops_lab.errors.InputChangedError` names the file and both
digests if not), re-runs the pipeline's validate, train and evaluate steps with
the recorded parameters, and compares the new train run's metrics with the
recorded ones within a tolerance. The gate and register steps are left out:
a reproduction checks a version, it does not register another one.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputChangedError, PipelineError
from .spec import PipelineSpec, find

if TYPE_CHECKING:
    from ..registry.api import ModelVersion
    from ..tracking.run import Run
    from .run import PipelineResult

_SKIPPED_STEPS = frozenset({"gate", "register"})


@dataclass
class Reproduction:
    """The outcome of :func:`reproduce`: one row per recorded metric, and whether all match."""

    version: ModelVersion
    result: PipelineResult
    tolerance: float
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return all(r["ok"] for r in self.rows)

    def table(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=["metric", "recorded", "reproduced", "diff", "ok"])

    def __str__(self) -> str:
        verdict = "reproduced" if self.matches else "NOT reproduced"
        lines = [
            f"{self.version.ref}: {verdict} (tolerance {self.tolerance:g}) "
            f"by pipeline run {self.result.run.run_id[:8]}"
        ]
        lines.append(f"  {'metric':<24} {'recorded':>14} {'reproduced':>14} {'diff':>10}")
        for r in self.rows:
            new = "missing" if r["reproduced"] is None else f"{r['reproduced']:.8g}"
            diff = "" if r["diff"] is None else f"{r['diff']:.3g}"
            mark = "" if r["ok"] else "  <- differs"
            lines.append(f"  {r['metric']:<24} {r['recorded']:>14.8g} {new:>14} {diff:>10}{mark}")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def _pipeline_run(mv: ModelVersion) -> Run:
    from ..tracking.run import Run

    train = mv.run
    parent = train.parent_id
    if parent is not None:
        pipe = Run(train.store, parent)
        if pipe.tags.get("mlops.kind") == "pipeline":
            return pipe
    raise PipelineError(
        f"{mv.ref} was not trained by a pipeline (run {train.run_id[:8]} has no pipeline run): "
        "nothing to reproduce; promote its run and register it through `pipeline run`",
        pipeline=mv.name,
    )


def check_inputs(spec: PipelineSpec, values: dict[str, Any], train: Run, ref: str) -> None:
    """Every dataset parameter must name a file with the digest the train run recorded."""
    from ..data.fingerprint import fingerprint

    inputs = train.datasets
    for key, decl in spec.params.items():
        if decl.type != "path" or not decl.dataset or not values.get(key):
            continue
        given = str(values[key])
        recorded = [d for d in inputs if d.get("role") == decl.dataset]
        same_path = [d for d in recorded if d.get("source") == given]
        if same_path:
            recorded = same_path
        if len(recorded) != 1:
            continue  # nothing (or nothing unambiguous) was recorded for this parameter
        path = Path(given)
        if not path.is_absolute():
            path = spec.workdir_path / path
        current = fingerprint(path) if path.is_file() else None
        if current != recorded[0]["digest"]:
            raise InputChangedError(
                pipeline=spec.name,
                ref=ref,
                path=str(path),
                recorded=recorded[0]["digest"],
                current=current,
            )


def _without_gate(spec: PipelineSpec, folder: Path) -> PipelineSpec:
    """A copy of ``spec`` in ``folder`` without gate and register, pointing at the original."""
    steps = []
    for conf in spec.steps:
        if conf.get("kind") in _SKIPPED_STEPS:
            continue
        conf = dict(conf)
        if conf.get("kind") == "notebook":
            conf["notebook"] = str(spec.folder / conf.get("notebook", spec.notebook))
        if conf.get("kind") == "validate" and conf.get("schema"):
            conf["schema"] = str(spec.folder / conf["schema"])
        steps.append(conf)
    copy = dataclasses.replace(
        spec,
        folder=folder,
        steps=steps,
        notebook=str(spec.notebook_path),
        workdir=str(spec.workdir_path),
    )
    copy.save()
    return copy


def reproduce(
    ref: str,
    *,
    tolerance: float = 1e-6,
    pipelines_dir: str | os.PathLike[str] = "pipelines",
    kernel_name: str | None = None,
    progress: bool = True,
    execute: Callable[..., Any] | None = None,
) -> Reproduction:
    """Re-run the pipeline that trained ``ref`` with its recorded parameters; compare metrics.

    Parameters
    ----------
    ref
        ``name/VERSION`` or ``name@alias``.
    tolerance
        The largest accepted difference of a metric (absolute, or relative to it).

    Returns
    -------
    Reproduction
        ``matches`` is true when every recorded metric came back within ``tolerance``;
        ``str()`` is the comparison table.

    Raises
    ------
    InputChangedError
        A dataset file no longer has its recorded digest (or is missing); nothing ran.
    PipelineStepError
        A step of the re-run failed.
    """
    from ..project import default_project
    from ..registry.api import get_model_version
    from .run import run_pipeline

    mv = get_model_version(ref)
    pipe = _pipeline_run(mv)
    train = mv.run
    name = pipe.tags.get("mlops.pipeline", mv.name)
    source = Path(pipe.info.get("source_path") or "")
    folder = source if source.is_dir() and (source / "pipeline.json").is_file() else None
    spec = PipelineSpec.load(folder or find(name, pipelines_dir))
    recorded = pipe.params
    values = spec.resolve_params({k: v for k, v in recorded.items() if k in spec.params})
    check_inputs(spec, values, train, mv.ref)
    with tempfile.TemporaryDirectory(prefix="mlops-reproduce-") as tmp:
        copy = _without_gate(spec, Path(tmp) / spec.name)
        result = run_pipeline(
            copy.folder, values, progress=progress, kernel_name=kernel_name, execute=execute
        )
    store = default_project().store
    store.update_run(result.run.run_id, source_path=str(spec.folder))
    result.run.set_tag("mlops.reproduces", mv.ref)
    outcome = Reproduction(mv, result, tolerance)
    new = result.train_run.metrics if result.train_run is not None else {}
    for key, old in sorted(train.metrics.items()):
        value = new.get(key)
        diff = None if value is None else abs(value - old)
        ok = value is not None and (
            math.isclose(value, old, rel_tol=tolerance, abs_tol=tolerance)
            or (math.isnan(value) and math.isnan(old))
        )
        outcome.rows.append(
            {"metric": key, "recorded": old, "reproduced": value, "diff": diff, "ok": ok}
        )
    result.run.set_tag("reproduce.matches", str(outcome.matches).lower())
    return outcome
