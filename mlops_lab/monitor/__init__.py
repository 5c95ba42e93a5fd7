"""Monitoring a served model: latency, errors, predictions and input drift from the prediction log.

:func:`~.report.monitor` builds a :class:`~.report.MonitorReport`;
:func:`~.report.log_feedback` attaches ground truth to a served request so the
report can show live accuracy.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .report import MonitorReport, log_feedback, monitor

__all__ = ["MonitorReport", "log_feedback", "monitor"]


class _CallableModule(types.ModuleType):
    """``ml.monitor(...)`` is the function even once ``mlops_lab.monitor`` (this package) is imported.

    Importing a submodule makes ``mlops_lab.monitor`` the package object, which would
    shadow the top-level function of the same name; calling the package calls it.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return monitor(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
