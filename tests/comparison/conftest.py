"""Runs to compare: two settings of lr, three seeds each, with curves by step."""

from __future__ import annotations

import pytest

import mlops_lab as ml


@pytest.fixture
def run_ids(store_root) -> list[str]:
    ids = []
    for i in range(6):
        lr = [0.1, 0.01][i % 2]
        with ml.start_run(f"run-{i}") as run:
            ml.log_params({"lr": lr, "seed": i // 2, "model": "rf" if i < 4 else "gbm"})
            for step in range(4):
                ml.log_metric("acc", 0.5 + lr * step + i / 100, step=step)
            ml.log_metric("loss", 1.0 - i / 10)
        ids.append(run.run_id)
    return ids
