"""``ml.evaluate``: score a model on given data with the library's own metrics.

The model is a fitted estimator, a registry reference (``iris@champion``,
``iris/3``, ``runs:/ID/model``) or a run; the data a DataFrame or a CSV/Parquet
path holding the target column. The figures are computed here from the
model's predictions (scikit-learn's metrics), per slice value when ``slices``
are given and with fairlearn's fairness metrics for ``sensitive`` columns; a
``baseline`` model is scored on the very same rows. With ``log=True`` the
report is recorded as an evaluation run (a child of the active run when one is
open) tagged with the model reference and the dataset digest, its metrics
logged and the whole report stored as ``evaluation.json``; a registered
version also gets an ``evaluated`` lineage event.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError
from .fairness import fairness_metrics
from .metrics import confusion, infer_task, predictions, task_metrics
from .report import EvaluationReport

_SLICE_BINS = 4
_MAX_SLICE_VALUES = 50


def _resolve(model: Any) -> tuple[Any, str, Any]:
    """``(estimator, label, model_version or None)`` for what the user passed."""
    if hasattr(model, "predict"):
        return model, type(model).__name__, None
    from ..registry import ModelVersion, get_model_version
    from ..tracking.models import load_model

    if isinstance(model, ModelVersion):
        return model.load(), model.ref, model
    if hasattr(model, "run_id") and hasattr(model, "artifacts"):  # a Run
        return load_model(model), f"run {model.run_id[:8]}", None
    if not isinstance(model, str):
        raise InvalidArgumentError(
            "model: expected a fitted estimator, a model reference such as 'iris@champion' "
            f"or a run, got {type(model).__name__}"
        )
    if "@" in model or "/" in model:
        mv = get_model_version(model)
        return mv.load(), mv.ref if mv.version else model, mv if mv.version else None
    return load_model(model), model, None


def _inputs(estimator: Any, frame: Any, target: str) -> Any:
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return frame.drop(columns=[target])
    missing = [str(n) for n in names if n not in frame.columns]
    if missing:
        raise InvalidArgumentError(
            f"data: the model's input columns {', '.join(missing)} are missing "
            f"(data has {', '.join(map(str, frame.columns))})"
        )
    return frame[list(names)]


def _slice_keys(series: Any) -> Any:
    """Values to group by: the column itself, or quartile bins of a many-valued number."""
    import pandas as pd

    if series.dtype.kind in "iuf" and series.nunique() > 10:
        return pd.qcut(series, _SLICE_BINS, duplicates="drop").astype(str)
    return series.astype(str).where(series.notna(), "(missing)")


def _slices(
    task: str, y: Any, pred: Any, proba: Any, classes: Any, frame: Any, columns: list[str]
) -> dict:
    import numpy as np

    out: dict[str, list[dict[str, Any]]] = {}
    for column in columns:
        keys = _slice_keys(frame[column]).to_numpy()
        values = sorted(set(keys.tolist()), key=str)
        if len(values) > _MAX_SLICE_VALUES:
            raise InvalidArgumentError(
                f"slices: column {column!r} has {len(values)} values "
                f"(at most {_MAX_SLICE_VALUES}); bin it first"
            )
        rows = []
        for value in values:
            mask = keys == value
            rows.append(
                {
                    "value": value,
                    "count": int(mask.sum()),
                    "metrics": task_metrics(
                        task,
                        np.asarray(y)[mask],
                        np.asarray(pred)[mask],
                        None if proba is None else np.asarray(proba)[mask],
                        classes,
                    ),
                }
            )
        out[column] = rows
    return out


def _columns(frame: Any, names: list[str] | str | None, what: str) -> list[str]:
    if names is None:
        return []
    names = [names] if isinstance(names, str) else list(names)
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidArgumentError(
            f"{what}: no column {', '.join(map(repr, missing))} in the data "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )
    return names


def evaluate(
    model: Any,
    data: Any,
    *,
    target: str,
    task: str | None = None,
    slices: list[str] | str | None = None,
    sensitive: list[str] | str | None = None,
    baseline: Any = None,
    log: bool = True,
) -> EvaluationReport:
    """Score ``model`` on ``data`` with the library's own metrics.

    Parameters
    ----------
    model
        A fitted estimator, ``"name@alias"`` / ``"name/3"`` / ``"runs:/ID/model"`` or a run.
    data
        A DataFrame or a CSV/Parquet path with the model's input columns and ``target``.
    target
        The column holding the true values.
    task
        ``"classification"`` or ``"regression"`` (default: inferred from the model and target).
    slices
        Columns whose values (quartiles for many-valued numbers) get every metric, with counts.
    sensitive
        Columns to compute fairness metrics over (fairlearn; the ``fairness`` extra).
    baseline
        Another model, scored on the same rows; ``report.baseline`` holds its report.
    log
        Record the report as an evaluation run (see the module docstring).

    Returns
    -------
    EvaluationReport
    """
    from ..data.fingerprint import fingerprint
    from ..data.io import as_frame

    frame, _ = as_frame(data, what="data")
    if target not in frame.columns:
        raise InvalidArgumentError(
            f"target: no column {target!r} in the data "
            f"(columns: {', '.join(map(str, frame.columns))})"
        )
    slice_cols = _columns(frame, slices, "slices")
    sensitive_cols = _columns(frame, sensitive, "sensitive")
    if frame[target].isna().any():
        raise InvalidArgumentError(
            f"target: column {target!r} has {int(frame[target].isna().sum())} missing values"
        )
    estimator, label, version = _resolve(model)
    report = _score(
        estimator, label, frame, target, task, slice_cols, sensitive_cols, fingerprint(frame)
    )
    if baseline is not None:
        base_estimator, base_label, _ = _resolve(baseline)
        report.baseline = _score(
            base_estimator,
            base_label,
            frame,
            target,
            report.task,
            slice_cols,
            sensitive_cols,
            report.dataset,
        )
    if log:
        _record(report, version)
    return report


def _score(
    estimator: Any,
    label: str,
    frame: Any,
    target: str,
    task: str | None,
    slice_cols: list[str],
    sensitive_cols: list[str],
    digest: str,
) -> EvaluationReport:
    y = frame[target]
    task = infer_task(estimator, y, task)
    X = _inputs(estimator, frame, target)
    try:
        pred, proba = predictions(estimator, X, task)
    except Exception as exc:  # the user's model refusing the data is their error to read
        raise InvalidArgumentError(
            f"{label} cannot predict on this data: {type(exc).__name__}: {exc}"
        ) from exc
    classes = getattr(estimator, "classes_", None)
    report = EvaluationReport(
        model=label,
        task=task,
        target=target,
        dataset=digest,
        rows=len(frame),
        metrics=task_metrics(task, y, pred, proba, classes),
    )
    if task == "classification":
        report.confusion = confusion(y, pred, classes)
    report.slices = _slices(task, y, pred, proba, classes, frame, slice_cols)
    positive = classes[1] if classes is not None and len(classes) == 2 else None
    for column in sensitive_cols:
        report.fairness[column] = fairness_metrics(task, y, pred, frame[column], positive=positive)
    return report


def _record(report: EvaluationReport, version: Any) -> None:
    from ..tracking import api

    tags = {
        "mlops.kind": "evaluation",
        "mlops.evaluation.model": report.model,
        "mlops.evaluation.dataset": report.dataset,
        "mlops.evaluation.task": report.task,
    }
    active = api.active_run()
    run = api.start_run(
        f"evaluate {report.model}",
        experiment=active.experiment if active is not None else "evaluations",
        tags=tags,
        parent=True if active is not None else None,
    )
    try:
        run.log_metrics(report.metrics)
        if report.baseline is not None:
            run.log_metrics({f"baseline.{k}": v for k, v in report.baseline.metrics.items()})
            run.set_tag("mlops.evaluation.baseline", report.baseline.model)
        api.log_artifact(report.to_json().encode(), "evaluation.json")
    finally:
        api.end_run()
    report.run_id = run.run_id
    if version is not None:
        from ..registry import record_event

        record_event(
            version,
            "evaluated",
            target=report.dataset,
            meta={"run_id": run.run_id, "metrics": report.metrics},
        )
