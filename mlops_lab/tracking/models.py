"""Logging and loading models: skops files, never pickle.

A model is saved with ``skops.io`` and stored as a run artifact of kind
``model`` whose metadata records the flavour, the class, the library
versions and the input signature. Loading goes through :mod:`.trust`: a file
builds only exact, trusted class names (and those the caller names), so
opening a model file never runs arbitrary code.
"""

from __future__ import annotations

import numbers
import warnings
import weakref
from typing import TYPE_CHECKING, Any, cast

from ..errors import (
    InvalidArgumentError,
    MissingDependencyError,
    MissingSignatureWarning,
    ModelLoadError,
)

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


# -- signatures inferred from the model ---------------------------------------------------

SIGNATURE_SOURCES = ("input_example", "training_frame", "feature_names_in_", "n_features_in_")


def _training_heads() -> weakref.WeakKeyDictionary[Any, Any]:
    """The first rows of the data each estimator was last fitted on, when autolog saw the fit.

    Held weakly (forgotten with the estimator), for the whole process (the estimator
    objects are); only a few rows, never the whole frame.
    """
    from ..project import process_resource

    return process_resource("tracking.training_heads", weakref.WeakKeyDictionary)


def remember_training_frame(model: Any, X: Any) -> None:
    """Keep the first rows of ``X``, what ``model`` was just fitted on, for :func:`log_model`.

    For a search, its ``best_estimator_`` (refitted on ``X``) is remembered too.
    """
    head = _first_rows(X)
    if head is None:
        return
    targets = [model]
    best = getattr(model, "best_estimator_", None)
    if best is not None:
        targets.append(best)
    heads = _training_heads()
    for target in targets:
        try:
            heads[target] = head
        except TypeError:  # not weak-referenceable
            pass


def _first_rows(X: Any) -> Any:
    try:
        if hasattr(X, "iloc"):
            return X.iloc[:_EXAMPLE_ROWS].copy()
        if hasattr(X, "shape") and len(X.shape) == 2:
            import numpy as np

            return np.array(X[:_EXAMPLE_ROWS])
    except Exception:  # sparse matrices and the like: no example
        return None
    return None


def _unwrap(model: Any) -> tuple[Any, Any]:
    """``(model, first)``: a search's best estimator, and its first (non-passthrough) step."""
    best = getattr(model, "best_estimator_", None)
    if best is not None:
        model = best
    first = model
    while hasattr(first, "steps"):
        steps = [s for _, s in first.steps if s is not None and s != "passthrough"]
        if not steps:
            break
        first = steps[0]
    return model, first


def _feature_names(model: Any, first: Any) -> list[str] | None:
    for est in (model, first):
        try:
            names = getattr(est, "feature_names_in_", None)
        except Exception:  # a property raising on an unfitted step
            names = None
        if names is not None:
            return [str(n) for n in names]
    return None


def _n_features(model: Any, first: Any) -> int | None:
    for est in (model, first):
        try:
            n = getattr(est, "n_features_in_", None)
        except Exception:
            n = None
        if isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) > 0:
            return int(n)
    return None


def _columns_of(spec: Any, names: list[str]) -> list[str]:
    """The column names a ColumnTransformer column spec selects (names, indices, mask, slice)."""
    import numpy as np

    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, slice):
        if isinstance(spec.start, str) or isinstance(spec.stop, str):
            lo = names.index(spec.start) if spec.start is not None else 0
            hi = names.index(spec.stop) + 1 if spec.stop is not None else len(names)
            return names[lo:hi]
        return names[spec]
    if callable(spec):
        return []
    values = list(np.asarray(spec).ravel()) if not isinstance(spec, list) else spec
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return [n for n, keep in zip(names, values, strict=False) if keep]
    out = []
    for v in values:
        if isinstance(v, int | np.integer) and 0 <= int(v) < len(names):
            out.append(names[int(v)])
        elif isinstance(v, str):
            out.append(v)
    return out


def _encoded_dtypes(first: Any, names: list[str]) -> dict[str, str]:
    """Dtypes of the columns an encoder (one-hot, ordinal, target) of a ColumnTransformer takes."""
    dtypes: dict[str, str] = {}
    for _, trans, spec in getattr(first, "transformers_", None) or []:
        cats = getattr(trans, "categories_", None)
        for _, step in getattr(trans, "steps", []) or []:
            cats = cats if cats is not None else getattr(step, "categories_", None)
        if cats is None:
            continue
        try:
            cols = _columns_of(spec, names)
        except (ValueError, TypeError):  # a spec naming columns the model was not fitted on
            continue
        if len(cols) != len(cats):
            continue
        for col, values in zip(cols, cats, strict=True):
            kind = getattr(getattr(values, "dtype", None), "kind", "O")
            dtypes[col] = {"i": "int64", "u": "int64", "f": "float64", "b": "bool"}.get(
                kind, "object"
            )
    return dtypes


def _dataset_dtypes(run: Run | None, names: list[str]) -> dict[str, str] | None:
    """Dtypes of a dataset the run logged (``%mlops data``, ``ml.log_dataset``) with these columns."""
    if run is None:
        return None
    try:
        inputs = run.store.run_inputs(run.run_id)
    except Exception:
        return None
    wanted = set(names)
    for item in sorted(inputs, key=lambda i: i.get("role") != "train"):
        record = run.store.dataset(item["digest"]) or {}
        schema = record.get("schema") or {}
        cols = {
            str(c.get("name")): str(c.get("dtype"))
            for c in schema.get("columns") or []
            if isinstance(c, dict) and c.get("dtype")
        }
        if wanted <= set(cols):
            return {n: cols[n] for n in names}
    return None


def infer_signature(
    model: Any, input_example: Any = None, run: Run | None = None
) -> tuple[dict[str, Any] | None, str | None, Any]:
    """``(signature, source, example)`` for ``model``: from the example, else inferred.

    In order: ``input_example``; the first rows of the frame autolog saw the model
    fitted on ("training_frame", which also gives the example); the dtypes of a dataset
    the run logged with the model's ``feature_names_in_`` ("training_frame");
    ``feature_names_in_`` alone ("feature_names_in_": float64, the columns a
    ColumnTransformer encodes as categories object); ``n_features_in_`` ("n_features_in_",
    an unnamed float64 array). ``(None, None, None)`` when none of them is there.
    """
    if input_example is not None:
        return signature(input_example), "input_example", input_example
    model_, first = _unwrap(model)
    names = _feature_names(model_, first)
    n = _n_features(model_, first)
    heads = _training_heads()
    for target in (model, model_):
        head = heads.get(target) if _weakable(target) else None
        if head is None:
            continue
        cols = [str(c) for c in getattr(head, "columns", [])]
        width = head.shape[1] if len(getattr(head, "shape", ())) == 2 else None
        if (names is not None and cols == names) or (names is None and n == width):
            return signature(head), "training_frame", head
    if names is not None:
        dtypes = _dataset_dtypes(run, names)
        if dtypes is not None:
            cols_ = [{"name": c, "dtype": dtypes[c]} for c in names]
            return {"type": "dataframe", "columns": cols_}, "training_frame", None
        encoded = _encoded_dtypes(first, names)
        cols_ = [{"name": c, "dtype": encoded.get(c, "float64")} for c in names]
        return {"type": "dataframe", "columns": cols_}, "feature_names_in_", None
    if n is not None:
        return {"type": "array", "shape": [None, n], "dtype": "float64"}, "n_features_in_", None
    return None, None, None


def _weakable(obj: Any) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


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


def model_meta(model: Any, X: Any = None, *, signature_source: str | None = None) -> dict[str, Any]:
    """The metadata stored with a model: flavour, class, versions, signature and its source.

    ``X`` is what the signature is read from (an example, the training rows); without
    it the signature is ``None``.
    """
    import sklearn

    sio = _skops()
    return {
        "flavor": "sklearn",
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "sklearn_version": sklearn.__version__,
        "skops_version": getattr(sio, "__version__", None) or _version("skops"),
        "format": "skops",
        "signature": signature(X) if X is not None else None,
        "signature_source": signature_source if X is not None else None,
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
        Without it the signature is inferred (see :func:`infer_signature`): from the
        training rows autolog saw, a dataset the run logged, or the fitted model's
        ``feature_names_in_`` / ``n_features_in_``; ``signature_source`` in the
        artifact's metadata says which. A :class:`MissingSignatureWarning` says when
        nothing could be inferred (``ml.package`` then needs an example).

    Returns
    -------
    str
        The sha256 digest of the stored model file.
    """
    from ..project import default_project

    target = run if run is not None else default_project().require_active("log_model")
    if not hasattr(model, "fit"):
        raise InvalidArgumentError(
            f"log_model: expected a scikit-learn estimator, got {type(model).__name__}"
        )
    sio = _skops()
    try:
        data = sio.dumps(model)
    except Exception as exc:
        raise ModelLoadError(f"log_model: skops cannot save {type(model).__name__}: {exc}") from exc
    sig, source, example = infer_signature(model, input_example, target)
    meta = model_meta(model)
    meta["signature"], meta["signature_source"] = sig, source
    if example is not None:
        meta["input_example"] = example_payload(example)
    if sig is None:
        warnings.warn(
            f"log_model: no input signature for {type(model).__name__} {name!r}: no "
            "input_example, no training rows seen by autolog, no feature_names_in_ or "
            "n_features_in_ (is it fitted?); ml.package and serving will need one: "
            "ml.log_model(model, input_example=X.head())",
            MissingSignatureWarning,
            stacklevel=2,
        )
    digest, size = target.store.blobs.put_bytes(data)
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

    ``ml.load_model`` (:func:`mlops_lab.registry.api.load_model`) also takes registry
    references and comes here for runs.

    Parameters
    ----------
    run
        A ``Run``, run id, id prefix or run name (default: the latest run).
    name
        The model artifact's name.
    trusted
        Further exact, fully qualified type names to allow (e.g. a class from xgboost).
    """
    from ..project import default_project

    target: Run = (
        default_project().get_run(run) if not hasattr(run, "artifacts") else cast("Run", run)
    )
    for art in target.artifacts:
        if art["path"] == name and art["kind"] == "model":
            data = target.store.blobs.read_bytes(art["digest"])
            return loads(data, trusted=trusted, source=f"model {name!r} of run {target.run_id[:8]}")
    names = [a["path"] for a in target.artifacts if a["kind"] == "model"]
    raise InvalidArgumentError(
        f"run {target.run_id[:8]} has no model {name!r}"
        + (f" (its models: {', '.join(names)})" if names else " (it logged no model)")
    )
