"""Reading a model bundle back: digests first, then the model, never arbitrary code.

:func:`load_bundle` reads ``metadata.json`` and checks it (its own digest and
every field, see :mod:`.manifest`), checks the sha256 digest of every file it
lists (a missing or changed file raises
:class:`~mlops_lab.errors.BundleIntegrityError` naming the file), then loads
``model.skops`` through :mod:`mlops_lab.tracking.trust`: exact trusted class
names only, plus the ones the caller names. A pickle, or a skops file that
would build any other type or call any function, is refused before anything
is constructed. An archive is unpacked by :mod:`.archive` (capped, plain
files only) into a temporary folder that goes away with the bundle.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BundleError, BundleIntegrityError
from . import manifest
from .archive import MAX_BYTES, MAX_MEMBERS, extract
from .manifest import FORMAT_VERSION, METADATA
from .schema import InputSchema

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMAT_VERSION", "METADATA", "Bundle", "file_digest", "load_bundle"]


def file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def load_model_bytes(data: bytes, *, trusted: list[str] | None = None, source: str) -> Any:
    """Load skops bytes, building only trusted types (see :mod:`mlops_lab.tracking.trust`)."""
    from ..tracking.trust import loads

    return loads(data, trusted=trusted, source=source)


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
    _cleanup: Any = field(repr=False, default=None, compare=False)

    def read_verified(self, name: str) -> bytes:
        """The bytes of bundle file ``name``, checked against its recorded digest again."""
        expected = self.files.get(name)
        if expected is None:
            raise BundleError(f"bundle {self.name} lists no {name!r}", path=str(self.path))
        try:
            data = (self.path / name).read_bytes()
        except OSError as exc:
            raise BundleIntegrityError(
                f"bundle file {name!r} cannot be read from {self.path}: {exc}",
                path=str(self.path),
                file=name,
            ) from exc
        if hashlib.sha256(data).hexdigest() != expected:
            raise BundleIntegrityError(
                f"bundle file {name!r} changed after the bundle was opened; refusing it",
                path=str(self.path),
                file=name,
            )
        return data

    @property
    def model(self) -> Any:
        """The scikit-learn model, loaded (safely) on first use."""
        if self._model is None:
            self._model = load_model_bytes(
                self.read_verified("model.skops"),
                trusted=self.trusted,
                source=f"model.skops of bundle {self.path}",
            )
        return self._model

    def close(self) -> None:
        """Remove the folder an archive was unpacked into (also done when the bundle is freed)."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

        try:
            data = json.loads(self.read_verified("input_example.json"))
            return pd.DataFrame(data["data"], columns=data["columns"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BundleError(
                f"input_example.json of bundle {self.name} is malformed: {exc}",
                path=str(self.path),
            ) from exc

    def predictor(self, runtime: str = "auto") -> Any:
        """A predictor: ONNX Runtime when the ONNX model is verified and installed, else sklearn."""
        from .predictors import OnnxPredictor, SklearnPredictor

        use_onnx = runtime == "onnx" or (
            runtime == "auto" and self.onnx.get("status") == "verified"
        )
        if use_onnx and "model.onnx" in self.files:
            try:
                return OnnxPredictor(
                    self.read_verified("model.onnx"),
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
    root = path.resolve()
    for name, expected in sorted(files.items()):
        target = (path / name).resolve()
        if root not in target.parents:
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


def _read_metadata(folder: Path, source: Path) -> dict[str, Any]:
    meta_path = folder / METADATA
    if not meta_path.is_file():
        raise BundleError(f"{source} is not a model bundle (no {METADATA})", path=str(source))
    if meta_path.stat().st_size > manifest.MAX_METADATA_BYTES:
        raise BundleError(f"{meta_path} is larger than a bundle's metadata can be")
    try:
        parsed = json.loads(meta_path.read_bytes())
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{meta_path} is not valid JSON: {exc}", path=str(source)) from exc
    return manifest.check(parsed, source=str(meta_path))


def _read_schema(folder: Path) -> InputSchema:
    try:
        return InputSchema.from_dict(json.loads((folder / "schema.json").read_bytes()))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise BundleError(
            f"{folder / 'schema.json'} is not a valid input schema: {type(exc).__name__}: {exc}",
            path=str(folder),
        ) from exc


def _open(
    folder: Path, source: Path, *, trusted: list[str] | None, lazy: bool, archive: Path | None
) -> Bundle:
    metadata = _read_metadata(folder, source)
    verify(folder, metadata)
    bundle = Bundle(folder, metadata, _read_schema(folder), archive=archive, trusted=trusted)
    if not lazy:
        bundle.model  # noqa: B018  (loads and checks the model file now)
    return bundle


def _bundle_root(unpacked: Path) -> Path:
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and not (unpacked / METADATA).exists():
        return entries[0]
    return unpacked


def load_bundle(
    path: str | Path,
    *,
    trusted: list[str] | None = None,
    lazy: bool = False,
    max_bytes: int = MAX_BYTES,
    max_members: int = MAX_MEMBERS,
) -> Bundle:
    """Open a bundle folder (or ``.tar.gz``), verify its digests and load the model safely.

    Parameters
    ----------
    path
        The folder :func:`mlops_lab.package` wrote, or its archive.
    trusted
        Further exact, fully qualified type names the model file may construct.
    lazy
        Load ``model.skops`` on first use of :attr:`Bundle.model` rather than now (the
        server does this when it predicts with the verified ONNX model, so it starts
        without importing scikit-learn; digests are verified either way).
    max_bytes, max_members
        Caps on what an archive may unpack to (1 GiB, 1000 members by default).

    Returns
    -------
    Bundle
        For an archive, the bundle lives in a temporary folder removed by
        :meth:`Bundle.close` (or ``with``), when the bundle is freed, or at exit.

    Raises
    ------
    BundleIntegrityError
        ``metadata.json`` or a file it lists is missing or differs from its digest.
    BundleError
        Not a bundle, a malformed ``metadata.json`` (the message names the field), or an
        archive member that is refused (a link, an escaping name, past the caps).
    ModelLoadError
        The model file is not a skops file or needs untrusted types.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        return _open(source, source, trusted=trusted, lazy=lazy, archive=None)
    unpacked = Path(tempfile.mkdtemp(prefix="mlops-bundle-"))
    try:
        extract(source, unpacked, max_bytes=max_bytes, max_members=max_members)
        bundle = _open(_bundle_root(unpacked), source, trusted=trusted, lazy=lazy, archive=source)
    except BaseException:
        shutil.rmtree(unpacked, ignore_errors=True)
        raise
    bundle._cleanup = weakref.finalize(bundle, shutil.rmtree, str(unpacked), True)
    return bundle
