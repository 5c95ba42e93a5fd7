"""The model registry: named models, numbered versions, aliases, lineage.

A version points at a model artifact of a run (its content digest is kept,
so a version always loads the bytes that were registered). Aliases such as
``champion`` and ``challenger`` name one version each and move on demand.
A model is referred to as ``"name@alias"``, ``"name/3"``, ``"name"`` (the
latest version) or ``"runs:/RUN_ID/model"`` (a run's model, registered or not)::

    mv = ml.register_model(run, "iris", alias="champion")
    ml.load_model("iris@champion")
    ml.lineage("iris@champion")
"""

from __future__ import annotations

from .api import (
    ModelVersion,
    delete_alias,
    get_model_version,
    load_model,
    model_versions,
    models,
    parse_ref,
    record_event,
    register_model,
    set_alias,
)
from .lineage import Lineage, lineage

__all__ = [
    "Lineage",
    "ModelVersion",
    "delete_alias",
    "get_model_version",
    "lineage",
    "load_model",
    "model_versions",
    "models",
    "parse_ref",
    "record_event",
    "register_model",
    "set_alias",
]
