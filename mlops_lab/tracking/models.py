"""Logging and loading models: skops files, never pickle.

A model is saved with ``skops.io`` and stored as a run artifact of kind
``model`` whose metadata records the flavour, the class, the library
versions and the input signature. Loading goes through :mod:`.trust`: a file
builds only exact, trusted class names (and those the caller names), so
opening a model file never runs arbitrary code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ..errors import InvalidArgumentError, MissingDependencyError, ModelLoadError

if TYPE_CHECKING:
    from .run import Run

_EXAMPLE_ROWS = 5


def signature(X: Any) -> dict[str, Any]:
    """The input signature of ``X``: column names and dtypes, or the shape."""
    columns = getattr(X, "columns", None)
    dtypes = getattr(X, "dtypes", None)
    if columns is not None and dtypes is not None:
        return {
            "type": "dataframe",
            "columns": [{"name": str(c), "dtype": str(dtypes[c])} for c in columns],
        }
    shape = getattr(X, "shape", None)
    if shape is not None:
        return {
            "type": "array",
            "shape": [None, *list(shape[1:])],
            "dtype": str(getattr(X, "dtype", "")),
        }
    return {"type": "unknown"}


def example_payload(X: Any) -> dict[str, Any] | None:
    """The first rows of ``X`` as JSON (pandas' ``split`` layout), or None if not serialisable."""
    import json

    head = X.head(_EXAMPLE_ROWS) if hasattr(X, "head") else X[:_EXAMPLE_ROWS]
    try:
        if hasattr(head, "to_json"):
            payload = json.loads(head.to_json(orient="split", index=False, date_format="iso"))
        else:
            import numpy as np

            payload = {"data": np.asarray(head).tolist()}
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return payload


def _skops() -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        raise MissingDependencyError("skops", "sklearn", "saving models") from exc
    return sio


def model_meta(model: Any, X: Any = None) -> dict[str, Any]:
    import sklearn

    sio = _skops()
    return {
        "flavor": "sklearn",
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "sklearn_version": sklearn.__version__,
        "skops_version": getattr(sio, "__version__", None) or _version("skops"),
        "format": "skops",
        "signature": signature(X) if X is not None else None,
    }


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def log_model(
    model: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    run: Run | None = None,
) -> str:
    """Save a fitted scikit-learn model with the active run (skops, not pickle).

    Parameters
    ----------
    model
        A fitted estimator (a Pipeline, a search's ``best_estimator_``...).
    name
        The artifact's name; ``ml.load_model(run, name)`` reads it back.
    input_example
        A few input rows; records the signature (columns and dtypes, or shape).

    Returns
    -------
    str
        The sha256 digest of the stored model file.
    """
    from .session import session

    target = run if run is not None else session().require_active("log_model")
    if not hasattr(model, "fit"):
        raise InvalidArgumentError(
            f"log_model: expected a scikit-learn estimator, got {type(model).__name__}"
        )
    sio = _skops()
    try:
        data = sio.dumps(model)
    except Exception as exc:
        raise ModelLoadError(f"log_model: skops cannot save {type(model).__name__}: {exc}") from exc
    digest, size = target.store.blobs.put_bytes(data)
    meta = model_meta(model, input_example)
    if input_example is not None:
        meta["input_example"] = example_payload(input_example)
    target.store.add_artifact(target.run_id, name, digest, size, kind="model", meta=meta)
    return digest


def loads(data: bytes, *, trusted: list[str] | None = None, source: str = "model") -> Any:
    """Load skops bytes, refusing every type that is not trusted (see :mod:`.trust`)."""
    from .trust import loads as trusted_loads

    return trusted_loads(data, trusted=trusted, source=source)


def load_model(
    run: Run | str | None = None, name: str = "model", *, trusted: list[str] | None = None
) -> Any:
    """Load a model logged with ``log_model`` (or by autolog) from a run.

    Parameters
    ----------
    run
        A ``Run``, run id, id prefix or run name (default: the latest run); or a
        registry reference: ``"name@alias"``, ``"name/3"``, ``"runs:/RUN_ID/model"``.
    name
        The model artifact's name (a registry reference names its own).
    trusted
        Further exact, fully qualified type names to allow (e.g. a class from xgboost).
    """
    from .api import get_run

    if isinstance(run, str) and ("@" in run or "/" in run or run.startswith("runs:/")):
        from ..registry import get_model_version

        return get_model_version(run).load(trusted=trusted)

    target: Run = get_run(run) if not hasattr(run, "artifacts") else cast("Run", run)
    for art in target.artifacts:
        if art["path"] == name and art["kind"] == "model":
            data = target.store.blobs.read_bytes(art["digest"])
            return loads(data, trusted=trusted, source=f"model {name!r} of run {target.run_id[:8]}")
    names = [a["path"] for a in target.artifacts if a["kind"] == "model"]
    raise InvalidArgumentError(
        f"run {target.run_id[:8]} has no model {name!r}"
        + (f" (its models: {', '.join(names)})" if names else " (it logged no model)")
    )
