"""Fixtures for the server extension: an in-process Jupyter server (pytest-jupyter).

pytest-jupyter's fixtures are imported here rather than enabled as a plugin, so
its autouse event-loop fixtures apply to these tests only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403

import mlops_lab as ml


@pytest.fixture
def jp_server_config() -> dict:
    return {"ServerApp": {"jpserver_extensions": {"mlops_lab.jupyter": True}}}


@pytest.fixture
def tracked_runs(store_root: Path) -> dict[str, str]:
    """Five runs in two experiments: name -> run id."""
    ids = {}
    for i, (model, acc) in enumerate([("rf", 0.91), ("rf", 0.87), ("gbm", 0.95), ("svm", 0.7)]):
        with ml.start_run(f"{model}-{i}", experiment="iris", tags={"team": "vision"}) as run:
            ml.log_params({"model": model, "C": 0.1 * (i + 1), "layers": [i, i]})
            for step, value in enumerate([acc - 0.1, acc]):
                ml.log_metric("acc", value, step=step)
            ml.log_metric("loss", float("nan") if model == "svm" else 1 - acc)
        ids[run.name] = run.run_id
    with ml.start_run("baseline", experiment="wine") as run:
        ml.log_metric("acc", float("inf"))
    ids["baseline"] = run.run_id
    ml.flush()
    return ids
