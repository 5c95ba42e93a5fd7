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
from . import values as v

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


def axis_label(column: str) -> str:
    """``params.pre__num__scaler__with_mean`` -> ``pre›num›scaler›with_mean``."""
    return short(column).replace(v.SEP, "›") if column.startswith("params.") else short(column)


def _number(value: Any) -> float:
    """A metric value as a float (NaN when missing)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _tick(value: Any, *, limit: int = 30) -> str:
    """A param value as a category label (``—`` where a run has none)."""
    return v.MISSING if v.is_missing(value) else v.text(value, limit=limit)


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
        self._params: dict[str, dict[str, Any]] = {}
        self._plottable: list[str] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def run_ids(self) -> list[str]:
        return list(self.frame["run_id"])

    @property
    def names(self) -> list[str]:
        """Run names as shown, told apart by an id prefix where names repeat."""
        if not hasattr(self, "_names"):
            self._names = v.unique_labels(list(self.frame["name"]), self.run_ids)
        return self._names

    def name_of(self, run_id: str) -> str:
        labels = dict(zip(self.run_ids, self.names, strict=True))
        return labels.get(run_id, run_id[:8])

    @property
    def param_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith("params.")]

    def varying_params(self) -> list[str]:
        """Param columns whose values are not all equal (any type: lists, None, NaN)."""
        return [c for c in self.param_columns if v.distinct(self.frame[c]) > 1]

    def plottable_params(self) -> list[str]:
        """Params whose values differ between the runs that log them, worth an axis.

        Numbers first, then strings and booleans, then lists and dicts; those
        logged by more runs first. A param only some runs have (another model's)
        is left out unless its values differ among those runs.
        """
        if self._plottable is not None:
            return list(self._plottable)
        ranked = []
        for index, column in enumerate(self.varying_params()):
            series = [x for x in self.frame[column] if not v.is_missing(x)]
            if v.distinct(series) < 2 and not self._differs_where_logged(column):
                continue
            if v.is_numeric(series):
                kind = 0
            elif any(isinstance(x, list | tuple | dict) for x in series):
                kind = 2
            else:
                kind = 1
            ranked.append(((kind, -len(series), index), column))
        self._plottable = [column for _, column in sorted(ranked)]
        return list(self._plottable)

    def _differs_where_logged(self, column: str) -> bool:
        """Whether runs logging ``column`` hold different values, ``None`` included.

        The runs table reads a ``None`` param as NaN, as it reads a param a run
        never logged; the runs' own params tell the two apart.
        """
        key = short(column)
        logged = []
        for run_id in self.run_ids:
            if run_id not in self._params:
                self._params[run_id] = self.run(run_id).params
            if key in self._params[run_id]:
                logged.append(self._params[run_id][key])
        return v.distinct(logged) > 1

    def plottable_metrics(self, first: str | None = None) -> list[str]:
        """Metric columns logged by at least two runs (all of them for a single run)."""
        need = min(2, len(self.frame))
        keys = list(dict.fromkeys(([first] if first else []) + self.common_metrics()))
        columns = [f"metrics.{k}" for k in keys]
        return [c for c in columns if int(self.frame[c].notna().sum()) >= need]

    @property
    def metric_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c.startswith("metrics.")]

    @property
    def metrics(self) -> list[str]:
        return [short(c) for c in self.metric_columns]

    def common_metrics(self) -> list[str]:
        """Metric keys, those logged by the most runs first (then in column order)."""
        counts = {short(c): int(self.frame[c].notna().sum()) for c in self.metric_columns}
        return sorted(counts, key=lambda m: -counts[m])

    def check_metric(self, metric: str | None) -> str | None:
        """The metric key to colour by (``None`` when no run has a metric)."""
        if metric is None:
            return self.common_metrics()[0] if self.metrics else None
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

    def axes(
        self, *, metric: str | None = None, max_params: int = 10, max_metrics: int = 8
    ) -> list[AxisPayload]:
        """Parallel-coordinates axes: params that vary, then metrics (``metric`` first)."""
        axes: list[AxisPayload] = []
        params = self.plottable_params()[:max_params]
        for column in params + self.plottable_metrics(metric)[:max_metrics]:
            series = list(self.frame[column])
            if column.startswith("params.") and not v.is_numeric(series):
                # Categories (strings, booleans, lists, None): one tick per distinct value.
                shown = {v.key(x): _tick(x) for x in series}
                order = sorted(shown, key=lambda k: (shown[k], k[0], str(k[1])))
                codes = {k: float(i) for i, k in enumerate(order)}
                axes.append(
                    AxisPayload(
                        label=axis_label(column),
                        column=column,
                        values=[codes[v.key(x)] for x in series],
                        ticktext=[shown[k] for k in order],
                        tickvals=[codes[k] for k in order],
                    )
                )
            else:
                axes.append(
                    AxisPayload(
                        label=axis_label(column),
                        column=column,
                        values=[
                            v.number(x) if column.startswith("params.") else _number(x)
                            for x in series
                        ],
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
        series = list(self.frame[x_column])
        if v.is_numeric(series) or not x_column.startswith("params."):
            x: list[Any] = [None if math.isnan(n) else n for n in map(_number, series)]
        else:
            x = [_tick(value) for value in series]  # a category axis
        return ScatterPayload(
            x_column=x_column,
            y_column=y_column,
            x=x,
            y=[_number(v) for v in self.frame[y_column]],
            run_ids=self.run_ids,
            names=self.names,
        )

    # -- aggregation ------------------------------------------------------------------

    def default_group_keys(self) -> list[str]:
        """Params that vary, other than seeds: runs equal on these repeat one setting.

        Params equal in every run split nothing, so they are left out of the labels.
        """
        return [c for c in self.varying_params() if not SEED_PATTERN.search(short(c))]

    def groups(self, keys: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Run ids per group label, grouping by ``keys`` (default: params but seeds)."""
        keys = list(self.default_group_keys() if keys is None else keys)
        by_key: dict[tuple, list[str]] = {}
        labels: dict[tuple, str] = {}
        for _, row in self.frame.iterrows():
            identity = tuple(v.key(row[k]) for k in keys)
            if identity not in labels:
                labels[identity] = (
                    ", ".join(f"{short(k)}={_tick(row[k], limit=60)}" for k in keys) or "all runs"
                )
            by_key.setdefault(identity, []).append(row["run_id"])
        out: dict[str, list[str]] = {}
        for identity, run_ids in by_key.items():
            label = labels[identity]
            while label in out:  # two values that read alike once shortened
                label += " "
            out[label] = run_ids
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
