"""Turning what a user hands in (a DataFrame, a CSV or Parquet path) into a DataFrame.

Every data function accepts either; a wrong path, an unreadable file or an
object that is not a table becomes one :class:`~mlops_lab.errors.DataError`
that names the problem, never an exception from inside pandas.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError, DatasetReadError

if TYPE_CHECKING:
    import pandas as pd

DataLike = Any  # a pandas DataFrame, or a str / PathLike to a .csv(.gz) or .parquet file

_CSV = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".tsv", ".txt")
_PARQUET = (".parquet", ".pq", ".parq")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV or Parquet file (chosen by extension) into a DataFrame."""
    import pandas as pd

    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetReadError(f"no dataset file at {str(p)!r}", path=str(p))
    name = p.name.lower()
    try:
        if p.is_dir() or name.endswith(_PARQUET):
            return pd.read_parquet(p)
        if name.endswith(_CSV):
            return pd.read_csv(p, sep="\t" if name.endswith(".tsv") else ",")
    except (OSError, ValueError, ImportError) as exc:
        raise DatasetReadError(
            f"cannot read {str(p)!r} as a {'Parquet' if name.endswith(_PARQUET) else 'CSV'} "
            f"table: {type(exc).__name__}: {exc}",
            path=str(p),
        ) from exc
    except Exception as exc:  # pandas' parser errors have no common public base
        raise DatasetReadError(
            f"cannot read {str(p)!r}: {type(exc).__name__}: {exc}", path=str(p)
        ) from exc
    raise DatasetReadError(
        f"{str(p)!r}: unknown dataset format; expected a .csv or .parquet file", path=str(p)
    )


def as_frame(data: DataLike, *, what: str = "data") -> tuple[pd.DataFrame, str | None]:
    """``(frame, source)``: the DataFrame for ``data`` and the path it came from (or None)."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        _check_columns(data, what)
        return data, None
    if isinstance(data, str | os.PathLike):
        frame = read_table(data)
        _check_columns(frame, what)
        return frame, str(Path(data).expanduser())
    if isinstance(data, pd.Series):
        raise DataError(
            f"{what}: expected a DataFrame or a CSV/Parquet path, got a Series "
            "(use series.to_frame())"
        )
    raise DataError(
        f"{what}: expected a pandas DataFrame or a CSV/Parquet path, got {type(data).__name__}"
    )


def _check_columns(frame: pd.DataFrame, what: str) -> None:
    if frame.columns.has_duplicates:
        dupes = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(
            f"{what}: duplicate column names {dupes}; rename them first", column=dupes[0]
        )
