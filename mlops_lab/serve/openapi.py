"""The server's published description: request examples in the OpenAPI spec, and the docs pages.

The spec's examples show two rows of the bundle's input example; ``/docs``
(Swagger UI) and ``/redoc`` are pages around ``/openapi.json``. Everything
from the bundle that lands in a page (its name and version, in the title) is
HTML-escaped: a bundle is data, and a forged one must not run script in the
browser of whoever opens its docs.
"""

from __future__ import annotations

import html
import json
from typing import Any

from . import protocols
from .service import JSON, v2_type


def docs_page(kind: str, title: str, openapi_url: str) -> Any:
    """The Swagger UI (``kind="swagger"``) or ReDoc page, its title escaped."""
    from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html

    safe = html.escape(title, quote=True)
    if kind == "swagger":
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{safe} - Swagger UI", oauth2_redirect_url=None
        )
    return get_redoc_html(openapi_url=openapi_url, title=f"{safe} - ReDoc")


def _example(bundle: Any) -> dict[str, Any]:
    try:
        example = json.loads((bundle.path / "input_example.json").read_text())
    except (OSError, ValueError):
        example = None
    names = bundle.schema.names
    if (
        not isinstance(example, dict)
        or not isinstance(example.get("columns", names), list)
        or len(example.get("columns", names)) != len(names)
        or not isinstance(example.get("data"), list)
        or not all(isinstance(r, list) and len(r) == len(names) for r in example["data"])
    ):
        return {"columns": names, "data": []}  # only a well-formed example is shown
    return {"columns": names, "data": example["data"]}


def infer_openapi(bundle: Any) -> dict[str, Any]:
    """The request body of ``/v2/models/{name}/infer``, with two example rows."""
    example = _example(bundle)
    columns = example.get("columns", [])
    rows = example.get("data", [])[:2]
    kinds = {c.name: c.kind for c in bundle.schema.columns}
    tensors = [
        {
            "name": c,
            "shape": [len(rows)],
            "datatype": v2_type(kinds.get(c, "float")),
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


def invocations_openapi(bundle: Any) -> dict[str, Any]:
    """The request body of ``/invocations`` (JSON formats and CSV), with two example rows."""
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
