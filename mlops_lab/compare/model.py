"""The data behind the comparison views, read through the public tracking API.

:class:`RunSet` is the runs being compared: their table (one row per run, as
``ml.runs()`` returns it), the param and metric columns worth plotting, and
metric histories read on demand. It imports pandas but neither plotly nor
ipywidgets, so the widgets, the static page and the tests share one model.
The payloads handed to the views are typed (:class:`CurvePayload`,
:class:`ScatterPayload`, :class:`AxisPayload`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    import pandas as pd

    from ..tracking.run import Run

# Params that only change the random draw: grouping ignores them by default.
SEED_PATTERN = re.compile(r"(^|[._-])(seed|random_state|rng|fold)($|[._-])", re.IGNORECASE)


class AxisPayload(TypedDict):
    """One axis of a parallel-coordinates plot: numbers, with tick labels for categories."""

    label: str
    column: str
    values: list[float]
    ticktext: list[str] | None
    tickvals: list[float] | None


class CurvePayload(TypedDict):
    """One metric curve: a run (or a group's mean) by step."""

    run_id: str
    name: str
    steps: list[int]
    values: list[float]
    std: list[float] | None


class ScatterPayload(TypedDict):
    """Scatter points of one column against another, each naming its run."""

    x_column: str
    y_column: str
    x: list[Any]
    y: list[float]
    run_ids: list[str]
    names: list[str]


def short(column: str) -> str:
    """``params.lr`` -> ``lr`` (column labels in the views)."""
    return (
        column.split(".", 1)[1] if column.startswith(("params.", "metrics.", "tags.")) else column
    )


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class RunSet:
    """The runs being compared, as a table plus lazily read histories.

    Parameters
    ----------
    frame
        Rows of ``ml.runs()`` (one per run), in the order to show them.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True)
        self._histories: dict[tuple[str, str], pd.DataFrame] = {}
        self._runs: dict[str, Run] = {}

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def run_ids(self) -> list[str]:
        return list(self.frame["run_id"])

    @property
    def names(self) -> list[str]:
        return [n or r[:8] for n, r in zip(self.frame["name"], self.frame["run_id"], strict=True)]

    def name_of(self, run_id: str) -> str:
        rows = self.frame.index[self.frame["run_id"] == run_id]
        name = self.frame.at[rows[0], "name"] if len(rows) else None
        return name or run_id[:8]

    @property
    def param_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith("params.")]

    @property
    def metric_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith("metrics.")]

    @property
    def metrics(self) -> list[str]:
        return [short(c) for c in self.metric_columns]

    def check_metric(self, metric: str | None) -> str | None:
        """The metric key to colour by (``None`` when no run has a metric)."""
        if metric is None:
            return self.metrics[0] if self.metrics else None
        key = short(metric)
        if key not in self.metrics:
            have = ", ".join(self.metrics) or "none"
            raise InvalidArgumentError(
                f"metric {key!r} is not logged by the compared runs (they have: {have})"
            )
        return key

    def run(self, run_id: str) -> Run:
        if run_id not in self._runs:
            from ..tracking import api

            self._runs[run_id] = api.get_run(run_id)
        return self._runs[run_id]

    def subset(self, run_ids: Iterable[str]) -> pd.DataFrame:
        wanted = list(run_ids)
        frame = self.frame.set_index("run_id").loc[wanted].reset_index()
        return frame

    # -- payloads --------------------------------------------------------------------

    def axes(self, *, max_params: int = 20) -> list[AxisPayload]:
        """Parallel-coordinates axes: params that vary, then every metric."""
        axes: list[AxisPayload] = []
        params = [c for c in self.param_columns if self.frame[c].nunique(dropna=False) > 1]
        for column in params[:max_params] + self.metric_columns:
            series = self.frame[column]
            numeric = [_number(v) for v in series]
            is_category = column.startswith("params.") and any(
                v is not None and not (isinstance(v, float) and math.isnan(v)) and math.isnan(n)
                for v, n in zip(series, numeric, strict=True)
            )
            if is_category:
                labels = sorted({str(v) for v in series}, key=str)
                codes = {label: float(i) for i, label in enumerate(labels)}
                axes.append(
                    AxisPayload(
                        label=short(column),
                        column=column,
                        values=[codes[str(v)] for v in series],
                        ticktext=labels,
                        tickvals=list(codes.values()),
                    )
                )
            else:
                axes.append(
                    AxisPayload(
                        label=short(column),
                        column=column,
                        values=numeric,
                        ticktext=None,
                        tickvals=None,
                    )
                )
        return axes

    def history(self, run_id: str, metric: str) -> pd.DataFrame:
        key = (run_id, metric)
        if key not in self._histories:
            self._histories[key] = self.run(run_id).metric_history(metric)
        return self._histories[key]

    def curves(self, run_ids: Sequence[str], metric: str) -> list[CurvePayload]:
        """One curve per run: every logged value of ``metric`` by step."""
        out: list[CurvePayload] = []
        for run_id in run_ids:
            hist = self.history(run_id, metric)
            if hist.empty:
                continue
            out.append(
                CurvePayload(
                    run_id=run_id,
                    name=self.name_of(run_id),
                    steps=[int(s) for s in hist["step"]],
                    values=[float(v) for v in hist["value"]],
                    std=None,
                )
            )
        return out

    def group_curves(self, groups: dict[str, list[str]], metric: str) -> list[CurvePayload]:
        """Mean ± std by step of ``metric`` over the runs of each group."""
        import pandas as pd

        out: list[CurvePayload] = []
        for label, run_ids in groups.items():
            parts = [self.history(r, metric)[["step", "value"]] for r in run_ids]
            parts = [p for p in parts if not p.empty]
            if not parts:
                continue
            stats = pd.concat(parts).groupby("step")["value"].agg(["mean", "std"]).fillna(0.0)
            out.append(
                CurvePayload(
                    run_id=run_ids[0],
                    name=label,
                    steps=[int(s) for s in stats.index],
                    values=[float(v) for v in stats["mean"]],
                    std=[float(v) for v in stats["std"]],
                )
            )
        return out

    def scatter(self, x_column: str, y_column: str) -> ScatterPayload:
        for column in (x_column, y_column):
            if column not in self.frame.columns:
                raise InvalidArgumentError(f"no column {column!r} in the compared runs")
        return ScatterPayload(
            x_column=x_column,
            y_column=y_column,
            x=[None if isinstance(v, float) and math.isnan(v) else v for v in self.frame[x_column]],
            y=[_number(v) for v in self.frame[y_column]],
            run_ids=self.run_ids,
            names=self.names,
        )

    # -- aggregation ------------------------------------------------------------------

    def default_group_keys(self) -> list[str]:
        """Params other than seeds: runs equal on these are repeats of one setting."""
        return [c for c in self.param_columns if not SEED_PATTERN.search(short(c))]

    def groups(self, keys: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Run ids per group label, grouping by ``keys`` (default: params but seeds)."""
        keys = list(self.default_group_keys() if keys is None else keys)
        out: dict[str, list[str]] = {}
        for _, row in self.frame.iterrows():
            label = ", ".join(f"{short(k)}={row[k]}" for k in keys) or "all runs"
            out.setdefault(label, []).append(row["run_id"])
        return out

    def aggregate(self, keys: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per group: ``runs`` and ``<metric> mean``, ``<metric> std`` columns."""
        import pandas as pd

        keys = list(self.default_group_keys() if keys is None else keys)
        missing = [k for k in keys if k not in self.frame.columns]
        if missing:
            raise InvalidArgumentError(f"group_by: no column {missing[0]!r} in the compared runs")
        rows = []
        for label, run_ids in self.groups(keys).items():
            part = self.frame[self.frame["run_id"].isin(run_ids)]
            row: dict[str, Any] = {"group": label, "runs": len(run_ids)}
            for column in self.metric_columns:
                row[f"{short(column)} mean"] = float(part[column].mean())
                row[f"{short(column)} std"] = (
                    float(part[column].std(ddof=1)) if len(part) > 1 else 0.0
                )
            rows.append(row)
        return pd.DataFrame(rows)


def load_runs(
    runs: Any = None,
    *,
    last: int | None = None,
    filter: str | None = None,
    experiment: str | None = None,
) -> RunSet:
    """The :class:`RunSet` for ``runs`` (ids, names, ``Run`` objects or a runs DataFrame).

    Without ``runs``: the ``last`` newest runs matching ``filter`` (default 20).
    """
    from ..tracking import api
    from ..tracking.run import Run

    if runs is None:
        frame = api.runs(experiment=experiment, filter=filter, limit=last if last else 20)
        return RunSet(frame)
    if hasattr(runs, "columns") and "run_id" in getattr(runs, "columns", ()):
        ids = list(runs["run_id"])
    else:
        if isinstance(runs, str | Run):
            runs = [runs]
        ids = [r.run_id if isinstance(r, Run) else api.get_run(str(r)).run_id for r in runs]
    ids = list(dict.fromkeys(ids))
    if len(ids) <= 500:
        quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
        frame = api.runs(filter=f"run_id in ({quoted})") if ids else api.runs(limit=0)
    else:
        frame = api.runs()
        frame = frame[frame["run_id"].isin(ids)]
    order = {run_id: i for i, run_id in enumerate(ids)}
    frame = frame.sort_values("run_id", key=lambda s: s.map(order)).reset_index(drop=True)
    if filter:
        keep = set(api.runs(filter=filter, experiment=experiment)["run_id"])
        frame = frame[frame["run_id"].isin(keep)]
    if last:
        frame = frame.head(last)
    return RunSet(frame)
