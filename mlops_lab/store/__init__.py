"""The project store: one SQLite file (WAL) and a content-addressed blob folder.

Everything that touches SQL lives in this package. :class:`Store` is the
entry point; :func:`find_root` finds the store like git finds its repository.
"""

from __future__ import annotations

from .bulk import RunRows
from .locate import find_root
from .store import Store

__all__ = ["RunRows", "Store", "find_root"]
