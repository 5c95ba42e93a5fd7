"""Monitoring a served model: latency, errors, predictions and input drift from the prediction log.

:func:`~.report.monitor` builds a :class:`~.report.MonitorReport`;
:func:`~.report.log_feedback` attaches ground truth to a served request so the
report can show live accuracy.
"""

from __future__ import annotations

from .report import MonitorReport, log_feedback, monitor

__all__ = ["MonitorReport", "log_feedback", "monitor"]
