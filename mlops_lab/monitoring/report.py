"""What a served model did: :func:`monitor` reads the prediction log into a :class:`MonitorReport`.

The report holds the request rate, latency percentiles, error rate, server
memory, the distribution of predictions over time and the drift of the served
inputs against a reference (the training data, when given), computed with
:func:`mlops_lab.drift`. It knows the task: for a classifier, class shares and
live accuracy and macro F1 from the labels sent with :func:`log_feedback`; for a
regressor, a histogram and quantiles of the predictions and live RMSE, MAE and
R² from the true values sent back; with feedback and ``sensitive`` columns,
live fairness metrics (fairlearn). It renders as text (``print(report)``,
``mlops-lab monitor``) and in a notebook as HTML with a plotly chart of the
predictions.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = MappingProxyType({"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800})


def parse_since(since: Any, *, now: float | None = None) -> float | None:
    """``since`` as a Unix time: a number, a datetime, ``"1h"``/``"30m"``/``"2d"``, or ISO text."""
    if since is None:
        return None
    now = time.time() if now is None else now
    if isinstance(since, int | float):
        return float(since)
    if isinstance(since, datetime):
        return since.timestamp()
    text = str(since)
    match = _SPAN.match(text)
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise InvalidArgumentError(
            f"since: expected a time like '1h', '30m', '2d' or an ISO date, got {text!r}"
        ) from None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class MonitorReport:
    """The served behaviour of one model over a time window (see the module docstring)."""

    model: str
    since: float | None
    until: float
    n_requests: int = 0
    n_errors: int = 0
    n_rows: int = 0
    versions: list[str] = field(default_factory=list)
    runtimes: list[str] = field(default_factory=list)
    request_rate: float | None = None
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    memory_bytes: int | None = None
    predictions: dict[str, int] = field(default_factory=dict)
    predictions_over_time: list[dict[str, Any]] = field(default_factory=list)
    accuracy: float | None = None
    n_labelled: int = 0
    drift: Any = None
    drift_note: str | None = None
    task: str | None = None
    live_metrics: dict[str, float] = field(default_factory=dict)
    prediction_quantiles: dict[str, float] = field(default_factory=dict)
    prediction_histogram: dict[str, list[float]] = field(default_factory=dict)
    fairness: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_version: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def error_rate(self) -> float | None:
        return self.n_errors / self.n_requests if self.n_requests else None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "drift"}
        out["error_rate"] = self.error_rate
        drift = self.drift
        out["drift"] = drift.to_dict() if hasattr(drift, "to_dict") else drift
        return out

    def _lines(self) -> list[tuple[str, str]]:
        lat = self.latency_ms
        fmt = lambda v, unit="": "n/a" if v is None else f"{v:.3g}{unit}"  # noqa: E731
        rows = [
            ("requests", f"{self.n_requests} ({self.n_rows} rows)"),
            ("versions", ", ".join(self.versions) or "n/a"),
            ("runtime", ", ".join(self.runtimes) or "n/a"),
            ("request rate", fmt(self.request_rate, " /s")),
            (
                "latency",
                f"p50 {fmt(lat.get('p50'), ' ms')} · p90 {fmt(lat.get('p90'), ' ms')} · "
                f"p99 {fmt(lat.get('p99'), ' ms')}",
            ),
            (
                "errors",
                f"{self.n_errors} ({fmt(None if self.error_rate is None else 100 * self.error_rate, '%')})"
                + (
                    " — " + ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
                    if self.errors
                    else ""
                ),
            ),
            (
                "memory",
                "n/a" if self.memory_bytes is None else f"{self.memory_bytes / 2**20:.1f} MiB",
            ),
            ("task", self.task or "n/a"),
            ("predictions", self._predictions_text()),
            ("live error" if self.task == "regression" else "live accuracy", self._live_text()),
        ]
        for column, figures in self.fairness.items():
            shown = ", ".join(
                f"{k} {v:.4g}" for k, v in figures.items() if k != "by_group" and v is not None
            )
            rows.append((f"fairness by {column}", shown or "n/a"))
        if len(self.by_version) > 1:
            for version, v in self.by_version.items():
                parts = [f"{v['role']}", f"{v['requests']} requests"]
                if v.get("p50_ms") is not None:
                    parts.append(f"p50 {v['p50_ms']:.3g} ms")
                if v.get("agreement") is not None:
                    parts.append(f"agrees with the answer on {v['agreement']:.1%} of rows")
                for key, value in (v.get("live") or {}).items():
                    parts.append(f"live {key} {value:.4g}")
                rows.append((f"version {version}", ", ".join(parts)))
        if self.drift is not None:
            drifted = getattr(self.drift, "drifted_columns", None)
            rows.append(
                ("input drift", f"drifted columns: {', '.join(drifted) if drifted else 'none'}")
            )
        else:
            rows.append(("input drift", self.drift_note or "n/a"))
        return rows

    def _predictions_text(self) -> str:
        if self.task == "regression" and self.prediction_quantiles:
            q = self.prediction_quantiles
            return " · ".join(f"{k} {q[k]:.4g}" for k in ("min", "p25", "p50", "p75", "max"))
        total = sum(self.predictions.values())
        if not total:
            return "n/a"
        return ", ".join(f"{k}: {v} ({v / total:.0%})" for k, v in self.predictions.items())

    def _live_text(self) -> str:
        live = self.live_metrics
        if not live:
            return "n/a (no feedback: ml.log_feedback(request_id, truth))"
        if "accuracy" in live:
            shown = f"{live['accuracy']:.4f} (macro F1 {live['f1_macro']:.4f})"
        else:
            shown = ", ".join(
                f"{label} {live[k]:.4g}"
                for k, label in (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R²"))
                if k in live
            )
        return f"{shown} on {self.n_labelled} labelled rows"

    def figure(self) -> Any:
        """A plotly figure of the predictions: a histogram (regression) or class shares."""
        import plotly.graph_objects as go

        if self.task == "regression" and self.prediction_histogram:
            edges = self.prediction_histogram["edges"]
            centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
            fig = go.Figure(go.Bar(x=centers, y=self.prediction_histogram["counts"]))
            fig.update_layout(bargap=0.02, xaxis_title="prediction", yaxis_title="rows")
        else:
            fig = go.Figure(go.Bar(x=list(self.predictions), y=list(self.predictions.values())))
            fig.update_layout(xaxis_title="predicted class", yaxis_title="rows")
            fig.update_xaxes(type="category")
        fig.update_layout(
            title=f"Predictions of {self.model}", height=320, margin={"t": 50, "b": 40}
        )
        return fig

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/plain": repr(self), "text/html": self._repr_html_()}
        if self.predictions or self.prediction_histogram:
            try:
                bundle["application/vnd.plotly.v1+json"] = self.figure().to_plotly_json()
            except ImportError:
                pass
        return bundle

    def to_text(self) -> str:
        head = f"Monitor: {self.model}"
        if self.since is not None:
            head += f" since {datetime.fromtimestamp(self.since).isoformat(timespec='seconds')}"
        width = max(len(k) for k, _ in self._lines())
        body = "\n".join(f"  {k.ljust(width)}  {v}" for k, v in self._lines())
        text = f"{head}\n{body}"
        if self.drift is not None:
            text += "\n\n" + str(self.drift)
        return text

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<MonitorReport {self.model}: {self.n_requests} requests, {self.n_errors} errors>"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self._lines()
        )
        timeline = ""
        if self.predictions_over_time:
            labels = sorted({k for b in self.predictions_over_time for k in b["counts"]})
            head = "".join(f"<th>{html.escape(str(lbl))}</th>" for lbl in labels)
            body = "".join(
                "<tr><td>"
                + html.escape(datetime.fromtimestamp(b["start"]).isoformat(timespec="seconds"))
                + "</td>"
                + "".join(f"<td>{b['counts'].get(lbl, 0)}</td>" for lbl in labels)
                + "</tr>"
                for b in self.predictions_over_time
            )
            timeline = (
                f"<b>Predictions over time</b><table><tr><th>from</th>{head}</tr>{body}</table>"
            )
        drift = ""
        if self.drift is not None and hasattr(self.drift, "_repr_html_"):
            drift = "<b>Input drift</b>" + self.drift._repr_html_()
        return (
            f"<div><b>Monitor: {html.escape(self.model)}</b><table>{rows}</table>"
            f"{timeline}{drift}</div>"
        )


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _predicted(row: dict[str, Any]) -> list[Any]:
    outputs = _decode(row.get("outputs")) or {}
    values = outputs.get("predict") if isinstance(outputs, dict) else None
    return values if isinstance(values, list) else []


def _labelled(rows: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """``(predicted, truth)`` over every served row that got feedback, in log order."""
    predicted: list[Any] = []
    truth: list[Any] = []
    for row in rows:
        label = row.get("label")
        if label is None:
            continue
        labels = label if isinstance(label, list) else [label]
        for p, y in zip(_predicted(row), labels, strict=False):
            predicted.append(p)
            truth.append(y)
    return predicted, truth


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def infer_task(rows: list[dict[str, Any]], values: list[Any]) -> str:
    """Classification when probabilities were served or predictions are labels, else regression."""
    for row in rows:
        outputs = _decode(row.get("outputs")) or {}
        if isinstance(outputs, dict) and "predict_proba" in outputs:
            return "classification"
    if not values or not all(_is_number(v) for v in values):
        return "classification"
    if any(float(v) != int(v) for v in values if v == v and abs(v) != float("inf")):
        return "regression"
    return "classification" if len(set(values)) <= 20 else "regression"


def _live_metrics(task: str, predicted: list[Any], truth: list[Any]) -> dict[str, float]:
    import math

    from sklearn import metrics as m

    if not truth:
        return {}
    if task == "regression":
        try:
            y = [float(v) for v in truth]
            p = [float(v) for v in predicted]
        except (TypeError, ValueError):
            return {}
        out = {
            "rmse": math.sqrt(m.mean_squared_error(y, p)),
            "mae": m.mean_absolute_error(y, p),
        }
        if len(y) >= 2:
            out["r2"] = m.r2_score(y, p)
        return out
    y_s, p_s = [str(v) for v in truth], [str(v) for v in predicted]
    return {
        "accuracy": m.accuracy_score(y_s, p_s),
        "f1_macro": m.f1_score(y_s, p_s, average="macro", zero_division=0),
    }


def _served_inputs(rows: list[dict[str, Any]], *, labelled_only: bool = False) -> Any:
    import pandas as pd

    frames = []
    for row in rows:
        if labelled_only and row.get("label") is None:
            continue
        inputs = _decode(row.get("inputs"))
        if isinstance(inputs, dict) and inputs:
            frame = pd.DataFrame(inputs)
            if labelled_only:
                label = row["label"]
                frame = frame.head(len(label) if isinstance(label, list) else 1)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def _quantiles(values: list[float]) -> tuple[dict[str, float], dict[str, list[float]]]:
    import numpy as np

    arr = np.asarray([v for v in values if _is_number(v)], dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return {}, {}
    qs = {"min": 0.0, "p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "max": 1.0}
    quantiles = {k: float(np.quantile(arr, q)) for k, q in qs.items()}
    quantiles["mean"] = float(arr.mean())
    counts, edges = np.histogram(arr, bins=min(30, max(5, len(arr) // 5)))
    return quantiles, {"edges": edges.tolist(), "counts": counts.astype(float).tolist()}


def _drift(current: Any, reference: Any) -> tuple[Any, str | None]:
    if current is None or len(current) == 0:
        return None, "no logged inputs"
    if reference is None:
        return None, "no reference data: pass reference= (e.g. the training frame)"
    from ..data.drift import drift

    known = getattr(reference, "columns", None)
    columns = [c for c in current.columns if known is None or c in known]
    return drift(reference, current[columns], columns=columns, record=False), None


def monitor(
    name: str,
    *,
    since: Any = None,
    reference: Any = None,
    task: str | None = None,
    sensitive: list[str] | str | None = None,
    buckets: int = 12,
    store: Any = None,
) -> MonitorReport:
    """Turn the prediction log of the model served as ``name`` into a report.

    Parameters
    ----------
    name
        The served model's name (the bundle's name).
    since
        Only requests after this: a Unix time, a datetime, ``"1h"``, ``"30m"``, ``"2d"``
        or an ISO date.
    reference
        The data to compare the served inputs with (usually the training frame); without
        it, input drift is not computed.
    task
        ``"classification"`` or ``"regression"`` (default: inferred from what was served:
        probabilities or labels mean classification, non-integral numbers regression).
    sensitive
        Input columns to compute live fairness metrics over, from the rows with feedback.
    buckets
        Number of time buckets for the prediction distribution over time.
    """
    from ..project import default_project

    if task is not None and task not in ("classification", "regression"):
        raise InvalidArgumentError(f"task: expected 'classification' or 'regression', got {task!r}")
    store = store or default_project().store
    start = parse_since(since)
    now = time.time()
    rows = _logged(store, name, start)
    report = MonitorReport(name, start, now)
    shadow_rows = [r for r in rows if r.get("protocol") == "shadow"]
    rows = [r for r in rows if r.get("protocol") != "shadow"]
    if not rows:
        return report
    ok = [r for r in rows if r["status"] == 200]
    _traffic(report, rows, ok, start=start, now=now)
    served = [v for r in ok for v in _predicted(r)]
    report.task = task or infer_task(ok, served)
    _distribution(report, ok, served, (rows[0]["created"], rows[-1]["created"]), buckets)
    _feedback(report, report.task, ok, sensitive)
    report.drift, report.drift_note = _drift(_served_inputs(ok), reference)
    report.by_version = _by_version(report.task, ok, shadow_rows)
    return report


def _logged(store: Any, name: str, start: float | None) -> list[dict[str, Any]]:
    """The logged requests of ``name`` since ``start``; an unknown model names the known."""
    from ..store.prediction_records import predictions, served_models

    rows = predictions(store, name, since=start)
    if not rows and name not in served_models(store):
        known = served_models(store)
        raise InvalidArgumentError(
            f"no predictions logged for model {name!r}"
            + (f" (served models: {', '.join(known)})" if known else " (nothing served yet)")
        )
    return rows


def _traffic(
    report: MonitorReport,
    rows: list[dict[str, Any]],
    ok: list[dict[str, Any]],
    *,
    start: float | None,
    now: float,
) -> None:
    """Requests, errors, rows, versions, runtimes, request rate, latency and memory."""
    report.n_requests = len(rows)
    report.n_errors = len(rows) - len(ok)
    report.n_rows = sum(r["n_rows"] or 0 for r in ok)
    report.versions = sorted({str(r["version"]) for r in rows if r["version"] is not None})
    report.runtimes = sorted({r["runtime"] for r in rows if r["runtime"]})
    first, last = rows[0]["created"], rows[-1]["created"]
    window = (last - first) if start is None else (now - start)
    report.request_rate = len(rows) / window if window > 0 else None
    latencies = [r["latency_ms"] for r in ok if r["latency_ms"] is not None]
    report.latency_ms = {
        "p50": _percentile(latencies, 0.5),
        "p90": _percentile(latencies, 0.9),
        "p99": _percentile(latencies, 0.99),
        "max": max(latencies) if latencies else None,
    }
    report.errors = dict(Counter(str(r["status"]) for r in rows if r["status"] != 200))
    report.memory_bytes = next(
        (r["rss_bytes"] for r in reversed(rows) if r["rss_bytes"] is not None), None
    )


def _distribution(
    report: MonitorReport,
    ok: list[dict[str, Any]],
    served: list[Any],
    between: tuple[float, float],
    buckets: int,
) -> None:
    """What was predicted: quantiles (regression), or the top labels and their timeline."""
    if report.task == "regression":
        report.prediction_quantiles, report.prediction_histogram = _quantiles(served)
        return
    first, last = between
    counts: Counter[str] = Counter()
    span = max(last - first, 1e-9)
    timeline: list[dict[str, Any]] = [
        {"start": first + i * span / buckets, "counts": Counter()} for i in range(buckets)
    ]
    for r in ok:
        values = _predicted(r)
        counts.update(str(v) for v in values)
        slot = min(int((r["created"] - first) / span * buckets), buckets - 1)
        timeline[slot]["counts"].update(str(v) for v in values)
    report.predictions = dict(counts.most_common(20))
    report.predictions_over_time = [
        {"start": b["start"], "counts": dict(b["counts"])} for b in timeline if b["counts"]
    ]


def _feedback(
    report: MonitorReport, task: str, ok: list[dict[str, Any]], sensitive: list[str] | str | None
) -> None:
    """Live metrics (and fairness over ``sensitive``) from the requests with a label."""
    predicted, truth = _labelled(ok)
    report.n_labelled = len(truth)
    report.live_metrics = _live_metrics(task, predicted, truth)
    report.accuracy = report.live_metrics.get("accuracy")
    if sensitive is not None and truth:
        _live_fairness(report, ok, predicted, truth, sensitive)


def _by_version(task: str, ok: list[dict[str, Any]], shadow: list[dict[str, Any]]) -> dict:
    """Versions side by side: requests, latency, live metrics, a shadow's agreement."""
    counts = Counter(str(r["version"]) for r in ok)
    primary = counts.most_common(1)[0][0] if counts else None
    by_key = {r["request_id"]: r for r in ok}
    out: dict[str, dict[str, Any]] = {}
    for version in sorted(counts):
        mine = [r for r in ok if str(r["version"]) == version]
        predicted, truth = _labelled(mine)
        out[version] = {
            "role": "primary" if version == primary else "canary",
            "requests": len(mine),
            "p50_ms": _percentile([r["latency_ms"] for r in mine if r["latency_ms"]], 0.5),
            "live": _live_metrics(task, predicted, truth),
        }
    for version in sorted({str(r["version"]) for r in shadow}):
        mine = [r for r in shadow if str(r["version"]) == version and r["status"] == 200]
        same = total = 0
        predicted, truth = [], []
        for row in mine:
            answered = by_key.get(row.get("client_request_id"))
            if answered is None:
                continue
            for a, b in zip(_predicted(row), _predicted(answered), strict=False):
                total += 1
                same += a == b if task != "regression" else abs(float(a) - float(b)) < 1e-9
            if answered.get("label") is not None:
                predicted += _predicted(row)
                label = answered["label"]
                truth += label if isinstance(label, list) else [label]
        out[version] = {
            "role": "shadow",
            "requests": len(mine),
            "p50_ms": _percentile([r["latency_ms"] for r in mine if r["latency_ms"]], 0.5),
            "agreement": same / total if total else None,
            "live": _live_metrics(task, predicted[: len(truth)], truth),
        }
    return out


def _live_fairness(
    report: MonitorReport,
    rows: list[dict[str, Any]],
    predicted: list[Any],
    truth: list[Any],
    sensitive: list[str] | str,
) -> None:
    from ..evaluation.fairness import fairness_metrics

    inputs = _served_inputs(rows, labelled_only=True)
    columns = [sensitive] if isinstance(sensitive, str) else list(sensitive)
    for column in columns:
        if inputs is None or column not in inputs.columns or len(inputs) != len(truth):
            raise InvalidArgumentError(
                f"sensitive: column {column!r} is not among the served inputs with feedback"
            )
        task = report.task or "classification"
        y: list[Any]
        p: list[Any]
        positive: Any = None
        if task == "regression":
            y, p = [float(v) for v in truth], [float(v) for v in predicted]
        else:
            y, p = [str(v) for v in truth], [str(v) for v in predicted]
            labels = sorted(set(y) | set(p))
            positive = labels[1] if len(labels) == 2 else None
        report.fairness[column] = fairness_metrics(
            task, y, p, inputs[column].to_numpy(), positive=positive
        )


def log_feedback(request_id: str, label: Any, *, store: Any = None) -> None:
    """Attach the ground truth of a served request (its ``x-request-id``), for live accuracy.

    ``label`` is one value for a one-row request, or a list with one label per row.
    """
    from ..project import default_project
    from ..store.prediction_records import set_feedback

    if not isinstance(request_id, str) or not request_id:
        raise InvalidArgumentError(f"request_id: expected the request's id, got {request_id!r}")
    if hasattr(label, "tolist"):
        label = label.tolist()
    set_feedback(store or default_project().store, request_id, label)
