"""scikit-learn autologging: every ``fit`` becomes a tracked run, with nothing to write.

``ml.autolog()`` (or ``project.autolog()``) wraps the ``fit`` (and, where a
class defines its own, ``fit_transform`` / ``fit_predict``) of every
scikit-learn estimator, Pipeline, ColumnTransformer, FeatureUnion and
hyper-parameter search. After the outermost fit returns it logs the
estimator's params, training metrics, the fitted model (skops) with its input
signature, and fingerprints of ``X`` and ``y`` as the run's training datasets;
a search also logs its best params and one child run per top candidate. With
no run open, each fit gets its own run, named after the estimator class.

The settings belong to a project; the patched methods are one table per
process (:class:`Patches`, a process resource of :mod:`mlops_lab.project`).
A fit is logged to the project whose run is active in the fitting thread or
task, among those with autolog on, else to the project that turned it on
last. The fits an estimator makes inside its own fit (a Pipeline's steps, a
search's candidates, also in worker threads) are not logged on their own; so
a fit started in one thread while another thread's fit is running is not
logged either. Logging never breaks the user's fit: a failure becomes a
:class:`~mlops_lab.errors.MlopsLabWarning`. ``ml.autolog(False)`` turns it
off for the default project, and every original method is put back once no
open project has it on. scikit-learn is imported only when autolog is enabled.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import threading
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, MissingDependencyError, MlopsLabWarning
from ..project import current_default, default_project, open_projects, process_resource

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..project import Project
    from .run import Run

PATCHED_METHODS = ("fit", "fit_transform", "fit_predict")
_EXTRA_CLASSES = (
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.pipeline", "FeatureUnion"),
    ("sklearn.compose", "ColumnTransformer"),
    ("sklearn.model_selection", "GridSearchCV"),
    ("sklearn.model_selection", "RandomizedSearchCV"),
)
# numpy dtype kinds whose raw bytes are their content (object arrays hold pointers).
_RAW_KINDS = frozenset("biufcmMSU")


@dataclass(frozen=True)
class AutologSettings:
    """What autolog records for one project (``Project.autolog_settings``)."""

    log_models: bool = True
    log_datasets: bool = True
    max_tuning_runs: int | None = 5
    silent: bool = False
    order: int = 0  # when it was turned on: the latest gets the fits no open run claims


class Patches:
    """The scikit-learn methods autolog wrapped: one table per process.

    Patching a class is process-wide by nature, so the table is a process
    resource of :mod:`mlops_lab.project` (:func:`patches`); the settings are
    each project's own. ``busy`` (in this thread) and ``fitting`` (in any
    thread) mark an outermost fit in progress: estimators fit sub-estimators in
    worker threads too (IsolationForest, any search under joblib's threading
    backend), and a fit that starts while another one runs is not logged.
    """

    def __init__(self) -> None:
        self.originals: dict[tuple[type, str], Callable[..., Any]] = {}
        self.lock = threading.Lock()
        self.local = threading.local()
        self.fitting = 0
        self.fitting_lock = threading.Lock()
        self.turned_on = 0

    def patch(self) -> None:
        try:
            from importlib import import_module

            from sklearn.utils import all_estimators
        except ImportError as exc:
            raise MissingDependencyError("scikit-learn", "sklearn", "autolog") from exc
        classes = [cls for _, cls in all_estimators()]
        classes += [getattr(import_module(mod), name) for mod, name in _EXTRA_CLASSES]
        for cls in classes:
            for method in PATCHED_METHODS:
                # Patch the class that defines the method (GridSearchCV inherits its fit).
                owner = next((k for k in cls.__mro__ if method in k.__dict__), None)
                if owner is None or (owner, method) in self.originals:
                    continue
                original = owner.__dict__[method]
                module = owner.__module__ or ""
                # Mixins' fit_transform / fit_predict call fit, which is patched already;
                # descriptors (available_if, properties) are left alone.
                if not module.startswith("sklearn.") or module == "sklearn.base":
                    continue
                if not inspect.isfunction(original):
                    continue
                self.originals[(owner, method)] = original
                setattr(owner, method, _wrap(original, self))

    def unpatch(self) -> None:
        """Put every original method back."""
        for (owner, method), original in list(self.originals.items()):
            current = owner.__dict__.get(method)
            if getattr(current, "__wrapped__", None) is original:
                setattr(owner, method, original)
            del self.originals[(owner, method)]

    def target(self) -> tuple[Project, AutologSettings] | None:
        """The project an outermost fit now logs to, with its settings (``None``: none).

        Among the open projects with autolog on: the one whose run is active in
        this thread or task, else the one that turned autolog on last.
        """
        best: tuple[tuple[bool, int], Project, AutologSettings] | None = None
        for project in open_projects():
            settings = project.autolog_settings
            if settings is None:
                continue
            rank = (project.active is not None, settings.order)
            if best is None or rank > best[0]:
                best = (rank, project, settings)
        return None if best is None else (best[1], best[2])


def patches() -> Patches:
    """This process's table of patched methods (put back when the process's projects close)."""
    return process_resource("tracking.autolog.patches", Patches, close=Patches.unpatch)


def autolog(
    enable: bool = True,
    *,
    log_models: bool = True,
    log_datasets: bool = True,
    max_tuning_runs: int | None = 5,
    silent: bool = False,
    project: Project | None = None,
) -> None:
    """Turn scikit-learn autologging on (or off with ``enable=False``) for a project.

    Patching scikit-learn is process-wide (as MLflow's autolog is); where each
    fit is logged is not: it goes to the project whose run is active in the
    fitting thread or task, among those with autolog on, else to the project
    that turned autolog on last. Turning it off in one project leaves it on in
    the others; the original methods are put back when no project has it on.

    Parameters
    ----------
    enable
        ``False`` turns it off for ``project`` (and restores every original ``fit``
        method when no other open project has it on).
    log_models
        Store each fitted model (skops) with its input signature; for a search,
        its ``best_estimator_``.
    log_datasets
        Fingerprint ``X`` and ``y`` (a SHA-256 of content and schema) and link
        them to the run as its training datasets.
    max_tuning_runs
        How many of a search's best candidates get a child run; ``None`` for all.
    silent
        Do not warn when something could not be logged.
    project
        The project the fits go to (default: :func:`~mlops_lab.default_project`);
        ``project.autolog(...)`` is the same call.

    Examples
    --------
    >>> import mlops_lab as ml
    >>> ml.autolog()                                    # doctest: +SKIP
    >>> LogisticRegression().fit(X, y)                  # doctest: +SKIP
    >>> ml.get_run().metrics["training_accuracy"]       # doctest: +SKIP
    0.96
    """
    if max_tuning_runs is not None and (
        not isinstance(max_tuning_runs, int)
        or isinstance(max_tuning_runs, bool)
        or max_tuning_runs < 0
    ):
        raise InvalidArgumentError(
            f"max_tuning_runs: expected a non-negative integer or None, got {max_tuning_runs!r}"
        )
    table = patches()
    with table.lock:
        if not enable:
            target = project if project is not None else current_default()
            if target is not None:
                target.autolog_settings = None
            if all(p.autolog_settings is None for p in open_projects()):
                table.unpatch()
            return
        target = project if project is not None else default_project()
        target._check_open()
        table.patch()
        table.turned_on += 1
        target.autolog_settings = AutologSettings(
            log_models=bool(log_models),
            log_datasets=bool(log_datasets),
            max_tuning_runs=max_tuning_runs,
            silent=bool(silent),
            order=table.turned_on,
        )


def _wrap(original: Callable[..., Any], table: Patches) -> Callable[..., Any]:
    local = table.local

    @functools.wraps(original)
    def fit_and_log(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(local, "busy", False) or table.fitting:
            return original(self, *args, **kwargs)
        target = table.target()
        if target is None:
            return original(self, *args, **kwargs)
        local.busy = True  # fits made inside this one (steps, candidates) are not logged
        with table.fitting_lock:
            table.fitting += 1
        try:
            return _outermost_fit(original, self, args, kwargs, *target)
        finally:
            with table.fitting_lock:
                table.fitting -= 1
            local.busy = False

    return fit_and_log


def _outermost_fit(
    original: Callable[..., Any],
    est: Any,
    args: tuple,
    kwargs: dict,
    project: Project,
    settings: AutologSettings,
) -> Any:
    problems: list[str] = []
    own: Run | None = None
    run: Run | None = None
    try:
        run = project.active
        if run is None:
            own = run = project.start_run(type(est).__name__, tags=_estimator_tags(est))
    except Exception as exc:
        problems.append(f"no run could be opened ({type(exc).__name__}: {exc})")
    try:
        result = original(est, *args, **kwargs)
    except BaseException as exc:
        if own is not None:
            status = "killed" if isinstance(exc, KeyboardInterrupt) else "failed"
            try:
                project.end_run(status, run=own)
            except Exception as end_exc:
                problems.append(f"the run could not be closed ({end_exc})")
            _warn(est, problems, settings)
        raise
    if run is not None:
        problems += _log_fit(project, settings, run, est, args, kwargs, tagged=own is not None)
    if own is not None:
        try:
            project.end_run("finished", run=own)
        except Exception as exc:
            problems.append(f"the run could not be closed ({exc})")
    _warn(est, problems, settings)
    return result


def _warn(est: Any, problems: list[str], settings: AutologSettings) -> None:
    if problems and not settings.silent:
        warnings.warn(
            f"mlops-lab autolog of {type(est).__name__}.fit: " + "; ".join(problems),
            MlopsLabWarning,
            stacklevel=4,
        )


def _estimator_tags(est: Any) -> dict[str, str]:
    cls = type(est)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def _fit_inputs(args: tuple, kwargs: dict) -> tuple[Any, Any, Any]:
    """``X``, ``y`` and ``sample_weight`` of a fit call (whatever their parameter names)."""
    x = args[0] if args else kwargs.get("X", kwargs.get("raw_documents"))
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    return x, y, kwargs.get("sample_weight")


def _rereadable(obj: Any) -> bool:
    """Whether ``obj`` can be read again after fit (an iterator would be used up)."""
    return obj is not None and (hasattr(obj, "shape") or isinstance(obj, list | tuple))


def _log_fit(
    project: Project,
    settings: AutologSettings,
    run: Run,
    est: Any,
    args: tuple,
    kwargs: dict,
    *,
    tagged: bool,
) -> list[str]:
    """Log everything about a finished fit into ``run``; return what could not be logged."""
    problems: list[str] = []
    X, y, sample_weight = _fit_inputs(args, kwargs)
    X = X if _rereadable(X) else None
    y = y if _rereadable(y) else None
    results = getattr(est, "cv_results_", None)
    search = isinstance(results, dict) and "params" in results
    steps: list[tuple[str, Callable[[], None]]] = []
    if X is not None:
        # The first rows, for log_model's signature and example, also when the user
        # calls ml.log_model(model) later without an example.
        steps.append(("training rows", lambda: _remember(est, X)))
    if not tagged:
        steps.append(("tags", lambda: run.store.set_tags(run.run_id, _estimator_tags(est))))
    steps.append(("params", lambda: _log_params(run, est.get_params(deep=True), problems)))
    if X is not None and y is not None and hasattr(est, "predict"):
        steps.append(
            (
                "training metrics",
                lambda: _log_training_metrics(project, run, est, X, y, sample_weight, problems),
            )
        )
    if search:
        steps.append(("search results", lambda: _log_search(project, settings, run, est, problems)))
    if settings.log_datasets and X is not None:
        steps.append(("datasets", lambda: _log_datasets(run, X, y)))
    if settings.log_models:
        steps.append(("model", lambda: _log_model(run, est)))
    for what, step in steps:
        try:
            step()
        except Exception as exc:
            problems.append(f"{what} not logged ({type(exc).__name__}: {exc})")
    return problems


# -- params ------------------------------------------------------------------------------


def _loggable(value: Any) -> Any:
    """A param value as something the store keeps readably (estimators by class name)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, type):
        return value.__name__
    if hasattr(value, "get_params"):
        return type(value).__name__
    if isinstance(value, list | tuple):
        return [_loggable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _loggable(v) for k, v in value.items()}
    if type(value).__module__ == "numpy":
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            return value.item()
        if getattr(value, "size", 1000) <= 100:
            return _loggable(value.tolist())
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '') or ''}.{value.__qualname__}".lstrip(".")
    text = repr(value)
    # A default repr carries a memory address: it would differ on every fit.
    return f"<{type(value).__name__}>" if " at 0x" in text else text[:1000]


def _log_params(run: Run, params: dict[str, Any], problems: list[str]) -> None:
    from .run import param_value

    existing = run.store.params(run.run_id)
    items, conflicts = [], []
    for key, value in params.items():
        text, vtype = param_value(key, _loggable(value))
        old = existing.get(key)
        if old is None:
            items.append((key, text, vtype))
        elif old[0] != text:
            conflicts.append(key)
    if items:
        run.store.log_params(run.run_id, items)
    if conflicts:
        problems.append(
            f"run {run.run_id[:8]} already has other values for params "
            + ", ".join(conflicts[:10])
            + (" ..." if len(conflicts) > 10 else "")
            + " (params are immutable; start a run per model to log each)"
        )


# -- metrics -----------------------------------------------------------------------------


def _log_training_metrics(
    project: Project, run: Run, est: Any, X: Any, y: Any, sample_weight: Any, problems: list[str]
) -> None:
    metrics, failed = training_metrics(est, X, y, sample_weight)
    for key, value in metrics.items():
        project.buffer_metric(run, key, value, None)
    if failed:
        problems.append("training metrics not computed: " + ", ".join(failed))


def training_metrics(
    est: Any, X: Any, y: Any, sample_weight: Any = None
) -> tuple[dict[str, float], list[str]]:
    """Metrics of a fitted estimator on its training data, named ``training_<metric>``.

    Classifiers: accuracy, precision, recall, f1 (binary: of ``classes_[1]``;
    multiclass: weighted by support), and log_loss and roc_auc (multiclass:
    one-vs-rest, weighted) when ``predict_proba`` exists. Regressors: mse,
    rmse, mae, r2 (several outputs: their mean). The values equal
    scikit-learn's metric functions; they are computed here with NumPy from
    one ``predict`` (and one ``predict_proba``), which is several times faster.

    Returns
    -------
    tuple
        The metrics, and ``"name (reason)"`` for each that could not be computed.
    """
    import numpy as np
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    failed: list[str] = []

    def attempt(names: str, compute: Callable[[], dict[str, float]]) -> None:
        try:
            out.update({f"training_{k}": float(v) for k, v in compute().items()})
        except Exception as exc:
            failed.append(f"{names} ({type(exc).__name__}: {str(exc)[:200]})")

    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    n = len(y)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if is_classifier(est):
        if y.ndim != 1:
            return out, failed  # several outputs: no single-label metric applies
        pred = np.asarray(est.predict(X)).reshape(y.shape)
        classes = getattr(est, "classes_", None)
        classes = np.unique(y) if classes is None or np.ndim(classes) != 1 else np.asarray(classes)
        try:
            yi, pi = _encode(y, classes), _encode(pred, classes)
        except Exception as exc:
            return out, [f"classifier metrics ({type(exc).__name__}: {str(exc)[:200]})"]
        attempt("accuracy, precision, recall, f1", lambda: _label_metrics(yi, pi, len(classes), w))
        if hasattr(est, "predict_proba"):
            attempt(
                "log_loss, roc_auc",
                lambda: _proba_metrics(yi, np.asarray(est.predict_proba(X)), w),
            )
    elif is_regressor(est):
        pred = np.asarray(est.predict(X)).reshape(y.shape)
        attempt("mse, rmse, mae, r2", lambda: _regression_metrics(y, pred, w))
    return out, failed


def _encode(labels: Any, classes: Any) -> Any:
    """Labels as indices into ``classes`` (the columns of ``predict_proba``)."""
    import numpy as np

    order = np.argsort(classes, kind="stable")
    index = order[np.clip(np.searchsorted(classes[order], labels), 0, len(classes) - 1)]
    if not np.array_equal(classes[index], labels):
        raise ValueError("labels outside the estimator's classes_")
    return index


def _label_metrics(yi: Any, pi: Any, k: int, w: Any) -> dict[str, float]:
    import numpy as np

    matrix = np.bincount(yi * k + pi, weights=w, minlength=k * k).reshape(k, k)
    hits = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        recall = np.where(support > 0, hits / support, 0.0)
        f1 = np.where(support + predicted > 0, 2 * hits / (support + predicted), 0.0)
    total = support.sum()
    if k == 2:
        scores = {"precision": precision[1], "recall": recall[1], "f1": f1[1]}
    else:
        scores = {
            name: (v * support).sum() / total
            for name, v in (("precision", precision), ("recall", recall), ("f1", f1))
        }
    return {"accuracy": hits.sum() / total, **scores}


def _proba_metrics(yi: Any, proba: Any, w: Any) -> dict[str, float]:
    import numpy as np

    if proba.ndim != 2 or proba.shape[0] != len(yi) or proba.shape[1] < 2:
        raise ValueError(f"predict_proba returned shape {proba.shape}")
    eps = np.finfo(proba.dtype if proba.dtype.kind == "f" else float).eps
    picked = np.clip(proba[np.arange(len(yi)), yi], eps, 1 - eps)
    out = {"log_loss": -(w * np.log(picked)).sum() / w.sum()}
    if proba.shape[1] == 2:
        out["roc_auc"] = _auc(proba[:, 1], yi == 1, w)
    else:
        weights = np.bincount(yi, weights=w, minlength=proba.shape[1])
        aucs = [_auc(proba[:, c], yi == c, w) for c in range(proba.shape[1])]
        out["roc_auc"] = float(np.dot(aucs, weights) / weights.sum())
    return out


def _auc(scores: Any, positive: Any, w: Any) -> float:
    """Area under the ROC curve: the weighted share of (positive, negative) pairs in order."""
    import numpy as np

    values, inverse = np.unique(scores, return_inverse=True)
    pos = np.bincount(inverse, weights=w * positive, minlength=len(values))
    neg = np.bincount(inverse, weights=w * ~positive, minlength=len(values))
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        raise ValueError("roc_auc needs both positive and negative samples of every class")
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def _regression_metrics(y: Any, pred: Any, w: Any) -> dict[str, float]:
    import numpy as np

    y2 = y.reshape(len(y), -1).astype(float)
    p2 = pred.reshape(len(y), -1).astype(float)
    total = w.sum()
    error = y2 - p2
    mse = (w[:, None] * error**2).sum(axis=0) / total
    mae = (w[:, None] * np.abs(error)).sum(axis=0) / total
    mean = (w[:, None] * y2).sum(axis=0) / total
    spread = (w[:, None] * (y2 - mean) ** 2).sum(axis=0)
    residual = mse * total
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(spread > 0, 1 - residual / spread, np.where(residual > 0, 0.0, 1.0))
    return {
        "mse": mse.mean(),
        "rmse": np.sqrt(mse).mean(),
        "mae": mae.mean(),
        "r2": r2.mean(),
    }


# -- searches ----------------------------------------------------------------------------


def _log_search(
    project: Project, settings: AutologSettings, run: Run, search: Any, problems: list[str]
) -> None:
    """Best params and score of a search, and a child run per top candidate."""
    import numpy as np

    results = search.cv_results_
    best = getattr(search, "best_params_", None)
    if best is not None:
        _log_params(run, {f"best_{k}": v for k, v in best.items()}, problems)
    score = getattr(search, "best_score_", None)
    if score is not None:
        project.buffer_metric(run, "best_cv_score", float(score), None)
    limit = settings.max_tuning_runs
    if limit == 0:
        return
    refit = getattr(search, "refit", True)
    rank_key = f"rank_test_{refit}" if isinstance(refit, str) else "rank_test_score"
    if rank_key not in results:
        rank_key = next((k for k in results if k.startswith("rank_test_")), "")
    if not rank_key:
        return
    order = np.argsort(np.asarray(results[rank_key]), kind="stable")
    order = order if limit is None else order[:limit]
    summary_keys = [k for k in results if k.startswith(("mean_", "std_", "rank_"))]
    experiment = run.store.run_record(run.run_id)["experiment"]
    parent_name = run.name
    for position, index in enumerate(order, start=1):
        metrics = {}
        for key in summary_keys:
            value = results[key][index]
            if value is not np.ma.masked:
                metrics[key] = float(value)
        child = project.start_run(
            f"{parent_name} candidate {position}",
            experiment=experiment,
            tags={"candidate_index": str(int(index))},
            parent=run,
            store=run.store,
        )
        try:
            project.log_params(
                {k: _loggable(v) for k, v in results["params"][index].items()}, run=child
            )
            for key, value in metrics.items():
                project.buffer_metric(child, key, value, None)
        finally:
            project.end_run("finished", run=child)


# -- datasets and model --------------------------------------------------------------------


def _digest(obj: Any) -> tuple[str, int | None, int | None]:
    """A SHA-256 of a dataset's content and schema, with its rows and columns.

    Arrays of numbers, booleans, dates or strings are hashed from their bytes;
    object columns through pandas' vectorised row hashes, so no Python code runs
    per row.
    """
    import numpy as np

    hasher = hashlib.sha256()
    module = type(obj).__module__ or ""
    if module.startswith("pandas"):
        from pandas.util import hash_pandas_object

        frame = obj.to_frame() if obj.ndim == 1 else obj
        schema = [[str(c), str(t)] for c, t in frame.dtypes.items()]
        hasher.update(json.dumps(["frame", obj.ndim, schema, list(frame.shape)]).encode())
        for _, column in frame.items():
            dtype = column.dtype
            if isinstance(dtype, np.dtype) and dtype.kind in _RAW_KINDS:
                hasher.update(np.ascontiguousarray(column.to_numpy()).tobytes())
            else:
                hasher.update(hash_pandas_object(column, index=False).to_numpy().tobytes())
        rows, cols = frame.shape
        return hasher.hexdigest(), int(rows), int(cols)
    if hasattr(obj, "tocsr") and hasattr(obj, "nnz"):
        matrix = obj.tocsr()
        if not matrix.has_canonical_format:
            matrix = matrix.copy()
            matrix.sum_duplicates()
        hasher.update(json.dumps(["sparse", str(matrix.dtype), list(matrix.shape)]).encode())
        for part in (matrix.indptr, matrix.indices, matrix.data):
            hasher.update(np.ascontiguousarray(part).tobytes())
        return hasher.hexdigest(), int(matrix.shape[0]), int(matrix.shape[1])
    array = np.asarray(obj)
    hasher.update(json.dumps(["array", str(array.dtype), list(array.shape)]).encode())
    if array.dtype.kind in _RAW_KINDS:
        hasher.update(np.ascontiguousarray(array).tobytes())
    else:
        import pandas as pd
        from pandas.util import hash_pandas_object

        flat = pd.DataFrame(array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1))
        hasher.update(hash_pandas_object(flat, index=False).to_numpy().tobytes())
    rows = int(array.shape[0]) if array.ndim else 1
    cols = int(np.prod(array.shape[1:])) if array.ndim > 1 else 1
    return hasher.hexdigest(), rows, cols


def _log_datasets(run: Run, X: Any, y: Any) -> None:
    from .models import signature

    for name, data in (("X", X), ("y", y)):
        if data is None:
            continue
        digest, rows, cols = _digest(data)
        schema = signature(data) if hasattr(data, "dtypes") else None
        run.store.put_dataset(
            digest, name=name, n_rows=rows, n_cols=cols, schema=schema, source="autolog"
        )
        run.store.link_input(run.run_id, digest, name=name, role="train")


def _remember(est: Any, X: Any) -> None:
    from .models import remember_training_frame

    remember_training_frame(est, X)


def _log_model(run: Run, est: Any) -> None:
    from ..errors import MissingSignatureWarning
    from .models import log_model

    model = est
    if isinstance(getattr(est, "cv_results_", None), dict):
        if not hasattr(est, "best_estimator_"):
            return  # a search with refit=False has no model to keep
        model = est.best_estimator_  # what a search predicts with, without its cv_results_
    with warnings.catch_warnings():
        # A model with nothing to infer a signature from (a text pipeline fitted on a
        # list of strings) is still logged; packaging it asks for an example then.
        warnings.simplefilter("ignore", MissingSignatureWarning)
        log_model(model, "model", run=run)
