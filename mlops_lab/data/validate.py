"""``validate``: apply a schema to a dataset and return a :class:`ValidationReport`.

The schema can be a :class:`~.schema.Schema`, a schema file (JSON or YAML), or
``against=RUN`` for the schema of the dataset that run was trained on. Scoring
data has no target: when that run logged a model with named input columns,
``against=RUN`` checks those columns only (a target column that is there is
ignored, not an extra column); ``inputs_only=False`` checks every column of the
training data. Results
are stored, linked to the data's digest and the active run, when a run is
open (or ``record=True``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, SchemaError
from .io import DataLike, as_frame
from .report import ValidationReport
from .schema import Schema

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project


def resolve_schema(
    schema: Any = None, *, against: Any = None, project: Project | None = None
) -> Schema:
    """A :class:`Schema` from a Schema, a dict, a schema file path, or ``against=RUN``."""
    if schema is not None and against is not None:
        raise InvalidArgumentError("give schema= or against=, not both")
    if against is not None:
        from .api import run_schema

        return run_schema(against, project=project)
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


def model_inputs(run: Any, *, project: Project | None = None) -> list[str] | None:
    """The input column names of the last model ``run`` logged (None: no named columns)."""
    from ..project import default_project

    store, run_id = (project or default_project()).resolve(run)
    for art in reversed(store.artifacts(run_id)):
        signature = (art.get("meta") or {}).get("signature") if art["kind"] == "model" else None
        if isinstance(signature, dict) and signature.get("type") == "dataframe":
            return [str(c["name"]) for c in signature.get("columns") or []]
    return None


def _inputs_schema(schema: Schema, inputs: list[str] | None) -> tuple[Schema, list[str]]:
    """``schema`` narrowed to a model's ``inputs``; and the names it no longer checks."""
    if not inputs or not set(inputs) & set(schema.names):
        return schema, []
    keep = [c for c in schema.columns if c.name in inputs]
    dropped = [c.name for c in schema.columns if c.name not in inputs]
    return dataclasses.replace(schema, columns=keep), dropped


def _without(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    present = [n for n in names if n in frame.columns]
    return frame.drop(columns=present) if present else frame


def validate(
    data: DataLike,
    schema: Schema | str | os.PathLike[str] | dict | None = None,
    *,
    against: Any = None,
    inputs_only: bool = True,
    record: bool | None = None,
    project: Project | None = None,
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
    inputs_only
        With ``against``: check only the columns the run's model takes (when it logged
        a model with named columns), so scoring data without the target passes;
        ``False`` checks every column of the training data.
    record
        Store the result (linked to the data's digest and the active run).
        Default: when a run is open.
    project
        The project whose runs ``against`` names and whose store keeps the result
        (default: :func:`~mlops_lab.default_project`).

    Returns
    -------
    ValidationReport
        ``report.passed``, ``report.failure_cases``; ``print(report)`` for text.
    """
    from .checks import run_checks

    resolved = resolve_schema(schema, against=against, project=project)
    ignored: list[str] = []
    if against is not None and inputs_only:
        resolved, ignored = _inputs_schema(resolved, model_inputs(against, project=project))
    frame, source = as_frame(data)
    report = ValidationReport(
        n_rows=len(frame),
        n_cols=frame.shape[1],
        failures=run_checks(_without(frame, ignored), resolved),
        index=frame.index,
        schema_digest=resolved.digest,
        source=source,
    )
    if record is None:
        from ..project import default_project

        record = (project or default_project()).active is not None
    if record:
        from .api import record_validation

        record_validation(report, frame, project=project)
    return report
