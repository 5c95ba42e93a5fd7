"""Building a bundle: :func:`package` turns a registered model or a run's model into a folder.

The model is found from a registry reference (``name@alias``, ``name/3``,
``name``, ``runs:/RUN_ID/model``) when the registry is installed, or from a
run (a ``Run``, id, id prefix or name). The folder holds everything serving
needs and nothing from the store: the skops model, a verified ONNX model when
it converts, the schema and an example, pinned requirements, a Dockerfile, a
README and ``metadata.json`` with lineage and the sha256 of every file.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import BundleError, InvalidArgumentError, MlopsLabError
from . import files, manifest
from .bundle import FORMAT_VERSION, METADATA, Bundle, file_digest, load_model_bytes
from .schema import TEXT, InputSchema

if TYPE_CHECKING:
    import pandas as pd

    from ..tracking.run import Run

EXAMPLE_ROWS = 20


@dataclass
class ModelSource:
    """Where a model comes from: its run and artifact, and the name/version it is served as."""

    run: Run
    artifact: str
    name: str
    version: str
    aliases: list[str] = field(default_factory=list)
    digest: str | None = None
    registered: bool = False


def _from_run(run: Run, artifact: str = "model") -> ModelSource:
    # A plain name (see manifest.NAME): it names folders and images, and shows in pages.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", run.name or "").strip("-._")[:128] or "model"
    return ModelSource(run, artifact, name, run.run_id[:8])


def resolve_model(ref: Any) -> ModelSource:
    """A model reference (registry ref, ``runs:/ID/model``, ``Run`` or run id/name) to its source."""
    from ..registry import get_model_version
    from ..tracking.api import get_run

    if hasattr(ref, "run_id") and hasattr(ref, "artifacts"):
        return _from_run(ref)
    text = str(ref).strip()
    if text.startswith("runs:/"):
        run_part, _, artifact = text[len("runs:/") :].partition("/")
        return _from_run(get_run(run_part), artifact or "model")
    try:
        mv = get_model_version(text)
    except MlopsLabError:
        if "@" in text or "/" in text:
            raise
    else:
        return ModelSource(
            get_run(mv.run_id),
            mv.model or "model",
            mv.name,
            str(mv.version),
            list(mv.aliases),
            mv.digest,
            registered=bool(mv.version),
        )
    return _from_run(get_run(text))


def _model_artifact(source: ModelSource) -> dict[str, Any]:
    for art in source.run.artifacts:
        if art["path"] == source.artifact and art["kind"] == "model":
            if source.digest and source.digest != art["digest"]:
                # The registered version keeps the bytes it was registered with.
                return {**art, "digest": source.digest}
            return art
    raise InvalidArgumentError(
        f"run {source.run.run_id[:8]} has no model {source.artifact!r}; log one with ml.log_model"
    )


def _profiles(run: Run) -> list[dict[str, Any]]:
    out = []
    for ds in run.datasets:
        record = run.store.dataset(ds["digest"]) or {}
        profile = record.get("profile") or {}
        if isinstance(profile, dict) and isinstance(profile.get("columns"), dict):
            out.append(profile["columns"])
    return out


def _encoder_categories(model: Any) -> dict[str, list[str]]:
    """Categories learned by one-hot/ordinal encoders inside ColumnTransformers of ``model``."""
    found: dict[str, list[str]] = {}
    stack = [model]
    while stack:
        est = stack.pop()
        if hasattr(est, "steps"):
            stack.extend(step for _, step in est.steps)
        for _, trans, cols in getattr(est, "transformers_", []) or []:
            if isinstance(cols, str):
                cols = [cols]
            cats = getattr(trans, "categories_", None)
            if hasattr(trans, "steps"):
                cats = next(
                    (
                        getattr(s, "categories_", None)
                        for _, s in trans.steps
                        if hasattr(s, "categories_")
                    ),
                    None,
                )
            if (
                cats is not None
                and len(cats) == len(cols)
                and all(isinstance(c, str) for c in cols)
            ):
                for col, values in zip(cols, cats, strict=True):
                    found[col] = [str(v) for v in values if v == v]
    return found


def _enrich(schema: InputSchema, model: Any, run: Run, example: pd.DataFrame | None) -> None:
    """Add categories and nullability: from the training data's profile, the model, the example."""
    profiles = _profiles(run)
    from_model = _encoder_categories(model)
    sources = set()
    for col in schema.columns:
        prof = next((p[col.name] for p in profiles if col.name in p), None)
        if prof is not None:
            col.nullable = bool(prof.get("n_missing", 0))
        if col.kind not in TEXT:
            continue
        if col.name in from_model:
            col.categories, source = from_model[col.name], "model"
        elif prof is not None and prof.get("top") and prof.get("n_unique") == len(prof["top"]):
            col.categories, source = [t["value"] for t in prof["top"]], "profile"
        elif example is not None and col.name in example:
            col.categories = sorted({str(v) for v in example[col.name].dropna()})
            source = "example"
        else:
            continue
        sources.add(source)
        if example is not None and col.name in example and example[col.name].isna().any():
            col.nullable = True
    schema.categories_source = ",".join(sorted(sources)) or None


def _synthetic_example(schema: InputSchema, run: Run, n: int) -> pd.DataFrame:
    """Rows drawn from the training profile (or a unit range) when no example was stored."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    profiles = _profiles(run)
    data: dict[str, Any] = {}
    for col in schema.columns:
        prof: dict[str, Any] = next((p[col.name] for p in profiles if col.name in p), {})
        if col.kind in TEXT:
            cats = col.categories or ["a"]
            data[col.name] = [cats[i % len(cats)] for i in range(n)]
        elif col.kind == "bool":
            data[col.name] = [bool(i % 2) for i in range(n)]
        else:
            lo = prof["min"] if prof.get("min") is not None else 0.0
            hi = prof["max"] if prof.get("max") is not None else 1.0
            values = rng.uniform(lo, hi, n)
            data[col.name] = np.round(values) if col.kind == "integer" else values
    frame = pd.DataFrame(data)
    for col in schema.columns:
        if col.kind in ("float", "integer"):
            frame[col.name] = frame[col.name].astype(col.dtype)
    return frame


def _example(
    schema: InputSchema, meta: dict[str, Any], given: Any, run: Run
) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    if given is not None:
        frame = given if hasattr(given, "columns") else pd.DataFrame(given, columns=schema.names)
        return frame, "given"
    stored = meta.get("input_example")
    if isinstance(stored, dict) and "data" in stored:
        return pd.DataFrame(stored["data"], columns=stored.get("columns") or schema.names), "run"
    return _synthetic_example(schema, run, EXAMPLE_ROWS), "synthetic"


def _jsonable(frame: pd.DataFrame) -> dict[str, Any]:
    return json.loads(frame.to_json(orient="split", index=False))


def package(
    ref: Any,
    out_dir: str | Path,
    *,
    archive: bool = False,
    input_example: Any = None,
    onnx: bool = True,
    overwrite: bool = False,
) -> Bundle:
    """Write a self-contained model bundle to ``out_dir``.

    Parameters
    ----------
    ref
        ``"name@alias"``, ``"name/3"``, ``"name"`` (registry), ``"runs:/RUN_ID/model"``,
        or a ``Run`` / run id / run name whose model was logged with ``ml.log_model``.
    out_dir
        The bundle folder; it must not exist or be empty unless ``overwrite=True``.
    archive
        Also write ``<out_dir>.tar.gz``.
    input_example
        Rows to store as the example and to verify the ONNX export on (default: the
        example recorded with the model, else rows drawn from the training profile).
    onnx
        Try an ONNX export (kept only when its outputs match scikit-learn's).

    Returns
    -------
    Bundle
        The bundle, loaded back from disk (digests verified).
    """
    source = resolve_model(ref)
    out = _empty_folder(Path(out_dir).expanduser(), overwrite=overwrite)
    model = _read_model(source)
    schema, example, example_source = _schema_and_example(model, source.run, input_example)
    onnx_bytes, onnx_record = _onnx_export(model.model, schema, example, onnx=onnx)
    onnx_record["example"] = example_source
    model_types = _write_files(out, source.run, model, onnx_bytes, schema, example)
    metadata = _metadata(source, model, model_types, onnx_record, schema)
    _seal(out, metadata)
    tar_path = _archive(out) if archive else None
    from .bundle import load_bundle

    bundle = load_bundle(out)
    bundle.archive = tar_path
    if source.registered:
        _record_packaged(source, out, onnx_record, tar_path)
    return bundle


@dataclass
class _Model:
    """The model file of a source, its artifact record and the estimator loaded from it."""

    data: bytes
    digest: str
    meta: dict[str, Any]
    model: Any


def _empty_folder(out: Path, *, overwrite: bool) -> Path:
    """``out`` if it is missing or empty; emptied if ``overwrite``; else a ``BundleError``."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise BundleError(f"{out} exists and is not empty; pass overwrite=True", path=str(out))
        shutil.rmtree(out)
    return out


def _read_model(source: ModelSource) -> _Model:
    """The model's bytes from the store, loaded safely (only trusted types)."""
    art = _model_artifact(source)
    run = source.run
    data = run.store.blobs.read_bytes(art["digest"])
    where = f"model {source.artifact!r} of run {run.run_id[:8]}"
    return _Model(data, art["digest"], art["meta"] or {}, load_model_bytes(data, source=where))


def _schema_and_example(
    model: _Model, run: Run, input_example: Any
) -> tuple[InputSchema, pd.DataFrame, str]:
    """The input schema (from the signature, enriched) and the example rows, with their origin."""
    schema = InputSchema.from_signature(model.meta.get("signature"))
    example, example_source = _example(schema, model.meta, input_example, run)
    _enrich(schema, model.model, run, example if example_source != "synthetic" else None)
    if example_source == "synthetic":
        example = _synthetic_example(schema, run, EXAMPLE_ROWS)
    return schema, example, example_source


def _onnx_export(
    model: Any, schema: InputSchema, example: pd.DataFrame, *, onnx: bool
) -> tuple[bytes | None, dict[str, Any]]:
    """The ONNX file (``None`` if skipped or not faithful) and the record of the attempt."""
    if not onnx:
        return None, {"status": "skipped", "reason": "onnx=False"}
    from .onnx import convert

    return convert(model, schema, example)


def _write_files(
    out: Path,
    run: Run,
    model: _Model,
    onnx_bytes: bytes | None,
    schema: InputSchema,
    example: pd.DataFrame,
) -> list[str]:
    """The bundle's files but its README and metadata; returns the model's type names."""
    import skops.io as sio

    env = run.environment
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.skops").write_bytes(model.data)
    if onnx_bytes is not None:
        (out / "model.onnx").write_bytes(onnx_bytes)
    (out / "schema.json").write_text(json.dumps(schema.to_dict(), indent=2) + "\n")
    (out / "input_example.json").write_text(json.dumps(_jsonable(example.head(5))) + "\n")
    model_types = sorted(sio.get_untrusted_types(data=model.data))
    (out / "requirements.txt").write_text(
        files.requirements(
            env.get("packages") or {},
            model_types=model_types,
            onnx=onnx_bytes is not None,
            mlops_lab_version=__version__,
        )
    )
    (out / "Dockerfile").write_text(files.dockerfile(env.get("python")))
    return model_types


def _metadata(
    source: ModelSource,
    model: _Model,
    model_types: list[str],
    onnx_record: dict[str, Any],
    schema: InputSchema,
) -> dict[str, Any]:
    """What ``metadata.json`` says about the model, its run and the bundle."""
    run, meta, estimator = source.run, model.meta, model.model
    return {
        "format_version": FORMAT_VERSION,
        "name": source.name,
        "version": source.version,
        "aliases": source.aliases,
        "run_id": run.run_id,
        "run_name": run.name,
        "experiment": run.experiment,
        "artifact": source.artifact,
        "metrics": run.metrics,
        "params": {
            k: v if isinstance(v, int | float | str | bool) else str(v)
            for k, v in run.params.items()
        },
        "datasets": [
            {"digest": d["digest"], "name": d["name"], "role": d["role"]} for d in run.datasets
        ],
        "created": time.time(),
        "mlops_lab_version": __version__,
        "python": run.environment.get("python"),
        "model": {
            "class": meta.get("class"),
            "flavor": meta.get("flavor", "sklearn"),
            "sklearn_version": meta.get("sklearn_version"),
            "digest": model.digest,
            "types": model_types,
            "classes": [c.item() if hasattr(c, "item") else c for c in estimator.classes_]
            if hasattr(estimator, "classes_")
            else None,
        },
        "onnx": onnx_record,
        "schema_columns": schema.names,
    }


def _seal(out: Path, metadata: dict[str, Any]) -> None:
    """Write the README, then the metadata with every file's digest, sealed."""
    (out / "README.md").write_text(files.readme(metadata))
    metadata["files"] = {
        p.name: file_digest(p) for p in sorted(out.iterdir()) if p.is_file() and p.name != METADATA
    }
    (out / METADATA).write_text(json.dumps(manifest.seal(metadata), indent=2) + "\n")


def _archive(out: Path) -> Path:
    """``<out>.tar.gz`` beside the bundle folder."""
    tar_path = out.with_name(out.name + ".tar.gz")
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(out, arcname=out.name)
    return tar_path


def _record_packaged(
    source: ModelSource, out: Path, onnx_record: dict[str, Any], tar_path: Path | None
) -> None:
    """A ``packaged`` event in the registered version's history."""
    from ..registry import record_event

    record_event(
        f"{source.name}/{source.version}",
        "packaged",
        target=str(out.resolve()),
        meta={
            "onnx": onnx_record.get("status"),
            "archive": str(tar_path) if tar_path else None,
        },
        store=source.run.store,
    )
