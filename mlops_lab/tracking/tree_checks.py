"""Checking the node arrays of loaded trees, which scikit-learn indexes without bounds checks.

A decision tree (``sklearn.tree._tree.Tree``), a histogram-boosting
predictor (``TreePredictor``) and a neighbours' ``KDTree`` / ``BallTree``
keep raw child, feature and sample indices; a forged
file can set them out of range, and predicting would then read outside the
arrays (a crash, or worse) or loop forever. :func:`check_trees` walks a
loaded model and refuses it unless every internal node's children come after
it and inside the array (so every path ends at a leaf), every feature index
is below the model's number of features, every categorical split's bitset
exists, and a neighbours tree's sample indices and node ranges are in range.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelLoadError

_MAX_OBJECTS = 1_000_000


def _children(obj: Any) -> list[Any]:
    import numpy as np

    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, list | tuple | set | frozenset):
        return list(obj)
    if isinstance(obj, np.ndarray):
        return list(obj.ravel()) if obj.dtype == object else []
    if type(obj).__module__.split(".")[0] == "sklearn" and hasattr(obj, "__dict__"):
        return list(vars(obj).values())
    return []


def _check_links(left: Any, right: Any, internal: Any, what: str) -> None:
    import numpy as np

    n = len(left)
    index = np.arange(n)
    for side, child in (("left", left), ("right", right)):
        bad = internal & ((child <= index) | (child >= n))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{what} node {i} has {side} child {int(child[i])} (of {n} nodes)")


def _check_tree(tree: Any, n_features: int | None, what: str) -> None:
    import numpy as np

    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    count = int(tree.node_count)
    if len(left) != count or len(right) != count or np.asarray(tree.value).shape[0] != count:
        raise ValueError(f"{what} has arrays of a size other than its {count} nodes")
    leaf = (left == -1) & (right == -1)
    _check_links(left, right, ~leaf, what)
    limit = int(tree.n_features) if n_features is None else min(n_features, int(tree.n_features))
    feature = np.asarray(tree.feature)
    bad = ~leaf & ((feature < 0) | (feature >= limit))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what} node {i} splits on feature {int(feature[i])} of {limit}")


def _check_predictor(predictor: Any, n_features: int | None, what: str) -> None:
    import numpy as np

    nodes = predictor.nodes
    if len(nodes) == 0:
        raise ValueError(f"{what} has no nodes")
    internal = ~nodes["is_leaf"].astype(bool)
    _check_links(nodes["left"].astype(np.int64), nodes["right"].astype(np.int64), internal, what)
    feature = nodes["feature_idx"].astype(np.int64)
    if n_features is not None:
        bad = internal & ((feature < 0) | (feature >= n_features))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{what} node {i} splits on feature {int(feature[i])}")
    categorical = internal & nodes["is_categorical"].astype(bool)
    n_bitsets = min(len(predictor.raw_left_cat_bitsets), len(predictor.binned_left_cat_bitsets))
    bitset = nodes["bitset_idx"].astype(np.int64)
    bad = categorical & ((bitset < 0) | (bitset >= n_bitsets))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what} node {i} uses bitset {int(bitset[i])} of {n_bitsets}")


def _check_binary_tree(tree: Any, what: str) -> None:
    """A KDTree / BallTree: sample indices, node ranges and the implicit children in range."""
    import numpy as np

    data, idx, node_data, node_bounds, _leaf, _levels, n_nodes = tree.__getstate__()[:7]
    n_samples = len(data)
    idx = np.asarray(idx)
    if idx.shape != (n_samples,) or ((idx < 0) | (idx >= n_samples)).any():
        raise ValueError(f"{what} has sample indices outside its {n_samples} samples")
    if len(node_data) != n_nodes or np.asarray(node_bounds).shape[1:] != (n_nodes, data.shape[1]):
        raise ValueError(f"{what} has node arrays of a size other than its {n_nodes} nodes")
    start, end = node_data["idx_start"].astype(np.int64), node_data["idx_end"].astype(np.int64)
    bad = (start < 0) | (start > end) | (end > n_samples)
    inner = ~node_data["is_leaf"].astype(bool)
    bad |= inner & (2 * np.arange(n_nodes) + 2 >= n_nodes)
    if bad.any():
        raise ValueError(f"{what} node {int(np.flatnonzero(bad)[0])} is out of range")


def check_trees(model: Any, *, source: str) -> None:
    """Refuse ``model`` if a tree or boosting predictor inside it has out-of-range indices.

    Raises
    ------
    ModelLoadError
        Naming the node and the bad index.
    """
    import numpy as np
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.tree._tree import Tree

    seen: set[int] = set()
    stack: list[tuple[Any, int | None]] = [(model, None)]
    try:
        while stack:
            obj, n_features = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if len(seen) > _MAX_OBJECTS:
                raise ValueError(f"it holds more than {_MAX_OBJECTS} objects")
            if isinstance(obj, Tree):
                _check_tree(obj, n_features, "a decision tree")
                continue
            if isinstance(obj, TreePredictor):
                _check_predictor(obj, n_features, "a boosting tree")
                continue
            if isinstance(obj, KDTree | BallTree):
                _check_binary_tree(obj, f"a {type(obj).__name__}")
                continue
            own = getattr(obj, "n_features_in_", None) if hasattr(obj, "__dict__") else None
            width = int(own) if isinstance(own, int | np.integer) else n_features
            stack.extend((child, width) for child in _children(obj))
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ModelLoadError(f"{source} is malformed: {exc}; refusing to use it") from exc
