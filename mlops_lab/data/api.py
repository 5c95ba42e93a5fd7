"""Datasets in the store: ``log_dataset``, the schema a run was trained on, and the
recording of validation and drift results against the active run.

This is where the data plane meets tracking; the statistics modules beside it
know nothing of runs or the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import DataError, InvalidArgumentError, SchemaError
from .io import DataLike, as_frame

if TYPE_CHECKING:
    from ..project import Project
    from ..store import Store
    from .schema import Schema


def _project(project: Project | None) -> Project:
    from ..project import default_project

    return project if project is not None else default_project()


def _store_and_run(project: Project | None = None) -> tuple[Store, str | None]:
    """The active run's store and id, else the project's store and ``None``."""
    proj = _project(project)
    run = proj.active
    return (run.store, run.run_id) if run is not None else (proj.store, None)


def log_dataset(
    data: DataLike,
    name: str | None = None,
    *,
    role: str = "train",
    run: Any = None,
    project: Project | None = None,
) -> str:
    """Fingerprint, profile and infer the schema of a dataset, keep them once per digest,
    and link the dataset to the active run (or ``run=``) under ``role``.

    Parameters
    ----------
    data
        A pandas DataFrame, or a path to a CSV or Parquet file.
    name
        A readable name (default: the file name, or ``"dataset"``).
    role
        What the run used it for: ``train``, ``test``, ``validation``, ``reference``, ...

    Returns
    -------
    str
        The dataset's digest (see :func:`~mlops_lab.fingerprint`).
    """
    from pathlib import Path

    from .fingerprint import fingerprint
    from .profile import profile
    from .schema import infer_schema

    if not isinstance(role, str) or not role:
        raise InvalidArgumentError(f"role: expected a non-empty string, got {role!r}")
    frame, source = as_frame(data, what=f"log_dataset({name or ''})")
    name = name or (Path(source).name if source else "dataset")
    store, run_id = _store_and_run(project)
    if run is not None:
        store, run_id = _project(project).resolve(run)
    digest = fingerprint(frame)
    if store.dataset(digest) is None:
        store.put_dataset(
            digest,
            name=name,
            n_rows=len(frame),
            n_cols=frame.shape[1],
            schema=infer_schema(frame).to_dict(),
            profile=profile(frame).to_dict(),
            source=source,
        )
    if run_id is not None:
        store.link_input(run_id, digest, name=name, role=role)
    return digest


def run_schema(run: Any = None, *, role: str = "train", project: Project | None = None) -> Schema:
    """The schema of the dataset a run logged under ``role`` (default: ``train``).

    Falls back to the run's first logged dataset when none has that role.
    """
    from .schema import Schema

    store, run_id = _project(project).resolve(run)
    inputs = store.run_inputs(run_id)
    if not inputs:
        raise SchemaError(
            f"run {run_id[:8]} logged no dataset: use ml.log_dataset(df, name) "
            "(or %mlops data NAME=df) in it, or pass a schema file"
        )
    chosen = next((i for i in inputs if i["role"] == role), inputs[0])
    record = store.dataset(chosen["digest"])
    if record is None or not record.get("schema"):
        raise SchemaError(f"dataset {chosen['name']!r} of run {run_id[:8]} has no stored schema")
    return Schema.from_dict(record["schema"], source=f"run {run_id[:8]}")


def dataset_profile(digest: str, *, project: Project | None = None) -> Any:
    """The stored profile of a dataset digest (a :class:`DatasetProfile`)."""
    from .profile import DatasetProfile

    store, _ = _store_and_run(project)
    record = store.dataset(digest)
    if record is None or not record.get("profile"):
        raise DataError(f"no dataset with digest {digest[:12]} in {store.root}")
    return DatasetProfile.from_dict(record["profile"])


def record_validation(report: Any, frame: Any, *, project: Project | None = None) -> None:
    """Store a validation report, linked to the data's digest and the active run."""
    from ..store.data_records import put_validation
    from .fingerprint import fingerprint

    store, run_id = _store_and_run(project)
    if report.digest is None:
        report.digest = fingerprint(frame)
    report.validation_id = put_validation(
        store,
        digest=report.digest,
        passed=report.passed,
        report=report.to_dict(),
        run_id=run_id,
        schema_digest=report.schema_digest,
    )


def record_drift(report: Any, *, project: Project | None = None) -> None:
    """Store a drift report's per-column scores, linked to the active run."""
    from ..store.data_records import put_drift

    store, run_id = _store_and_run(project)
    report.drift_id = put_drift(
        store,
        [r.to_dict() for r in report.columns],
        reference_digest=report.reference_digest,
        current_digest=report.current_digest,
        run_id=run_id,
    )


def drift_history(
    column: str | None = None,
    *,
    reference: str | None = None,
    project: Project | None = None,
) -> Any:
    """Stored drift scores as a DataFrame (oldest first), to trend drift over time."""
    import pandas as pd

    from ..store.data_records import drift_history as rows

    store, _ = _store_and_run(project)
    frame = pd.DataFrame(rows(store, column=column, reference_digest=reference))
    if len(frame):
        frame["created"] = pd.to_datetime(frame["created"], unit="s")
    return frame


def validations(
    *, digest: str | None = None, run: Any = None, project: Project | None = None
) -> Any:
    """Stored validation results as a DataFrame, newest first."""
    import pandas as pd

    from ..store.data_records import validations as rows

    store, _ = _store_and_run(project)
    run_id = None
    if run is not None:
        store, run_id = _project(project).resolve(run)
    return pd.DataFrame(rows(store, digest=digest, run_id=run_id))
