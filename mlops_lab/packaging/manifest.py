"""A bundle's ``metadata.json``: sealed with its own digest, every field checked on load.

:func:`seal` adds ``metadata_sha256``, the sha256 of the canonical JSON of
every other field (keys sorted, no spaces), so a changed ``metadata.json``
is refused like any other changed file. :func:`check` verifies that digest,
then the type of every known field, and raises
:class:`~mlops_lab.errors.BundleError` naming the first bad field (a bundle
name must be a plain name, so it can never be HTML; file names are plain file
names; digests are sha256 hex). Unknown fields are kept as they are: they are
covered by the digest, and nothing reads them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ..errors import BundleError, BundleIntegrityError

METADATA = "metadata.json"
DIGEST_FIELD = "metadata_sha256"
# 2: metadata.json carries its own digest.
FORMAT_VERSION = 2
MAX_METADATA_BYTES = 16 << 20

# Registry names (letters, digits, '_', '.', '-', up to 100) all match.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")

Check = Callable[[Any], str | None]  # None when the value is fine, else what was expected


def canonical(meta: dict[str, Any]) -> bytes:
    """The bytes the metadata digest covers: every field but the digest, canonical JSON."""
    rest = {k: v for k, v in meta.items() if k != DIGEST_FIELD}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest(meta: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(meta)).hexdigest()


def seal(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` as JSON will read it back, with ``metadata_sha256`` added."""
    plain = json.loads(json.dumps(meta, default=str))
    plain[DIGEST_FIELD] = digest(plain)
    return plain


# -- checks: each returns None, or what it expected ------------------------------------


def _matches(pattern: re.Pattern[str], what: str) -> Check:
    return lambda v: None if isinstance(v, str) and pattern.match(v) else what


def _is_str(v: Any) -> str | None:
    return None if isinstance(v, str) else "a string"


def _is_number(v: Any) -> str | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool)
    return None if ok else "a number"


def _is_scalar(v: Any) -> str | None:
    return None if v is None or isinstance(v, str | int | float | bool) else "a JSON scalar"


def _optional(check: Check) -> Check:
    return lambda v: None if v is None else check(v)


def _list_of(check: Check) -> Check:
    def run(v: Any) -> str | None:
        if not isinstance(v, list):
            return "a list"
        for item in v:
            problem = check(item)
            if problem is not None:
                return f"a list of {problem} (not {_short(item)})"
        return None

    return run


def _dict_of(key: Check, value: Check) -> Check:
    def run(v: Any) -> str | None:
        if not isinstance(v, dict):
            return "an object"
        for k, item in v.items():
            if key(k) is not None:
                return f"an object whose keys are {key(k)} (not {_short(k)})"
            if value(item) is not None:
                return (
                    f"an object whose values are {value(item)} (not {_short(item)} at {_short(k)})"
                )
        return None

    return run


def _metric(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return _is_number(v)


_SHA = _matches(SHA256, "a sha256 hex digest")
_NAME = _matches(NAME, "a name of letters, digits, '.', '_', '-' (up to 128, no spaces or markup)")

# field -> (required, check); "a.b" names a field of the object in "a".
_FIELDS: Mapping[str, tuple[bool, Check]] = MappingProxyType(
    {
        "format_version": (True, lambda v: None if v == FORMAT_VERSION else f"{FORMAT_VERSION}"),
        "name": (True, _NAME),
        "version": (True, _matches(VERSION, "a version of letters, digits, '.', '_', '-'")),
        "aliases": (False, _list_of(_is_str)),
        "run_id": (False, _optional(_matches(RUN_ID, "a run id (32 hex digits)"))),
        "run_name": (False, _optional(_is_str)),
        "experiment": (False, _optional(_is_str)),
        "artifact": (False, _optional(_is_str)),
        "metrics": (False, _dict_of(_is_str, _metric)),
        "params": (False, _dict_of(_is_str, _is_scalar)),
        "datasets": (False, _list_of(lambda v: None if isinstance(v, dict) else "an object")),
        "created": (False, _is_number),
        "mlops_lab_version": (False, _optional(_is_str)),
        "python": (False, _optional(_is_str)),
        "model": (True, lambda v: None if isinstance(v, dict) else "an object"),
        "model.class": (False, _optional(_is_str)),
        "model.flavor": (False, _is_str),
        "model.sklearn_version": (False, _optional(_is_str)),
        "model.digest": (False, _SHA),
        "model.types": (False, _list_of(_is_str)),
        "model.classes": (False, _optional(_list_of(_is_scalar))),
        "onnx": (False, lambda v: None if isinstance(v, dict) else "an object"),
        "onnx.status": (False, _is_str),
        "onnx.reason": (False, _optional(_is_str)),
        "schema_columns": (False, _list_of(_is_str)),
        "files": (True, _dict_of(_matches(FILE_NAME, "plain file names"), _SHA)),
        DIGEST_FIELD: (True, _SHA),
    }
)


def _dataset_problem(entry: dict[str, Any]) -> str | None:
    for key, check in (
        ("digest", _SHA),
        ("name", _optional(_is_str)),
        ("role", _optional(_is_str)),
    ):
        problem = check(entry.get(key))
        if problem is not None:
            return f"'{key}' must be {problem}"
    return None


def check(meta: Any, *, source: str) -> dict[str, Any]:
    """Verify the digest and the fields of a parsed ``metadata.json``; return it.

    Raises
    ------
    BundleIntegrityError
        The metadata's digest is missing or differs: it was changed after packaging.
    BundleError
        A field is missing or of the wrong type (the message names it).
    """
    if not isinstance(meta, dict):
        raise BundleError(
            f"{source}: expected a JSON object, got {type(meta).__name__}", path=source
        )
    recorded = meta.get(DIGEST_FIELD)
    if not isinstance(recorded, str) or not SHA256.match(recorded):
        version = meta.get("format_version")
        raise BundleIntegrityError(
            f"{source} carries no valid {DIGEST_FIELD} (format version {version!r}); "
            "the metadata cannot be verified: package the model again",
            path=source,
            file=METADATA,
        )
    actual = digest(meta)
    if actual != recorded:
        raise BundleIntegrityError(
            f"bundle file {METADATA!r} was modified: its content hashes to {actual[:16]}..., "
            f"it recorded {recorded[:16]}...; refusing to load it",
            path=source,
            file=METADATA,
        )
    for dotted, (required, check_value) in _FIELDS.items():
        holder: Any = meta
        *parents, key = dotted.split(".")
        for parent in parents:
            holder = holder.get(parent) if isinstance(holder, dict) else None
        if not isinstance(holder, dict):
            continue
        if key not in holder:
            if required:
                raise BundleError(f"{source}: field {dotted!r} is missing", path=source)
            continue
        problem = check_value(holder[key])
        if problem is not None:
            raise BundleError(
                f"{source}: field {dotted!r} must be {problem}, got {_short(holder[key])}",
                path=source,
            )
    for i, entry in enumerate(meta.get("datasets") or []):
        problem = _dataset_problem(entry)
        if problem is not None:
            raise BundleError(f"{source}: field 'datasets[{i}]': {problem}", path=source)
    for needed in ("model.skops", "schema.json"):
        if needed not in meta["files"]:
            raise BundleError(f"{source}: field 'files' does not list {needed!r}", path=source)
    return meta


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
