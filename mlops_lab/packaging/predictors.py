"""The two ways a bundle predicts: scikit-learn, or ONNX Runtime when the ONNX model is verified.

A predictor takes checked columns (``{name: ndarray}`` from
:meth:`InputSchema.check_columns`) and returns ``{output name: ndarray}``:
``predict`` always, ``predict_proba`` when asked for and the model has it.
Both give the same outputs (the ONNX model was compared with scikit-learn
when the bundle was built), so the server does not care which one it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InputValidationError

if TYPE_CHECKING:
    import numpy as np

    from .schema import InputSchema

OUTPUTS = ("predict", "predict_proba")


class SklearnPredictor:
    """Predicts with the scikit-learn model loaded from ``model.skops``."""

    runtime = "sklearn"

    def __init__(self, model: Any, schema: InputSchema) -> None:
        self.model = model
        self.schema = schema
        self.has_proba = hasattr(model, "predict_proba")
        self.classes = [_plain(c) for c in getattr(model, "classes_", [])] or None

    def _input(self, arrays: dict[str, np.ndarray] | np.ndarray) -> Any:
        import numpy as np

        if isinstance(arrays, np.ndarray):
            if self.schema.type == "array":
                return arrays
            import pandas as pd

            return pd.DataFrame(arrays, columns=self.schema.names, copy=False)
        if self.schema.type == "array":
            return self.schema.to_matrix(arrays, np.float64)
        return self.schema.to_frame(arrays)

    def predict(
        self, arrays: dict[str, np.ndarray], outputs: tuple[str, ...] = ("predict",)
    ) -> dict[str, np.ndarray]:
        X = self._input(arrays)
        out = {}
        try:
            if "predict" in outputs:
                out["predict"] = self.model.predict(X)
            if "predict_proba" in outputs:
                out["predict_proba"] = self.model.predict_proba(X)
        except (ValueError, TypeError) as exc:
            raise InputValidationError(f"the model could not use these inputs: {exc}") from exc
        return out


class OnnxPredictor:
    """Predicts with ONNX Runtime from a verified ``model.onnx``."""

    runtime = "onnx"

    def __init__(self, data: bytes, schema: InputSchema, *, classes: list[Any] | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        self.schema = schema
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.has_proba = len(self.output_names) > 1
        self.classes = classes

    def predict(
        self, arrays: dict[str, np.ndarray], outputs: tuple[str, ...] = ("predict",)
    ) -> dict[str, np.ndarray]:
        from .onnx import feeds

        try:
            result = self.session.run(None, feeds(self.schema, arrays))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise InputValidationError(f"the model could not use these inputs: {exc}") from exc
        out = {}
        if "predict" in outputs:
            label = result[0]
            out["predict"] = label.ravel() if label.ndim > 1 and label.shape[1] == 1 else label
        if "predict_proba" in outputs and self.has_proba:
            out["predict_proba"] = result[1]
        return out


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
