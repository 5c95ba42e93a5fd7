"""The HTTP model server: FastAPI + uvicorn over a model bundle.

:mod:`.app` builds the application (:func:`create_app`) from the routers of
:mod:`.routes` (one per protocol, the token checked by one dependency),
:mod:`.service` holds what they share (limits, token, one prediction's life),
:mod:`.protocols` parses and renders the Open Inference Protocol v2 and MLflow
formats (:mod:`.binary`: Triton's binary tensors), :mod:`.openapi` the spec's
examples and the docs pages, :mod:`.metrics` keeps the Prometheus metrics,
:mod:`.prediction_log` writes the prediction log off the request path,
:mod:`.bundles` finds the bundle to serve, :mod:`.server` runs uvicorn in this process or in the background (the `serve`
command is in :mod:`mlops_lab.commands.serving`).
FastAPI and uvicorn are imported only when a server is built.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServerHandle", "create_app", "serve", "start_server"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name in ("serve", "start_server", "ServerHandle"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module 'mlops_lab.serve' has no attribute {name!r}")
