"""Frames the data tests make (imported by conftest and by subprocesses)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50_000, 10_000, n),
            "score": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "plan": pd.Categorical(rng.choice(["free", "pro"], n)),
            "active": rng.random(n) < 0.5,
            "joined": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            "email": [f"user{i}@example.com" for i in range(n)],
        }
    )
