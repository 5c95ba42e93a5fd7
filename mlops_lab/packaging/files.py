"""The text files of a bundle: pinned requirements, a Dockerfile and a README.

Requirements list only what serving needs, pinned to the versions the model
was trained with (from the run's recorded environment) and, for the server
stack, to the versions installed here.
"""

from __future__ import annotations

from importlib import metadata as importlib_metadata
from typing import Any

# Distributions a scikit-learn model needs at load and predict time.
MODEL_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "skops", "joblib", "threadpoolctl")
SERVER_PACKAGES = ("fastapi", "uvicorn", "starlette", "pydantic")
ONNX_PACKAGES = ("onnxruntime",)


def _installed(name: str) -> str | None:
    try:
        return importlib_metadata.version(name)
    except importlib_metadata.PackageNotFoundError:
        return None


def _lookup(packages: dict[str, str], name: str) -> str | None:
    wanted = name.lower().replace("_", "-")
    for key, version in packages.items():
        if key.lower().replace("_", "-") == wanted:
            return version
    return None


def extra_distributions(types: list[str]) -> list[str]:
    """Distributions providing the model's types outside scikit-learn/NumPy/SciPy."""
    mapping = importlib_metadata.packages_distributions()
    out: list[str] = []
    for name in types:
        top = name.split(".", 1)[0]
        if top in ("sklearn", "numpy", "scipy", "builtins", "collections"):
            continue
        for dist in mapping.get(top, []):
            if dist not in out:
                out.append(dist)
    return out


def requirements(
    run_packages: dict[str, str], *, model_types: list[str], onnx: bool, mlops_lab_version: str
) -> str:
    """``requirements.txt``: the model's libraries at the run's versions, then the server's."""
    lines = [
        "# Pinned from the training run's environment (model libraries) and from the",
        "# environment that built the bundle (server stack).",
        f"mlops-lab[serve]=={mlops_lab_version}",
    ]
    names = [*MODEL_PACKAGES, *extra_distributions(model_types)]
    if onnx:
        names += list(ONNX_PACKAGES)
    names += list(SERVER_PACKAGES)
    seen = set()
    for name in names:
        key = name.lower()
        if key in seen:
            continue
        seen.add(key)
        version = _lookup(run_packages, name) or _installed(name)
        lines.append(f"{name}=={version}" if version else name)
    return "\n".join(lines) + "\n"


def dockerfile(python: str | None) -> str:
    major_minor = ".".join((python or "3.11").split(".")[:2])
    return f"""\
# Serves this bundle with mlops-lab's model server on port 8080.
#   docker build -t my-model . && docker run -p 8080:8080 my-model
FROM python:{major_minor}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 MLOPS_LAB_HOME=/var/lib/mlops
WORKDIR /bundle
COPY requirements.txt /bundle/requirements.txt
RUN pip install --no-cache-dir -r /bundle/requirements.txt
COPY . /bundle
RUN useradd --create-home --uid 10001 model && mkdir -p /var/lib/mlops \\
    && chown model /var/lib/mlops
USER model
EXPOSE 8080
# Inside the container the server must listen on all interfaces to be reachable.
CMD ["python", "-m", "mlops_lab", "serve", "/bundle", "--host", "0.0.0.0", "--port", "8080"]
"""


def readme(meta: dict[str, Any]) -> str:
    onnx = meta.get("onnx", {})
    metrics = meta.get("metrics") or {}
    metric_lines = "\n".join(f"- {k}: {v:.6g}" for k, v in sorted(metrics.items())) or "- (none)"
    columns = meta.get("schema_columns", [])
    return f"""\
# {meta["name"]} (version {meta["version"]})

A model bundle written by mlops-lab {meta["mlops_lab_version"]} from run `{meta.get("run_id")}`.
It needs nothing from the tracking store.

- `model.skops`: the scikit-learn model ({meta["model"]["class"]}), loadable without pickle
- `model.onnx`: ONNX export, {onnx.get("status")}{": " + onnx["reason"] if onnx.get("reason") else ""}
- `schema.json`, `input_example.json`: the {len(columns)} input columns and an example
- `requirements.txt`, `Dockerfile`: how to serve it
- `metadata.json`: lineage, metrics, the sha256 of every file and of itself (checked on load)

## Serve

    mlops-lab serve .            # http://127.0.0.1:8080/docs
    docker build -t {meta["name"].lower()} . && docker run -p 8080:8080 {meta["name"].lower()}

    curl -s localhost:8080/invocations -H 'Content-Type: application/json' \\
         -d @input_example.json   # wrap as {{"dataframe_split": ...}}

## Metrics of the training run

{metric_lines}
"""
