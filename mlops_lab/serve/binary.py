"""Triton's binary tensor data extension of the Open Inference Protocol.

A request may carry tensors as raw bytes after its JSON header: the
``Inference-Header-Content-Length`` header gives the JSON's length, and each
input with ``parameters.binary_data_size`` takes that many bytes, in the order
of the inputs (little-endian values; a ``BYTES`` element is a 4-byte length and
its UTF-8 text). Outputs asked for with ``parameters.binary_data`` (or all of
them, with the request parameter ``binary_data_output``) are answered the same
way: a JSON header, then the bytes, with ``Inference-Header-Content-Length``.
"""

from __future__ import annotations

import struct
from types import MappingProxyType
from typing import Any

from ..errors import InputValidationError
from ..packaging.schema import show

HEADER = "inference-header-content-length"
NUMPY_TYPES = MappingProxyType(
    {
        "BOOL": "?",
        "UINT8": "<u1",
        "UINT16": "<u2",
        "UINT32": "<u4",
        "UINT64": "<u8",
        "INT8": "<i1",
        "INT16": "<i2",
        "INT32": "<i4",
        "INT64": "<i8",
        "FP16": "<f2",
        "FP32": "<f4",
        "FP64": "<f8",
    }
)


def _bad(message: str) -> InputValidationError:
    return InputValidationError(message, status=400)


def split(body: bytes, header_length: str | None) -> tuple[bytes, bytes | None]:
    """The JSON header and the binary tail of a request (no tail without the header)."""
    if header_length is None:
        return body, None
    text = header_length.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > len(body):
        raise _bad(
            f"Inference-Header-Content-Length must be the JSON header's length in bytes "
            f"(0 to {len(body)}), got {header_length[:40]!r}"
        )
    n = int(text)
    return body[:n], body[n:]


def binary_size(tensor: dict[str, Any], name: str) -> int | None:
    """The ``binary_data_size`` parameter of an input tensor, checked; ``None`` when absent."""
    params = tensor.get("parameters")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise _bad(f"input {show(name)}: 'parameters' must be an object")
    size = params.get("binary_data_size")
    if size is None:
        return None
    if type(size) is not int or size < 0:
        raise _bad(f"input {show(name)}: binary_data_size must be a non-negative integer")
    return size


def decode(datatype: str, chunk: bytes, name: str) -> list[Any]:
    """The flat values of one binary input tensor."""
    if datatype == "BYTES":
        values, offset = [], 0
        while offset < len(chunk):
            if offset + 4 > len(chunk):
                raise _bad(f"input {show(name)}: a BYTES element is cut short")
            (length,) = struct.unpack_from("<I", chunk, offset)
            offset += 4
            raw = chunk[offset : offset + length]
            if len(raw) != length:
                raise _bad(f"input {show(name)}: a BYTES element is cut short")
            offset += length
            try:
                values.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise _bad(f"input {show(name)}: a BYTES element is not UTF-8 text") from None
        return values
    import numpy as np

    dtype = np.dtype(NUMPY_TYPES[datatype])
    if len(chunk) % dtype.itemsize:
        raise _bad(
            f"input {show(name)}: {len(chunk)} bytes is not a whole number of "
            f"{datatype} values ({dtype.itemsize} bytes each)"
        )
    return np.frombuffer(chunk, dtype=dtype).tolist()


def encode(datatype: str, array: Any) -> bytes:
    """One output tensor as bytes (row-major, little-endian)."""
    import numpy as np

    if datatype == "BYTES":
        parts = []
        for value in np.asarray(array, dtype=object).ravel():
            data = str(value).encode("utf-8")
            parts.append(struct.pack("<I", len(data)) + data)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=NUMPY_TYPES[datatype]).tobytes()
