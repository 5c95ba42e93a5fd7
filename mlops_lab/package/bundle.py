"""Reading a model bundle back: digests first, then the model, never arbitrary code.

:func:`load_bundle` reads ``metadata.json``, checks the sha256 digest of every
file it lists (a missing or changed file raises
:class:`~mlops_lab.errors.BundleIntegrityError` naming the file), then loads
``model.skops`` with an explicit list of trusted types: those of
scikit-learn, NumPy and SciPy, the builtin *types* (never builtin functions
such as ``eval``) and the ones the caller names. A pickle, or a skops file
that would build any other type, is refused before anything is constructed.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BundleError, BundleIntegrityError, ModelLoadError
from .schema import InputSchema

if TYPE_CHECKING:
    import pandas as pd

METADATA = "metadata.json"
FORMAT_VERSION = 1
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "collections.")


def file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def _trusted_builtin(name: str) -> bool:
    """``builtins.X`` is trusted only when X is a type (int, dict...), not a function."""
    obj = getattr(builtins, name.removeprefix("builtins."), None)
    return isinstance(obj, type) and not issubclass(obj, BaseException)


def load_model_bytes(data: bytes, *, trusted: list[str] | None = None, source: str) -> Any:
    """Load skops bytes with an explicit list of the types it may construct."""
    try:
        import skops.io as sio
    except ImportError as exc:
        from ..errors import MissingDependencyError

        raise MissingDependencyError("skops", "serve", "loading a bundle") from exc
    extra = set(trusted or ())
    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as exc:
        raise ModelLoadError(
            f"{source} is not a skops file ({type(exc).__name__}: {exc}); "
            "bundles never load pickles"
        ) from exc
    refused = [
        t
        for t in needed
        if t not in extra
        and not t.startswith(TRUSTED_PREFIXES)
        and not (t.startswith("builtins.") and _trusted_builtin(t))
    ]
    if refused:
        raise ModelLoadError(
            f"{source} would construct untrusted types: {', '.join(refused)}; "
            "if you trust them, pass trusted=[...] naming them"
        )
    try:
        return sio.loads(data, trusted=list(needed))
    except Exception as exc:
        raise ModelLoadError(f"{source} could not be loaded: {exc}") from exc


@dataclass
class Bundle:
    """A model bundle on disk: a verified model, its schema, metadata and serving files.

    Examples
    --------
    >>> bundle = ml.package("churn@champion", "bundles/churn")    # doctest: +SKIP
    >>> bundle = ml.load_bundle("bundles/churn")                  # doctest: +SKIP
    >>> bundle.predict(X.head())                                  # doctest: +SKIP
    """

    path: Path
    metadata: dict[str, Any]
    schema: InputSchema
    _model: Any = field(repr=False, default=None)
    archive: Path | None = None
    trusted: list[str] | None = None

    @property
    def model(self) -> Any:
        """The scikit-learn model, loaded (safely) on first use."""
        if self._model is None:
            self._model = load_model_bytes(
                (self.path / "model.skops").read_bytes(),
                trusted=self.trusted,
                source=f"model.skops of bundle {self.path}",
            )
        return self._model

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def run_id(self) -> str | None:
        return self.metadata.get("run_id")

    @property
    def onnx(self) -> dict[str, Any]:
        """The ONNX record: ``status`` (verified, mismatch, failed, unavailable) and ``reason``."""
        return self.metadata.get("onnx", {})

    @property
    def files(self) -> dict[str, str]:
        return dict(self.metadata.get("files", {}))

    @property
    def input_example(self) -> pd.DataFrame:
        import pandas as pd

        data = json.loads((self.path / "input_example.json").read_text())
        return pd.DataFrame(data["data"], columns=data["columns"])

    def predictor(self, runtime: str = "auto") -> Any:
        """A predictor: ONNX Runtime when the ONNX model is verified and installed, else sklearn."""
        from .predictors import OnnxPredictor, SklearnPredictor

        use_onnx = runtime == "onnx" or (
            runtime == "auto" and self.onnx.get("status") == "verified"
        )
        if use_onnx and "model.onnx" in self.files:
            try:
                return OnnxPredictor(
                    (self.path / "model.onnx").read_bytes(),
                    self.schema,
                    classes=self.metadata["model"].get("classes"),
                )
            except ImportError:
                if runtime == "onnx":
                    from ..errors import MissingDependencyError

                    raise MissingDependencyError(
                        "onnxruntime", "onnx", "serving the ONNX model"
                    ) from None
        elif runtime == "onnx":
            raise BundleError(
                f"bundle {self.name} has no verified ONNX model: {self.onnx.get('reason')}"
            )
        return SklearnPredictor(self.model, self.schema)

    def predict(self, X: Any, *, runtime: str = "sklearn") -> Any:
        """Check ``X`` (a DataFrame) against the schema and predict."""
        columns = (
            {str(c): X[c].tolist() for c in X.columns}
            if hasattr(X, "columns")
            else self.schema.columns_from_rows([list(r) for r in X])
        )
        arrays, _ = self.schema.check_columns(columns)
        return self.predictor(runtime).predict(arrays)["predict"]

    def __repr__(self) -> str:
        return (
            f"<Bundle {self.name} v{self.version} at {self.path} "
            f"(onnx: {self.onnx.get('status', 'n/a')})>"
        )


def verify(path: Path, metadata: dict[str, Any]) -> None:
    """Check every listed file's sha256; raise naming the first missing or changed file."""
    files = metadata.get("files")
    if not isinstance(files, dict) or "model.skops" not in files:
        raise BundleIntegrityError(
            f"{path / METADATA} lists no file digests; the bundle cannot be verified",
            path=str(path),
            file=METADATA,
        )
    for name, expected in sorted(files.items()):
        target = (path / name).resolve()
        if path.resolve() not in target.parents:
            raise BundleIntegrityError(
                f"bundle file {name!r} points outside the bundle", path=str(path), file=name
            )
        if not target.is_file():
            raise BundleIntegrityError(
                f"bundle file {name!r} is missing from {path}", path=str(path), file=name
            )
        actual = file_digest(target)
        if actual != expected:
            raise BundleIntegrityError(
                f"bundle file {name!r} was modified: its sha256 is {actual[:16]}..., "
                f"the bundle recorded {expected[:16]}...; refusing to load it",
                path=str(path),
                file=name,
            )


def _extract(archive: Path) -> Path:
    target = Path(tempfile.mkdtemp(prefix="mlops-bundle-"))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{archive} is not a readable bundle archive: {exc}") from exc
    entries = [p for p in target.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not (target / METADATA).exists():
        return entries[0]
    return target


def load_bundle(
    path: str | Path, *, trusted: list[str] | None = None, lazy: bool = False
) -> Bundle:
    """Open a bundle folder (or ``.tar.gz``), verify its digests and load the model safely.

    Parameters
    ----------
    path
        The folder :func:`mlops_lab.package` wrote, or its archive.
    trusted
        Extra fully qualified type names the model file may construct.
    lazy
        Load ``model.skops`` on first use of :attr:`Bundle.model` rather than now (the
        server does this when it predicts with the verified ONNX model, so it starts
        without importing scikit-learn; digests are verified either way).

    Raises
    ------
    BundleIntegrityError
        A file is missing or differs from the digest recorded in ``metadata.json``.
    ModelLoadError
        The model file is not a skops file or needs untrusted types.
    """
    source = Path(path).expanduser()
    folder = _extract(source) if source.is_file() else source
    meta_path = folder / METADATA
    if not meta_path.is_file():
        raise BundleError(f"{source} is not a model bundle (no {METADATA})", path=str(source))
    try:
        metadata = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise BundleError(f"{meta_path} is not valid JSON: {exc}", path=str(source)) from exc
    verify(folder, metadata)
    schema = InputSchema.from_dict(json.loads((folder / "schema.json").read_text()))
    bundle = Bundle(
        folder, metadata, schema, archive=source if source.is_file() else None, trusted=trusted
    )
    if not lazy:
        bundle.model  # noqa: B018  (loads and checks the model file now)
    return bundle
