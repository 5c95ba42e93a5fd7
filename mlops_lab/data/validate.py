"""``validate``: apply a schema to a dataset and return a :class:`ValidationReport`.

The schema can be a :class:`~.schema.Schema`, a schema file (JSON or YAML), or
``against=RUN`` for the schema of the dataset that run was trained on. Results
are stored, linked to the data's digest and the active run, when a run is
open (or ``record=True``).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InvalidArgumentError, SchemaError
from .io import DataLike, as_frame
from .report import ValidationReport
from .schema import Schema


def resolve_schema(schema: Any = None, *, against: Any = None) -> Schema:
    """A :class:`Schema` from a Schema, a dict, a schema file path, or ``against=RUN``."""
    if schema is not None and against is not None:
        raise InvalidArgumentError("give schema= or against=, not both")
    if against is not None:
        from .api import run_schema

        return run_schema(against)
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, dict):
        return Schema.from_dict(schema)
    if isinstance(schema, str | os.PathLike):
        return Schema.load(schema)
    if schema is None:
        raise SchemaError("no schema: pass schema= (a Schema or a schema file) or against=RUN")
    raise SchemaError(
        f"schema: expected a Schema, a dict or a file path, got {type(schema).__name__}"
    )


def validate(
    data: DataLike,
    schema: Schema | str | os.PathLike[str] | dict | None = None,
    *,
    against: Any = None,
    record: bool | None = None,
) -> ValidationReport:
    """Validate a dataset against a schema; every check runs (lazy validation).

    Checks: column present, no extra columns, dtype (values that do not convert are
    listed), not null / max missing share, numeric range (and infinities), allowed
    categories (new categories listed with count and share), uniqueness, string
    length and pattern, row-count bounds and duplicate rows.

    Parameters
    ----------
    data
        A pandas DataFrame, or a path to a CSV or Parquet file.
    schema
        A :class:`Schema` (see :func:`infer_schema`), or the path of a saved one.
    against
        Instead of ``schema``: a run (id, prefix, name or ``Run``) whose training
        dataset's schema is used.
    record
        Store the result (linked to the data's digest and the active run).
        Default: when a run is open.

    Returns
    -------
    ValidationReport
        ``report.passed``, ``report.failure_cases``; ``print(report)`` for text.
    """
    from .checks import run_checks

    resolved = resolve_schema(schema, against=against)
    frame, source = as_frame(data)
    report = ValidationReport(
        n_rows=len(frame),
        n_cols=frame.shape[1],
        failures=run_checks(frame, resolved),
        index=frame.index,
        schema_digest=resolved.digest,
        source=source,
    )
    if record is None:
        from ..tracking.session import session

        record = session().active is not None
    if record:
        from .api import record_validation

        record_validation(report, frame)
    return report
