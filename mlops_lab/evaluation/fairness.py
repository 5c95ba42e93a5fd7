"""Fairness metrics per sensitive column, computed by fairlearn.

For a classifier: accuracy, selection rate and recall per group (fairlearn's
``MetricFrame``), and for a binary one the demographic parity difference and
the equalized odds difference; for a regressor: MAE and RMSE per group and the
gap between the best and the worst group. fairlearn is the optional extra
``fairness``; a missing install names it.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import MissingDependencyError


def _fairlearn() -> Any:
    try:
        import fairlearn.metrics as fm
    except ImportError as exc:
        raise MissingDependencyError("fairlearn", "fairness", "fairness metrics") from exc
    return fm


def _group_key(value: Any) -> str:
    return (
        "(missing)"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else str(value)
    )


def _clean(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def fairness_metrics(
    task: str, y: Any, pred: Any, groups: Any, *, positive: Any = None
) -> dict[str, Any]:
    """Fairness metrics of ``pred`` against ``y`` across the values of ``groups``.

    ``positive`` is the positive class of a binary classifier (sklearn's
    ``classes_[1]``); without it, only the per-group figures are given.
    """
    import numpy as np
    import pandas as pd
    from sklearn import metrics as m

    fm = _fairlearn()
    keys = pd.Series(groups).map(_group_key).to_numpy()
    y_arr, pred_arr = np.asarray(y), np.asarray(pred)
    out: dict[str, Any] = {}
    if task == "classification":
        per: dict[str, Any] = {"accuracy": m.accuracy_score, "count": fm.count}
        if positive is not None:
            y_arr = (y_arr == positive).astype(int)
            pred_arr = (pred_arr == positive).astype(int)
            per["selection_rate"] = fm.selection_rate
            per["recall"] = fm.true_positive_rate
        frame = fm.MetricFrame(metrics=per, y_true=y_arr, y_pred=pred_arr, sensitive_features=keys)
        if positive is not None:
            out["demographic_parity_difference"] = _clean(
                fm.demographic_parity_difference(y_arr, pred_arr, sensitive_features=keys)
            )
            out["equalized_odds_difference"] = _clean(
                fm.equalized_odds_difference(y_arr, pred_arr, sensitive_features=keys)
            )
        out["accuracy_difference"] = _clean(frame.difference()["accuracy"])
    else:

        def rmse(a: Any, b: Any) -> float:
            return math.sqrt(m.mean_squared_error(a, b))

        per = {"mae": m.mean_absolute_error, "rmse": rmse, "count": fm.count}
        frame = fm.MetricFrame(
            metrics=per,
            y_true=y_arr.astype(float),
            y_pred=pred_arr.astype(float),
            sensitive_features=keys,
        )
        diff = frame.difference()
        out["mae_difference"] = _clean(diff["mae"])
        out["rmse_difference"] = _clean(diff["rmse"])
    out["by_group"] = {
        str(group): {k: _clean(v) for k, v in row.items()}
        for group, row in frame.by_group.to_dict(orient="index").items()
    }
    return out
