"""Finding the project's store the way git finds its repository.

``MLOPS_LAB_HOME`` if set; else the nearest ``.mlops/`` folder walking up from
the working directory; else ``./.mlops/`` (created when first written).
:func:`set_default_root` overrides all three for this process (the
``%config MlopsMagics.store`` setting and ``mlops-lab --store`` use it).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "MLOPS_LAB_HOME"
STORE_DIRNAME = ".mlops"

_override: Path | None = None


def set_default_root(path: str | os.PathLike[str] | None) -> None:
    """Use ``path`` as the store for this process (``None`` restores discovery)."""
    global _override
    _override = Path(path).expanduser().resolve() if path is not None else None


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory of the store that applies at ``start`` (default: cwd)."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return here / STORE_DIRNAME
