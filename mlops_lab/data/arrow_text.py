"""Text checks read straight from the Arrow buffers of a pyarrow-backed string column.

pandas 3 stores ``str`` columns (and ``string[pyarrow]``) as Arrow string arrays,
often in several chunks. The validation checks on them (missing values, allowed
values, string lengths, uniqueness) run here chunk by chunk with
``pyarrow.compute`` or numpy over the offsets and bytes, without making a Python
object per row. Each function returns what the plain pandas operation would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

_MIX = 0x9E3779B97F4A7C15  # odd: multiplying by it is a bijection of uint64


def string_chunks(series: pd.Series) -> list[pa.Array] | None:
    """The Arrow chunks (``string`` or ``large_string``) of a pyarrow-backed text column;
    ``None`` for any other column."""
    import sys

    if getattr(series.dtype, "storage", None) != "pyarrow" or sys.byteorder != "little":
        return None
    import pyarrow as pa

    to_arrow = getattr(series.array, "__arrow_array__", None)
    if to_arrow is None:
        return None
    arr = to_arrow()
    chunks = list(arr.chunks) if isinstance(arr, pa.ChunkedArray) else [arr]
    if not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        return None
    return chunks


def null_count(chunks: list[pa.Array]) -> int:
    """How many values are missing (Arrow keeps the count: no pass over the data)."""
    return sum(c.null_count for c in chunks)


def _unpack(bitmap: pa.Buffer, offset: int, length: int) -> np.ndarray:
    """An Arrow bitmap (least significant bit first) as ``length`` numpy booleans."""
    import numpy as np

    first = offset // 8
    raw = np.frombuffer(bitmap, dtype=np.uint8)[first : (offset + length + 7) // 8 + 1]
    bits = np.unpackbits(raw, bitorder="little")
    return bits[offset - 8 * first : offset - 8 * first + length].view(bool)


def _chunk_missing(chunk: pa.Array) -> np.ndarray:
    import numpy as np

    validity = chunk.buffers()[0]
    if validity is None or not chunk.null_count:
        return np.zeros(len(chunk), dtype=bool)
    return ~_unpack(validity, chunk.offset, len(chunk))


def missing_mask(chunks: list[pa.Array]) -> np.ndarray:
    """Where a value is missing, as one boolean array over every chunk (read from the
    validity bitmaps)."""
    import numpy as np

    parts = [_chunk_missing(c) for c in chunks]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def outside(chunks: list[pa.Array], allowed: list[Any]) -> np.ndarray | None:
    """Where a present value is not one of ``allowed``; ``None`` when every one is.

    One hash lookup per value (``pyarrow.compute.is_in``), each chunk on its own; a
    chunk passes when the values found number its present values. A missing value is
    never outside. Only text can equal a text value, so the allowed values that are
    not ``str`` are left out of the lookup.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = [v for v in allowed if isinstance(v, str)]
    found = []
    clean = True
    for chunk in chunks:
        # skip_nulls: a missing value is never found, so a clean chunk finds the others
        ok = pc.is_in(chunk, value_set=pa.array(texts, type=chunk.type), skip_nulls=True)
        hits = pc.sum(ok).as_py() or 0
        passed = hits == len(chunk) - chunk.null_count
        clean = clean and passed
        found.append(None if passed else ok)
    if clean:
        return None
    parts = []
    for chunk, ok in zip(chunks, found, strict=True):
        if ok is None:
            parts.append(np.zeros(len(chunk), dtype=bool))
            continue
        if ok.null_count:  # not expected from is_in; the plain conversion is exact
            hit = ok.fill_null(False).to_numpy(zero_copy_only=False)
        else:
            hit = _unpack(ok.buffers()[1], ok.offset, len(ok))
        parts.append(~hit & ~_chunk_missing(chunk))
    return np.concatenate(parts)


def _buffers(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A chunk's offsets (``len + 1``, from 0) and the bytes they index, without a copy
    of the bytes."""
    import numpy as np
    import pyarrow as pa

    _, off_buf, data_buf = chunk.buffers()
    dtype = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    if off_buf is None:  # an empty chunk may have no buffers
        return np.zeros(len(chunk) + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(off_buf, dtype=dtype)[chunk.offset : chunk.offset + len(chunk) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else None
    start, end = int(offsets[0]), int(offsets[-1])
    used = data[start:end] if data is not None else np.zeros(0, dtype=np.uint8)
    offsets = offsets.astype(np.int64, copy=False)
    return (offsets - start if start else offsets), used


def _ascii(data: np.ndarray) -> bool:
    """Whether no byte has its high bit set (one OR over 8-byte words)."""
    import numpy as np

    whole = len(data) // 8 * 8
    acc = 0
    if whole:
        acc = int(np.bitwise_or.reduce(data[:whole].view(np.uint64)))
        acc = acc | (acc >> 32)
        acc = acc | (acc >> 16)
        acc = acc | (acc >> 8)
    if whole < len(data):
        acc |= int(np.bitwise_or.reduce(data[whole:]))
    return not acc & 0x80


def char_lengths(chunks: list[pa.Array]) -> np.ndarray:
    """The length in characters of every value, as int64 (a missing value's is
    meaningless). ASCII text has one byte per character: the offsets' differences;
    other text is counted by ``pyarrow.compute.utf8_length``."""
    import numpy as np
    import pyarrow.compute as pc

    parts = []
    for chunk in chunks:
        offsets, data = _buffers(chunk)
        if _ascii(data):
            parts.append(np.diff(offsets))
        else:
            counted = pc.fill_null(pc.utf8_length(chunk), 0)
            parts.append(counted.to_numpy(zero_copy_only=False).astype(np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _byte_masks() -> np.ndarray:
    import numpy as np

    return np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


INLINE = 12  # Arrow string views hold strings this long (in bytes) in the view itself


def _short(chunks: list[pa.Array]) -> bool:
    """Whether no string of any chunk is longer than ``INLINE`` bytes."""
    import pyarrow.compute as pc

    longest = [pc.max(pc.binary_length(c)).as_py() for c in chunks if len(c)]
    return all(n is None or n <= INLINE for n in longest)


def _chunk_keys(chunk: pa.Array, short: bool) -> np.ndarray:
    """A uint32 per value of one chunk, from its length and bytes: equal strings give
    equal keys (a missing value's key is meaningless).

    ``short`` (no string of the column over 12 bytes): the chunk is cast to Arrow
    string views, 16 contiguous bytes per value (length, then the bytes, zero-padded),
    and the key mixes those two words. Otherwise it mixes the length and the first and
    last 8 bytes. Every chunk of a column must be keyed the same way.
    """
    import numpy as np
    import pyarrow as pa

    if short and len(chunk):
        views = chunk.cast(pa.string_view())
        words = np.frombuffer(views.buffers()[1], dtype=np.uint64)
        words = words[2 * views.offset : 2 * (views.offset + len(views))].reshape(-1, 2)
        mixed = words[:, 0] * np.uint64(_MIX)
        mixed ^= words[:, 1]
        mixed *= np.uint64(_MIX)
        return (mixed >> np.uint64(32)).astype(np.uint32)
    offsets, used = _buffers(chunk)
    data = np.zeros(len(used) + 8, dtype=np.uint8)  # room to read 8 bytes past the end
    data[: len(used)] = used
    # words[i]: the 8 bytes from byte i on, as one little-endian integer
    words = np.ndarray(buffer=data, dtype=np.uint64, shape=(len(data) - 7,), strides=(1,))
    start, end = offsets[:-1], offsets[1:]
    lengths = end - start
    keep = _byte_masks()[np.minimum(lengths, 8)]  # drop bytes past a short string's end
    mix = np.uint64(_MIX)
    key = words[start]
    key &= keep
    key *= mix
    tail = words[np.maximum(end - 8, start)]
    tail &= keep
    key ^= tail
    key *= mix
    key ^= lengths.view(np.uint64)
    key *= mix
    return (key >> np.uint64(32)).astype(np.uint32)


def repeated(series: pd.Series, chunks: list[pa.Array]) -> np.ndarray:
    """Where a present value equals another row's, like ``series.duplicated(keep=False)``
    less the missing values.

    A 32-bit key per string, sorted once, proves most values distinct; only the rows
    whose key shares a bucket with a repeated key are compared exactly (pandas'
    ``duplicated`` on those rows).
    """
    import numpy as np

    n = len(series)
    mask = np.zeros(n, dtype=bool)
    short = _short(chunks)
    parts = [_chunk_keys(c, short) for c in chunks]
    keys = parts[0] if len(parts) == 1 else np.concatenate([np.zeros(0, "u4"), *parts])
    present = None if not null_count(chunks) else ~missing_mask(chunks)
    if present is not None:
        keys = keys[present]
    if len(keys) < 2:
        return mask
    ordered = np.sort(keys)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return mask
    buckets = np.zeros(1 << 20, dtype=bool)  # 4,096 key values a bucket
    buckets[ordered[1:][same] >> np.uint32(12)] = True
    candidates = np.flatnonzero(buckets[keys >> np.uint32(12)])
    if present is not None:
        candidates = np.flatnonzero(present)[candidates]
    shared = series.iloc[candidates].duplicated(keep=False).to_numpy()
    mask[candidates[shared]] = True
    return mask
