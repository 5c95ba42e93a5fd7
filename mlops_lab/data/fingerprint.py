"""Dataset fingerprints: a SHA-256 digest of a table's full content and schema.

The digest covers the column names, their order and dtypes, the number of rows
and every cell, so identical data gives the same digest in any process, and
a change to any cell, column name or dtype changes it. Each column is reduced
to a few contiguous byte buffers (its values for fixed-width dtypes; UTF-8
text plus lengths for strings; codes plus categories for categoricals; a null
mask where nulls exist), hashed without a Python loop per row. Columns are
hashed in threads (hashlib releases the GIL on large buffers) and the
per-column digests are combined in column order. The index is not part of
the content unless ``include_index=True``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from .io import DataLike, as_frame
from .kinds import column_kind

if TYPE_CHECKING:
    import pandas as pd

_VERSION = b"mlops-lab/fingerprint/v1"
_PARALLEL_ROWS = 100_000


def _buffers(series: pd.Series) -> Iterator[bytes | memoryview]:
    """The byte buffers that stand for ``series``' values (not its name or dtype)."""
    import numpy as np
    import pandas as pd

    kind = column_kind(series)
    mask = series.isna().to_numpy(dtype=bool)
    has_null = bool(mask.any())
    if has_null:
        yield b"mask"
        yield np.packbits(mask).data
    if kind == "category":
        yield b"categories"
        categories = pd.Series(series.cat.categories)
        yield _column_digest("categories", categories)
        yield b"codes"
        yield np.ascontiguousarray(series.cat.codes.to_numpy()).data
        return
    if kind in ("datetime", "timedelta") and hasattr(series.array, "asi8"):
        yield np.ascontiguousarray(series.array.asi8).data
        return
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        values = series.to_numpy()
        if has_null and dtype.kind in "fc":
            values = np.where(mask, 0, values)  # one NaN whatever its bit pattern
        yield np.ascontiguousarray(values).data
        return
    if kind in ("integer", "float", "bool") and not isinstance(dtype, np.dtype):
        # Nullable extension dtypes (Int64, Float64, boolean, pyarrow numbers).
        numpy_type = {"integer": "int64", "float": "float64", "bool": "bool"}[kind]
        values = series.to_numpy(dtype=numpy_type, na_value=0)
        yield np.ascontiguousarray(values).data
        return
    # Text, and object columns of anything else: exact UTF-8 bytes with byte lengths
    # (read straight from Arrow buffers), plus the inferred kind so that 1 and "1" in
    # an object column are told apart.
    yield kind.encode()
    text = series if kind == "string" else series.where(~mask, "").astype(str)
    buffers: tuple[memoryview, memoryview | bytes] | None = _arrow_text(text)
    if buffers is None:  # text Arrow refuses (lone surrogates): encode it here
        strings = (text.where(~mask, "") if has_null else text).tolist()
        encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
        buffers = (
            np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)).data,
            b"".join(encoded),
        )
    yield from buffers


def _arrow_text(text: pd.Series) -> tuple[memoryview, memoryview] | None:
    """``(byte lengths as int64, concatenated UTF-8)`` of a text column, nulls as ""."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(text, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        arr = pc.fill_null(arr, "")
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if len(offsets) == 0:
        return np.zeros(0, dtype=np.int64).data, memoryview(b"")
    start, end = int(offsets[0]), int(offsets[-1])
    data = memoryview(data_buf)[start:end] if data_buf is not None else memoryview(b"")
    return np.diff(offsets).data, data


def _column_digest(name: str, series: pd.Series) -> bytes:
    h = hashlib.sha256()
    label = str(name).encode("utf-8", "surrogatepass")
    dtype = str(series.dtype).encode()
    h.update(len(label).to_bytes(8, "little") + label)
    h.update(len(dtype).to_bytes(8, "little") + dtype)
    h.update(len(series).to_bytes(8, "little"))
    for buf in _buffers(series):
        view = memoryview(buf).cast("B")
        h.update(len(view).to_bytes(8, "little"))
        h.update(view)
    return h.digest()


def column_fingerprints(data: DataLike, *, include_index: bool = False) -> dict[str, str]:
    """The SHA-256 hex digest of each column (name, dtype and values), in column order."""
    frame, _ = as_frame(data)
    return {
        str(name): digest.hex() for name, digest in _digests(frame, include_index=include_index)
    }


def _digests(frame: pd.DataFrame, *, include_index: bool) -> list[tuple[str, bytes]]:
    import pandas as pd

    items: list[tuple[str, pd.Series]] = [
        (str(name), frame.iloc[:, i]) for i, name in enumerate(frame.columns)
    ]
    if include_index:
        items.append(("\x00index", pd.Series(frame.index)))
    if len(frame) >= _PARALLEL_ROWS and len(items) > 1:
        with ThreadPoolExecutor(max_workers=4) as pool:
            digests = list(pool.map(lambda kv: _column_digest(*kv), items))
    else:
        digests = [_column_digest(name, series) for name, series in items]
    return [(name, d) for (name, _), d in zip(items, digests, strict=True)]


def fingerprint(data: DataLike, *, include_index: bool = False) -> str:
    """A SHA-256 hex digest of a dataset's full content, column names and dtypes.

    Parameters
    ----------
    data
        A pandas DataFrame, or a path to a CSV or Parquet file (read with pandas).
    include_index
        Also hash the row index (by default only the columns are content).

    Returns
    -------
    str
        64 hex characters; equal for equal data in any process.

    Examples
    --------
    >>> import pandas as pd, mlops_lab as ml
    >>> ml.fingerprint(pd.DataFrame({"a": [1, 2]})) == ml.fingerprint(pd.DataFrame({"a": [1, 2]}))
    True
    """
    frame, _ = as_frame(data)
    h = hashlib.sha256(_VERSION)
    h.update(len(frame).to_bytes(8, "little"))
    h.update(frame.shape[1].to_bytes(8, "little"))
    for _, digest in _digests(frame, include_index=include_index):
        h.update(digest)
    return h.hexdigest()
