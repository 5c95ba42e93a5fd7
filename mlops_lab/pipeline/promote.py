"""Promotion: a tracked run's captured cells become a parameterised pipeline folder.

``promote(run, "iris")`` writes ``pipelines/iris/``:

- ``train.ipynb``: the minimal slice of the session's history the run's cells
  depend on (:mod:`.slicing`): the imports, data loading, helper functions and
  classes above ``%mlops start`` that they use, then the run's own cells, in
  execution order, as the user wrote them. Display cells, failed cells and
  definitions nothing uses are left out. The parameters (``%mlops param``
  values, top-level literals logged with ``ml.log_param(s)``, the paths of the
  datasets the run read) go into one cell tagged ``parameters`` (papermill's
  convention). The code is not rewritten to open or end runs: inside the
  pipeline's kernel, ``start_run`` adopts the step's run and ``end_run`` leaves
  it to the pipeline (see :mod:`mlops_lab.project`).
- ``pipeline.json``: steps validate / train / evaluate / gate / register,
  the typed parameters with their defaults, and the gate rule.
- ``schema.json``: the schema of the run's training data (when it logged one).
- ``README.md``: how to run it.

The notebook is assembled by :mod:`.assemble` (the slice of the run's cells) and
:mod:`.parameters` (what becomes a parameter), and checked by :mod:`.verify`; this
module chooses the gate and writes the spec.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, MlopsLabError, PipelineError
from .assemble import sliced_code, workdir, write_notebook
from .parameters import check_key, parameterise
from .slicing import Cell, Slice
from .spec import Param, PipelineSpec
from .verify import verify_promotion

if TYPE_CHECKING:
    from ..tracking.run import Run

__all__ = ["LIBRARY_METRICS", "check_key", "choose_metric", "promote", "readme"]

_MAXIMISE = ("accuracy", "acc", "f1", "roc_auc", "auc", "r2", "precision", "recall", "score")
_MINIMISE = ("rmse", "mse", "mae", "loss", "log_loss", "error")


def choose_metric(metrics: dict[str, float], metric: str | None, mode: str) -> tuple[str, str]:
    """The gate's metric and direction: ``metric`` if given, else a well-known one."""
    if mode not in ("max", "min"):
        raise InvalidArgumentError(f"mode: expected 'max' or 'min', got {mode!r}")
    if metric is not None:
        if metric not in metrics:
            raise InvalidArgumentError(
                f"metric {metric!r} was not logged by the run (it logged: "
                f"{', '.join(metrics) or 'no metrics'})"
            )
        return metric, mode
    for names, direction in ((_MAXIMISE, "max"), (_MINIMISE, "min")):
        for name in names:
            for key in metrics:
                if key.lower() == name or key.lower().endswith(("_" + name, "." + name)):
                    return key, direction
    if len(metrics) == 1:
        return next(iter(metrics)), mode
    raise InvalidArgumentError(
        "metric: the run logged "
        + (", ".join(metrics) if metrics else "no metrics")
        + "; name the one the gate compares with metric= (--metric)"
    )


def _no_model_error(target: Run, name: str, metric: str | None, mode: str) -> PipelineError:
    """ "Logged no model", saying which runs of the experiment have one and which is best."""
    from ..tracking.api import get_run
    from ..tracking.api import runs as list_runs

    message = (
        f"run {target.run_id[:8]} ({target.name}) logged no model: log one (ml.log_model or "
        "autolog) so the pipeline has something to register"
    )
    try:
        frame = list_runs(experiment=target.experiment)
    except Exception:  # the hint is a nicety; the error stands without it
        return PipelineError(message, pipeline=name)
    with_model = []
    for run_id in frame["run_id"]:
        run = get_run(run_id)
        if any(a["kind"] == "model" for a in run.artifacts):
            with_model.append(run)
    if not with_model:
        return PipelineError(
            message + f"; no run of experiment {target.experiment!r} has a model", pipeline=name
        )
    key = metric
    if key is None:
        try:
            key, mode = choose_metric(target.metrics or with_model[0].metrics, None, mode)
        except InvalidArgumentError:
            key = None
    scored = [r for r in with_model if key is not None and key in r.metrics]
    listed = ", ".join(f"{r.run_id[:8]} ({r.name})" for r in with_model[:10])
    hint = f"; runs of experiment {target.experiment!r} with a model: {listed}"
    if scored and key is not None:
        sign = 1 if mode == "max" else -1
        best = max(scored, key=lambda r: sign * r.metrics[key])
        hint += (
            f"; the best of them by {key} ({mode}) is {best.run_id[:8]} ({best.name}, "
            f"{key}={best.metrics[key]:.6g}): promote it with "
            f"%mlops promote {best.run_id[:8]} --name {name}"
        )
    return PipelineError(message + hint, pipeline=name)


LIBRARY_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "log_loss",
    "roc_auc",
    "rmse",
    "mae",
    "r2",
    "mape",
    "max_error",
)


def _check_evaluation(evaluation: dict[str, Any], metric: str | None) -> None:
    known = {"target", "data", "holdout", "slices", "sensitive", "thresholds", "task"}
    unknown = sorted(set(evaluation) - known)
    if unknown:
        raise InvalidArgumentError(
            f"evaluation: unknown keys {', '.join(unknown)} (keys: {', '.join(sorted(known))})"
        )
    if "target" not in evaluation or not ("data" in evaluation or "holdout" in evaluation):
        raise InvalidArgumentError(
            "evaluation: give the target column and either data (a parameter or path) "
            "or holdout ({'fraction': 0.2, 'seed': 0})"
        )
    if metric not in LIBRARY_METRICS:
        raise InvalidArgumentError(
            f"metric: with evaluation, the gate compares one of the library's metrics "
            f"({', '.join(LIBRARY_METRICS)}), got {metric!r}"
        )


def promote(
    run: Run | str | None,
    name: str,
    *,
    metric: str | None = None,
    mode: str = "max",
    out_dir: str | os.PathLike[str] = "pipelines",
    otherwise: str = "challenger",
    min_delta: float = 0.0,
    verify: bool = True,
    rtol: float = 1e-6,
    evaluation: dict[str, Any] | None = None,
) -> PipelineSpec:
    """Write ``out_dir/name/``: the run as a parameterised papermill pipeline.

    Parameters
    ----------
    run
        A ``Run``, run id, id prefix or name (``None``: the active run, else the latest).
    name
        The pipeline's name, also the registered model's name.
    metric, mode
        The gate: the candidate's ``metric`` must beat the current champion's
        (``max``: higher is better, ``min``: lower). Default: a well-known metric
        the run logged (accuracy, f1, r2... or rmse, loss...).
    otherwise
        What a model that does not beat the champion becomes: ``"challenger"``
        (registered with that alias) or ``"rejected"`` (not registered).
    min_delta
        How much better than the champion the candidate must be.
    evaluation
        Let the library score candidate and champion itself (see
        :mod:`.fair_gate`): ``{"target": "y", "holdout": {"fraction": 0.2, "seed": 0}}``
        or ``{"target": "y", "data": "eval_path"}``, optionally ``slices``,
        ``sensitive`` and ``thresholds``; ``metric`` is then one of the library's
        (accuracy, f1_macro, roc_auc, log_loss, r2, rmse, mae...).
    verify, rtol
        Execute the new notebook once (papermill, a real kernel, a throwaway
        store) with the run's own parameters and check that it logs the run's
        metrics within ``rtol``; the outcome is recorded in ``pipeline.json``.

    Returns
    -------
    PipelineSpec
        The written spec (``spec.folder`` is the pipeline folder).

    Raises
    ------
    PromotionError
        Before anything is written: a name the run's code uses that no earlier
        cell defines (named with the cell that uses it), or a parameter key that
        is not a Python name. After writing: the notebook failed its
        verification (names the cell and the error, or the metric that differs).
    """
    from ..project import default_project
    from ..tracking.api import get_run

    _check_options(name, evaluation, metric, otherwise)
    folder = Path(out_dir) / name
    if default_project().adopted and (folder / "pipeline.json").is_file():
        return PipelineSpec.load(folder)  # inside a pipeline step: already promoted
    target = get_run(run)
    model = _model_artifact(target, name, metric, mode)
    metric, mode = _gate_metric(target, metric, mode, evaluation)
    cells, sliced = sliced_code(target, name)
    where = workdir(target)
    params, body = parameterise(target, cells, sliced, name, where)
    folder.mkdir(parents=True, exist_ok=True)
    write_notebook(folder / "train.ipynb", target, name, params, body)
    gate = {"mode": mode, "min_delta": float(min_delta), "otherwise": otherwise}
    steps = _steps(target, folder, name, params, model, metric, gate, evaluation)
    spec = PipelineSpec(
        name=name,
        folder=folder.resolve(),
        params=params,
        steps=steps,
        model=model,
        experiment=target.info["experiment"],
        workdir=os.path.relpath(where, folder.resolve()),
        source=_source(target, cells, sliced, metric),
    )
    spec.save()
    (folder / "README.md").write_text(readme(spec), encoding="utf-8")
    if verify:
        verify_promotion(spec, target, rtol=rtol)
    return spec


def _check_options(
    name: str, evaluation: dict[str, Any] | None, metric: str | None, otherwise: str
) -> None:
    """Refuse a bad pipeline name, evaluation or ``otherwise`` before reading the run."""
    from ..registry.api import check_name

    check_name(name)
    if evaluation is not None:
        _check_evaluation(evaluation, metric)
    if otherwise not in ("challenger", "rejected"):
        raise InvalidArgumentError(
            f"otherwise: expected 'challenger' or 'rejected', got {otherwise!r}"
        )


def _model_artifact(target: Run, name: str, metric: str | None, mode: str) -> str:
    """The run's model to train and register: ``"model"`` if it logged one by that name."""
    models = [a["path"] for a in target.artifacts if a["kind"] == "model"]
    if not models:
        raise _no_model_error(target, name, metric, mode)
    return "model" if "model" in models else models[0]


def _gate_metric(
    target: Run, metric: str | None, mode: str, evaluation: dict[str, Any] | None
) -> tuple[str, str]:
    """The gate's metric and mode: chosen among the run's metrics, or the library's."""
    if evaluation is None:
        return choose_metric(target.metrics, metric, mode)
    if mode not in ("max", "min"):
        raise InvalidArgumentError(f"mode: expected 'max' or 'min', got {mode!r}")
    assert metric is not None  # checked by _check_evaluation
    return metric, mode


def _steps(
    target: Run,
    folder: Path,
    name: str,
    params: dict[str, Param],
    model: str,
    metric: str,
    gate: dict[str, Any],
    evaluation: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """validate, train, evaluate, gate, register (writes the schema the first one checks)."""
    schema_file = _write_schema(target, folder)
    data_param = next((k for k, p in params.items() if p.dataset == "train"), None)
    data_param = data_param or next((k for k, p in params.items() if p.type == "path"), None)
    return [
        {"name": "validate", "kind": "validate", "schema": schema_file, "data": data_param},
        {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": model},
        {"name": "evaluate", "kind": "evaluate", "metric": metric, **(evaluation or {})},
        {
            "name": "gate",
            "kind": "gate",
            "metric": metric,
            "mode": gate["mode"],
            "min_delta": gate["min_delta"],
            "against": "champion",
            "otherwise": gate["otherwise"],
        },
        {"name": "register", "kind": "register", "model_name": name},
    ]


def _source(target: Run, cells: list[Cell], sliced: Slice, metric: str) -> dict[str, Any]:
    """What the pipeline was promoted from: the run, its notebook, commit, metric, cells."""
    info = target.info
    return {
        "run_id": target.run_id,
        "run_name": info["name"],
        "notebook": info.get("source_path"),
        "git_commit": info.get("git_commit"),
        "metrics": {metric: target.metrics.get(metric)},
        "cells": [cells[j].label for j in sliced.cells],
    }


def _write_schema(run: Run, folder: Path) -> str | None:
    """Save the schema of the run's training data beside the notebook, if it logged any."""
    if not run.datasets:
        return None
    from ..data.api import run_schema

    try:
        schema = run_schema(run)
    except MlopsLabError:
        return None
    schema.save(folder / "schema.json")
    return "schema.json"


def readme(spec: PipelineSpec) -> str:
    gate = spec.gate
    better = "higher" if gate.get("mode") == "max" else "lower"
    rows = "\n".join(
        f"| `{k}` | {p.type} | `{p.default!r}` |" + (" dataset" if p.dataset else "")
        for k, p in spec.params.items()
    )
    return f"""# Pipeline `{spec.name}`

Promoted by mlops-lab from run `{spec.source.get("run_id", "")[:8]}`
({spec.source.get("run_name", "")}). Edit `train.ipynb` freely; re-promoting overwrites it.

```bash
mlops-lab pipeline run {spec.name}                      # the defaults below
mlops-lab pipeline run {spec.name} -p NAME VALUE        # override a parameter
```

or, in a notebook, `%mlops pipeline run {spec.name} -p NAME VALUE` /
`ml.run_pipeline("{spec.name}", {{"NAME": VALUE}})`.

| parameter | type | default |
|---|---|---|
{rows}

Steps: {", ".join(s["name"] for s in spec.steps)}. Every step is a child run of the
pipeline run; the executed notebook is kept with the train step's run.

Gate: the candidate's `{gate.get("metric")}` ({better} is better, by more than
{gate.get("min_delta", 0.0)}) must beat `{spec.name}@champion`; then it is registered as the
new champion, else as {gate.get("otherwise")}.

Continuous training: run the same command from cron or CI when new data arrives, e.g.
`0 3 * * * cd /project && mlops-lab pipeline run {spec.name} -p train_path data/latest.csv`.
"""
