"""Retraining triggers: ``mlops-lab pipeline watch NAME`` / ``ml.watch(NAME)``.

A long-running loop that re-runs a promoted pipeline when its training data
changes. Every ``interval`` seconds it fingerprints the file the pipeline's
dataset parameter names; a digest no finished run of the pipeline was trained
on triggers a run. Two more reasons are recorded with a trigger: ``schedule``
(``every`` seconds have passed since the last run) and ``drift`` (the served
model's inputs drifted past ``drift_share`` against ``reference``). The same
digest never retrains twice: a schedule or drift signal on unchanged data is
reported and waits for new data. Each run carries ``trigger.reason`` and
``trigger.digest`` tags.

A failing run is reported and retried with a growing backoff (the digest
stays untrained); the watcher itself never dies of it. SIGTERM and Ctrl-C
stop it between runs: a run in progress finishes, so nothing is left
half-written.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError, MlopsLabError

_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = MappingProxyType({"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400})
MAX_BACKOFF_S = 3600.0


def seconds(value: Any, what: str) -> float | None:
    """``90``, ``"30s"``, ``"5m"``, ``"1h"``, ``"2d"`` as seconds (None stays None)."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    match = _SPAN.match(str(value))
    if not match:
        raise InvalidArgumentError(
            f"{what}: expected seconds or e.g. '30s', '5m', '1h', got {value!r}"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class Trigger:
    """One decision of the watcher: why it looked, what it saw and what it did."""

    when: float
    reason: str
    digest: str | None
    action: str  # "ran", "failed", "skipped"
    detail: str = ""
    run_id: str | None = None

    def __str__(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.when))
        digest = f" data {self.digest[:12]}" if self.digest else ""
        run = f" run {self.run_id[:8]}" if self.run_id else ""
        return f"[{stamp}] {self.action}: {self.reason}{digest}{run} {self.detail}".rstrip()


@dataclass
class Watcher:
    """The state of one watch loop; :meth:`tick` does one round (tests call it directly)."""

    name: str
    data_param: str
    interval: float = 60.0
    every: float | None = None
    drift_share: float | None = None
    served_model: str | None = None
    reference: Any = None
    pipelines_dir: str = "pipelines"
    execute: Callable[..., Any] | None = None
    say: Callable[[str], None] = print
    clock: Callable[[], float] = time.time
    triggers: list[Trigger] = field(default_factory=list)
    failures: int = 0
    retry_at: float = 0.0
    last_run_at: float | None = None

    def _path(self) -> Path:
        from .spec import PipelineSpec, find

        spec = PipelineSpec.load(find(self.name, self.pipelines_dir))
        return spec.workdir_path / str(spec.params[self.data_param].default)

    def _trained(self, digest: str) -> bool:
        from ..project import default_project
        from ..store.query import runs_frame

        frame = runs_frame(
            default_project().store,
            filter=f"tags.`mlops.pipeline` = '{self.name}' and tags.`trigger.digest` = "
            f"'{digest}' and status = 'finished'",
            limit=1,
        )
        return len(frame) > 0

    def _drifted(self) -> bool:
        if self.drift_share is None or self.served_model is None or self.reference is None:
            return False
        from ..monitoring.report import monitor

        try:
            report = monitor(self.served_model, reference=self.reference, since=self.last_run_at)
        except MlopsLabError as exc:  # nothing served yet: no drift to speak of
            self.say(f"drift check: {exc}")
            return False
        return report.drift is not None and report.drift.share_drifted >= self.drift_share

    def _record(self, trigger: Trigger) -> Trigger:
        self.triggers.append(trigger)
        self.say(str(trigger))
        return trigger

    def tick(self) -> Trigger | None:
        """Look once; run the pipeline when the data is new. Never raises for a failed run."""
        from ..data.fingerprint import fingerprint

        now = self.clock()
        if now < self.retry_at:
            return None
        path = self._path()
        try:
            digest = fingerprint(path)
        except MlopsLabError as exc:
            return self._record(Trigger(now, "data check", None, "skipped", str(exc)))
        reasons = []
        if self.every is not None and (
            self.last_run_at is None or now - self.last_run_at >= self.every
        ):
            reasons.append("schedule")
        if self._drifted():
            reasons.append("drift")
        if self._trained(digest):
            if reasons:
                return self._record(
                    Trigger(
                        now,
                        ", ".join(reasons),
                        digest,
                        "skipped",
                        "data unchanged since it was trained on",
                    )
                )
            return None
        reason = ", ".join(["new data", *reasons])
        return self._run(reason, digest, now)

    def _run(self, reason: str, digest: str, now: float) -> Trigger:
        from ..errors import PipelineStepError
        from .run import run_pipeline

        tags = {"trigger.reason": reason, "trigger.digest": digest}
        try:
            result = run_pipeline(
                self.name,
                pipelines_dir=self.pipelines_dir,
                progress=False,
                execute=self.execute,
                tags=tags,
            )
        except (PipelineStepError, MlopsLabError) as exc:
            self.failures += 1
            backoff = min(self.interval * 2**self.failures, MAX_BACKOFF_S)
            self.retry_at = now + backoff
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            why = ": ".join(lines[:2])
            return self._record(
                Trigger(now, reason, digest, "failed", f"({why}); retrying in {backoff:.0f} s")
            )
        self.failures = 0
        self.last_run_at = now
        decision = f"gate: {result.decision.decision}" if result.decision else ""
        return self._record(Trigger(now, reason, digest, "ran", decision, result.run.run_id))


def watch(
    name: str,
    *,
    data_param: str | None = None,
    interval: Any = 60.0,
    every: Any = None,
    drift_share: float | None = None,
    served_model: str | None = None,
    reference: Any = None,
    pipelines_dir: str = "pipelines",
    max_checks: int | None = None,
    execute: Callable[..., Any] | None = None,
    stop: threading.Event | None = None,
    say: Callable[[str], None] = print,
) -> list[Trigger]:
    """Re-run pipeline ``name`` whenever its training data changes (see the module docstring).

    Parameters
    ----------
    data_param
        The parameter naming the training data file (default: the pipeline's first
        dataset parameter).
    interval
        How often to look: seconds, or ``"30s"``, ``"5m"``, ``"1h"``.
    every
        A schedule: also record a trigger when this long has passed since the last run.
    drift_share, served_model, reference
        Also watch the served model's input drift against ``reference``.
    max_checks
        Stop after this many looks (default: until SIGTERM or Ctrl-C).
    stop
        An event that stops the loop when set (for running it in a thread).

    Returns
    -------
    list[Trigger]
        Every trigger seen, in order.
    """
    from .spec import PipelineSpec, find

    spec = PipelineSpec.load(find(name, pipelines_dir))
    if data_param is None:
        data_param = next(
            (k for k, p in spec.params.items() if p.dataset or p.type == "path"), None
        )
    if data_param is None or data_param not in spec.params:
        known = ", ".join(spec.params) or "none"
        raise InvalidArgumentError(
            f"data_param: pipeline {name!r} has no dataset parameter {data_param!r} "
            f"(its parameters: {known})"
        )
    period = seconds(interval, "interval") or 60.0
    watcher = Watcher(
        name,
        data_param,
        interval=period,
        every=seconds(every, "every"),
        drift_share=drift_share,
        served_model=served_model,
        reference=reference,
        pipelines_dir=pipelines_dir,
        execute=execute,
        say=say,
    )
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    say(f"watching {watcher._path()} for pipeline {name!r} every {period:g} s (Ctrl-C stops)")
    checks = 0
    try:
        while not stop.is_set():
            watcher.tick()
            checks += 1
            if max_checks is not None and checks >= max_checks:
                break
            stop.wait(period)
    finally:
        restore()
    say(f"stopped watching {name!r}: {len(watcher.triggers)} triggers")
    return watcher.triggers


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set ``stop`` (a run in progress finishes); returns the undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
