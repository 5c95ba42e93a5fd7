"""Request and response formats: the Open Inference Protocol v2 and MLflow's ``/invocations``.

Each parser turns a request body into checked model inputs (via the bundle's
:class:`~mlops_lab.package.schema.InputSchema`) and the outputs asked for;
each renderer turns the predictor's arrays into the protocol's JSON. A body
that does not follow the protocol raises
:class:`~mlops_lab.errors.InputValidationError` with status 400; inputs that
do not fit the schema raise it with 422 and the column's name.

Open Inference Protocol (KServe v2): an ``inputs`` list of tensors
``{name, shape, datatype, data}``, either one tensor per column (shape ``[N]``
or ``[N, 1]``) or one ``[N, n_columns]`` tensor in column order; ``outputs``
may ask for ``predict`` and ``predict_proba``.

MLflow: ``dataframe_split`` (``{columns, data}``), ``dataframe_records``,
``instances``, ``inputs`` (records, rows or ``{column: values}``), or a
``text/csv`` body with a header row; the answer is ``{"predictions": ...}``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Any

from ..errors import InputValidationError
from ..package.predictors import OUTPUTS

if TYPE_CHECKING:
    from ..package.schema import InputSchema

V2_DATATYPES = frozenset(
    {
        "BOOL",
        "UINT8",
        "UINT16",
        "UINT32",
        "UINT64",
        "INT8",
        "INT16",
        "INT32",
        "INT64",
        "FP16",
        "FP32",
        "FP64",
        "BYTES",
    }
)
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def bad_request(message: str) -> InputValidationError:
    return InputValidationError(message, status=400)


def parse_json(body: bytes) -> Any:
    if not body:
        raise bad_request("the request body is empty; send JSON")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed JSON: {exc}") from None


def _check(schema: InputSchema, data: Any, unseen: str) -> tuple[Any, int]:
    """Rows (lists), records (dicts) or ``{column: values}`` to checked inputs."""
    if isinstance(data, dict):
        columns = {str(k): v if isinstance(v, list) else [v] for k, v in data.items()}
        return schema.check_columns(columns, unseen_categories=unseen)
    if not isinstance(data, list):
        raise bad_request(f"expected a list of rows or records, got {type(data).__name__}")
    if data and isinstance(data[0], dict):
        return schema.check_rows(schema.rows_from_records(data), unseen_categories=unseen)
    if data and not isinstance(data[0], list) and len(schema.columns) == 1:
        data = [[v] for v in data]
    return schema.check_rows(data, unseen_categories=unseen)


# -- Open Inference Protocol v2 ------------------------------------------------------


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    if data and isinstance(data[0], list):
        out: list[Any] = []
        for item in data:
            out.extend(_flatten(item))
        return out
    return data


def parse_v2(
    schema: InputSchema, payload: Any, *, unseen: str
) -> tuple[Any, int, tuple[str, ...], str | None]:
    """``(inputs, n_rows, outputs, request id)`` of a v2 inference request."""
    if not isinstance(payload, dict):
        raise bad_request("an inference request is a JSON object with an 'inputs' list")
    tensors = payload.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise bad_request(
            "'inputs' must be a non-empty list of tensors {name, shape, datatype, data}"
        )
    columns: dict[str, list[Any]] = {}
    shapes = []
    for k, tensor in enumerate(tensors):
        if not isinstance(tensor, dict):
            raise bad_request(f"inputs[{k}] must be an object")
        name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
        if not isinstance(name, str) or not name:
            raise bad_request(f"inputs[{k}] needs a 'name' (a string)")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise bad_request(f"input {name!r}: 'shape' must be a list of non-negative integers")
        if datatype not in V2_DATATYPES:
            raise bad_request(
                f"input {name!r}: datatype {datatype!r} is not one of {', '.join(sorted(V2_DATATYPES))}"
            )
        if "data" not in tensor:
            raise bad_request(f"input {name!r} has no 'data'")
        flat = _flatten(tensor["data"])
        if len(flat) != math.prod(shape):
            raise bad_request(
                f"input {name!r}: shape {shape} holds {math.prod(shape)} values, data has {len(flat)}"
            )
        if name in columns:
            raise bad_request(f"input {name!r} is given twice")
        columns[name] = flat
        shapes.append(shape)
    outputs = _requested_outputs(payload.get("outputs"))
    request_id = payload.get("id") if isinstance(payload.get("id"), str) else None
    width = len(schema.columns)
    only = next(iter(columns))
    if len(columns) == 1 and (
        only not in schema.names or (width == 1 and len(shapes[0]) == 2 and shapes[0][1] == 1)
    ):
        shape = shapes[0]
        if len(shape) != 2 or shape[1] != width:
            raise InputValidationError(
                f"a single input tensor must have shape [N, {width}] (columns in the model's order"
                f"), got {shape}; or send one tensor per column named after it",
                column=only if only in schema.names else None,
            )
        flat = columns[only]
        rows = [flat[i : i + width] for i in range(0, len(flat), width)]
        inputs, n = schema.check_rows(rows, unseen_categories=unseen)
        return inputs, n, outputs, request_id
    for name, shape in zip(columns, shapes, strict=True):
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InputValidationError(
                f"a column tensor must have shape [N] or [N, 1], got {shape}", column=name
            )
    inputs, n = schema.check_columns(columns, unseen_categories=unseen)
    return inputs, n, outputs, request_id


def _requested_outputs(spec: Any) -> tuple[str, ...]:
    if spec is None:
        return ("predict",)
    if not isinstance(spec, list) or not all(isinstance(o, dict) for o in spec):
        raise bad_request("'outputs' must be a list of objects {name}")
    names = tuple(o.get("name") for o in spec)
    for name in names:
        if name not in OUTPUTS:
            raise bad_request(f"unknown output {name!r}; available: {', '.join(OUTPUTS)}")
    return names or ("predict",)


def datatype(array: Any) -> str:
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'UINT' if kind == 'u' else 'INT'}{size * 8}"
    if kind == "f":
        return {2: "FP16", 4: "FP32"}.get(size, "FP64")
    return "BYTES"


def render_v2(
    name: str, version: str, request_id: str, results: dict[str, Any], outputs: tuple[str, ...]
) -> dict[str, Any]:
    tensors = []
    for out in outputs:
        array = results[out]
        tensors.append(
            {
                "name": out,
                "shape": list(array.shape),
                "datatype": datatype(array),
                "data": array.ravel().tolist()
                if array.dtype.kind != "O"
                else [str(v) for v in array.ravel()],
            }
        )
    return {"model_name": name, "model_version": version, "id": request_id, "outputs": tensors}


# -- MLflow /invocations ---------------------------------------------------------------


def parse_mlflow(
    schema: InputSchema, payload: Any, *, unseen: str
) -> tuple[Any, int, tuple[str, ...]]:
    if not isinstance(payload, dict):
        raise bad_request(f"expected a JSON object with one of the keys {', '.join(MLFLOW_KEYS)}")
    keys = [k for k in MLFLOW_KEYS if k in payload]
    if len(keys) != 1:
        raise bad_request(
            f"expected exactly one of the keys {', '.join(MLFLOW_KEYS)}"
            + (
                f", got {', '.join(keys)}"
                if keys
                else f", got {', '.join(map(str, payload)) or 'none'}"
            )
        )
    key = keys[0]
    data = payload[key]
    params = payload.get("params") or {}
    method = params.get("method", "predict") if isinstance(params, dict) else "predict"
    if method not in OUTPUTS:
        raise bad_request(f"params.method must be one of {', '.join(OUTPUTS)}, got {method!r}")
    if key == "dataframe_split":
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise bad_request("dataframe_split must be an object {columns, data}")
        columns = data.get("columns")
        rows = data["data"]
        if columns is not None and columns != schema.names:
            if not isinstance(columns, list):
                raise bad_request("dataframe_split.columns must be a list of names")
            for i, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != len(columns):
                    raise bad_request(
                        f"dataframe_split row {i} does not have {len(columns)} values"
                    )
            by_column = {str(c): [row[j] for row in rows] for j, c in enumerate(columns)}
            inputs, n = schema.check_columns(by_column, unseen_categories=unseen)
            return inputs, n, (method,)
        inputs, n = schema.check_rows(rows, unseen_categories=unseen)
        return inputs, n, (method,)
    if key == "dataframe_records" and not isinstance(data, list):
        raise bad_request("dataframe_records must be a list of records")
    inputs, n = _check(schema, data, unseen)
    return inputs, n, (method,)


def parse_csv(schema: InputSchema, body: bytes, *, unseen: str) -> tuple[Any, int, tuple[str, ...]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the CSV body is not UTF-8: {exc}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
        records = list(reader)
    except (StopIteration, csv.Error) as exc:
        raise bad_request(
            f"a CSV body needs a header row and data rows ({exc or 'empty'})"
        ) from None
    kinds = {c.name: c.kind for c in schema.columns}
    columns: dict[str, list[Any]] = {h: [] for h in header}
    for i, record in enumerate(records):
        if len(record) != len(header):
            raise bad_request(f"CSV row {i} has {len(record)} fields, the header has {len(header)}")
        for name, raw in zip(header, record, strict=True):
            columns[name].append(_csv_value(kinds.get(name), raw, name, i))
    inputs, n = schema.check_columns(columns, unseen_categories=unseen)
    return inputs, n, ("predict",)


def _csv_value(kind: str | None, raw: str, name: str, row: int) -> Any:
    if raw == "":
        return None
    if kind in ("float", "integer"):
        try:
            return int(raw) if kind == "integer" and raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise InputValidationError(
                f"expected a number, got {raw!r} at row {row}", column=name, row=row
            ) from None
    if kind == "bool":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise InputValidationError(
            f"expected true or false, got {raw!r} at row {row}", column=name, row=row
        )
    return raw


def render_mlflow(results: dict[str, Any], outputs: tuple[str, ...]) -> dict[str, Any]:
    array = results[outputs[0]]
    data = array.tolist() if array.dtype.kind != "O" else [str(v) for v in array.ravel()]
    return {"predictions": data}
