"""The prediction log, written off the request path.

A request hands its record to :meth:`PredictionLog.submit`, which only puts
it on a bounded queue (never blocks: a full queue drops the record and counts
it). A background thread takes records in batches, turns inputs and outputs
into JSON there, and writes each batch in one transaction. A slow disk thus
never slows a prediction.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from .metrics import rss_bytes

logger = logging.getLogger("mlops_lab.serve")

_STOP = object()


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _encode(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(_jsonable(value), default=str)


class PredictionLog:
    """A bounded queue of finished requests and the thread that writes them in batches.

    Parameters
    ----------
    write
        ``write(rows)`` stores a list of row dicts (see
        :mod:`mlops_lab.store.prediction_records`); pass a plain function in tests.
    """

    def __init__(
        self,
        write: Callable[[list[dict[str, Any]]], Any],
        *,
        maxsize: int = 10_000,
        batch_size: int = 500,
        interval: float = 0.2,
    ) -> None:
        self._write = write
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
        self.batch_size = batch_size
        self.interval = interval
        self.dropped = 0
        self.written = 0
        self.failed = 0
        self._thread: threading.Thread | None = None

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="mlops-prediction-log", daemon=True
            )
            self._thread.start()

    def submit(self, record: dict[str, Any]) -> bool:
        """Queue a record; ``False`` (and one more dropped) when the queue is full."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(_STOP, timeout=0.1)
                break
            except queue.Full:
                if time.monotonic() > deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self._thread = None

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            batch = [] if first is _STOP else [first]
            stop = first is _STOP
            while not stop and len(batch) < self.batch_size:
                try:
                    item = self._queue.get(timeout=self.interval if len(batch) < 2 else 0)
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            if batch:
                self._flush(batch)
            if stop:
                return

    def _flush(self, batch: list[dict[str, Any]]) -> None:
        rss = rss_bytes()
        rows = []
        for rec in batch:
            row = dict(rec)
            row["inputs"] = _encode(rec.get("inputs"))
            row["outputs"] = _encode(rec.get("outputs"))
            row["rss_bytes"] = rss
            rows.append(row)
        try:
            self._write(rows)
            self.written += len(rows)
        except Exception:
            self.failed += len(rows)
            logger.exception("could not write %d prediction records", len(rows))
