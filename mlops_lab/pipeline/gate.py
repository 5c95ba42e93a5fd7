"""The gate: does a candidate model beat the current champion?

The decision is ``champion`` (better than the champion by more than
``min_delta``, or there is no champion yet, and every threshold rule held),
else ``challenger`` or ``rejected`` as the pipeline's spec says. Both figures
are kept with the data they were computed on (the evaluation data's digest,
when the evaluate step scored both models itself), the rule and the failed
threshold rules, so ``str(decision)`` says in words what happened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GateDecision:
    """What the gate decided, the figures it compared and why."""

    decision: str
    metric: str
    mode: str
    candidate: float
    champion: float | None
    champion_version: int | None
    min_delta: float = 0.0
    dataset: str | None = None
    failed_rules: list[str] = field(default_factory=list)

    @property
    def rule(self) -> str:
        better = ">" if self.mode == "max" else "<"
        delta = (
            f" {'+' if self.mode == 'max' else '-'} {self.min_delta:g}" if self.min_delta else ""
        )
        return f"{self.metric} {better} champion{delta}"

    def _rule_in_words(self) -> str:
        verb = "beat" if self.mode == "max" else "be below"
        by = f" by more than {self.min_delta:g}" if self.min_delta else ""
        return f"{self.metric} must {verb} the champion's{by}"

    def __str__(self) -> str:
        where = f" on eval data {self.dataset[:12]}" if self.dataset else ""
        head = f"{self.decision}: {self.metric} {self.candidate:.4g}{where}"
        if self.champion is None:
            text = f"{head}, and there is no champion yet"
        else:
            better = self.decision == "champion" or (
                self.candidate > self.champion + self.min_delta
                if self.mode == "max"
                else self.candidate < self.champion - self.min_delta
            )
            if self.mode == "max":
                relation = "beats" if better else "does not beat"
            else:
                relation = "is below" if better else "is not below"
            same = " on the same data" if self.dataset else " (its figure from its own run)"
            text = (
                f"{head} {relation} champion v{self.champion_version}'s "
                f"{self.champion:.4g}{same}; rule: {self._rule_in_words()}"
            )
        if self.failed_rules:
            text += "; failed: " + "; ".join(self.failed_rules)
        return text


def decide(
    candidate: float,
    champion: float | None,
    *,
    metric: str,
    mode: str = "max",
    min_delta: float = 0.0,
    otherwise: str = "challenger",
    champion_version: int | None = None,
    dataset: str | None = None,
    failed_rules: list[str] | None = None,
) -> GateDecision:
    """Compare ``candidate`` with ``champion`` (``None``: there is no champion).

    ``failed_rules`` (threshold rules the candidate did not meet) stop a promotion to
    champion whatever the comparison says.
    """
    if champion is None or (isinstance(champion, float) and math.isnan(champion)):
        better = True
        champion = None
    elif mode == "max":
        better = candidate > champion + min_delta
    else:
        better = candidate < champion - min_delta
    if isinstance(candidate, float) and math.isnan(candidate):
        better = False
    if failed_rules:
        better = False
    return GateDecision(
        decision="champion" if better else otherwise,
        metric=metric,
        mode=mode,
        candidate=candidate,
        champion=champion,
        champion_version=champion_version if champion is not None else None,
        min_delta=min_delta,
        dataset=dataset,
        failed_rules=list(failed_rules or []),
    )


def current_champion(name: str, metric: str, store: Any) -> tuple[float | None, int | None]:
    """The ``metric`` of ``name@champion`` (as its run logged it) and its version."""
    from ..errors import ModelNotFoundError
    from ..registry.api import get_model_version

    try:
        mv = get_model_version(f"{name}@champion", store=store)
    except ModelNotFoundError:
        return None, None
    return mv.metrics.get(metric), mv.version
