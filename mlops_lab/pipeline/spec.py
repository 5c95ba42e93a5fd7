"""The pipeline spec (``pipeline.json``) and its typed parameters.

A promoted pipeline is a folder: ``train.ipynb``, ``pipeline.json``, the
data schema and a README. The spec is JSON written with sorted, indented
keys, so a re-promotion shows up as a small, readable diff. Each parameter
declares a type and a default; values given on the command line (always
text) or from Python are converted to the declared type, and unknown names
or values that do not convert are refused before any kernel starts.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PipelineError, PipelineNotFoundError, PipelineParamError

SPEC_FILE = "pipeline.json"
SPEC_FORMAT = 1
PARAM_TYPES = ("int", "float", "bool", "str", "path", "list", "dict", "any")
_TRUE = frozenset({"true", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "off"})


def param_type(value: Any) -> str:
    """The declared type of a parameter whose value in the promoted run was ``value``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "any"


def _bad(pipeline: str, name: str, kind: str, value: Any, hint: str = "") -> PipelineParamError:
    shown = repr(value) if not isinstance(value, str) else f"{value!r}"
    return PipelineParamError(
        f"pipeline {pipeline!r}: parameter {name!r} expects {kind}, got {shown}"
        + (f" ({hint})" if hint else ""),
        pipeline=pipeline,
        param=name,
    )


def convert(pipeline: str, name: str, kind: str, value: Any) -> Any:
    """``value`` as the declared ``kind``; text (from a command line) is parsed."""
    text = value.strip() if isinstance(value, str) else None
    if kind in ("str", "path"):
        if isinstance(value, str | os.PathLike):
            return os.fspath(value)
        raise _bad(pipeline, name, "a string", value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise _bad(pipeline, name, "a bool", value, "true or false")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if text is not None:
            try:
                return int(text)
            except ValueError:
                pass
        raise _bad(pipeline, name, "an int", value)
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if text is not None:
            try:
                return float(text)
            except ValueError:
                pass
        raise _bad(pipeline, name, "a float", value)
    if kind in ("list", "dict"):
        want = list if kind == "list" else dict
        if text is not None:
            try:
                value = json.loads(text)
            except ValueError:
                raise _bad(pipeline, name, f"a JSON {kind}", value) from None
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, want):
            raise _bad(pipeline, name, f"a {kind}", value)
        return value
    if text is not None:  # "any": a Python literal, else the text itself
        import ast

        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return value
    return value


@dataclass
class Param:
    """One declared parameter: its type, default, and the dataset it names (if a path)."""

    type: str
    default: Any
    dataset: str | None = None
    help: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "default": self.default}
        if self.dataset:
            out["dataset"] = self.dataset
        if self.help:
            out["help"] = self.help
        return out


@dataclass
class PipelineSpec:
    """A promoted pipeline, as read from (and written to) ``pipeline.json``.

    Examples
    --------
    >>> spec = PipelineSpec.load("pipelines/iris")          # doctest: +SKIP
    >>> spec.resolve_params({"C": "0.5"})                  # doctest: +SKIP
    {'C': 0.5, 'train_path': 'data/train.csv'}
    """

    name: str
    folder: Path
    params: dict[str, Param]
    steps: list[dict[str, Any]]
    notebook: str = "train.ipynb"
    model: str = "model"
    experiment: str = "default"
    workdir: str = "."
    kernel: str = "python3"
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def gate(self) -> dict[str, Any]:
        return self.step("gate") or {}

    def step(self, kind: str) -> dict[str, Any] | None:
        return next((s for s in self.steps if s.get("kind") == kind), None)

    @property
    def notebook_path(self) -> Path:
        return self.folder / self.notebook

    @property
    def workdir_path(self) -> Path:
        return (self.folder / self.workdir).resolve()

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SPEC_FORMAT,
            "name": self.name,
            "experiment": self.experiment,
            "kernel": self.kernel,
            "model": self.model,
            "notebook": self.notebook,
            "workdir": self.workdir,
            "params": {k: p.to_dict() for k, p in self.params.items()},
            "steps": self.steps,
            "source": self.source,
        }

    def save(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / SPEC_FILE
        text = json.dumps(self.to_dict(), indent=2, default=_json_default, allow_nan=False)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> PipelineSpec:
        folder = Path(folder)
        path = folder / SPEC_FILE
        if not path.is_file():
            raise PipelineNotFoundError(
                f"no pipeline at {str(folder)!r} (no {SPEC_FILE}); "
                "promote a run first: %mlops promote RUN --name NAME",
                pipeline=folder.name,
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            params = {
                k: Param(v["type"], v.get("default"), v.get("dataset"), v.get("help", ""))
                for k, v in data.get("params", {}).items()
            }
            for key, p in params.items():
                if p.type not in PARAM_TYPES:
                    raise ValueError(f"parameter {key!r} has unknown type {p.type!r}")
            return cls(
                name=data["name"],
                folder=folder.resolve(),
                params=params,
                steps=list(data["steps"]),
                notebook=data.get("notebook", "train.ipynb"),
                model=data.get("model", "model"),
                experiment=data.get("experiment", "default"),
                workdir=data.get("workdir", "."),
                kernel=data.get("kernel", "python3"),
                source=data.get("source", {}),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise PipelineError(f"{path} is not a valid pipeline spec: {exc}") from exc

    def resolve_params(self, given: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``given``, each converted to its declared type.

        Raises
        ------
        PipelineParamError
            A name the pipeline does not declare, or a value of the wrong type.
        """
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            declared = ", ".join(f"{k} ({p.type})" for k, p in self.params.items()) or "none"
            raise PipelineParamError(
                f"pipeline {self.name!r} has no parameter {unknown[0]!r}; "
                f"its parameters are: {declared}",
                pipeline=self.name,
                param=unknown[0],
            )
        out = {}
        for key, decl in self.params.items():
            value = given.get(key, decl.default)
            out[key] = convert(self.name, key, decl.type, value)
        return out


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} to {SPEC_FILE}")


def find(name: str | os.PathLike[str], pipelines_dir: str | os.PathLike[str] = "pipelines") -> Path:
    """The folder of pipeline ``name``: ``pipelines_dir/name``, or ``name`` if it is a folder."""
    candidate = Path(pipelines_dir) / name
    if (candidate / SPEC_FILE).is_file():
        return candidate
    direct = Path(name)
    if (direct / SPEC_FILE).is_file():
        return direct
    known = list_pipelines(pipelines_dir)
    raise PipelineNotFoundError(
        f"no pipeline {str(name)!r} in {str(Path(pipelines_dir).resolve())!r}"
        + (f" (pipelines: {', '.join(known)})" if known else " (none promoted yet)"),
        pipeline=str(name),
    )


def list_pipelines(pipelines_dir: str | os.PathLike[str] = "pipelines") -> list[str]:
    root = Path(pipelines_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / SPEC_FILE).is_file())


def finite(value: float) -> bool:
    return isinstance(value, int | float) and not math.isnan(value)
