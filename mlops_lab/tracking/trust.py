"""Which types a model file may build: exact class names, never a prefix, never a function.

A skops file names the types it needs; skops builds the ones its own safe
defaults cover (NumPy arrays and dtypes, primitives and containers, the
public scikit-learn estimators) and reports the rest. :func:`loads` builds a
file only when every reported name is either named by the caller or on the
list this module computes once per process:

- every class defined in scikit-learn that derives from ``BaseEstimator``
  (public estimators and the private ones meta-estimators keep, such as a
  one-vs-rest's constant predictor);
- the scikit-learn classes fitted estimators hold that are not estimators:
  decision trees, histogram-boosting predictors, neighbour trees and distance
  metrics, cross-validation splitters, scorers, optimisers, loss and link
  objects, ``Bunch``, ``make_column_selector``;
- ``numpy.dtype``.

Each name on the list is resolved by importing its module and following its
qualified name; it is kept only if that gives a class (never a function, a
builtin function or a method) whose own module and qualified name are that
name. A name read from a file is looked up in that list and resolved again
before skops sees it, so no module a file names is ever imported and no
callable a file names is ever called. Functions (``sklearn.utils``' helpers,
``numpy.save``...) are always refused: skops would call them with arguments
taken from the file. Once built, the trees inside the model are checked
(:mod:`.tree_checks`): scikit-learn indexes their node arrays unchecked.
"""

from __future__ import annotations

import importlib
import re
import types
from functools import lru_cache
from typing import Any

from ..errors import MissingDependencyError, ModelLoadError
from .tree_checks import check_trees

# Bases whose scikit-learn subclasses a fitted model may hold (resolved, then walked).
_FAMILIES = (
    "sklearn.base.BaseEstimator",
    "sklearn.model_selection._split.BaseCrossValidator",
    "sklearn.model_selection._split.BaseShuffleSplit",
    "sklearn.model_selection._split._RepeatedSplits",
    "sklearn.metrics._scorer._BaseScorer",
    "sklearn.metrics._dist_metrics.DistanceMetric64",
    "sklearn.metrics._dist_metrics.DistanceMetric32",
    "sklearn.neural_network._stochastic_optimizers.BaseOptimizer",
    "sklearn._loss.loss.BaseLoss",
    "sklearn._loss.link.BaseLink",
)
# Single classes fitted estimators hold.
_CLASSES = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.utils._bunch.Bunch",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.metrics._scorer._MultimetricScorer",
    "sklearn.compose._column_transformer.make_column_selector",
    "numpy.dtype",
)
# Test helpers shipped inside scikit-learn are never part of a model.
_EXCLUDED_MODULE_PARTS = frozenset({"tests", "_testing", "_mocking", "conftest"})
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_CALLABLES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
)


def type_name(cls: type) -> str:
    """The fully qualified name of a class: ``module.QualName``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve_class(name: str) -> type | None:
    """The class ``name`` names (import its module, follow its qualified name), else None.

    None when the name is not dotted identifiers, nothing importable has it, or
    it names something that is not a class (a function, a builtin, a method, a
    module) or a class re-exported under another name.
    """
    if not _DOTTED.match(name) or any(p.startswith("__") for p in name.split(".")):
        return None
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        if isinstance(obj, type) and not isinstance(obj, _CALLABLES) and type_name(obj) == name:
            return obj
        return None
    return None


def _subclasses(root: type) -> list[type]:
    found: list[type] = []
    stack: list[type] = [root]
    while stack:
        cls = stack.pop()
        subclasses: list[type] = type.__subclasses__(cls)
        for sub in subclasses:
            if sub not in found:
                found.append(sub)
                stack.append(sub)
    return found


def _sklearn_class(cls: type) -> bool:
    parts = cls.__module__.split(".")
    return parts[0] == "sklearn" and not _EXCLUDED_MODULE_PARTS.intersection(parts)


@lru_cache(maxsize=1)
def trusted_types() -> frozenset[str]:
    """The exact class names any model file may build beyond skops' own defaults."""
    from sklearn.utils import all_estimators

    classes: list[type] = [cls for _, cls in all_estimators()]  # imports every public module
    for root_name in _FAMILIES:
        root = resolve_class(root_name)
        if root is not None:
            classes += [root, *_subclasses(root)]
    names = {type_name(cls) for cls in classes if _sklearn_class(cls)}
    names.update(n for n in _CLASSES if resolve_class(n) is not None)
    return frozenset(n for n in names if resolve_class(n) is not None)


def is_trusted(name: str) -> bool:
    """Whether a model file may build ``name``: on the list, and still resolving to a class."""
    return name in trusted_types() and resolve_class(name) is not None


def untrusted(names: list[str], extra: list[str] | None = None) -> list[str]:
    """The names in ``names`` that are neither trusted nor named exactly in ``extra``."""
    allowed = set(extra or ())
    return [n for n in names if n not in allowed and not is_trusted(n)]


def skops_io(purpose: str, extra: str = "sklearn") -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        raise MissingDependencyError("skops", extra, purpose) from exc
    return sio


def loads(data: bytes, *, trusted: list[str] | None = None, source: str = "model") -> Any:
    """Build the model in skops bytes ``data``, refusing any type that is not trusted.

    Parameters
    ----------
    data
        The bytes of a ``.skops`` file (a pickle is refused: it is not one).
    trusted
        Further exact, fully qualified names the caller trusts (a class from
        xgboost, a function of its own); never prefixes.
    source
        What the bytes are, for messages (``"model 'model' of run 1a2b3c4d"``).

    Raises
    ------
    ModelLoadError
        Not a skops file, it names types that are not trusted (all listed), or
        skops fails to build it.
    """
    sio = skops_io("loading models")
    if trusted is not None and (
        not isinstance(trusted, list | tuple) or not all(isinstance(t, str) for t in trusted)
    ):
        raise ModelLoadError(f"trusted: expected a list of type names, got {trusted!r}")
    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise ModelLoadError(
            f"{source} is not a readable skops file ({type(exc).__name__}: {exc}); "
            "models never load from pickles"
        ) from exc
    refused = untrusted(needed, list(trusted or ()))
    if refused:
        raise ModelLoadError(
            f"{source} would construct untrusted types: {', '.join(refused)}; "
            "nothing was loaded. If you trust them, pass trusted=[...] naming them exactly"
        )
    try:
        model = sio.loads(data, trusted=list(needed))
    except Exception as exc:
        raise ModelLoadError(f"{source} could not be loaded: {type(exc).__name__}: {exc}") from exc
    check_trees(model, source=source)
    return model
