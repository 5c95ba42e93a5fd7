"""The FastAPI application that serves one bundle: :func:`create_app`.

Endpoints: the Open Inference Protocol v2 (health, server and model
metadata, ``infer``, with the ``/versions/{v}`` forms), MLflow's
``POST /invocations`` (plus ``/ping``, ``/health``, ``/version``),
``GET /metrics`` (Prometheus) and the OpenAPI docs at ``/docs``.

Every client mistake is a 4xx with a JSON body ``{"error": ..., "column":
..., "row": ...}``: malformed JSON and bodies that break the protocol (400),
a missing or wrong token (401), an unknown model (404), a body over
``max_body_bytes`` or more rows than ``max_rows`` (413), an unsupported content
type (415), inputs that do not fit the schema (422). Prediction handlers do
their work on the event loop (a prediction takes microseconds, and
``max_rows`` bounds it), and hand the request's record to the
:class:`~.prediction_log.PredictionLog` queue.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the handlers'
# annotations (``request: Request``) at runtime, and Request is imported inside
# create_app so that fastapi loads only when a server is built.

import hmac
import json
import logging
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import InputValidationError, InvalidArgumentError, MlopsLabError
from . import protocols
from .metrics import CONTENT_TYPE, ServerMetrics
from .prediction_log import PredictionLog

if TYPE_CHECKING:
    from ..package.bundle import Bundle

logger = logging.getLogger("mlops_lab.serve")

DEFAULT = object()
JSON = "application/json"


class Rejected(Exception):
    """A request refused before its inputs are read (auth, size, route, content type)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import Response

    return Response(json.dumps(content), status_code=status, media_type=JSON, headers=headers)


def _error(exc: Exception, request_id: str | None = None) -> Any:
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, InputValidationError):
        body |= {"column": exc.column, "row": exc.row, "problem": exc.problem}
        status, headers = exc.status, None
    elif isinstance(exc, Rejected):
        status, headers = exc.status, exc.headers
    else:
        status, headers = 400, None
    if request_id:
        body["request_id"] = request_id
        headers = {**(headers or {}), "x-request-id": request_id}
    return _json(body, status, headers)


def store_log(maxsize: int) -> PredictionLog:
    """A prediction log writing to the project store (found like ``ml.runs`` finds it)."""
    from ..store import Store
    from ..store.prediction_records import insert_predictions

    store = Store.open()
    return PredictionLog(lambda rows: insert_predictions(store, rows), maxsize=maxsize)


def create_app(
    bundle: "Bundle | str | Path",
    *,
    token: str | None = None,
    max_body_bytes: int = 5_000_000,
    max_rows: int = 10_000,
    unseen_categories: str = "reject",
    runtime: str = "auto",
    prediction_log: Any = DEFAULT,
    log_queue_size: int = 10_000,
) -> Any:
    """The FastAPI app serving ``bundle``.

    Parameters
    ----------
    bundle
        A :class:`~mlops_lab.package.Bundle` or the path of one (its digests are verified).
    token
        When set, every endpoint but the health checks needs ``Authorization: Bearer TOKEN``.
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
    """
    from fastapi import FastAPI, Request
    from starlette.responses import PlainTextResponse

    from ..package.bundle import load_bundle

    if unseen_categories not in ("reject", "allow"):
        raise InvalidArgumentError(
            f"unseen_categories: expected 'reject' or 'allow', got {unseen_categories!r}"
        )
    if not hasattr(bundle, "schema"):
        bundle = load_bundle(bundle, lazy=True)
    assert not isinstance(bundle, (str, Path))  # a path was loaded just above
    predictor = bundle.predictor(runtime)
    schema = bundle.schema
    name, version = bundle.name, bundle.version
    metrics = ServerMetrics(name, version, predictor.runtime)
    log = store_log(log_queue_size) if prediction_log is DEFAULT else prediction_log
    expected_auth = f"Bearer {token}".encode() if token else None

    @asynccontextmanager
    async def lifespan(app: Any):
        if log is not None:
            log.start()
        try:
            yield
        finally:
            if log is not None:
                log.close()

    app = FastAPI(
        title=f"{name} (version {version})",
        version=__version__,
        description=f"mlops-lab model server for {name} v{version} ({predictor.runtime}). "
        "Open Inference Protocol v2 under /v2, MLflow-style /invocations, Prometheus /metrics.",
        lifespan=lifespan,
    )
    app.state.bundle = bundle
    app.state.metrics = metrics
    app.state.prediction_log = log

    def authorize(request: Request) -> None:
        if expected_auth is None:
            return
        got = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(got, expected_auth):
            raise Rejected(
                401,
                "missing or wrong bearer token (send 'Authorization: Bearer TOKEN')",
                {"www-authenticate": "Bearer"},
            )

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise Rejected(400, "invalid Content-Length header")
            if int(length) > max_body_bytes:
                raise Rejected(
                    413, f"the body has {length} bytes, the limit is {max_body_bytes} bytes"
                )
            return await request.body()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise Rejected(413, f"the body exceeds the limit of {max_body_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def check_model(model_name: str, model_version: str | None) -> None:
        if model_name != name or (model_version is not None and model_version != version):
            asked = model_name + (f" version {model_version}" if model_version else "")
            raise Rejected(
                404, f"unknown model {asked!r}; this server serves {name!r} version {version!r}"
            )

    async def predict(request: Request, protocol: str, parse: Any) -> Any:
        started = time.perf_counter()
        metrics.in_flight += 1
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        status, n_rows, inputs, results, error = 200, 0, None, None, None
        try:
            authorize(request)
            body = await read_body(request)
            inputs, n_rows, outputs, given_id, render = parse(body)
            request_id = given_id or request_id
            if n_rows > max_rows:
                raise Rejected(413, f"the request has {n_rows} rows, the limit is {max_rows}")
            if "predict_proba" in outputs and not predictor.has_proba:
                raise InputValidationError("this model has no predict_proba", status=400)
            results = predictor.predict(inputs, outputs)
            response = _json(
                render(results, outputs, request_id), 200, {"x-request-id": request_id}
            )
        except (MlopsLabError, Rejected) as exc:
            status = getattr(exc, "status", 400)
            error = str(exc)
            response = _error(exc, request_id)
        except Exception as exc:
            logger.exception("prediction failed")
            status, error = 500, f"{type(exc).__name__}: {exc}"
            response = _json({"error": f"internal error: {error}", "request_id": request_id}, 500)
        finally:
            metrics.in_flight -= 1
        elapsed = time.perf_counter() - started
        metrics.observe(protocol, status, elapsed, n_rows if status == 200 else 0)
        if log is not None and status != 401:
            log.submit(
                {
                    "request_id": request_id,
                    "model": name,
                    "version": version,
                    "run_id": bundle.run_id,
                    "created": time.time(),
                    "protocol": protocol,
                    "status": status,
                    "latency_ms": elapsed * 1000.0,
                    "n_rows": n_rows,
                    "inputs": _loggable(schema, inputs) if status == 200 else None,
                    "outputs": results,
                    "error": error,
                    "runtime": predictor.runtime,
                }
            )
        return response

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected) -> Any:
        return _error(exc)

    @app.exception_handler(MlopsLabError)
    async def _mlops_error(request: Request, exc: MlopsLabError) -> Any:
        return _error(exc)

    # -- Open Inference Protocol v2 ---------------------------------------------------------

    @app.get("/v2/health/live", tags=["v2"])
    async def live() -> Any:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2"])
    async def ready() -> Any:
        return {"ready": True}

    @app.get("/v2", tags=["v2"])
    async def server_metadata(request: Request) -> Any:
        authorize(request)
        return {"name": "mlops-lab", "version": __version__, "extensions": []}

    def model_metadata() -> dict[str, Any]:
        inputs = [
            {"name": c.name, "datatype": _v2_type(c.kind), "shape": [-1]} for c in schema.columns
        ]
        outputs = [{"name": "predict", "datatype": _label_type(predictor.classes), "shape": [-1]}]
        if predictor.has_proba:
            n = len(predictor.classes or [])
            outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, n]})
        return {
            "name": name,
            "versions": [version],
            "platform": f"{predictor.runtime}_{bundle.metadata['model'].get('flavor', 'sklearn')}",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {
                "run_id": bundle.run_id,
                "classes": predictor.classes,
                "input_tensor": "one tensor per column, or one [N, n_columns] tensor",
            },
        }

    @app.get("/v2/models/{model_name}", tags=["v2"])
    async def model_meta(request: Request, model_name: str) -> Any:
        authorize(request)
        check_model(model_name, None)
        return model_metadata()

    @app.get("/v2/models/{model_name}/versions/{model_version}", tags=["v2"])
    async def model_version_meta(request: Request, model_name: str, model_version: str) -> Any:
        authorize(request)
        check_model(model_name, model_version)
        return model_metadata()

    @app.get("/v2/models/{model_name}/ready", tags=["v2"])
    async def model_ready(request: Request, model_name: str) -> Any:
        authorize(request)
        check_model(model_name, None)
        return {"name": name, "ready": True}

    @app.get("/v2/models/{model_name}/versions/{model_version}/ready", tags=["v2"])
    async def model_version_ready(request: Request, model_name: str, model_version: str) -> Any:
        authorize(request)
        check_model(model_name, model_version)
        return {"name": name, "ready": True}

    def parse_v2(body: bytes) -> Any:
        payload = protocols.parse_json(body)
        inputs, n, outputs, rid = protocols.parse_v2(schema, payload, unseen=unseen_categories)
        return inputs, n, outputs, rid, render_v2

    def render_v2(results: Any, outputs: tuple[str, ...], request_id: str) -> Any:
        return protocols.render_v2(name, version, request_id, results, outputs)

    infer_docs = _infer_openapi(bundle)

    @app.post("/v2/models/{model_name}/infer", tags=["v2"], openapi_extra=infer_docs)
    async def infer(request: Request, model_name: str) -> Any:
        if model_name != name:
            return _error(
                Rejected(404, f"unknown model {model_name!r}; this server serves {name!r}")
            )
        return await predict(request, "v2", parse_v2)

    @app.post(
        "/v2/models/{model_name}/versions/{model_version}/infer",
        tags=["v2"],
        openapi_extra=infer_docs,
    )
    async def infer_version(request: Request, model_name: str, model_version: str) -> Any:
        try:
            check_model(model_name, model_version)
        except Rejected as exc:
            return _error(exc)
        return await predict(request, "v2", parse_v2)

    # -- MLflow scoring protocol ------------------------------------------------------------

    def render_mlflow(results: Any, outputs: tuple[str, ...], request_id: str) -> Any:
        return protocols.render_mlflow(results, outputs)

    @app.post("/invocations", tags=["mlflow"], openapi_extra=_invocations_openapi(bundle))
    async def invocations(request: Request) -> Any:
        content_type = request.headers.get("content-type", JSON).split(";")[0].strip().lower()

        def parse(body: bytes) -> Any:
            if content_type == "text/csv":
                inputs, n, outputs = protocols.parse_csv(schema, body, unseen=unseen_categories)
            elif content_type in (JSON, "", "application/*", "*/*"):
                payload = protocols.parse_json(body)
                inputs, n, outputs = protocols.parse_mlflow(
                    schema, payload, unseen=unseen_categories
                )
            else:
                raise Rejected(
                    415,
                    f"unsupported content type {content_type!r}; use application/json or text/csv",
                )
            return inputs, n, outputs, None, render_mlflow

        return await predict(request, "invocations", parse)

    @app.get("/ping", tags=["mlflow"])
    async def ping() -> Any:
        return {"status": "ok"}

    @app.get("/health", tags=["mlflow"])
    async def health() -> Any:
        return {"status": "ok"}

    @app.get("/version", tags=["mlflow"])
    async def server_version() -> Any:
        return {"mlops_lab": __version__, "model": name, "version": version}

    @app.get("/metrics", tags=["monitoring"], response_class=PlainTextResponse)
    async def prometheus(request: Request) -> Any:
        authorize(request)
        return PlainTextResponse(metrics.render(log), media_type=CONTENT_TYPE)

    return app


def _label_type(classes: list[Any] | None) -> str:
    if not classes:
        return "FP64"
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    return "INT64" if all(isinstance(c, int) for c in classes) else "BYTES"


def _v2_type(kind: str) -> str:
    return {"float": "FP64", "integer": "INT64", "bool": "BOOL"}.get(kind, "BYTES")


def _loggable(schema: Any, inputs: Any) -> Any:
    import numpy as np

    if isinstance(inputs, np.ndarray):
        return {n: inputs[:, j] for j, n in enumerate(schema.names)}
    return inputs


def _example(bundle: Any) -> dict[str, Any]:
    try:
        return json.loads((bundle.path / "input_example.json").read_text())
    except (OSError, ValueError):
        return {"columns": bundle.schema.names, "data": []}


def _infer_openapi(bundle: Any) -> dict[str, Any]:
    example = _example(bundle)
    columns = example.get("columns", [])
    rows = example.get("data", [])[:2]
    tensors = [
        {
            "name": c,
            "shape": [len(rows)],
            "datatype": _v2_type(bundle.schema.columns[j].kind),
            "data": [r[j] for r in rows],
        }
        for j, c in enumerate(columns)
    ]
    schema = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "shape", "datatype", "data"],
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                        "datatype": {"type": "string", "enum": sorted(protocols.V2_DATATYPES)},
                        "parameters": {"type": "object"},
                        "data": {"type": "array", "items": {}},
                    },
                },
            },
            "outputs": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
        },
    }
    return {
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": schema, "example": {"inputs": tensors}}},
        }
    }


def _invocations_openapi(bundle: Any) -> dict[str, Any]:
    example = _example(bundle)
    example = {"columns": example.get("columns", []), "data": example.get("data", [])[:2]}
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "properties": {k: {} for k in protocols.MLFLOW_KEYS}
                        | {"params": {"type": "object"}},
                    },
                    "example": {"dataframe_split": example},
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
