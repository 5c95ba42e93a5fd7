"""Forged inputs as an attacker builds them: skops files edited with zipfile + json, bundles
re-sealed with hashlib, stores edited with sqlite3."""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

# Functions under the packages that were trusted by prefix, each doing something with
# arguments taken from the file: run Python in a subprocess, write a file.
SUBPROCESS = "sklearn.utils._testing.assert_run_python_script_without_output"
NUMPY_SAVE = "numpy.save"


def _json_node(value: Any) -> dict[str, Any]:
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def call_node(function: str, *args: Any) -> dict[str, Any]:
    """A skops node that makes the loader call ``function(*args)`` (its 'loss constructor')."""
    module, _, name = function.rpartition(".")
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "LossNode",
        "__reduce__": {
            "args": {
                "__class__": "tuple",
                "__module__": "builtins",
                "__loader__": "TupleNode",
                "content": [_json_node(a) for a in args],
            }
        },
        "content": {
            "__class__": "dict",
            "__module__": "builtins",
            "__loader__": "DictNode",
            "content": {},
            "key_types": {
                "__class__": "list",
                "__module__": "builtins",
                "__loader__": "ListNode",
                "content": [],
            },
        },
    }


def forge(model_bytes: bytes, node: dict[str, Any], attribute: str = "_hook") -> bytes:
    """The skops file ``model_bytes`` with ``node`` added as one more attribute of the model."""
    with zipfile.ZipFile(io.BytesIO(model_bytes)) as src:
        files = {name: src.read(name) for name in src.namelist()}
    schema = json.loads(files["schema.json"])
    attrs = schema["content"]
    attrs["content"][attribute] = node
    attrs["key_types"]["content"].append(dict(attrs["key_types"]["content"][0]))
    files["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    return out.getvalue()


def payload(kind: str, marker: Path) -> tuple[str, dict[str, Any]]:
    """``(function name, node)``: a node whose loading would create ``marker``."""
    if kind == "subprocess":
        code = f"open({str(marker)!r}, 'w').write('pwned')"
        return SUBPROCESS, call_node(SUBPROCESS, code)
    return NUMPY_SAVE, call_node(NUMPY_SAVE, str(marker), [1, 2, 3])


def real_model_bytes() -> bytes:
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True, as_frame=True)
    return sio.dumps(make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X, y))


def reseal(folder: Path, **changes: Any) -> None:
    """Recompute every file digest and the metadata digest of a bundle, as an attacker would."""
    meta_path = folder / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta.update(changes)
    meta["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in meta["files"]
    }
    meta.pop("metadata_sha256", None)
    rest = json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    meta["metadata_sha256"] = hashlib.sha256(rest.encode()).hexdigest()
    meta_path.write_text(json.dumps(meta))


def swap_blob(root: Path, old_digest: str, data: bytes) -> str:
    """Put ``data`` in the store at ``root`` and point every row naming ``old_digest`` at it."""
    digest = hashlib.sha256(data).hexdigest()
    target = root / "blobs" / digest[:2] / digest
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    with sqlite3.connect(root / "mlops.db") as conn:
        conn.execute("UPDATE artifacts SET digest = ? WHERE digest = ?", (digest, old_digest))
        conn.execute("UPDATE model_versions SET digest = ? WHERE digest = ?", (digest, old_digest))
    conn.close()
    return digest


def forge_array(model_bytes: bytes, field: str, index: int, value: int) -> bytes:
    """The skops file with ``nodes[field][index] = value`` in every stored node array."""
    import numpy as np

    with zipfile.ZipFile(io.BytesIO(model_bytes)) as src:
        files = {name: src.read(name) for name in src.namelist()}
    changed = 0
    for name, data in files.items():
        if not name.endswith(".npy"):
            continue
        array = np.load(io.BytesIO(data), allow_pickle=False)
        if array.dtype.names and field in array.dtype.names:
            array[field][index] = value
            buf = io.BytesIO()
            np.save(buf, array, allow_pickle=False)
            files[name] = buf.getvalue()
            changed += 1
    assert changed, f"no node array with a {field!r} field"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, data in files.items():
            dst.writestr(name, data)
    return out.getvalue()
