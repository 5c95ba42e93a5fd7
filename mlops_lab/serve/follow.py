"""A server that follows an alias (``serve iris@champion --follow``) or a bundle folder.

:class:`Follower` runs in a background thread of the server. Every ``interval``
seconds it asks the registry which version the alias names (or, for a bundle
folder, whether its ``metadata.json`` changed). A new version is packaged,
loaded and verified off the request path: digests and trusted types (as any
bundle), an input schema with the same columns and kinds as the one served,
and a prediction on the bundle's stored example. Only then is it swapped in,
in one assignment (:meth:`~.service.Service.swap`): requests in flight finish
on the old version, new ones get the new one, none fails or waits. A version
that fails a check is not swapped in; the server keeps serving, logs why and
shows it in ``/metrics`` (``mlops_model_refused``). Moving the alias back is
the rollback.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import MlopsLabError

logger = logging.getLogger("mlops_lab.serve")


def compatible(old: Any, new: Any) -> str | None:
    """Why ``new`` cannot replace ``old`` (None when its inputs are the same)."""
    before = [(c.name, c.kind) for c in old.columns]
    after = [(c.name, c.kind) for c in new.columns]
    if before == after:
        return None
    gone = sorted({n for n, _ in before} - {n for n, _ in after})
    added = sorted({n for n, _ in after} - {n for n, _ in before})
    changed = sorted(n for (n, k) in after if (n, k) not in before and n not in added)
    parts = []
    if gone:
        parts.append(f"columns no longer taken: {', '.join(gone)}")
    if added:
        parts.append(f"new columns: {', '.join(added)}")
    if changed:
        parts.append(f"columns of another kind: {', '.join(changed)}")
    return "its input schema differs (" + "; ".join(parts or ["column order"]) + ")"


class Follower(threading.Thread):
    """Watch ``ref`` and swap ``service`` to each new, verified version."""

    def __init__(
        self,
        service: Any,
        ref: str,
        *,
        interval: float = 2.0,
        runtime: str = "auto",
        trusted: list[str] | None = None,
    ) -> None:
        super().__init__(name="mlops-follow", daemon=True)
        self.service = service
        self.ref = ref
        self.interval = interval
        self.runtime = runtime
        self.trusted = trusted
        self.stopped = threading.Event()
        self.folder = Path(ref) if Path(ref).is_dir() else None
        self._stamp = self._folder_stamp()
        self._work = Path(tempfile.mkdtemp(prefix="mlops-follow-"))
        self.last_swap_s: float | None = None

    def _folder_stamp(self) -> tuple[int, int] | None:
        if self.folder is None:
            return None
        try:
            st = (self.folder / "metadata.json").stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.check()
            except Exception:  # a follower that dies would silently stop following
                logger.exception("--follow: checking %s failed; trying again", self.ref)

    def stop(self) -> None:
        self.stopped.set()

    def check(self) -> str | None:
        """Look once; swap when there is a new version that passes. Returns what happened."""
        candidate = self._candidate()
        if candidate is None:
            return None
        version, load = candidate
        if version in self.service.refused:
            return None  # refused once: wait for the alias to move again
        started = time.perf_counter()
        try:
            bundle = load()
            predictor = bundle.predictor(self.runtime)
            why = compatible(self.service.schema, bundle.schema)
            if why is None:
                predictor.predict(bundle.input_example, ("predict",))
        except (MlopsLabError, OSError, ValueError, TypeError, KeyError) as exc:
            why = f"{type(exc).__name__}: {exc}"
        if why is not None:
            self.service.refused[version] = why
            logger.warning(
                "--follow: %s version %s is not served: %s; still serving version %s",
                self.service.name,
                version,
                why,
                self.service.version,
            )
            return f"refused {version}: {why}"
        old = self.service.version
        self.service.swap(bundle, predictor)
        self.last_swap_s = time.perf_counter() - started
        logger.warning(
            "--follow: %s now serves version %s (was %s; loaded and checked in %.2f s)",
            self.service.name,
            version,
            old,
            self.last_swap_s,
        )
        return f"swapped {old} -> {version}"

    def _candidate(self) -> tuple[str, Any] | None:
        from ..packaging.bundle import load_bundle

        if self.folder is not None:
            stamp = self._folder_stamp()
            if stamp is None or stamp == self._stamp:
                return None
            self._stamp = stamp
            bundle = load_bundle(self.folder, trusted=self.trusted)
            version = str(bundle.version)
            if version == self.service.version and bundle.metadata == self.service.bundle.metadata:
                return None
            return version, lambda: bundle
        from ..registry.api import get_model_version

        mv = get_model_version(self.ref)
        version = str(mv.version)
        if version == self.service.version:
            return None

        def load() -> Any:
            from ..packaging.build import package

            out = self._work / f"v{version}-{time.monotonic_ns()}"
            return package(mv.ref, out, onnx=self.runtime != "sklearn")

        return version, load
