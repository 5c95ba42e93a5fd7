"""Virtual environments of their own for the serving engines and SDKs the integrations target.

MLServer pins an older FastAPI and KServe's SDK pins pandas<3, so neither can live in the
project's environment. Each gets a virtual environment under ``~/.cache/mlops-lab-tests/``
(or ``$MLOPS_LAB_TEST_CACHE``), keyed by the pinned versions, created with ``python -m venv``
and pip from the package registry on first use (CI starts from nothing) and reused after.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

MLSERVER = "1.7.1"
KSERVE = "0.21.0"


def cached_venv(name: str, requirements: list[str], probe: str) -> Path:
    """The Python of the cached virtual environment ``name``, built with ``requirements``.

    ``probe`` is Python code run in the environment: a failure (a half-built or stale
    environment) rebuilds it. A lock file keeps concurrent test sessions from building the
    same environment at once.
    """
    cache = Path(os.environ.get("MLOPS_LAB_TEST_CACHE", Path.home() / ".cache" / "mlops-lab-tests"))
    cache.mkdir(parents=True, exist_ok=True)
    venv = cache / name
    exe = venv / "bin" / "python"
    with open(cache / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if exe.exists() and subprocess.run([str(exe), "-c", probe]).returncode == 0:
            return exe
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", *requirements], check=True, timeout=1200
        )
        subprocess.run([str(exe), "-c", probe], check=True)
    return exe


@pytest.fixture(scope="session")
def mlserver_python() -> Path:
    """The Python of an environment with MLServer and its scikit-learn runtime."""
    pins = [f"{d}=={metadata.version(d)}" for d in ("scikit-learn", "pandas", "numpy", "scipy")]
    key = "-".join(p.replace("==", "") for p in pins)
    return cached_venv(
        f"mlserver-{MLSERVER}-{key}",
        [
            f"mlserver=={MLSERVER}",
            f"mlserver-sklearn=={MLSERVER}",
            "uvloop<0.22",  # MLServer 1.7's workers call get_event_loop(), which 0.22 removed
            *pins,
        ],
        "import mlserver_sklearn, uvloop; assert uvloop.__version__ < '0.22'",
    )


@pytest.fixture(scope="session")
def kserve_python() -> Path:
    """The Python of an environment with the KServe Python SDK (its models of the CRDs)."""
    return cached_venv(
        f"kserve-{KSERVE}",
        [f"kserve=={KSERVE}"],
        f"from importlib.metadata import version; assert version('kserve') == {KSERVE!r}; "
        "import kserve, kubernetes; kserve.V1beta1InferenceService",
    )
