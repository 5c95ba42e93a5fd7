"""The REST routes of the Experiments panel, under ``base_url/mlops-lab/api/``.

Every handler requires Jupyter's authentication (an unauthenticated request
gets a 403 JSON answer, never data). The routes only parse arguments and call
:mod:`.payloads` off the event loop; errors a user can cause
(:class:`~mlops_lab.errors.MlopsLabError`) become a 4xx with a JSON
``{"message": ...}`` body, a missing run or model a 404.

=====================================  =============================================
``GET experiments``                    experiments with their run counts
``GET runs?experiment&filter&...``     one page of runs (``order_by``, ``offset``, ``limit``)
``GET runs/<ref>``                     one run: params, metrics, tags, datasets, cells
``GET models``                         registered models (``available: false`` without)
``GET models/<name>``                  the versions of one model, with their aliases
=====================================  =============================================
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..errors import MlopsLabError, ModelNotFoundError, RunNotFoundError
from ..store import Store, find_root
from . import payloads

_NOT_FOUND = (RunNotFoundError, ModelNotFoundError)


class StoreFinder:
    """The store that applies at the server's root directory, found again on each request.

    ``MLOPS_LAB_HOME`` wins, as everywhere; otherwise the nearest ``.mlops/``
    from the root directory up. Finding it per request lets the panel see a
    store the first notebook run creates after the server started.
    """

    def __init__(self, root_dir: str | Path) -> None:
        self.root_dir = Path(root_dir).expanduser().resolve()
        self._stores: dict[Path, Store] = {}
        self._lock = threading.Lock()

    def __call__(self) -> Store:
        path = find_root(self.root_dir)
        with self._lock:
            store = self._stores.get(path)
            if store is None:
                store = self._stores[path] = Store(path)
        return store


class MlopsHandler(APIHandler):
    """Base route: answers JSON, runs store reads in a worker thread."""

    def initialize(self, find_store: StoreFinder) -> None:
        self.find_store = find_store

    async def answer(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        def call() -> Any:
            return fn(self.find_store(), *args, **kwargs)

        try:
            body = await asyncio.get_running_loop().run_in_executor(None, call)
        except MlopsLabError as exc:
            self.set_status(404 if isinstance(exc, _NOT_FOUND) else 400)
            body = {"message": str(exc)}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, allow_nan=False, default=str))

    def int_argument(self, name: str, default: int) -> int:
        text = self.get_argument(name, None)
        if text is None or text == "":
            return default
        try:
            return int(text)
        except ValueError:
            message = f"{name}: expected an integer, got {text!r}"
            raise tornado.web.HTTPError(400, message.replace("%", "%%")) from None


class ExperimentsHandler(MlopsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(payloads.experiments)


class RunsHandler(MlopsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(
            payloads.runs,
            experiment=self.get_argument("experiment", None),
            filter=self.get_argument("filter", None),
            order_by=self.get_argument("order_by", None),
            offset=self.int_argument("offset", 0),
            limit=self.int_argument("limit", 50),
        )


class RunHandler(MlopsHandler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        await self.answer(payloads.run_detail, ref)


class ModelsHandler(MlopsHandler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self.answer(payloads.models)


class ModelVersionsHandler(MlopsHandler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self.answer(payloads.model_versions, name)


def setup_handlers(web_app: Any, root_dir: str | Path) -> None:
    """Add the routes to the server's tornado application."""
    base = url_path_join(web_app.settings["base_url"], "mlops-lab", "api")
    options = {"find_store": StoreFinder(root_dir)}
    routes = [
        ("experiments", ExperimentsHandler),
        ("runs", RunsHandler),
        ("runs/([^/]+)", RunHandler),
        ("models", ModelsHandler),
        ("models/([^/]+)", ModelVersionsHandler),
    ]
    web_app.add_handlers(
        ".*$", [(url_path_join(base, path) + "/?", cls, options) for path, cls in routes]
    )
