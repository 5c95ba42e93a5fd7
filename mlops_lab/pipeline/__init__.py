"""Promotion of a notebook run into a parameterised papermill pipeline, and its execution.

``ml.promote(run, "iris")`` writes ``pipelines/iris/`` (notebook, spec, schema,
README); ``ml.run_pipeline("iris", {"C": 0.5})`` runs it: validate the data,
train (the notebook, under papermill), evaluate, gate against the champion,
register. ``ml.sweep("iris", {"C": [0.1, 1]})`` runs a grid of them in parallel
(:mod:`.sweep`, :mod:`.executors`); ``ml.reproduce("iris/3")`` re-runs a version's
pipeline and compares its metrics (:mod:`.reproduce`). See :mod:`.promote` and :mod:`.run`.
"""

from __future__ import annotations

from .gate import GateDecision
from .promote import promote
from .reproduce import Reproduction, reproduce
from .run import PipelineResult, run_pipeline
from .spec import Param, PipelineSpec, list_pipelines
from .sweep import SweepResult, sweep

__all__ = [
    "GateDecision",
    "Param",
    "PipelineResult",
    "PipelineSpec",
    "Reproduction",
    "SweepResult",
    "list_pipelines",
    "promote",
    "reproduce",
    "run_pipeline",
    "sweep",
]
