"""Packages that share their name with a public function of ``mlops_lab``.

``ml.compare``, ``ml.package`` and ``ml.monitor`` are functions, and
``mlops_lab/compare/``, ``package/`` and ``monitor/`` are the packages that
define them. Importing a submodule makes Python bind the package as that
attribute of ``mlops_lab``, replacing the function; :func:`call_through` makes
such a package callable, forwarding to its function, so ``ml.compare(...)``
works whatever was imported before.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import Any


class _CallablePackage(ModuleType):
    _target: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        module, _, name = self._target.rpartition(".")
        return getattr(import_module(module), name)(*args, **kwargs)


def call_through(package: str, target: str) -> None:
    """Make ``package`` callable as the function ``target`` ("module.function")."""
    module = sys.modules[package]
    module.__class__ = _CallablePackage
    module._target = target  # type: ignore[attr-defined]
