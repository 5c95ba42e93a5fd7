"""ONNX export of a bundled model, kept only when it answers like the original.

:func:`convert` asks skl2onnx for an ONNX graph (classifiers, pipelines and
searches ending in one, without the ZipMap, so probabilities come out as one
matrix; regressors with no options), runs it with ONNX Runtime
on the input example and compares labels (exactly) and probabilities or
values (within a tolerance) with scikit-learn's. The outcome is recorded
either way: ``status`` is ``verified``, ``mismatch``, ``failed`` (skl2onnx
cannot convert the model) or ``unavailable`` (skl2onnx or onnxruntime is not
installed: ``pip install 'mlops-lab[onnx]'``), with the reason. Anything
but ``verified`` is also said once, as an
:class:`~mlops_lab.errors.OnnxExportWarning`: the bundle still serves with
scikit-learn, but the user asked for an ONNX model and should know why there
is none.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..errors import OnnxExportWarning

if TYPE_CHECKING:
    import pandas as pd

    from .schema import InputSchema

RTOL = 1e-3
ATOL = 1e-4


def input_types(schema: InputSchema) -> list[tuple[str, Any]]:
    """skl2onnx's initial types: one float matrix ``X``, or one tensor per column."""
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    if schema.numeric:
        return [("X", FloatTensorType([None, len(schema.columns)]))]
    return [
        (
            c.name,
            StringTensorType([None, 1])
            if c.kind in ("string", "category")
            else FloatTensorType([None, 1]),
        )
        for c in schema.columns
    ]


def feeds(schema: InputSchema, arrays: dict[str, Any]) -> dict[str, Any]:
    """ONNX Runtime inputs for checked columns (see :func:`input_types`)."""
    import numpy as np

    if isinstance(arrays, np.ndarray):
        return {"X": arrays.astype(np.float32)}
    if schema.numeric:
        return {"X": schema.to_matrix(arrays, np.float32)}
    out = {}
    for c in schema.columns:
        values = arrays[c.name]
        if c.kind in ("string", "category"):
            out[c.name] = np.asarray(values, dtype=object).reshape(-1, 1)
        else:
            out[c.name] = np.asarray(values, dtype=np.float32).reshape(-1, 1)
    return out


def _arrays(schema: InputSchema, frame: pd.DataFrame) -> dict[str, Any]:
    import numpy as np

    out = {}
    for c in schema.columns:
        series = frame[c.name]
        if c.kind in ("string", "category"):
            out[c.name] = series.astype(object).to_numpy()
        else:
            out[c.name] = series.to_numpy(dtype=np.float64)
    return out


def converter_options(model: Any) -> dict[str, Any] | None:
    """skl2onnx options for ``model``: no ZipMap for a classifier, none for anything else.

    skl2onnx refuses an option the model's converter does not declare (``zipmap`` on a
    ``Ridge``), so classifier options go to classifiers only; ``is_classifier`` also
    answers for a ``Pipeline`` (its last step) and a search (its estimator).
    """
    from sklearn.base import is_classifier

    return {"zipmap": False} if is_classifier(model) else None


def convert(
    model: Any, schema: InputSchema, example: pd.DataFrame
) -> tuple[bytes | None, dict[str, Any]]:
    """``(onnx bytes or None, record)``: the ONNX model when it matches scikit-learn.

    Warns (:class:`~mlops_lab.errors.OnnxExportWarning`) with the reason when the
    export is unavailable, fails or does not match.
    """
    data, record = _convert(model, schema, example)
    if data is None:
        warnings.warn(
            f"no model.onnx in the bundle: ONNX export {record['status']}: {record['reason']} "
            "(the bundle serves with scikit-learn)",
            OnnxExportWarning,
            stacklevel=3,
        )
    return data, record


def _convert(
    model: Any, schema: InputSchema, example: pd.DataFrame
) -> tuple[bytes | None, dict[str, Any]]:
    try:
        import onnxruntime as ort
        from skl2onnx import to_onnx
    except ImportError as exc:
        return None, {
            "status": "unavailable",
            "reason": f"{exc.name or 'skl2onnx'} is not installed: pip install 'mlops-lab[onnx]'",
        }
    import numpy as np

    try:
        onx = to_onnx(model, initial_types=input_types(schema), options=converter_options(model))
        data = onx.SerializeToString()
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:
        return None, {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:500]}
    try:
        outputs = session.run(None, feeds(schema, _arrays(schema, example)))
    except Exception as exc:
        return None, {
            "status": "failed",
            "reason": f"onnxruntime: {type(exc).__name__}: {exc}"[:500],
        }
    names = [o.name for o in session.get_outputs()]
    record: dict[str, Any] = {"outputs": names, "rows_compared": len(example)}
    expected = model.predict(example)
    got = np.asarray(outputs[0]).reshape(len(example), -1)
    if hasattr(model, "predict_proba") and len(outputs) > 1:
        if not np.array_equal(got.ravel(), np.asarray(expected).ravel()):
            n_diff = int((got.ravel() != np.asarray(expected).ravel()).sum())
            return None, record | {
                "status": "mismatch",
                "reason": f"{n_diff} of {len(example)} labels differ from scikit-learn's",
            }
        proba = model.predict_proba(example)
        diff = float(np.max(np.abs(np.asarray(outputs[1]) - proba)))
        ok = np.allclose(outputs[1], proba, rtol=RTOL, atol=ATOL)
    else:
        ref = np.asarray(expected, dtype=np.float64).reshape(len(example), -1)
        diff = float(np.max(np.abs(got - ref)))
        ok = np.allclose(got, ref, rtol=RTOL, atol=ATOL)
    record["max_abs_diff"] = diff
    if not ok:
        return None, record | {
            "status": "mismatch",
            "reason": f"outputs differ from scikit-learn's by up to {diff:.3g} "
            f"(tolerance rtol={RTOL}, atol={ATOL})",
        }
    return data, record | {"status": "verified", "reason": None}
