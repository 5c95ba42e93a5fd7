"""The experiments of the project store, as a table (``mlops-lab experiments``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .session import session

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ("experiment_id", "name", "created", "n_runs")


def experiments() -> pd.DataFrame:
    """The experiments by name, with their number of runs.

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment_id, name, created, n_runs``.
    """
    import pandas as pd

    sess = session()
    store = sess.store()
    sess.flush()
    return pd.DataFrame(store.experiments(), columns=list(COLUMNS))
