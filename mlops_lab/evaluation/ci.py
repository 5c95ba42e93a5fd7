"""CI for data and models: ``mlops-lab check`` over every entry of ``mlops-lab.toml``.

Data entries (``[[check.validate]]``, ``[[check.drift]]``) run as in
:mod:`mlops_lab.data.check`; each ``[[check.model]]`` entry evaluates a model on a
dataset with the library's own metrics and applies its thresholds::

    [[check.model]]
    model = "churn@champion"          # a registry reference (or runs:/ID/model)
    data = "data/holdout.csv"         # relative to the file's folder
    target = "churned"
    slices = ["region"]               # optional
    sensitive = ["sex"]               # optional: fairness metrics (the fairness extra)
    baseline = "churn/3"              # optional: scored on the same rows
    thresholds = { accuracy = { min_value = 0.85 }, "fairness.sex.demographic_parity_difference" = { max_value = 0.1 } }
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..data.check import Printer
from ..data.check import run_check as run_data_check
from ..errors import InvalidArgumentError
from .api import evaluate

_MODEL_KEYS = frozenset(
    {"model", "data", "target", "task", "slices", "sensitive", "baseline", "thresholds"}
)


def run_model_entry(entry: dict[str, Any], at: Callable[[Any], Any], say: Printer) -> int:
    """Evaluate one ``[[check.model]]`` entry; print the report and rules; 0 if all held."""
    unknown = sorted(set(entry) - _MODEL_KEYS)
    if unknown:
        raise InvalidArgumentError(
            f"[[check.model]]: unknown keys {', '.join(unknown)} (keys: {', '.join(sorted(_MODEL_KEYS))})"
        )
    for key in ("model", "data", "target"):
        if key not in entry:
            raise InvalidArgumentError(f"[[check.model]]: {key} = ... is required")
    report = evaluate(
        entry["model"],
        at(entry["data"]),
        target=entry["target"],
        task=entry.get("task"),
        slices=entry.get("slices"),
        sensitive=entry.get("sensitive"),
        baseline=entry.get("baseline"),
        log=False,
    )
    say(str(report))
    results = report.check(entry.get("thresholds", {}))
    for result in results:
        say(f"  {result}")
    return 1 if any(not r.passed for r in results) else 0


def run_check(config: str | os.PathLike[str] | None = None, *, out: Printer | None = None) -> int:
    """Run every data and model check declared in ``mlops-lab.toml``; 0 if all passed."""
    return run_data_check(config, out=out, model_runner=run_model_entry)
