"""Model evaluation by the library: metrics, slices and fairness on given data.

``ml.evaluate(model, data, target=...)`` returns an :class:`EvaluationReport`;
:class:`Threshold` rules turn it into pass/fail checks for the pipeline's gate
and ``mlops-lab check``.
"""

from __future__ import annotations

from .api import evaluate
from .report import CheckResult, EvaluationReport, Threshold

__all__ = ["CheckResult", "EvaluationReport", "Threshold", "evaluate"]
