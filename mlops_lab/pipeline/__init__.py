"""Promotion of a notebook run into a parameterised papermill pipeline, and its execution.

``ml.promote(run, "iris")`` writes ``pipelines/iris/`` (notebook, spec, schema,
README); ``ml.run_pipeline("iris", {"C": 0.5})`` runs it: validate the data,
train (the notebook, under papermill), evaluate, gate against the champion,
register. See :mod:`.promote` and :mod:`.run`.
"""

from __future__ import annotations

from .gate import GateDecision
from .promote import promote
from .run import PipelineResult, run_pipeline
from .spec import Param, PipelineSpec, list_pipelines

__all__ = [
    "GateDecision",
    "Param",
    "PipelineResult",
    "PipelineSpec",
    "list_pipelines",
    "promote",
    "run_pipeline",
]
