"""The content-addressed file store beside the database.

A blob is kept under ``blobs/<first two hex digits>/<sha256>``, so the same
bytes (a model logged by two runs, a notebook executed twice unchanged) are
stored once. Writes go to a temporary file in the same folder and are renamed
into place, so a reader never sees half a blob and concurrent writers of the
same content do not clash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_CHUNK = 1 << 20


class BlobStore:
    """Content-addressed files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        """Where the blob with this sha256 hex digest lives (it may not exist)."""
        return self.root / digest[:2] / digest

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return its sha256 hex digest and size."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            self._write(target, [data])
        return digest, len(data)

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a copy of the file at ``source``; return its digest and size."""
        hasher = hashlib.sha256()
        size = 0
        with open(source, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        digest = hasher.hexdigest()
        target = self.path(digest)
        if not target.exists():
            with open(source, "rb") as fh:
                self._write(target, iter(lambda: fh.read(_CHUNK), b""))
        return digest, size

    def read_bytes(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def _write(self, target: Path, chunks) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
