"""The gate: does a candidate model beat the current champion?

The decision is ``champion`` (better than the champion by more than
``min_delta``, or there is no champion yet), else ``challenger`` or
``rejected`` as the pipeline's spec says. Both figures are returned so the
pipeline run can record them beside the decision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class GateDecision:
    """What the gate decided, and the figures it compared."""

    decision: str
    metric: str
    mode: str
    candidate: float
    champion: float | None
    champion_version: int | None
    min_delta: float = 0.0

    @property
    def rule(self) -> str:
        better = ">" if self.mode == "max" else "<"
        delta = (
            f" {'+' if self.mode == 'max' else '-'} {self.min_delta:g}" if self.min_delta else ""
        )
        return f"{self.metric} {better} champion{delta}"

    def __str__(self) -> str:
        if self.champion is None:
            return f"{self.decision}: {self.metric}={self.candidate:.6g} (no champion yet)"
        return (
            f"{self.decision}: {self.metric}={self.candidate:.6g} vs champion "
            f"v{self.champion_version} {self.champion:.6g} ({self.rule})"
        )


def decide(
    candidate: float,
    champion: float | None,
    *,
    metric: str,
    mode: str = "max",
    min_delta: float = 0.0,
    otherwise: str = "challenger",
    champion_version: int | None = None,
) -> GateDecision:
    """Compare ``candidate`` with ``champion`` (``None``: there is no champion)."""
    if champion is None or (isinstance(champion, float) and math.isnan(champion)):
        better = True
        champion = None
    elif mode == "max":
        better = candidate > champion + min_delta
    else:
        better = candidate < champion - min_delta
    if isinstance(candidate, float) and math.isnan(candidate):
        better = False
    return GateDecision(
        decision="champion" if better else otherwise,
        metric=metric,
        mode=mode,
        candidate=candidate,
        champion=champion,
        champion_version=champion_version if champion is not None else None,
        min_delta=min_delta,
    )


def current_champion(name: str, metric: str, store: Any) -> tuple[float | None, int | None]:
    """The ``metric`` of ``name@champion`` and its version, or ``(None, None)``."""
    from ..errors import ModelNotFoundError
    from ..registry.api import get_model_version

    try:
        mv = get_model_version(f"{name}@champion", store=store)
    except ModelNotFoundError:
        return None, None
    return mv.metrics.get(metric), mv.version
