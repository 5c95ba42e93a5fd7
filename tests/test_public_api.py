"""The public functions are plain functions, whatever submodules were imported before."""

from __future__ import annotations

import importlib
import inspect
import types

import mlops_lab as ml


def test_compare_package_monitor_are_functions_with_their_own_signatures() -> None:
    importlib.import_module("mlops_lab.comparison.api")
    importlib.import_module("mlops_lab.packaging.build")
    importlib.import_module("mlops_lab.monitoring.report")
    for name, first, doc in [
        ("compare", "runs", "Compare runs"),
        ("package", "ref", "Write a self-contained model bundle"),
        ("monitor", "name", "Turn the prediction log"),
    ]:
        fn = getattr(ml, name)
        assert isinstance(fn, types.FunctionType), name
        assert next(iter(inspect.signature(fn).parameters)) == first, name
        assert fn.__doc__ is not None and fn.__doc__.startswith(doc), name


def test_no_subpackage_shares_a_name_with_a_public_function() -> None:
    import pkgutil

    subpackages = {m.name for m in pkgutil.iter_modules(ml.__path__) if m.ispkg}
    assert not subpackages & set(ml.__all__), subpackages & set(ml.__all__)
