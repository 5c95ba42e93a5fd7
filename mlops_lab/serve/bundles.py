"""The bundle a server serves: a bundle folder, an archive, or a model reference.

A model reference (``name@alias``, a run id, ``runs:/...``) is packaged on the fly
into a temporary folder; the server and its challengers (shadow, canary) resolve
theirs the same way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..packaging import load_bundle, package


def resolve_bundle(ref: Any, *, trusted: list[str] | None = None) -> Any:
    """A bundle from a folder or archive path, else packaged from a model reference."""
    if hasattr(ref, "schema") and hasattr(ref, "metadata"):
        return ref
    path = Path(str(ref)).expanduser()
    if path.is_dir() or (path.is_file() and path.name.endswith((".tar.gz", ".tgz"))):
        return load_bundle(path, trusted=trusted, lazy=True)
    return package(ref, tempfile.mkdtemp(prefix="mlops-serve-"))
