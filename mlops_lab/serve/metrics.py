"""The server's Prometheus metrics, kept in plain dicts and written in the text format.

Counters and the latency histogram are updated on the event loop (one thread),
so no locks are needed; ``render`` writes the Prometheus text exposition
format 0.0.4. With several workers each process reports its own numbers.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def rss_bytes() -> int | None:
    """Resident memory of this process (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _labels(**labels: Any) -> str:
    parts = []
    for key, value in labels.items():
        text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{text}"')
    return "{" + ",".join(parts) + "}"


class ServerMetrics:
    """Requests, errors, latency, rows and in-flight requests of one served model."""

    def __init__(self, model: str, version: str, runtime: str) -> None:
        self.model = model
        self.version = version
        self.runtime = runtime
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.rows: dict[str, int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.in_flight = 0

    def observe(self, protocol: str, status: int, seconds: float, rows: int) -> None:
        self.requests[(protocol, status)] += 1
        self.rows[protocol] += rows
        counts = self.buckets.get(protocol)
        if counts is None:
            counts = self.buckets[protocol] = [0] * len(BUCKETS)
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
                break
        self.sums[protocol] += seconds
        self.counts[protocol] += 1

    def render(self, log: Any = None) -> str:
        m, v = self.model, self.version
        out = [
            "# HELP mlops_model_info The served model (value is always 1).",
            "# TYPE mlops_model_info gauge",
            f"mlops_model_info{_labels(model=m, version=v, runtime=self.runtime)} 1",
            "# HELP mlops_requests_total Prediction requests by protocol and HTTP status.",
            "# TYPE mlops_requests_total counter",
        ]
        for (protocol, status), n in sorted(self.requests.items()):
            out.append(
                f"mlops_requests_total{_labels(model=m, version=v, protocol=protocol, code=status)} {n}"
            )
        out += [
            "# HELP mlops_request_errors_total Prediction requests answered with a 4xx or 5xx.",
            "# TYPE mlops_request_errors_total counter",
        ]
        errors: dict[tuple[str, str], int] = defaultdict(int)
        for (protocol, status), n in self.requests.items():
            if status >= 400:
                errors[(protocol, "client" if status < 500 else "server")] += n
        for (protocol, kind), n in sorted(errors.items()):
            out.append(
                f"mlops_request_errors_total{_labels(model=m, version=v, protocol=protocol, kind=kind)} {n}"
            )
        out += [
            "# HELP mlops_predicted_rows_total Rows predicted.",
            "# TYPE mlops_predicted_rows_total counter",
        ]
        for protocol, n in sorted(self.rows.items()):
            out.append(
                f"mlops_predicted_rows_total{_labels(model=m, version=v, protocol=protocol)} {n}"
            )
        out += [
            "# HELP mlops_request_duration_seconds Time to answer a prediction request.",
            "# TYPE mlops_request_duration_seconds histogram",
        ]
        for protocol, counts in sorted(self.buckets.items()):
            cumulative = 0
            for bound, n in zip(BUCKETS, counts, strict=True):
                cumulative += n
                lbl = _labels(model=m, version=v, protocol=protocol, le=repr(bound))
                out.append(f"mlops_request_duration_seconds_bucket{lbl} {cumulative}")
            lbl = _labels(model=m, version=v, protocol=protocol, le="+Inf")
            out.append(f"mlops_request_duration_seconds_bucket{lbl} {self.counts[protocol]}")
            lbl = _labels(model=m, version=v, protocol=protocol)
            out.append(f"mlops_request_duration_seconds_sum{lbl} {self.sums[protocol]:.9f}")
            out.append(f"mlops_request_duration_seconds_count{lbl} {self.counts[protocol]}")
        out += [
            "# HELP mlops_requests_in_flight Prediction requests being answered now.",
            "# TYPE mlops_requests_in_flight gauge",
            f"mlops_requests_in_flight{_labels(model=m, version=v)} {self.in_flight}",
        ]
        if log is not None:
            out += [
                "# HELP mlops_prediction_log_written_total Requests written to the prediction log.",
                "# TYPE mlops_prediction_log_written_total counter",
                f"mlops_prediction_log_written_total{_labels(model=m, version=v)} {log.written}",
                "# HELP mlops_prediction_log_dropped_total Requests not logged: the queue was full.",
                "# TYPE mlops_prediction_log_dropped_total counter",
                f"mlops_prediction_log_dropped_total{_labels(model=m, version=v)} {log.dropped}",
                "# HELP mlops_prediction_log_queue Requests waiting to be written.",
                "# TYPE mlops_prediction_log_queue gauge",
                f"mlops_prediction_log_queue{_labels(model=m, version=v)} {log.pending}",
            ]
        rss = rss_bytes()
        if rss is not None:
            out += [
                "# HELP process_resident_memory_bytes Resident memory size in bytes.",
                "# TYPE process_resident_memory_bytes gauge",
                f"process_resident_memory_bytes {rss}",
            ]
        return "\n".join(out) + "\n"


def render_all(
    metrics: list[ServerMetrics], log: Any = None, extra: list[str] | None = None
) -> str:
    """The metrics of every version served so far, one group per metric family.

    A server following an alias keeps a :class:`ServerMetrics` per version; their
    samples are merged under one ``# HELP``/``# TYPE`` header per family, as the
    Prometheus text format wants.
    """
    families: dict[str, list[str]] = {}
    headers: dict[str, list[str]] = {}
    for i, m in enumerate(metrics):
        name = ""
        for line in m.render(log if i == len(metrics) - 1 else None).splitlines():
            if line.startswith("# HELP "):
                name = line.split()[2]
                headers.setdefault(name, [])
                if len(headers[name]) < 2:
                    headers[name].append(line)
                families.setdefault(name, [])
            elif line.startswith("# TYPE "):
                if len(headers[name]) < 2:
                    headers[name].append(line)
            elif name == "process_resident_memory_bytes" and families[name]:
                continue  # one process, one figure
            else:
                families[name].append(line)
    out: list[str] = []
    for name, samples in families.items():
        out += headers[name][:2] + samples
    return "\n".join(out + (extra or [])) + "\n"
