"""binder/ launches the examples on mybinder.org: same dependencies as pyproject.toml."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
EXTRAS = ("lab", "serve", "onnx")


def _requirements() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _normal(spec: str) -> str:
    return spec.replace(" ", "").lower()


def test_binder_installs_the_project_with_the_dependencies_of_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = list(project["dependencies"])
    for extra in EXTRAS:
        expected += project["optional-dependencies"][extra]
    requirements = _requirements()
    assert requirements[0] == f".[{','.join(EXTRAS)}]"
    assert sorted(map(_normal, requirements[1:])) == sorted(set(map(_normal, expected)))


def test_postbuild_is_executable_and_opens_the_notebooks() -> None:
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK)
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "mlops-lab" in text and "/lab/tree/notebooks/" in text
    assert (ROOT / "notebooks" / "01-track-and-compare.ipynb").is_file()
