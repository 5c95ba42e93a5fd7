"""mlops-lab: the machine-learning lifecycle inside the notebook.

``import mlops_lab as ml`` is instant: each public name is loaded from its
module on first use, so plotly, scikit-learn, papermill and the server stack
are imported only by the functions that need them.

>>> import mlops_lab as ml
>>> with ml.start_run("baseline"):          # doctest: +SKIP
...     ml.log_param("C", 1.0)
...     ml.log_metric("acc", 0.93)
>>> ml.runs(filter="metrics.acc > 0.9")     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ._version import __version__

# Public name -> the module that defines it.
_EXPORTS: Mapping[str, str] = MappingProxyType(
    {
        "Bundle": "mlops_lab.packaging.bundle",
        "DatasetProfile": "mlops_lab.data.profile",
        "DriftReport": "mlops_lab.data.drift",
        "EvaluationReport": "mlops_lab.evaluation",
        "MlopsLabError": "mlops_lab.errors",
        "ModelVersion": "mlops_lab.registry",
        "MonitorReport": "mlops_lab.monitoring.report",
        "Project": "mlops_lab.project",
        "Run": "mlops_lab.tracking.run",
        "Schema": "mlops_lab.data.schema",
        "Store": "mlops_lab.store",
        "Threshold": "mlops_lab.evaluation",
        "ValidationReport": "mlops_lab.data.report",
        "active_run": "mlops_lab.tracking.api",
        "autolog": "mlops_lab.tracking.autolog",
        "compare": "mlops_lab.comparison.api",
        "default_project": "mlops_lab.project",
        "delete_alias": "mlops_lab.registry",
        "drift": "mlops_lab.data.drift",
        "drift_history": "mlops_lab.data.api",
        "drift_reference": "mlops_lab.data.drift",
        "end_run": "mlops_lab.tracking.api",
        "evaluate": "mlops_lab.evaluation",
        "fingerprint": "mlops_lab.data.fingerprint",
        "flush": "mlops_lab.tracking.api",
        "get_model_version": "mlops_lab.registry",
        "get_run": "mlops_lab.tracking.api",
        "infer_schema": "mlops_lab.data.schema",
        "lineage": "mlops_lab.registry",
        "load_bundle": "mlops_lab.packaging.bundle",
        "load_model": "mlops_lab.registry.api",
        "log_artifact": "mlops_lab.tracking.api",
        "log_dataset": "mlops_lab.data.api",
        "log_feedback": "mlops_lab.monitoring.report",
        "log_metric": "mlops_lab.tracking.api",
        "log_metrics": "mlops_lab.tracking.api",
        "log_model": "mlops_lab.tracking.models",
        "log_param": "mlops_lab.tracking.api",
        "log_params": "mlops_lab.tracking.api",
        "merge": "mlops_lab.project",
        "model_versions": "mlops_lab.registry",
        "models": "mlops_lab.registry",
        "monitor": "mlops_lab.monitoring.report",
        "package": "mlops_lab.packaging.build",
        "profile": "mlops_lab.data.profile",
        "promote": "mlops_lab.pipeline",
        "register_model": "mlops_lab.registry",
        "reproduce": "mlops_lab.pipeline",
        "run_pipeline": "mlops_lab.pipeline",
        "runs": "mlops_lab.tracking.api",
        "runs_widget": "mlops_lab.comparison.api",
        "set_alias": "mlops_lab.registry",
        "set_tag": "mlops_lab.tracking.api",
        "set_tags": "mlops_lab.tracking.api",
        "start_run": "mlops_lab.tracking.api",
        "start_server": "mlops_lab.serve.server",
        "sweep": "mlops_lab.pipeline",
        "validate": "mlops_lab.data.validate",
        "watch": "mlops_lab.pipeline.watch",
    }
)

# The public names: the table above plus what this module defines itself.
__all__ = sorted([*_EXPORTS, "__version__", "load_ipython_extension", "unload_ipython_extension"])

if TYPE_CHECKING:
    from .comparison.api import compare, runs_widget
    from .data.api import drift_history, log_dataset
    from .data.drift import DriftReport, drift, drift_reference
    from .data.fingerprint import fingerprint
    from .data.profile import DatasetProfile, profile
    from .data.report import ValidationReport
    from .data.schema import Schema, infer_schema
    from .data.validate import validate
    from .errors import MlopsLabError
    from .evaluation import EvaluationReport, Threshold, evaluate
    from .monitoring.report import MonitorReport, log_feedback, monitor
    from .packaging.build import package
    from .packaging.bundle import Bundle, load_bundle
    from .pipeline import promote, reproduce, run_pipeline, sweep
    from .pipeline.watch import watch
    from .project import Project, default_project, merge
    from .registry import (
        ModelVersion,
        delete_alias,
        get_model_version,
        lineage,
        load_model,
        model_versions,
        models,
        register_model,
        set_alias,
    )
    from .serve.server import start_server
    from .store import Store
    from .tracking.api import (
        active_run,
        end_run,
        flush,
        get_run,
        log_artifact,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        runs,
        set_tag,
        set_tags,
        start_run,
    )
    from .tracking.autolog import autolog
    from .tracking.models import log_model
    from .tracking.run import Run


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_lab' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mlops_lab``: register ``%mlops`` / ``%%mlops`` and cell capture."""
    from .magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload

    unload(ipython)
