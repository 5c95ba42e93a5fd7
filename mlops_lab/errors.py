"""The exceptions and warnings mlops-lab raises.

Every error a user can cause derives from :class:`MlopsLabError`, so one
``except MlopsLabError`` catches them all; the shells (magics, CLI, HTTP)
convert only these into one readable line, and let anything else surface as
the bug it is::

    MlopsLabError
    ├── StoreError                  the store cannot be opened or written
    │   ├── NotAStoreError          a file at the store path is not an mlops-lab database
    │   └── StoreVersionError       the database is newer than this mlops-lab
    ├── RunError
    │   ├── RunNotFoundError        no run with that id (or prefix, or name)
    │   ├── NoActiveRunError        a logging call with no run open
    │   ├── RunAlreadyActiveError   start_run while a run is open, without parent=
    │   └── ParamConflictError      a param logged again with a different value
    ├── FilterSyntaxError           a runs filter or order-by that does not parse
    ├── InvalidArgumentError        a bad value for an argument (names the argument)
    ├── DataError                   a dataset that cannot be used as given (names the column)
    │   ├── DatasetReadError        a path that is missing or not a CSV/Parquet table
    │   ├── SchemaError             a schema file that does not parse, or does not fit the data
    │   └── ValidationFailedError   ValidationReport.raise_for_failures() on a failed report
    ├── ModelLoadError              a model file that cannot be loaded safely
    ├── RegistryError               the model registry refuses a name, alias or version
    │   └── ModelNotFoundError      no registered model, version or alias for a reference
    ├── PipelineError               a promoted pipeline cannot be written or run
    │   ├── PipelineNotFoundError   no pipeline folder (or spec) of that name
    │   ├── PipelineParamError      an unknown parameter, or a value of the wrong type
    │   ├── PromotionError          a run that cannot become a pipeline (names the name/cell)
    │   ├── PipelineStepError       a step failed (shows the failing cell and its error)
    │   └── InputChangedError       reproduce: an input file no longer has its recorded digest
    ├── BundleError                 a model bundle that is missing or incomplete
    │   └── BundleIntegrityError    a bundle file whose content digest does not match
    ├── InputValidationError        a served request whose inputs do not fit the schema
    └── MissingDependencyError      an optional dependency is not installed

    MlopsLabWarning                 something was not logged, the user's code went on
    ├── OnnxExportWarning           a bundle was written without model.onnx (says why)
    └── MissingSignatureWarning     log_model could not infer the model's input signature
"""

from __future__ import annotations


class MlopsLabError(Exception):
    """The root of every error mlops-lab raises for a user's mistake or environment."""


class StoreError(MlopsLabError):
    """The store cannot be opened, read or written."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class NotAStoreError(StoreError):
    """A file exists at the store path but is not an mlops-lab database."""


class StoreVersionError(StoreError):
    """The database was written by a newer mlops-lab than this one."""


class RunError(MlopsLabError):
    """An error about one run."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class RunNotFoundError(RunError):
    """No run matches the given id, id prefix or name."""


class NoActiveRunError(RunError):
    """A logging call was made while no run is open."""


class RunAlreadyActiveError(RunError):
    """``start_run`` was called while another run is open and no parent was given."""


class ParamConflictError(RunError):
    """A param was logged again with a different value (params are immutable)."""

    def __init__(self, key: str, old: str, new: str, *, run_id: str) -> None:
        super().__init__(
            f"param {key!r} of run {run_id[:8]} is already {old!r}; "
            f"params are immutable, cannot set it to {new!r} "
            "(log it under another key, or start a new run)",
            run_id=run_id,
        )
        self.key = key
        self.old = old
        self.new = new


class FilterSyntaxError(MlopsLabError):
    """A filter or order-by expression does not parse; points at the bad token."""

    def __init__(self, message: str, *, expression: str, position: int) -> None:
        pointer = " " * position + "^"
        super().__init__(f"{message}\n  {expression}\n  {pointer}")
        self.expression = expression
        self.position = position
        self.reason = message


class InvalidArgumentError(MlopsLabError, ValueError):
    """An argument has a value that cannot be used; the message names the argument."""


class DataError(MlopsLabError):
    """A dataset (frame or file) cannot be used as given; ``column`` names the culprit."""

    def __init__(self, message: str, *, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class DatasetReadError(DataError):
    """A dataset path does not exist, or cannot be read as CSV or Parquet."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class SchemaError(DataError):
    """A schema file does not parse, or a schema does not fit the data it is applied to."""


class ValidationFailedError(DataError):
    """Raised on request (``report.raise_for_failures()``) when data failed its schema."""

    def __init__(self, message: str, *, column: str | None = None, report: object = None) -> None:
        super().__init__(message, column=column)
        self.report = report


class ModelLoadError(MlopsLabError):
    """A model file cannot be loaded, or would need untrusted types to load."""


class BundleError(MlopsLabError):
    """A model bundle cannot be built or read (missing file, bad metadata)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class BundleIntegrityError(BundleError):
    """A bundle file is missing or its sha256 digest differs from the one recorded."""

    def __init__(self, message: str, *, path: str | None = None, file: str | None = None) -> None:
        super().__init__(message, path=path)
        self.file = file


class InputValidationError(MlopsLabError, ValueError):
    """Inputs sent to a served model do not fit its schema; names the column and the problem.

    ``status`` is the HTTP status the server answers with (a 4xx).
    """

    def __init__(
        self, problem: str, *, column: str | None = None, status: int = 422, row: int | None = None
    ) -> None:
        where = f"column {column!r}: " if column is not None else ""
        super().__init__(f"{where}{problem}")
        self.problem = problem
        self.column = column
        self.status = status
        self.row = row


class RegistryError(MlopsLabError):
    """The model registry refuses a model name, an alias or a version."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class ModelNotFoundError(RegistryError, LookupError):
    """No registered model, version or alias matches a reference."""

    def __init__(self, message: str, *, ref: str, name: str | None = None) -> None:
        super().__init__(message, name=name)
        self.ref = ref


class PipelineError(MlopsLabError):
    """A promoted pipeline cannot be written, found or run."""

    def __init__(self, message: str, *, pipeline: str | None = None) -> None:
        super().__init__(message)
        self.pipeline = pipeline


class PromotionError(PipelineError):
    """A run cannot be promoted as it is: a name no cell defines, a bad parameter key..."""

    def __init__(
        self,
        message: str,
        *,
        pipeline: str | None = None,
        name: str | None = None,
        cell: str | None = None,
    ) -> None:
        super().__init__(message, pipeline=pipeline)
        self.name = name
        self.cell = cell


class PipelineNotFoundError(PipelineError):
    """No pipeline folder (or no spec file in it) for that name."""


class PipelineParamError(PipelineError, ValueError):
    """A parameter the pipeline does not declare, or a value of the wrong type."""

    def __init__(self, message: str, *, pipeline: str, param: str) -> None:
        super().__init__(message, pipeline=pipeline)
        self.param = param


class PipelineStepError(PipelineError):
    """A pipeline step failed; ``str()`` shows the failing cell's source and error."""

    def __init__(
        self,
        *,
        pipeline: str,
        step: str,
        error: str,
        cell_index: int | None = None,
        source: str | None = None,
        run_id: str | None = None,
    ) -> None:
        self.step = step
        self.error = error
        self.cell_index = cell_index
        self.source = source
        self.run_id = run_id
        super().__init__(self._message(pipeline), pipeline=pipeline)

    def _message(self, pipeline: str) -> str:
        where = f"step {self.step!r}"
        if self.cell_index is not None:
            where += f", cell {self.cell_index}"
        lines = [f"pipeline {pipeline!r} failed at {where}; nothing was registered"]
        if self.source:
            lines += ["", *("    " + line for line in self.source.rstrip().splitlines()), ""]
        lines.append(self.error)
        if self.run_id:
            lines.append(f"(pipeline run {self.run_id[:8]}: its output notebooks are kept)")
        return "\n".join(lines)


class InputChangedError(PipelineError):
    """An input of a run being reproduced no longer has the digest recorded when it ran."""

    def __init__(
        self, *, pipeline: str, ref: str, path: str, recorded: str, current: str | None
    ) -> None:
        now = f"now {current}" if current else "now missing"
        super().__init__(
            f"cannot reproduce {ref}: its input data changed: {path} had digest {recorded} "
            f"when {ref} was trained, {now}",
            pipeline=pipeline,
        )
        self.ref = ref
        self.path = path
        self.recorded = recorded
        self.current = current


class MissingDependencyError(MlopsLabError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs {package!r}, which is not installed: pip install 'mlops-lab[{extra}]'"
        )
        self.package = package
        self.extra = extra


class MlopsLabWarning(UserWarning):
    """Something could not be logged; the user's own code carried on."""


class OnnxExportWarning(MlopsLabWarning):
    """A bundle was written without ``model.onnx``; the message says why (skops still serves)."""


class MissingSignatureWarning(MlopsLabWarning):
    """``log_model`` found no input signature to record (no example, nothing to infer from)."""
