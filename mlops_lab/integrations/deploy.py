"""``mlops-lab deploy``: write what an existing serving engine needs to serve a bundle.

Targets (a small registry, :func:`register_target` / :func:`targets`):

- ``mlserver``: a model folder for MLServer's scikit-learn runtime
  (``model-settings.json`` with ``implementation: mlserver_sklearn.SKLearnModel``
  and the model as ``model.joblib``, the format that runtime loads) plus a
  ``settings.json``; ``mlserver start OUT`` serves it with the same Open
  Inference Protocol (v2) as ``mlops-lab serve``. The joblib file is a pickle:
  it is written from the bundle's verified skops model, and is for the engine
  you deploy to, not for loading back into mlops-lab.
- ``kserve``: an ``inferenceservice.yaml`` (``serving.kserve.io/v1beta1``
  ``InferenceService``, ``modelFormat: sklearn``, ``protocolVersion: v2``, runtime
  ``kserve-mlserver``) whose ``storageUri`` points at where you upload ``model/``: the
  MLServer model folder, its ``model-settings.json`` at the top (KServe mounts it as
  ``/mnt/models``) naming the model as the InferenceService, and no ``settings.json``
  (the runtime sets MLServer's host and ports).
- ``docker``: the bundle itself (it carries its Dockerfile, serving with
  mlops-lab on port 8080), copied and verified, ready for ``docker build``.

The bundle is loaded and verified (digests, trusted types) before anything is
written; the output folder must be new or empty unless ``overwrite=True``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError
from ..project import process_resource

Writer = Callable[[Any, Path, dict[str, Any]], list[str]]


@dataclass
class Deployment:
    """What :func:`deploy` wrote: the target, the folder and its files, and how to start it."""

    target: str
    path: Path
    files: list[str]
    next_steps: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"wrote a {self.target} deployment of {len(self.files)} files to {self.path}"]
        lines += [f"  {f}" for f in self.files]
        if self.next_steps:
            lines += ["next:", *(f"  {s}" for s in self.next_steps)]
        return "\n".join(lines)


def register_target(name: str, writer: Writer) -> None:
    """Add a deployment target: ``writer(bundle, out_dir, options) -> files written``."""
    targets()[name] = writer


def targets() -> dict[str, Writer]:
    """The process's deployment targets (made on first use, with the built-in ones)."""
    return process_resource(
        "integrations.deploy_targets",
        lambda: {"mlserver": _write_mlserver, "kserve": _write_kserve, "docker": _write_docker},
    )


def k8s_name(name: str) -> str:
    """A name KServe accepts for an InferenceService, from a model name.

    A DNS-1123 label that starts with a letter (KServe's rule): ``Churn_v2`` -> ``churn-v2``,
    ``2024 sales`` -> ``model-2024-sales``.
    """
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if not label[:1].isalpha():
        label = f"model-{label}"
    return label[:63].strip("-")


def _write_mlserver_model(bundle: Any, out: Path, name: str) -> list[str]:
    """The model folder: ``model-settings.json`` naming the model, ``model.joblib``, an example."""
    import joblib

    joblib.dump(bundle.model, out / "model.joblib")
    settings = {
        "name": name,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": str(bundle.version)},
    }
    (out / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    (out / "input_example.json").write_text(
        bundle.input_example.to_json(orient="split", index=False) + "\n"
    )
    return ["model-settings.json", "model.joblib", "input_example.json"]


def _write_mlserver(bundle: Any, out: Path, options: dict[str, Any]) -> list[str]:
    files = _write_mlserver_model(bundle, out, options.get("name") or bundle.name)
    server = {"http_port": int(options.get("port", 8080)), "host": "127.0.0.1"}
    (out / "settings.json").write_text(json.dumps(server, indent=2) + "\n")
    return [*files, "settings.json"]


def inference_service(name: str, storage_uri: str) -> dict[str, Any]:
    """A KServe ``InferenceService`` serving a scikit-learn model over the v2 protocol."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": k8s_name(name)},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "sklearn"},
                    "protocolVersion": "v2",
                    "runtime": "kserve-mlserver",
                    "storageUri": storage_uri,
                }
            }
        },
    }


def _storage_uri(bundle: Any, options: dict[str, Any]) -> str:
    name = k8s_name(options.get("name") or bundle.name)
    return str(options.get("storage_uri") or f"pvc://models/{name}")


def _write_kserve(bundle: Any, out: Path, options: dict[str, Any]) -> list[str]:
    import yaml

    # KServe's MLServer runtime serves the model under the InferenceService's name and sets
    # the ports through environment variables: the model folder names the model the same
    # way and carries no settings.json, whose host and port would override the runtime's.
    name = k8s_name(options.get("name") or bundle.name)
    model_dir = out / "model"
    model_dir.mkdir()
    files = [f"model/{f}" for f in _write_mlserver_model(bundle, model_dir, name)]
    manifest = inference_service(name, _storage_uri(bundle, options))
    (out / "inferenceservice.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return ["inferenceservice.yaml", *files]


def _write_docker(bundle: Any, out: Path, options: dict[str, Any]) -> list[str]:
    files = []
    for item in sorted(Path(bundle.path).iterdir()):
        if item.is_file():
            shutil.copy2(item, out / item.name)
            files.append(item.name)
    return files


def _next_steps(target: str, out: Path, bundle: Any, options: dict[str, Any]) -> list[str]:
    if target == "mlserver":
        return [f"pip install mlserver mlserver-sklearn 'uvloop<0.22' && mlserver start {out}"]
    if target == "kserve":
        return [
            f"upload the contents of {out / 'model'} to {_storage_uri(bundle, options)}",
            f"kubectl apply -f {out / 'inferenceservice.yaml'}",
        ]
    name = k8s_name(bundle.name)
    return [f"docker build -t {name} {out} && docker run -p 8080:8080 {name}"]


def deploy(
    bundle: Any,
    target: str,
    out_dir: str | Path,
    *,
    storage_uri: str | None = None,
    name: str | None = None,
    overwrite: bool = False,
    trusted: list[str] | None = None,
) -> Deployment:
    """Write what ``target`` (``mlserver``, ``kserve`` or ``docker``) needs to serve ``bundle``.

    Parameters
    ----------
    bundle
        A bundle folder or archive (``ml.package``'s output), or a loaded ``Bundle``.
    target
        The serving engine; see the module docstring.
    out_dir
        The folder to write; new or empty unless ``overwrite=True``.
    storage_uri
        ``kserve``: where the model folder will be uploaded (``s3://...``, ``gs://...``,
        ``pvc://...``); default ``pvc://models/NAME``.
    name
        The model's name in the engine (default: the bundle's name); for ``kserve`` also
        the InferenceService's, made a DNS-1123 label (``Churn_v2`` -> ``churn-v2``).
    """
    from ..packaging.bundle import load_bundle

    writers = targets()
    if target not in writers:
        raise InvalidArgumentError(
            f"target: expected one of {', '.join(sorted(writers))}, got {target!r}"
        )
    loaded = bundle if hasattr(bundle, "metadata") else load_bundle(bundle, trusted=trusted)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InvalidArgumentError(
            f"out_dir: {str(out)!r} is not empty (pass overwrite=True / --overwrite)"
        )
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    options = {"storage_uri": storage_uri, "name": name}
    files = writers[target](loaded, out, options)
    return Deployment(target, out, files, _next_steps(target, out, loaded, options))
