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

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "MlopsLabError": "mlops_lab.errors",
    "ModelVersion": "mlops_lab.registry",
    "Run": "mlops_lab.tracking.run",
    "Store": "mlops_lab.store",
    "active_run": "mlops_lab.tracking.api",
    "autolog": "mlops_lab.tracking.autolog",
    "delete_alias": "mlops_lab.registry",
    "end_run": "mlops_lab.tracking.api",
    "flush": "mlops_lab.tracking.api",
    "get_model_version": "mlops_lab.registry",
    "get_run": "mlops_lab.tracking.api",
    "lineage": "mlops_lab.registry",
    "load_model": "mlops_lab.tracking.models",
    "log_artifact": "mlops_lab.tracking.api",
    "log_metric": "mlops_lab.tracking.api",
    "log_metrics": "mlops_lab.tracking.api",
    "log_model": "mlops_lab.tracking.models",
    "log_param": "mlops_lab.tracking.api",
    "log_params": "mlops_lab.tracking.api",
    "model_versions": "mlops_lab.registry",
    "models": "mlops_lab.registry",
    "register_model": "mlops_lab.registry",
    "runs": "mlops_lab.tracking.api",
    "set_alias": "mlops_lab.registry",
    "set_tag": "mlops_lab.tracking.api",
    "set_tags": "mlops_lab.tracking.api",
    "start_run": "mlops_lab.tracking.api",
}

__all__ = [
    "MlopsLabError",
    "ModelVersion",
    "Run",
    "Store",
    "__version__",
    "active_run",
    "autolog",
    "delete_alias",
    "end_run",
    "flush",
    "get_model_version",
    "get_run",
    "lineage",
    "load_ipython_extension",
    "load_model",
    "log_artifact",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "model_versions",
    "models",
    "register_model",
    "runs",
    "set_alias",
    "set_tag",
    "set_tags",
    "start_run",
    "unload_ipython_extension",
]

if TYPE_CHECKING:
    from .errors import MlopsLabError
    from .registry import (
        ModelVersion,
        delete_alias,
        get_model_version,
        lineage,
        model_versions,
        models,
        register_model,
        set_alias,
    )
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
    from .tracking.models import load_model, log_model
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
