"""The server's routes, one ``APIRouter`` per protocol.

:func:`health_router` holds the liveness and readiness checks, open to all.
Behind the token (one dependency, checked before anything else, so an
unknown model name or a malformed body is never answered to a stranger):
:func:`v2_router` (the Open Inference Protocol: server and model metadata,
``infer``), :func:`mlflow_router` (``/invocations``, ``/version``) and
:func:`ops_router` (``/metrics``, ``/openapi.json``, ``/docs``, ``/redoc``).

Imported by :func:`~.app.create_app` only, so FastAPI loads when a server is built.
"""

# No ``from __future__ import annotations``: FastAPI reads the handlers' annotations.

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import PlainTextResponse, Response

from .._version import __version__
from . import binary, protocols
from .metrics import CONTENT_TYPE
from .openapi import docs_page, infer_openapi, invocations_openapi
from .service import JSON, Parsed, Rejected, Service, json_response

BINARY = "application/octet-stream"


def auth_dependency(service: Service) -> Callable[..., None]:
    """The dependency that refuses a request without the server's bearer token (401)."""

    def authorize(request: Request) -> None:
        service.authorize(request.headers.get("authorization"))

    return authorize


def health_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v2/health/live", tags=["v2"])
    async def live() -> Any:
        return {"live": True}

    @router.get("/v2/health/ready", tags=["v2"])
    async def ready() -> Any:
        return {"ready": True}

    @router.get("/ping", tags=["mlflow"])
    async def ping() -> Any:
        return {"status": "ok"}

    @router.get("/health", tags=["mlflow"])
    async def health() -> Any:
        return {"status": "ok"}

    return router


def v2_router(service: Service, auth: Callable[..., None]) -> APIRouter:
    router = APIRouter(tags=["v2"], dependencies=[Depends(auth)])
    name = service.name

    @router.get("/v2")
    async def server_metadata() -> Any:
        return {"name": "mlops-lab", "version": __version__, "extensions": ["binary_tensor_data"]}

    @router.get("/v2/models/{model_name}")
    async def model_meta(model_name: str) -> Any:
        service.check_model(model_name)
        return service.model_metadata()

    @router.get("/v2/models/{model_name}/versions/{model_version}")
    async def model_version_meta(model_name: str, model_version: str) -> Any:
        service.check_model(model_name, model_version)
        return service.model_metadata()

    @router.get("/v2/models/{model_name}/ready")
    async def model_ready(model_name: str) -> Any:
        service.check_model(model_name)
        return {"name": name, "ready": True}

    @router.get("/v2/models/{model_name}/versions/{model_version}/ready")
    async def model_version_ready(model_name: str, model_version: str) -> Any:
        service.check_model(model_name, model_version)
        return {"name": name, "ready": True}

    def render(
        results: Any,
        outputs: tuple[str, ...],
        request_id: str,
        version: str,
        *,
        binary_outputs: frozenset[str],
    ) -> Any:
        body, blob = protocols.render_v2(
            name, version, request_id, results, outputs, service.output_types(), binary_outputs
        )
        if not binary_outputs:
            return json_response(body)
        header = json.dumps(body).encode()
        return Response(
            header + blob,
            media_type=BINARY,
            headers={"inference-header-content-length": str(len(header))},
        )

    def parse(body: bytes, headers: Any) -> Parsed:
        header, tail = binary.split(body, headers.get(binary.HEADER))
        request = protocols.parse_v2(
            service.schema, protocols.parse_json(header), unseen=service.unseen, binary=tail
        )
        return Parsed(
            request.inputs,
            request.n_rows,
            request.outputs,
            partial(render, binary_outputs=request.binary_outputs),
            request.request_id,
        )

    docs = infer_openapi(service.bundle)

    @router.post("/v2/models/{model_name}/infer", openapi_extra=docs)
    async def infer(request: Request, model_name: str) -> Any:
        service.check_model(model_name)
        return await service.predict(request, "v2", parse)

    @router.post("/v2/models/{model_name}/versions/{model_version}/infer", openapi_extra=docs)
    async def infer_version(request: Request, model_name: str, model_version: str) -> Any:
        service.check_model(model_name, model_version)
        return await service.predict(request, "v2", parse)

    return router


def mlflow_router(service: Service, auth: Callable[..., None]) -> APIRouter:
    router = APIRouter(tags=["mlflow"], dependencies=[Depends(auth)])
    unseen = service.unseen

    def render(results: Any, outputs: tuple[str, ...], request_id: str, version: str) -> Any:
        return json_response(protocols.render_mlflow(results, outputs))

    @router.post("/invocations", openapi_extra=invocations_openapi(service.bundle))
    async def invocations(request: Request) -> Any:
        content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()

        def parse(body: bytes, headers: Any) -> Parsed:
            schema = service.schema
            if content_type == "text/csv":
                inputs, n, outputs = protocols.parse_csv(schema, body, unseen=unseen)
            elif content_type in (JSON, "", "application/*", "*/*"):
                payload = protocols.parse_json(body)
                inputs, n, outputs = protocols.parse_mlflow(schema, payload, unseen=unseen)
            else:
                raise Rejected(
                    415,
                    f"unsupported content type {protocols.show(content_type)}; "
                    "use application/json or text/csv",
                )
            return Parsed(inputs, n, outputs, render)

        return await service.predict(request, "invocations", parse)

    @router.get("/version")
    async def server_version() -> Any:
        return {"mlops_lab": __version__, "model": service.name, "version": service.version}

    return router


def ops_router(service: Service, auth: Callable[..., None]) -> APIRouter:
    router = APIRouter(dependencies=[Depends(auth)])

    @router.get("/metrics", tags=["monitoring"], response_class=PlainTextResponse)
    async def prometheus() -> Any:
        return PlainTextResponse(service.render_metrics(), media_type=CONTENT_TYPE)

    @router.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Any:
        return json_response(request.app.openapi())

    def spec_url(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/") + "/openapi.json"

    @router.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> Any:
        return docs_page("swagger", request.app.title, spec_url(request))

    @router.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> Any:
        return docs_page("redoc", request.app.title, spec_url(request))

    return router
