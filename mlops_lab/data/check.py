"""The data gate for CI: ``mlops-lab validate``, ``mlops-lab drift`` and ``mlops-lab check``.

Each function prints its report as text and returns the exit code: 0 when
everything passed, 1 when a check failed. ``run_check`` runs the checks a
project declares in ``mlops-lab.toml`` (found like git finds its repository,
walking up from the working directory)::

    [[check.validate]]
    data = "data/new.csv"
    schema = "schemas/train.json"      # or: against = "baseline" (a run)

    [[check.drift]]
    reference = "data/train.parquet"
    current = "data/new.csv"
    drift_share = 0.5                  # optional; so are tests and thresholds
    thresholds = { age = 0.2 }

Paths are relative to the file's folder. An entry that cannot run (a missing
file, a bad schema) is reported and counts as a failure; the others still run.
``[[check.model]]`` entries (CI for models) are run by the runner the caller
passes in: ``mlops_lab.evaluation.ci.run_check`` passes the model evaluator.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, cast

from ..errors import DataError, MlopsLabError

CONFIG_NAME = "mlops-lab.toml"
CHECK_KINDS = ("validate", "drift", "model")

Printer = Callable[[str], None]


def _printer(out: Printer | None) -> Printer:
    return out if out is not None else print


def run_validate(
    data: str | os.PathLike[str] | Any,
    *,
    schema: str | os.PathLike[str] | None = None,
    against: str | None = None,
    out: Printer | None = None,
) -> int:
    """Validate one dataset; print the report; 0 if it passed, else 1."""
    from .validate import validate

    report = validate(data, schema, against=against)
    _printer(out)(str(report))
    return 0 if report.passed else 1


def run_drift(
    reference: str | os.PathLike[str] | Any,
    current: str | os.PathLike[str] | Any,
    *,
    drift_share: float = 0.5,
    tests: dict[str, str] | None = None,
    thresholds: dict[str, float] | None = None,
    out: Printer | None = None,
) -> int:
    """Compare two datasets; print the report; 0 without dataset drift, else 1."""
    from .drift import drift

    report = drift(reference, current, drift_share=drift_share, tests=tests, thresholds=thresholds)
    _printer(out)(str(report))
    return 0 if report.passed else 1


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``mlops-lab.toml`` from ``start`` (default: the working directory) upward."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | os.PathLike[str]) -> dict[str, list[dict[str, Any]]]:
    import tomllib

    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc}") from exc
    checks = data.get("check", {})
    if not isinstance(checks, dict):
        raise DataError(f"{str(path)!r}: [check] must be a table")
    unknown = set(checks) - set(CHECK_KINDS)
    if unknown:
        raise DataError(
            f"{str(path)!r}: unknown check kinds {sorted(unknown)}; use "
            + ", ".join(f"[[check.{kind}]]" for kind in CHECK_KINDS)
        )
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in CHECK_KINDS:
        entries = checks.get(kind, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise DataError(f"{str(path)!r}: write each check as a [[check.{kind}]] table")
        out[kind] = entries
    return out


ModelRunner = Callable[[dict[str, Any], Callable[[Any], Any], Printer], int]


def run_check(
    config: str | os.PathLike[str] | None = None,
    *,
    out: Printer | None = None,
    model_runner: ModelRunner | None = None,
) -> int:
    """Run every check declared in ``mlops-lab.toml``; 0 if all passed, else 1.

    ``model_runner(entry, resolve_path, print)`` runs one ``[[check.model]]`` entry and
    returns its exit code; without one, model entries are reported as failures.

    Raises :class:`~mlops_lab.errors.DataError` when there is no config file or it
    does not parse (the CLI turns that into one line on stderr and exit code 2).
    """
    say = _printer(out)
    path = Path(config) if config is not None else find_config()
    if path is None:
        raise DataError(
            f"no {CONFIG_NAME} found from {Path.cwd()} upward: declare the data checks there "
            "(see `mlops-lab check --help`)"
        )
    checks = load_config(path)
    base = path.parent

    def at(value: Any) -> Any:
        return str(base / value) if isinstance(value, str) else value

    results: list[tuple[str, int]] = []
    # The lambdas bind ``entry`` through a defaulted parameter, which mypy cannot infer
    # against ``Callable[[], int]``; the casts state the type they have.
    for entry in checks["validate"]:
        label = f"validate {entry.get('data')}"
        results.append(
            (
                label,
                _guard(
                    say,
                    label,
                    cast(
                        "Callable[[], int]",
                        lambda e=entry: run_validate(
                            at(e.get("data")),
                            schema=at(e.get("schema")),
                            against=e.get("against"),
                            out=say,
                        ),
                    ),
                ),
            )
        )
    for entry in checks["drift"]:
        label = f"drift {entry.get('reference')} -> {entry.get('current')}"
        results.append(
            (
                label,
                _guard(
                    say,
                    label,
                    cast(
                        "Callable[[], int]",
                        lambda e=entry: run_drift(
                            at(e.get("reference")),
                            at(e.get("current")),
                            drift_share=e.get("drift_share", 0.5),
                            tests=e.get("tests"),
                            thresholds=e.get("thresholds"),
                            out=say,
                        ),
                    ),
                ),
            )
        )
    for entry in checks["model"]:
        label = f"model {entry.get('model')} on {entry.get('data')}"
        if model_runner is None:
            say(f"== {label}\nERROR: model checks need mlops_lab.evaluation")
            results.append((label, 1))
            continue
        results.append((label, _guard(say, label, partial(model_runner, entry, at, say))))
    failed = [label for label, code in results if code]
    say("")
    say(
        f"mlops-lab check: {len(results) - len(failed)} of {len(results)} checks passed"
        + (f"; failed: {'; '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def _guard(say: Printer, label: str, fn: Callable[[], int]) -> int:
    say(f"== {label}")
    try:
        return fn()
    except MlopsLabError as exc:
        say(f"ERROR: {exc}")
        return 1
