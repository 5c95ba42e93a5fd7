"""The library's own model metrics, computed with scikit-learn from predictions.

:func:`infer_task` tells classification from regression (the model first, then
the target); :func:`score` predicts and returns every metric of the task, so a
figure never comes from what a notebook reported about itself. Metrics that
are undefined on the given rows (ROC AUC with one class present, MAPE with a
zero target) are left out rather than reported as a misleading number.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ..errors import InvalidArgumentError

TASKS = ("classification", "regression")
# Metrics where a lower figure is better; every other metric is better when higher.
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss", "max_error", "mse"})


def greater_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def infer_task(model: Any, y: Any, task: str | None = None) -> str:
    """``"classification"`` or ``"regression"``: ``task`` if given, else from the model, else y."""
    if task is not None:
        if task not in TASKS:
            raise InvalidArgumentError(f"task: expected one of {', '.join(TASKS)}, got {task!r}")
        return task
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model) or hasattr(model, "predict_proba"):
        return "classification"
    if is_regressor(model):
        return "regression"
    import pandas as pd

    series = pd.Series(y)
    if series.dtype.kind in "biuO" or str(series.dtype) in ("category", "string", "str"):
        if series.dtype.kind == "f" or series.nunique() > 20:
            return "regression"
        return "classification"
    return "regression"


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def classification_metrics(y: Any, pred: Any, proba: Any = None, classes: Any = None) -> dict:
    """Accuracy, macro/weighted precision, recall and F1; log loss and ROC AUC with proba."""
    import numpy as np
    from sklearn import metrics as m

    out: dict[str, float | None] = {
        "accuracy": m.accuracy_score(y, pred),
        "balanced_accuracy": m.balanced_accuracy_score(y, pred),
    }
    for avg in ("macro", "weighted"):
        p, r, f, _ = m.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = p, r, f
    if proba is not None and classes is not None:
        labels = list(classes)
        present = set(np.unique(np.asarray(y)).tolist())
        try:
            out["log_loss"] = m.log_loss(y, proba, labels=labels)
        except ValueError:
            pass
        if len(present) >= 2 and present <= set(labels):
            try:
                if len(labels) == 2:
                    out["roc_auc"] = m.roc_auc_score(y, np.asarray(proba)[:, 1])
                else:
                    out["roc_auc"] = m.roc_auc_score(
                        y, proba, multi_class="ovr", average="weighted", labels=labels
                    )
            except ValueError:
                pass
    return {k: v for k, v in ((k, _finite(v)) for k, v in out.items()) if v is not None}


def regression_metrics(y: Any, pred: Any) -> dict:
    """RMSE, MAE, R² and max error; MAPE only when no target value is zero."""
    import numpy as np
    from sklearn import metrics as m

    y_arr = np.asarray(y, dtype=float)
    out: dict[str, float | None] = {
        "rmse": math.sqrt(m.mean_squared_error(y_arr, pred)),
        "mae": m.mean_absolute_error(y_arr, pred),
        "r2": m.r2_score(y_arr, pred) if len(y_arr) >= 2 else None,
        "max_error": m.max_error(y_arr, pred),
    }
    if len(y_arr) and not np.any(y_arr == 0):
        out["mape"] = m.mean_absolute_percentage_error(y_arr, pred)
    return {k: v for k, v in ((k, _finite(v)) for k, v in out.items()) if v is not None}


def predictions(model: Any, X: Any, task: str) -> tuple[Any, Any]:
    """``(pred, proba)``; proba is None for regressors and models without predict_proba."""
    pred = model.predict(X)
    proba = None
    if task == "classification" and hasattr(model, "predict_proba"):
        try:
            proba = model.predict_proba(X)
        except (AttributeError, NotImplementedError, ValueError):
            proba = None
    return pred, proba


def task_metrics(task: str, y: Any, pred: Any, proba: Any, classes: Any) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined-metric warnings on small slices
        if task == "classification":
            return classification_metrics(y, pred, proba, classes)
        return regression_metrics(y, pred)


def confusion(y: Any, pred: Any, classes: Any) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix

    labels = list(classes) if classes is not None else sorted(set(list(y)) | set(list(pred)))
    matrix = confusion_matrix(y, pred, labels=labels)
    return {"labels": [_plain(v) for v in labels], "matrix": matrix.tolist()}


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if hasattr(value, "item") else value
