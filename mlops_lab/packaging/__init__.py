"""Model bundles: a served model's files, verifiable and independent of the store.

:func:`~.build.package` writes a bundle from a registered model or a run's
model; :func:`~.bundle.load_bundle` reads one back after checking the digest
of every file. :mod:`.schema` holds the input schema and the checks of served
inputs, :mod:`.onnx` the verified ONNX export, :mod:`.predictors` the
scikit-learn and ONNX Runtime predictors, :mod:`.files` the requirements,
Dockerfile and README.
"""

from __future__ import annotations

from .build import package
from .bundle import Bundle, load_bundle

__all__ = ["Bundle", "load_bundle", "package"]
