"""Fixtures of the data tests: a clean reference frame with every kind of column."""

from __future__ import annotations

import pandas as pd
import pytest
from data_frames import make_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return make_frame()
