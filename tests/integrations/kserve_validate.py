"""Check KServe manifests against the KServe Python SDK's own models, strictly.

Run with the Python of a virtual environment that has ``kserve`` installed::

    python kserve_validate.py inferenceservice.yaml [more.yaml ...]

Prints one JSON object: for each file, ``errors`` (each naming the field's path) and
``roundtrip``, the SDK object built from the file serialized back by the SDK's ``ApiClient``.
The SDK's own deserializer drops fields it does not know; this walk follows the same
``openapi_types`` / ``attribute_map`` tables, but reports an unknown or misspelled field, a
value of the wrong type, and a required field that is missing (the models' own
client-side validation) instead of ignoring them.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any

import kserve.models
import kubernetes.client.models
import yaml
from kserve import ApiClient
from kserve.constants import constants

PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "date": (str,),
    "datetime": (str,),
    "bytes": (str,),
}


INVALID = object()  # a value already reported: its parents are not built (no knock-on errors)


def model_class(name: str) -> Any:
    for module in (kserve.models, kubernetes.client.models):
        if hasattr(module, name):
            return getattr(module, name)
    return None


def build(data: Any, type_name: str, path: str, errors: list[str]) -> Any:
    """``data`` as the SDK's ``type_name``, appending what is wrong with it to ``errors``."""
    if type_name == "object":
        return data
    # kserve's models write list[T] and dict(str, T), kubernetes' List[T] and Dict[str, T]
    listed = re.fullmatch(r"(?:list|List)\[(.*)\]", type_name)
    if listed:
        if not isinstance(data, list):
            errors.append(f"{path}: expected a list ({type_name}), got {data!r}")
            return INVALID
        items = [build(v, listed.group(1), f"{path}[{i}]", errors) for i, v in enumerate(data)]
        return INVALID if INVALID in items else items
    mapped = re.fullmatch(r"dict\([^,]*, (.*)\)|Dict\[[^,]*, (.*)\]", type_name)
    if mapped:
        if not isinstance(data, dict):
            errors.append(f"{path}: expected a mapping ({type_name}), got {data!r}")
            return INVALID
        inner = mapped.group(1) or mapped.group(2)
        values = {k: build(v, inner, f"{path}.{k}", errors) for k, v in data.items()}
        return INVALID if INVALID in values.values() else values
    if type_name in PRIMITIVES:
        wrong_bool = isinstance(data, bool) and type_name in ("int", "float")
        if not isinstance(data, PRIMITIVES[type_name]) or wrong_bool:
            errors.append(f"{path}: expected {type_name}, got {data!r}")
            return INVALID
        return data
    klass = model_class(type_name)
    if klass is None:
        errors.append(f"{path}: the SDK has no model {type_name} to check this field against")
        return INVALID
    if not isinstance(data, dict):
        errors.append(f"{path}: expected an object ({type_name}), got {data!r}")
        return INVALID
    attrs = {json_key: attr for attr, json_key in klass.attribute_map.items()}
    kwargs = {}
    for key, value in data.items():
        if key not in attrs:
            same = [k for k in attrs if k.lower() == key.lower()]
            close = same or difflib.get_close_matches(key, list(attrs), n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"{path}.{key}: unknown field of {type_name}{hint}")
            continue
        attr = attrs[key]
        kwargs[attr] = build(value, klass.openapi_types[attr], f"{path}.{key}", errors)
    if INVALID in kwargs.values():
        return INVALID
    try:
        return klass(**kwargs)
    except (TypeError, ValueError) as exc:
        errors.append(f"{path}: {type_name}: {' '.join(str(exc).split())}")
        return INVALID


def validate(manifest: Any) -> dict[str, Any]:
    errors: list[str] = []
    if not isinstance(manifest, dict):
        return {"errors": [f"$: expected a mapping, got {manifest!r}"], "roundtrip": None}
    if manifest.get("apiVersion") != constants.KSERVE_V1BETA1:
        errors.append(f"$.apiVersion: expected {constants.KSERVE_V1BETA1!r}")
    if manifest.get("kind") != constants.KSERVE_KIND_INFERENCESERVICE:
        errors.append(f"$.kind: expected {constants.KSERVE_KIND_INFERENCESERVICE!r}")
    isvc = build(manifest, "V1beta1InferenceService", "$", errors)
    if isvc is INVALID:
        return {"errors": errors, "roundtrip": None}
    model = getattr(getattr(getattr(isvc, "spec", None), "predictor", None), "model", None)
    protocols = [p.value for p in constants.PredictorProtocol]
    if model is not None and model.protocol_version not in (None, *protocols):
        errors.append(f"$.spec.predictor.model.protocolVersion: expected one of {protocols}")
    return {"errors": errors, "roundtrip": ApiClient().sanitize_for_serialization(isvc)}


def main(paths: list[str]) -> int:
    report = {p: validate(yaml.safe_load(Path(p).read_text())) for p in paths}
    print(json.dumps(report, indent=2))
    return 1 if any(r["errors"] for r in report.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
