"""Unpacking a bundle archive without trusting it: plain files and folders only, capped.

:func:`extract` reads the archive member by member (a compressed bomb is
stopped at the cap, not after it filled the disk) and writes each file
itself: members that are links, devices or FIFOs, absolute names, names with
``..``, duplicates, more than ``max_members`` members or more than
``max_bytes`` bytes in all are refused with a
:class:`~mlops_lab.errors.BundleError` naming the member. A bundle holds a
handful of files, so the defaults are generous for it and small for a disk.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path, PurePosixPath

from ..errors import BundleError

MAX_BYTES = 1 << 30  # 1 GiB unpacked
MAX_MEMBERS = 1000
_CHUNK = 1 << 20


def _member_path(target: Path, name: str, archive: Path) -> Path:
    pure = PurePosixPath(name)
    bad = (
        not name
        or "\\" in name
        or "\x00" in name
        or pure.is_absolute()
        or ".." in pure.parts
        or (pure.parts and ":" in pure.parts[0])
    )
    if bad:
        raise BundleError(
            f"{archive}: member {name!r} has an absolute or escaping name; refusing to unpack",
            path=str(archive),
        )
    out = target.joinpath(*[p for p in pure.parts if p != "."])
    if out != target and target not in out.parents:
        raise BundleError(f"{archive}: member {name!r} points outside", path=str(archive))
    return out


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link to {member.linkname!r}"
    if member.islnk():
        return f"a hard link to {member.linkname!r}"
    if member.ischr() or member.isblk():
        return "a device file"
    if member.isfifo():
        return "a FIFO"
    return "a special file"


def extract(
    archive: Path, target: Path, *, max_bytes: int = MAX_BYTES, max_members: int = MAX_MEMBERS
) -> None:
    """Unpack the tar archive (gzip, bz2, xz or plain) at ``archive`` into ``target``.

    Raises
    ------
    BundleError
        The archive is unreadable, or a member is refused (see the module docstring).
    """
    written = 0
    seen: set[str] = set()
    try:
        with tarfile.open(archive, "r:*") as tar:
            for count, member in enumerate(tar, start=1):
                if count > max_members:
                    raise BundleError(
                        f"{archive} has more than {max_members} members; a bundle has a "
                        "handful (pass max_members= to allow more)",
                        path=str(archive),
                    )
                out = _member_path(target, member.name, archive)
                key = out.relative_to(target).as_posix()
                if key in seen:
                    raise BundleError(
                        f"{archive}: member {member.name!r} appears twice", path=str(archive)
                    )
                seen.add(key)
                if member.isdir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isreg():
                    raise BundleError(
                        f"{archive}: member {member.name!r} is {_kind(member)}; a bundle holds "
                        "only files and folders",
                        path=str(archive),
                    )
                if written + member.size > max_bytes:
                    raise BundleError(
                        f"{archive} unpacks to more than {max_bytes} bytes (at member "
                        f"{member.name!r}); pass max_bytes= to allow more",
                        path=str(archive),
                    )
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - regular members always have data
                    raise BundleError(f"{archive}: member {member.name!r} has no data")
                out.parent.mkdir(parents=True, exist_ok=True)
                with source, open(out, "xb") as sink:
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        if written > max_bytes:
                            raise BundleError(
                                f"{archive} unpacks to more than {max_bytes} bytes",
                                path=str(archive),
                            )
                        sink.write(chunk)
    except BundleError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        raise BundleError(
            f"{archive} is not a readable bundle archive: {type(exc).__name__}: {exc}",
            path=str(archive),
        ) from exc
