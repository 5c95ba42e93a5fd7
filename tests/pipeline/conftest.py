"""Fixtures of the pipeline tests: training data on disk, and a python3 kernel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def write_data(path: Path, *, n: int = 200, seed: int = 0) -> Path:
    """Two features; the label is rare enough that a heavily regularised model does worse."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "y": (x1 + 0.5 * x2 > 0.6).astype(int)})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def train_csv(tmp_path: Path) -> Path:
    return write_data(tmp_path / "data" / "train.csv")


@pytest.fixture(scope="session")
def python3_kernel() -> str:
    """The ``python3`` kernel, installed into this environment if Jupyter lacks it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)
    return "python3"


@pytest.fixture
def make_csv():
    """``make_csv(path, seed=...)`` writes another dataset of the same shape."""
    return write_data
