"""The FastAPI application that serves one bundle: :func:`create_app`.

Endpoints: the Open Inference Protocol v2 (health, server and model
metadata, ``infer``, with the ``/versions/{v}`` forms and Triton's binary
tensor extension), MLflow's ``POST /invocations`` (plus ``/ping``,
``/health``, ``/version``), ``GET /metrics`` (Prometheus) and the OpenAPI
docs at ``/docs`` and ``/redoc``; the routes are in :mod:`.routes`, one
router per protocol. With a token, only the health checks (``/v2/health/*``,
``/ping``, ``/health``) answer without it.

Every client mistake is a 4xx with a JSON body ``{"error": ..., "column":
..., "row": ...}``: malformed JSON and bodies that break the protocol (400),
a missing or wrong token (401), an unknown model or route (404), a body over
``max_body_bytes`` or more rows than ``max_rows`` (413), an unsupported content
type (415), inputs that do not fit the schema (422). Prediction handlers do
their work on the event loop (a prediction takes microseconds, and
``max_rows`` bounds it), and hand the request's record to the
:class:`~.prediction_log.PredictionLog` queue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import InvalidArgumentError, MlopsLabError
from .bundles import resolve_bundle
from .prediction_log import PredictionLog
from .service import Rejected, Service, error_response, json_response

if TYPE_CHECKING:
    from ..packaging.bundle import Bundle

DEFAULT = object()


def store_log(maxsize: int) -> PredictionLog:
    """A prediction log writing to the project store (found like ``ml.runs`` finds it)."""
    from ..store import Store
    from ..store.prediction_records import insert_predictions

    store = Store.open()
    return PredictionLog(lambda rows: insert_predictions(store, rows), maxsize=maxsize)


def create_app(
    bundle: Bundle | str | Path,
    *,
    token: str | None = None,
    max_body_bytes: int = 5_000_000,
    max_rows: int = 10_000,
    unseen_categories: str = "reject",
    runtime: str = "auto",
    prediction_log: Any = DEFAULT,
    log_queue_size: int = 10_000,
    follow: str | None = None,
    follow_interval: float = 2.0,
    shadow: Any = None,
    canary: tuple[Any, float] | None = None,
) -> Any:
    """The FastAPI app serving ``bundle``.

    Parameters
    ----------
    bundle
        A :class:`~mlops_lab.packaging.Bundle` or the path of one (its digests are verified).
    token
        When set, every endpoint but the health checks needs ``Authorization: Bearer TOKEN``
        (the docs and the OpenAPI spec too: the spec shows rows of the input example).
    max_body_bytes, max_rows
        Larger requests are refused with 413.
    unseen_categories
        ``"reject"`` (422 naming the column and value) or ``"allow"`` (the model decides).
    runtime
        ``"auto"`` (ONNX Runtime when the bundle's ONNX model is verified), ``"onnx"`` or
        ``"sklearn"``.
    prediction_log
        Where requests are logged: the project store by default, ``None`` for nowhere, or a
        :class:`~.prediction_log.PredictionLog`.
    follow
        An alias (``iris@champion``) or a bundle folder to follow: new versions are checked
        and swapped in while serving (see :mod:`.follow`); ``app.state.follower`` is it.
    shadow
        A model (reference or bundle) that sees every request's inputs off the request
        path; its predictions are logged (``protocol='shadow'``), never returned.
    canary
        ``(model, share)``: that model answers about ``share`` of the requests.
    """
    from fastapi import FastAPI

    from . import routes

    service = _service(
        bundle,
        token=token,
        max_body_bytes=max_body_bytes,
        max_rows=max_rows,
        unseen_categories=unseen_categories,
        runtime=runtime,
        log=store_log(log_queue_size) if prediction_log is DEFAULT else prediction_log,
    )
    _add_challengers(service, shadow=shadow, canary=canary, runtime=runtime)
    follower = None
    if follow is not None:
        from .follow import Follower

        follower = Follower(service, follow, interval=follow_interval, runtime=runtime)

    app = FastAPI(
        title=f"{service.name} (version {service.version})",
        version=__version__,
        description=f"mlops-lab model server ({service.predictor.runtime}). Open Inference "
        "Protocol v2 under /v2, MLflow-style /invocations, Prometheus /metrics.",
        lifespan=_lifespan(service.log, follower),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.bundle = service.bundle
    app.state.metrics = service.metrics
    app.state.prediction_log = service.log
    app.state.service = service
    app.state.follower = follower
    _add_error_handlers(app)

    auth = routes.auth_dependency(service)
    app.include_router(routes.health_router())
    app.include_router(routes.v2_router(service, auth))
    app.include_router(routes.mlflow_router(service, auth))
    app.include_router(routes.ops_router(service, auth))
    return app


def _service(
    bundle: Bundle | str | Path,
    *,
    token: str | None,
    max_body_bytes: int,
    max_rows: int,
    unseen_categories: str,
    runtime: str,
    log: PredictionLog | None,
) -> Service:
    """The bundle (loaded if given as a path) and its predictor, behind the request limits."""
    from ..packaging.bundle import load_bundle

    if unseen_categories not in ("reject", "allow"):
        raise InvalidArgumentError(
            f"unseen_categories: expected 'reject' or 'allow', got {unseen_categories!r}"
        )
    if not hasattr(bundle, "schema"):
        bundle = load_bundle(bundle, lazy=True)
    assert not isinstance(bundle, (str, Path))  # a path was loaded just above
    return Service(
        bundle,
        bundle.predictor(runtime),
        token=token,
        max_body_bytes=max_body_bytes,
        max_rows=max_rows,
        unseen_categories=unseen_categories,
        log=log,
    )


def _add_challengers(
    service: Service, *, shadow: Any, canary: tuple[Any, float] | None, runtime: str
) -> None:
    """The shadow model (sees every request, answers none) and the canary (answers a share)."""
    for role, spec in (("shadow", shadow), ("canary", canary)):
        if spec is None:
            continue
        ref, share = (spec, 0.0) if role == "shadow" else spec
        extra = resolve_bundle(ref)
        service.add_challenger(role, extra, extra.predictor(runtime), share)


def _lifespan(log: PredictionLog | None, follower: Any) -> Callable[[Any], Any]:
    """Start the prediction log and the follower with the server; stop them with it."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if log is not None:
            log.start()
        if follower is not None:
            follower.start()
        try:
            yield
        finally:
            if follower is not None:
                follower.stop()
            if log is not None:
                log.close()

    return lifespan


def _add_error_handlers(app: Any) -> None:
    """Every refusal, library error and HTTP error as a JSON body with its 4xx status."""
    from starlette.exceptions import HTTPException

    async def refused(request: Any, exc: Exception) -> Any:
        return error_response(exc)

    async def http_error(request: Any, exc: Any) -> Any:
        return json_response({"error": str(exc.detail)}, exc.status_code, exc.headers)

    app.add_exception_handler(Rejected, refused)
    app.add_exception_handler(MlopsLabError, refused)
    app.add_exception_handler(HTTPException, http_error)
