"""Request and response formats: the Open Inference Protocol v2 and MLflow's ``/invocations``.

Each parser turns a request body into checked model inputs (via the bundle's
:class:`~mlops_lab.packaging.schema.InputSchema`) and the outputs asked for;
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
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import InputValidationError
from ..packaging.predictors import OUTPUTS
from ..packaging.schema import show
from .binary import NUMPY_TYPES, binary_size, decode, encode

if TYPE_CHECKING:
    from ..packaging.schema import InputSchema

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
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


def bad_request(message: str) -> InputValidationError:
    return InputValidationError(message, status=400)


def parse_json(body: bytes) -> Any:
    if not body:
        raise bad_request("the request body is empty; send JSON")
    try:
        return json.loads(body)
    except RecursionError:
        raise bad_request("malformed JSON: nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"malformed JSON: {exc}") from None
    except ValueError as exc:  # an integer of more digits than Python converts
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

MAX_RANK = 8  # deeper tensors (or data nested deeper than its shape) are refused
_NUMBERS = frozenset({int, float, type(None)})
_ALLOWED = MappingProxyType(
    {
        "BOOL": frozenset({bool, type(None)}),
        "BYTES": frozenset({str, int, float, bool, type(None)}),  # a mixed [N, n_columns] tensor
        **{t: frozenset({int, type(None)}) for t in V2_DATATYPES if t.startswith(("INT", "UINT"))},
        **{t: _NUMBERS for t in V2_DATATYPES if t.startswith("FP")},
    }
)


@dataclass
class V2Request:
    """A parsed inference request: checked inputs and what to answer."""

    inputs: Any
    n_rows: int
    outputs: tuple[str, ...]
    request_id: str | None
    binary_outputs: frozenset[str] = frozenset()


def _flatten(data: Any, name: str, rank: int) -> list[Any]:
    """Nested lists (at most ``rank`` deep) as one flat list, without recursion."""
    if not isinstance(data, list):
        return [data]
    level, depth = data, 1
    while level and isinstance(level[0], list):
        depth += 1
        if depth > max(rank, 1):
            raise bad_request(
                f"input {show(name)}: 'data' is nested {depth} deep, its shape has {rank} dimensions"
            )
        flat: list[Any] = []
        for item in level:
            if isinstance(item, list):
                flat.extend(item)
            else:
                flat.append(item)
        level = flat
    return level


def _check_datatype(name: str, datatype: str, flat: list[Any], columns: list[str]) -> None:
    """Values that do not fit the declared datatype: 422 naming the column, else 400."""
    allowed = _ALLOWED[datatype]
    if set(map(type, flat)) <= allowed:
        return
    i = next(k for k, v in enumerate(flat) if type(v) not in allowed)
    v = flat[i]
    wanted = {"BOOL": "true or false", "BYTES": "strings"}.get(
        datatype, "integers" if datatype.startswith(("INT", "UINT")) else "numbers"
    )
    problem = f"datatype {datatype} holds {wanted}, got {show(v)} ({type(v).__name__})"
    if name in columns:
        raise InputValidationError(f"input {show(name)}: {problem} at row {i}", column=name, row=i)
    raise bad_request(f"input {show(name)}: {problem} at position {i}")


def check_request_id(value: Any, where: str) -> str:
    """A client's request id, if it is short and plain enough for a header and the log."""
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise bad_request(
            f"{where} must be 1 to 128 characters among letters, digits and . _ : / + = @ - "
            f"got {show(value)}"
        )
    return value


def parse_v2(
    schema: InputSchema, payload: Any, *, unseen: str, binary: bytes | None = None
) -> V2Request:
    """A v2 inference request; ``binary`` is the tail after the JSON header, if any."""
    if not isinstance(payload, dict):
        raise bad_request("an inference request is a JSON object with an 'inputs' list")
    tensors = payload.get("inputs")
    if not isinstance(tensors, list) or not tensors:
        raise bad_request(
            "'inputs' must be a non-empty list of tensors {name, shape, datatype, data}"
        )
    request_id = payload.get("id")
    if request_id is not None:
        request_id = check_request_id(request_id, "'id'")
    columns: dict[str, list[Any]] = {}
    shapes = []
    offset = 0
    for k, tensor in enumerate(tensors):
        if not isinstance(tensor, dict):
            raise bad_request(f"inputs[{k}] must be an object")
        name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
        if not isinstance(name, str) or not name:
            raise bad_request(f"inputs[{k}] needs a 'name' (a string)")
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_RANK
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise bad_request(
                f"input {show(name)}: 'shape' must be a list of at most {MAX_RANK} "
                "non-negative integers"
            )
        if not isinstance(datatype, str) or datatype not in V2_DATATYPES:
            raise bad_request(
                f"input {show(name)}: datatype {show(datatype)} is not one of "
                f"{', '.join(sorted(V2_DATATYPES))}"
            )
        size = binary_size(tensor, name)
        if size is not None:
            if "data" in tensor:
                raise bad_request(f"input {show(name)} has both 'data' and binary_data_size")
            if binary is None or offset + size > len(binary):
                raise bad_request(
                    f"input {show(name)}: binary_data_size is {size} bytes, but the request "
                    "carries fewer after its JSON header (Inference-Header-Content-Length)"
                )
            flat = decode(datatype, binary[offset : offset + size], name)
            offset += size
        elif "data" in tensor:
            flat = _flatten(tensor["data"], name, len(shape))
            _check_datatype(name, datatype, flat, schema.names)
        else:
            raise bad_request(f"input {show(name)} has no 'data'")
        if len(flat) != math.prod(shape):
            raise bad_request(
                f"input {show(name)}: shape {show(shape)} holds {show(math.prod(shape))} values, "
                f"data has {len(flat)}"
            )
        if name in columns:
            raise bad_request(f"input {show(name)} is given twice")
        columns[name] = flat
        shapes.append(shape)
    if binary is not None and offset != len(binary):
        raise bad_request(
            f"{len(binary) - offset} bytes after the JSON header belong to no input "
            "(check binary_data_size and Inference-Header-Content-Length)"
        )
    outputs, binary_outputs = _requested_outputs(payload.get("outputs"), payload.get("parameters"))
    inputs, n = _v2_inputs(schema, columns, shapes, unseen)
    return V2Request(inputs, n, outputs, request_id, binary_outputs)


def _v2_inputs(
    schema: InputSchema, columns: dict[str, list[Any]], shapes: list[list[int]], unseen: str
) -> tuple[Any, int]:
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
        return schema.check_rows(rows, unseen_categories=unseen)
    for name, shape in zip(columns, shapes, strict=True):
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InputValidationError(
                f"a column tensor must have shape [N] or [N, 1], got {shape}", column=name
            )
    return schema.check_columns(columns, unseen_categories=unseen)


def _requested_outputs(spec: Any, parameters: Any) -> tuple[tuple[str, ...], frozenset[str]]:
    """The outputs asked for, and those to answer as binary data."""
    all_binary = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    if spec is None:
        return ("predict",), frozenset({"predict"} if all_binary else ())
    if not isinstance(spec, list) or not all(isinstance(o, dict) for o in spec):
        raise bad_request("'outputs' must be a list of objects {name}")
    names = []
    binary = set()
    for o in spec:
        name = o.get("name")
        if not isinstance(name, str) or name not in OUTPUTS:
            raise bad_request(f"unknown output {show(name)}; available: {', '.join(OUTPUTS)}")
        names.append(name)
        params = o.get("parameters")
        if all_binary or (isinstance(params, dict) and params.get("binary_data") is True):
            binary.add(name)
    if not names:
        return ("predict",), frozenset({"predict"} if all_binary else ())
    return tuple(dict.fromkeys(names)), frozenset(binary)


def as_datatype(array: Any, datatype: str) -> Any:
    """``array`` in the NumPy dtype of a v2 datatype (BYTES: an array of ``str``)."""
    import numpy as np

    if datatype == "BYTES":
        return np.asarray([str(v) for v in np.asarray(array).ravel()], dtype=object).reshape(
            np.shape(array)
        )
    return np.asarray(array, dtype=NUMPY_TYPES[datatype])


def render_v2(
    name: str,
    version: str,
    request_id: str,
    results: dict[str, Any],
    outputs: tuple[str, ...],
    datatypes: dict[str, str],
    binary: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], bytes]:
    """The response's JSON and its binary tail (empty unless outputs were asked as binary)."""
    tensors = []
    blobs = []
    for out in outputs:
        datatype = datatypes[out]
        array = as_datatype(results[out], datatype)
        tensor: dict[str, Any] = {"name": out, "shape": list(array.shape), "datatype": datatype}
        if out in binary:
            blob = encode(datatype, array)
            blobs.append(blob)
            tensor["parameters"] = {"binary_data_size": len(blob)}
        else:
            tensor["data"] = array.ravel().tolist()
        tensors.append(tensor)
    body = {"model_name": name, "model_version": version, "id": request_id, "outputs": tensors}
    return body, b"".join(blobs)


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
        raise bad_request(f"params.method must be one of {', '.join(OUTPUTS)}, got {show(method)}")
    if key == "dataframe_split":
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise bad_request("dataframe_split must be an object {columns, data}")
        columns = data.get("columns")
        rows = data["data"]
        if columns is not None and columns != schema.names:
            if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                raise bad_request("dataframe_split.columns must be a list of names (strings)")
            for i, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != len(columns):
                    raise bad_request(
                        f"dataframe_split row {i} does not have {len(columns)} values"
                    )
            by_column = {c: [row[j] for row in rows] for j, c in enumerate(columns)}
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
        if kind == "integer" and raw.lstrip("-").isdigit() and len(raw) > 20:
            raise InputValidationError(
                f"{show(raw)} at row {row} is out of range for an integer column",
                column=name,
                row=row,
            )
        try:
            return int(raw) if kind == "integer" and raw.lstrip("-").isdigit() else float(raw)
        except ValueError:
            raise InputValidationError(
                f"expected a number, got {show(raw)} at row {row}", column=name, row=row
            ) from None
    if kind == "bool":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise InputValidationError(
            f"expected true or false, got {show(raw)} at row {row}", column=name, row=row
        )
    return raw


def render_mlflow(results: dict[str, Any], outputs: tuple[str, ...]) -> dict[str, Any]:
    array = results[outputs[0]]
    data = array.tolist() if array.dtype.kind != "O" else [str(v) for v in array.ravel()]
    return {"predictions": data}
