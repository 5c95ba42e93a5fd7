"""The content-addressed file store beside the database.

A blob is kept under ``blobs/<first two hex digits>/<sha256>``, so the same
bytes (a model logged by two runs, a notebook executed twice unchanged) are
stored once. Writes go to a temporary file in the same folder and are renamed
into place, so a reader never sees half a blob and concurrent writers of the
same content do not clash. A digest is 64 lowercase hex digits, checked on
every lookup: a row naming ``../../etc/passwd`` or an absolute path as its
digest (a forged store merged in) never reaches the file system.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from ..errors import StoreError

_CHUNK = 1 << 20
DIGEST = re.compile(r"^[0-9a-f]{64}$")


def is_digest(value: object) -> bool:
    """Whether ``value`` is a sha256 hex digest (64 lowercase hex digits)."""
    return isinstance(value, str) and DIGEST.fullmatch(value) is not None


def check_digest(value: object) -> str:
    """``value`` if it is a sha256 hex digest, else a :class:`StoreError` naming it."""
    if not is_digest(value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise StoreError(f"{shown} is not a blob digest (64 lowercase hex digits)")
    return str(value)


class BlobStore:
    """Content-addressed files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        """Where the blob with this sha256 hex digest lives (it may not exist).

        Raises
        ------
        StoreError
            ``digest`` is not 64 lowercase hex digits.
        """
        check_digest(digest)
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
