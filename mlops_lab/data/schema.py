"""Dataset schemas: inferred from a reference dataset, reviewed as a file, diffed over time.

A :class:`Schema` lists the columns a dataset must have, each with its kind
and dtype, nullability (the share of missing values allowed), a numeric range
(the observed range widened by a tolerance), the allowed categories of a
low-cardinality column, uniqueness, and string length or regex pattern; and
for the whole table, row-count bounds, whether other columns may appear and
whether duplicate rows are allowed. It saves to JSON (or YAML when PyYAML is
installed and the file ends in ``.yaml``/``.yml``) so it can be reviewed and
edited by hand, and :meth:`Schema.diff` shows how it evolved.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MissingDependencyError, SchemaError
from .checks import duplicate_row_mask
from .io import DataLike, as_frame
from .kinds import NUMERIC, column_kind
from .render import fmt, html_table, text_table

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "mlops-lab/schema/v1"


@dataclass
class ColumnSchema:
    """What one column must look like; ``None`` means "not checked"."""

    name: str
    kind: str
    dtype: str
    nullable: bool = True
    max_missing: float | None = None
    min: float | None = None
    max: float | None = None
    allow_inf: bool = False
    categories: list[Any] | None = None
    unique: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}  # asdict deep-copies
        if out["categories"] is not None:
            out["categories"] = list(out["categories"])
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class Schema:
    """The expected shape of a dataset.

    Examples
    --------
    >>> schema = ml.infer_schema(train)              # doctest: +SKIP
    >>> schema.save("schemas/train.json")            # review it, edit it, commit it
    >>> report = ml.validate(new_batch, ml.Schema.load("schemas/train.json"))
    >>> print(schema.diff(ml.infer_schema(new_batch)))
    """

    columns: list[ColumnSchema] = field(default_factory=list)
    min_rows: int | None = 1
    max_rows: int | None = None
    allow_extra_columns: bool = False
    allow_duplicate_rows: bool = True

    def __getitem__(self, name: str) -> ColumnSchema:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    # -- files --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "min_rows": self.min_rows,
            "max_rows": self.max_rows,
            "allow_extra_columns": self.allow_extra_columns,
            "allow_duplicate_rows": self.allow_duplicate_rows,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "schema") -> Schema:
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise SchemaError(f"{source}: not an mlops-lab schema (no 'columns' list)")
        known = {f.name for f in fields(ColumnSchema)}
        columns = []
        for i, col in enumerate(data["columns"]):
            if not isinstance(col, dict) or "name" not in col or "kind" not in col:
                raise SchemaError(f"{source}: column #{i} needs at least 'name' and 'kind'")
            unknown = set(col) - known
            if unknown:
                raise SchemaError(
                    f"{source}: column {col['name']!r} has unknown keys {sorted(unknown)}; "
                    f"valid keys are {sorted(known)}",
                    column=str(col["name"]),
                )
            columns.append(ColumnSchema(**{"dtype": col["kind"], **col}))
        table = {
            k: data[k]
            for k in ("min_rows", "max_rows", "allow_extra_columns", "allow_duplicate_rows")
            if k in data
        }
        return cls(columns, **table)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=_json_default)

    @property
    def digest(self) -> str:
        """SHA-256 of the schema's canonical JSON: equal schemas, equal digests."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=_json_default)
        return hashlib.sha256(text.encode()).hexdigest()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the schema as JSON, or YAML when ``path`` ends in ``.yaml`` / ``.yml``."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix.lower() in (".yaml", ".yml"):
            yaml = _yaml()
            p.write_text(
                yaml.safe_dump(json.loads(self.to_json()), sort_keys=False), encoding="utf-8"
            )
        else:
            p.write_text(self.to_json() + "\n", encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Schema:
        """Read a schema written by :meth:`save` (JSON or YAML)."""
        p = Path(path)
        if not p.is_file():
            raise SchemaError(f"no schema file at {str(p)!r}")
        text = p.read_text(encoding="utf-8")
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                data = _yaml().safe_load(text)
            else:
                data = json.loads(text)
        except MissingDependencyError:
            raise
        except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
            raise SchemaError(f"{str(p)!r} does not parse: {exc}") from exc
        return cls.from_dict(data, source=str(p))

    # -- evolution ------------------------------------------------------------------------

    def diff(self, other: Schema) -> SchemaDiff:
        """What changed from this schema to ``other``: columns added, removed, changed."""
        changes: list[tuple[str, str, Any, Any]] = []
        mine = {c.name: c.to_dict() for c in self.columns}
        theirs = {c.name: c.to_dict() for c in other.columns}
        for name in mine.keys() - theirs.keys():
            changes.append((name, "column removed", mine[name]["dtype"], None))
        for name in theirs.keys() - mine.keys():
            changes.append((name, "column added", None, theirs[name]["dtype"]))
        for name in [n for n in mine if n in theirs]:
            a, b = mine[name], theirs[name]
            for key in [k for k in {**a, **b} if k != "name"]:
                if a.get(key) != b.get(key):
                    changes.append((name, key, a.get(key), b.get(key)))
        for key in ("min_rows", "max_rows", "allow_extra_columns", "allow_duplicate_rows"):
            if getattr(self, key) != getattr(other, key):
                changes.append(("(table)", key, getattr(self, key), getattr(other, key)))
        order = {n: i for i, n in enumerate([*mine, *theirs, "(table)"])}
        changes.sort(key=lambda c: order[c[0]])
        return SchemaDiff(changes)

    # -- display ---------------------------------------------------------------------------

    def _rows(self) -> list[list[str]]:
        rows = []
        for c in self.columns:
            rules = []
            if not c.nullable:
                rules.append("not null")
            elif c.max_missing is not None:
                rules.append(f"missing ≤ {c.max_missing:.1%}")
            if c.min is not None or c.max is not None:
                rules.append(f"range [{fmt(c.min, 6)}, {fmt(c.max, 6)}]")
            if c.categories is not None:
                shown = ", ".join(map(str, c.categories[:6]))
                rules.append(f"in {{{shown}{', …' if len(c.categories) > 6 else ''}}}")
            if c.unique:
                rules.append("unique")
            if c.min_length is not None or c.max_length is not None:
                rules.append(f"length [{c.min_length}, {c.max_length}]")
            if c.pattern:
                rules.append(f"matches {c.pattern}")
            rows.append([c.name, c.kind, c.dtype, "; ".join(rules)])
        return rows

    def _header(self) -> str:
        rows = f"rows ≥ {self.min_rows}" + (f", ≤ {self.max_rows}" if self.max_rows else "")
        extra = "extra columns allowed" if self.allow_extra_columns else "no extra columns"
        dups = "" if self.allow_duplicate_rows else ", no duplicate rows"
        return f"Schema: {len(self.columns)} columns, {rows}, {extra}{dups}"

    def __str__(self) -> str:
        return (
            self._header() + "\n" + text_table(["column", "kind", "dtype", "rules"], self._rows())
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        return (
            f"<div><b>{self._header()}</b>"
            + html_table(["column", "kind", "dtype", "rules"], self._rows())
            + "</div>"
        )


@dataclass
class SchemaDiff:
    """The changes between two schemas: ``(column, field, old, new)`` tuples."""

    changes: list[tuple[str, str, Any, Any]]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def _rows(self) -> list[list[str]]:
        return [
            [c, f, "" if a is None else str(a), "" if b is None else str(b)]
            for c, f, a, b in self.changes
        ]

    def __str__(self) -> str:
        if not self.changes:
            return "schemas are identical"
        return f"{len(self.changes)} schema changes\n" + text_table(
            ["column", "field", "old", "new"], self._rows()
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        if not self.changes:
            return "<div>schemas are identical</div>"
        return (
            f"<div><b>{len(self.changes)} schema changes</b>"
            + html_table(["column", "field", "old", "new"], self._rows())
            + "</div>"
        )


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise MissingDependencyError("PyYAML", "yaml", "reading and writing YAML schemas") from None
    return yaml


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as a plain Python value (for JSON)."""
    return value.item() if hasattr(value, "item") else value


def _infer_column(
    name: str,
    series: pd.Series,
    *,
    range_tolerance: float,
    missing_tolerance: float,
    max_categories: int,
) -> ColumnSchema:
    import numpy as np

    kind = column_kind(series)
    n = len(series)
    missing = series.isna()
    n_missing = int(missing.sum())
    col = ColumnSchema(name=name, kind=kind, dtype=str(series.dtype))
    col.nullable = n_missing > 0
    if col.nullable:
        col.max_missing = min(1.0, round(n_missing / n + missing_tolerance, 6))
    present = series[~missing] if n_missing else series
    if len(present) == 0:
        return col
    if kind in NUMERIC:
        values = present.to_numpy(dtype="float64")
        finite = values[np.isfinite(values)]
        col.allow_inf = bool(finite.size < values.size)
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            pad = (hi - lo) * range_tolerance if hi > lo else abs(lo) * range_tolerance
            lo, hi = lo - pad, hi + pad
            if kind == "integer":
                lo, hi = math.floor(lo), math.ceil(hi)
            col.min, col.max = _plain(lo), _plain(hi)
        col.unique = kind == "integer" and len(present) > 1 and not present.duplicated().any()
    elif kind in ("string", "category"):
        counts = present.value_counts()
        is_id = len(present) > 1 and len(counts) == len(present)
        low = len(counts) <= max_categories and (
            kind == "category" or len(counts) < 0.5 * len(present)
        )
        if low and not is_id:
            col.categories = sorted((_plain(v) for v in counts.index), key=str)
        elif kind == "string":
            lengths = present.str.len()
            col.min_length, col.max_length = int(lengths.min()), int(lengths.max())
        col.unique = is_id
    return col


def infer_schema(
    data: DataLike,
    *,
    range_tolerance: float = 0.1,
    missing_tolerance: float = 0.05,
    max_categories: int = 50,
) -> Schema:
    """Infer a schema from a reference dataset.

    Parameters
    ----------
    data
        A pandas DataFrame, or a path to a CSV or Parquet file.
    range_tolerance
        Numeric ranges are the observed ``[min, max]`` widened by this share of the span.
    missing_tolerance
        A column with missing values allows their observed share plus this much.
        A column with none allows none.
    max_categories
        Text columns with at most this many distinct values (and values repeated,
        not an id) get an allowed-categories list.
    """
    frame, _ = as_frame(data)
    columns = [
        _infer_column(
            str(name),
            frame.iloc[:, i],
            range_tolerance=range_tolerance,
            missing_tolerance=missing_tolerance,
            max_categories=max_categories,
        )
        for i, name in enumerate(frame.columns)
    ]
    has_dups = bool(len(frame)) and bool(duplicate_row_mask(frame).any())
    return Schema(columns, allow_duplicate_rows=has_dups)
