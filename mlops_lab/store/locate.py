"""Finding the project's store the way git finds its repository.

``MLOPS_LAB_HOME`` if set; else the nearest ``.mlops/`` folder walking up from
the working directory; else ``./.mlops/`` (created when first written).
Finding keeps no state: which store the module functions use is the default
project's business (:func:`mlops_lab.project.set_default_root`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoreError

ENV_VAR = "MLOPS_LAB_HOME"
STORE_DIRNAME = ".mlops"


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory of the store that applies at ``start`` (default: cwd)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return here / STORE_DIRNAME


def check_layout(root: Path) -> None:
    """Refuse a store path whose parts are of the wrong kind, naming the part.

    ``root`` must be a folder (or not exist yet, under folders), ``mlops.db``
    in it a file and ``blobs`` a folder.
    """
    try:
        _check_layout(root)
    except OSError as exc:
        raise StoreError(
            f"cannot look at the store {root}: {exc.strerror or exc}", path=str(root)
        ) from exc


def _check_layout(root: Path) -> None:
    if root.exists() and not root.is_dir():
        fix = (
            f"point MLOPS_LAB_HOME (or --store) at the folder that holds it, {root.parent}"
            if root.name == "mlops.db"
            else "point MLOPS_LAB_HOME (or --store) at a folder, or move the file"
        )
        raise StoreError(
            f"the store path {root} is a file; an mlops-lab store is a folder holding "
            f"mlops.db and blobs/: {fix}",
            path=str(root),
        )
    if not root.exists():
        for parent in root.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise StoreError(
                        f"cannot create the store folder {root}: {parent} is a file",
                        path=str(root),
                    )
                break
        return
    db, blobs = root / "mlops.db", root / "blobs"
    if db.exists() and not db.is_file():
        raise StoreError(
            f"{db} is a folder; the store expects its SQLite database file there. "
            "Move the folder away, or point MLOPS_LAB_HOME elsewhere.",
            path=str(db),
        )
    if blobs.exists() and not blobs.is_dir():
        raise StoreError(
            f"{blobs} is a file; the store keeps its blobs (models, notebooks) in a folder "
            "there. Move the file away.",
            path=str(blobs),
        )
