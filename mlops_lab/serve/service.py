"""What the routes share: the served bundle, its limits and token, and one prediction's life.

A :class:`Service` is built once per app by :func:`~.app.create_app`. The
routes call :meth:`Service.predict` with a protocol's parser; it reads the body
within ``max_body_bytes``, parses and checks the inputs, predicts, answers, and
hands the request's record to the prediction log. Every request gets the
server's own id (the key of its row in the log); a client's id (the
``x-request-id`` header, or a v2 ``id``) is checked and kept beside it, never
in its place. Client mistakes become a 4xx JSON answer here or in the app's
exception handlers, never a 5xx.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputValidationError, MlopsLabError
from . import protocols
from .metrics import ServerMetrics

if TYPE_CHECKING:
    from ..packaging.bundle import Bundle

logger = logging.getLogger("mlops_lab.serve")

JSON = "application/json"


class Rejected(Exception):
    """A request refused before its inputs are read (auth, size, route, content type)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    from starlette.responses import Response

    return Response(json.dumps(content), status_code=status, media_type=JSON, headers=headers)


def error_response(exc: Exception, ids: dict[str, str] | None = None) -> Any:
    """The JSON answer to a refused request: ``{"error", "column", "row", "problem"}``."""
    body: dict[str, Any] = {"error": str(exc)}
    if isinstance(exc, InputValidationError):
        body |= {"column": exc.column, "row": exc.row, "problem": exc.problem}
        status, headers = exc.status, None
    elif isinstance(exc, Rejected):
        status, headers = exc.status, exc.headers
    else:
        status, headers = 400, None
    if ids:
        body["request_id"] = ids["x-request-id"]
        headers = {**(headers or {}), **ids}
    return json_response(body, status, headers)


@dataclass
class Parsed:
    """A parser's result: checked inputs, the outputs asked for, how to answer."""

    inputs: Any
    n_rows: int
    outputs: tuple[str, ...]
    render: Callable[[dict[str, Any], tuple[str, ...], str, str], Any]
    request_id: str | None = None


@dataclass
class Served:
    """One loaded version: its bundle, predictor and metrics (swapped whole, never in part)."""

    bundle: Any
    predictor: Any
    metrics: ServerMetrics

    @property
    def version(self) -> str:
        return str(self.bundle.version)


class Service:
    """One served model with its predictor, limits, token, metrics and prediction log.

    ``current`` is the version answering new requests; :meth:`swap` replaces it in
    one assignment, so a request in flight finishes on the version it started with.
    """

    def __init__(
        self,
        bundle: Bundle,
        predictor: Any,
        *,
        token: str | None,
        max_body_bytes: int,
        max_rows: int,
        unseen_categories: str,
        log: Any,
    ) -> None:
        self.name = bundle.name
        self.max_body_bytes = max_body_bytes
        self.max_rows = max_rows
        self.unseen = unseen_categories
        self.log = log
        self.current = Served(
            bundle, predictor, ServerMetrics(self.name, bundle.version, predictor.runtime)
        )
        self.served: list[Served] = [self.current]
        self.swaps = 0
        self.refused: dict[str, str] = {}  # version -> why it was not swapped in
        self.canary: Served | None = None  # answers a share of requests (--canary)
        self.canary_share = 0.0
        self.shadow: Served | None = None  # sees every input, never answers (--shadow)
        self._shadow_pool: Any = None
        self._expected_auth = f"Bearer {token}".encode() if token else None

    @property
    def bundle(self) -> Any:
        return self.current.bundle

    @property
    def predictor(self) -> Any:
        return self.current.predictor

    @property
    def schema(self) -> Any:
        return self.current.bundle.schema

    @property
    def version(self) -> str:
        return self.current.version

    @property
    def metrics(self) -> ServerMetrics:
        return self.current.metrics

    def swap(self, bundle: Any, predictor: Any) -> None:
        """Serve ``bundle`` from the next request on (checked by the caller first)."""
        served = next((s for s in self.served if s.version == str(bundle.version)), None)
        if served is None:
            metrics = ServerMetrics(self.name, bundle.version, predictor.runtime)
            served = Served(bundle, predictor, metrics)
            self.served.append(served)
        else:
            served.bundle, served.predictor = bundle, predictor
        self.current = served
        self.swaps += 1
        self.refused.pop(str(bundle.version), None)

    def add_challenger(self, role: str, bundle: Any, predictor: Any, share: float = 0.0) -> None:
        """Serve ``bundle`` beside the current version as its ``shadow`` or ``canary``."""
        from concurrent.futures import ThreadPoolExecutor

        from ..errors import InvalidArgumentError
        from .follow import compatible

        why = compatible(self.schema, bundle.schema)
        if why is not None:
            raise InvalidArgumentError(f"--{role} {bundle.name} v{bundle.version}: {why}")
        served = Served(
            bundle, predictor, ServerMetrics(self.name, bundle.version, predictor.runtime)
        )
        self.served.append(served)
        if role == "shadow":
            self.shadow = served
            self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="mlops-shadow")
        else:
            if not 0 < share < 1:
                raise InvalidArgumentError(f"--canary share: expected (0%, 100%), got {share:.0%}")
            self.canary, self.canary_share = served, share

    def _pick(self) -> Served:
        import random

        if self.canary is not None and random.random() < self.canary_share:
            return self.canary
        return self.current

    def _run_shadow(self, key: str, protocol: str, inputs: Any, outputs: tuple[str, ...]) -> None:
        """The shadow's prediction on the same inputs, logged next to the answered one."""
        shadow = self.shadow
        assert shadow is not None
        started = time.perf_counter()
        status, results, error = 200, None, None
        try:
            results = shadow.predictor.predict(inputs, outputs)
        except Exception as exc:  # the shadow's failure never reaches a client
            status, error = 500, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter() - started
        shadow.metrics.observe("shadow", status, elapsed, 0)
        if self.log is not None:
            self.log.submit(
                {
                    "request_id": uuid.uuid4().hex,
                    "client_request_id": key,  # the answered request it shadows
                    "model": self.name,
                    "version": shadow.version,
                    "run_id": shadow.bundle.run_id,
                    "created": time.time(),
                    "protocol": "shadow",
                    "status": status,
                    "latency_ms": elapsed * 1000.0,
                    "n_rows": 0,
                    "inputs": None,
                    "outputs": results,
                    "error": error,
                    "runtime": shadow.predictor.runtime,
                }
            )

    def render_metrics(self) -> str:
        from .metrics import render_all

        extra = [
            "# HELP mlops_model_swaps_total Times the served version changed (--follow).",
            "# TYPE mlops_model_swaps_total counter",
            f'mlops_model_swaps_total{{model="{self.name}"}} {self.swaps}',
            "# HELP mlops_model_serving Which version answers new requests (1) and which not (0).",
            "# TYPE mlops_model_serving gauge",
        ]
        extra += [
            f'mlops_model_serving{{model="{self.name}",version="{s.version}"}} '
            f"{int(s is self.current)}"
            for s in self.served
        ]
        extra += [
            "# HELP mlops_model_refused A version the alias moved to that was not swapped in.",
            "# TYPE mlops_model_refused gauge",
        ]
        extra += [
            f'mlops_model_refused{{model="{self.name}",version="{v}"}} 1' for v in self.refused
        ]
        ordered = [s.metrics for s in self.served if s is not self.current] + [self.metrics]
        extra += [
            "# HELP mlops_model_role The role of each loaded version: primary, canary or shadow.",
            "# TYPE mlops_model_role gauge",
        ]
        for s in self.served:
            role = "shadow" if s is self.shadow else "canary" if s is self.canary else "primary"
            if role != "primary" or s is self.current:
                extra.append(
                    f'mlops_model_role{{model="{self.name}",version="{s.version}",role="{role}"}} 1'
                )
        return render_all(ordered, self.log, extra)

    # -- checks before a request's inputs are read ------------------------------------------

    def authorize(self, authorization: str | None) -> None:
        """Refuse (401) a missing or wrong bearer token when the server has one."""
        if self._expected_auth is None:
            return
        got = (authorization or "").encode("latin-1", "replace")
        if not hmac.compare_digest(got, self._expected_auth):
            raise Rejected(
                401,
                "missing or wrong bearer token (send 'Authorization: Bearer TOKEN')",
                {"www-authenticate": "Bearer"},
            )

    def check_model(self, model_name: str, model_version: str | None = None) -> None:
        if model_name != self.name or (model_version is not None and model_version != self.version):
            asked = model_name + (f" version {model_version}" if model_version else "")
            raise Rejected(
                404,
                f"unknown model {protocols.show(asked)}; this server serves "
                f"{self.name!r} version {self.version!r}",
            )

    async def read_body(self, request: Any) -> bytes:
        limit = self.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            if not (length.isascii() and length.isdigit()):
                raise Rejected(400, "invalid Content-Length header")
            if int(length) > limit:
                raise Rejected(413, f"the body has {length} bytes, the limit is {limit} bytes")
            return await request.body()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejected(413, f"the body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # -- the model's description ------------------------------------------------------------

    def output_types(self) -> dict[str, str]:
        """The v2 datatype of each output: what model metadata declares and infer answers."""
        types = {"predict": _label_type(self.predictor.classes)}
        if self.predictor.has_proba:
            types["predict_proba"] = "FP64"
        return types

    def model_metadata(self) -> dict[str, Any]:
        predictor, bundle = self.predictor, self.bundle
        inputs = [
            {"name": c.name, "datatype": v2_type(c.kind), "shape": [-1]}
            for c in self.schema.columns
        ]
        types = self.output_types()
        outputs = [{"name": "predict", "datatype": types["predict"], "shape": [-1]}]
        if "predict_proba" in types:
            n = len(predictor.classes or [])
            outputs.append(
                {"name": "predict_proba", "datatype": types["predict_proba"], "shape": [-1, n]}
            )
        flavor = bundle.metadata["model"].get("flavor", "sklearn")
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": f"{predictor.runtime}_{flavor}",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {
                "run_id": bundle.run_id,
                "classes": predictor.classes,
                "input_tensor": "one tensor per column, or one [N, n_columns] tensor",
            },
        }

    # -- one prediction ---------------------------------------------------------------------

    async def predict(
        self, request: Any, protocol: str, parse: Callable[[bytes, Any], Parsed]
    ) -> Any:
        """Answer one prediction request and log it; client mistakes are a 4xx JSON answer."""
        started = time.perf_counter()
        served = self._pick()  # this request is answered by this version, whatever swaps
        metrics = served.metrics
        metrics.in_flight += 1
        key = uuid.uuid4().hex  # the server's own id: the key of the request's log row
        client_id: str | None = None
        status, n_rows, inputs, results, error = 200, 0, None, None, None
        try:
            header = request.headers.get("x-request-id")
            if header is not None:
                client_id = protocols.check_request_id(header, "the x-request-id header")
            body = await self.read_body(request)
            parsed = parse(body, request.headers)
            client_id = parsed.request_id or client_id
            inputs, n_rows, outputs = parsed.inputs, parsed.n_rows, parsed.outputs
            if n_rows > self.max_rows:
                raise Rejected(413, f"the request has {n_rows} rows, the limit is {self.max_rows}")
            if "predict_proba" in outputs and not served.predictor.has_proba:
                raise InputValidationError("this model has no predict_proba", status=400)
            results = served.predictor.predict(inputs, outputs)
            if self.shadow is not None:
                self._shadow_pool.submit(self._run_shadow, key, protocol, inputs, outputs)
            ids = _ids(key, client_id)
            response = parsed.render(results, outputs, ids["x-request-id"], served.version)
            response.headers.update(ids)
            response.headers["x-model-version"] = served.version
        except RecursionError:
            status, error = 400, "the request is nested too deeply"
            response = error_response(protocols.bad_request(error), _ids(key, client_id))
        except (MlopsLabError, Rejected) as exc:
            status = getattr(exc, "status", 400)
            error = str(exc)
            response = error_response(exc, _ids(key, client_id))
        except Exception as exc:
            logger.exception("prediction failed")
            status, error = 500, f"{type(exc).__name__}: {exc}"
            ids = _ids(key, client_id)
            response = json_response(
                {"error": f"internal error: {error}", "request_id": ids["x-request-id"]}, 500, ids
            )
        finally:
            metrics.in_flight -= 1
        elapsed = time.perf_counter() - started
        metrics.observe(protocol, status, elapsed, n_rows if status == 200 else 0)
        if self.log is not None:
            self.log.submit(
                {
                    "request_id": key,
                    "client_request_id": client_id,
                    "model": self.name,
                    "version": served.version,
                    "run_id": served.bundle.run_id,
                    "created": time.time(),
                    "protocol": protocol,
                    "status": status,
                    "latency_ms": elapsed * 1000.0,
                    "n_rows": n_rows,
                    "inputs": _loggable(served.bundle.schema, inputs) if status == 200 else None,
                    "outputs": results,
                    "error": error,
                    "runtime": served.predictor.runtime,
                }
            )
        return response


def _ids(key: str, client_id: str | None) -> dict[str, str]:
    """Response headers: the client's id echoed (else the server's), and the server's key."""
    return {"x-request-id": client_id or key, "x-prediction-id": key}


def _label_type(classes: list[Any] | None) -> str:
    if not classes:
        return "FP64"
    if all(isinstance(c, bool) for c in classes):
        return "BOOL"
    if all(isinstance(c, int) and not isinstance(c, bool) for c in classes):
        return "INT64"
    if all(isinstance(c, int | float) and not isinstance(c, bool) for c in classes):
        return "FP64"
    return "BYTES"


def v2_type(kind: str) -> str:
    return {"float": "FP64", "integer": "INT64", "bool": "BOOL"}.get(kind, "BYTES")


def _loggable(schema: Any, inputs: Any) -> Any:
    import numpy as np

    if isinstance(inputs, np.ndarray):
        return {n: inputs[:, j] for j, n in enumerate(schema.names)}
    return inputs
