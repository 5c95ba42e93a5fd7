"""The filter and order-by language against MLflow itself, on the same runs.

The same runs (NaN, ±inf, negatives, missing keys, odd names, every status
both tools share, tags holding numeric text, run names with ``_``, ``%`` and
a backslash) are written to MLflow's SQLite store (``MlflowClient``, no
server) and to an mlops-lab store, with the same start and end times. Each
filter string, spelled as MLflow's own tests and docs spell them, must select
the same runs in the same order from both; each order-by must give the same
order. What mlops-lab does differently on purpose is asserted at the end.
"""

from __future__ import annotations

import getpass
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.errors import FilterSyntaxError
from mlops_lab.project import set_default_root
from mlops_lab.tracking import session as session_module

NAN, INF = math.nan, math.inf

# name, status, params, metrics (key -> value or [history]), tags
RUNS = [
    ("alpha", "finished", {"model": "rf", "C": 1.0}, {"f1": 0.5, "loss": 0.2}, {"team": "vision", "n": "5"}),
    ("beta_1", "finished", {"model": "gbm", "C": 0.1}, {"f1": [0.1, 0.9], "loss": -0.5}, {"team": "nlp", "n": "5.0"}),
    ("betaX1", "failed", {"model": "rf", "C": 10}, {"f1": NAN, "loss": INF, "val loss": 0.25}, {"team": "vision", "n": "10"}),
    ("gamma%", "killed", {"model": "RF"}, {"f1": 0.0, "loss": -INF, "val loss": 0.5}, {"team": "Vision"}),
    ("delta\\x", "finished", {}, {"loss": NAN}, {"n": "-1"}),
    ("Epsilon", "failed", {"model": "lr", "C": 2}, {"f1": -0.25}, {"team": "nlp"}),
    ("zeta 2", "finished", {"model": "svm"}, {"f1": NAN, "val loss": NAN}, {}),
    ("eta", "running", {"model": "rf", "C": 0.1}, {"f1": 0.5}, {"team": "vision", "n": "5"}),
]  # fmt: skip


@dataclass
class Pair:
    """The same runs in both tools: how to query each, and the values to fill filters with."""

    client: object
    experiment_id: str
    root: Path
    ids: dict[str, dict[str, str]]  # tool -> run name -> run id
    start_ms: dict[str, int]  # run name -> start time in epoch milliseconds

    def fill(self, text: str, tool: str) -> str:
        values = {f"id_{name}": run_id for name, run_id in self.ids[tool].items()}
        values.update({f"ms_{name}": str(ms) for name, ms in self.start_ms.items()})
        values["user"] = getpass.getuser()
        values["middle"] = str(self.start_ms["gamma%"])
        return text.format(**values)

    def mlflow(self, filter: str = "", order_by: list[str] | None = None) -> list[str]:
        runs = self.client.search_runs(  # type: ignore[attr-defined]
            [self.experiment_id],
            self.fill(filter, "mlflow"),
            order_by=order_by or None,
            max_results=100,
        )
        return [r.info.run_name for r in runs]

    def ours(self, filter: str = "", order_by: list[str] | None = None) -> list[str]:
        frame = ml.runs(
            experiment="parity",
            filter=self.fill(filter, "ours") or None,
            order_by=order_by or None,
        )
        return list(frame["name"])


def _log_ours(name, status, params, metrics, tags) -> tuple[str, float, float | None]:
    run = ml.start_run(name, experiment="parity", tags=tags)
    ml.log_params(params)
    for key, value in metrics.items():
        for step, v in enumerate(value if isinstance(value, list) else [value]):
            ml.log_metric(key, v, step=step)
    if status != "running":
        ml.end_run(status)
    ml.flush()
    record = run.store.run_record(run.run_id)
    return run.run_id, record["start_time"], record["end_time"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    from mlflow import MlflowClient

    base = tmp_path_factory.mktemp("parity")
    root = base / ".mlops"
    client = MlflowClient(tracking_uri=f"sqlite:///{base / 'mlflow.db'}")
    experiment_id = client.create_experiment("parity", artifact_location=str(base / "mlruns"))
    ids: dict[str, dict[str, str]] = {"ours": {}, "mlflow": {}}
    start_ms: dict[str, int] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_LAB_HOME", str(root))
        set_default_root(None)
        session_module.reset()
        for name, status, params, metrics, tags in RUNS:
            run_id, start, end = _log_ours(name, status, params, metrics, tags)
            ids["ours"][name] = run_id
            start_ms[name] = int(start * 1000)
            # mlflow.start_run() records the user in this tag, as mlops-lab records it.
            mlflow_tags = {**tags, "mlflow.user": getpass.getuser()}
            run = client.create_run(
                experiment_id, start_time=int(start * 1000), tags=mlflow_tags, run_name=name
            )
            ids["mlflow"][name] = run.info.run_id
            for key, value in params.items():
                client.log_param(run.info.run_id, key, value)
            for key, value in metrics.items():
                for step, v in enumerate(value if isinstance(value, list) else [value]):
                    client.log_metric(run.info.run_id, key, v, timestamp=1000 + step, step=step)
            if end is not None:
                client.set_terminated(run.info.run_id, status.upper(), end_time=int(end * 1000))
            time.sleep(0.003)  # distinct start times, in milliseconds too
        session_module.reset()
    return Pair(client, experiment_id, root, ids, start_ms)


@pytest.fixture
def both(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> Pair:
    monkeypatch.setenv("MLOPS_LAB_HOME", str(pair.root))
    set_default_root(None)
    session_module.reset()
    return pair


FILTERS = [
    "",
    # metrics: NaN is unequal to everything, missing matches nothing
    "metrics.f1 > 0.4",
    "metrics.f1 >= 0.5",
    "metrics.f1 < 0.5",
    "metrics.f1 <= 0",
    "metrics.f1 = 0.5",
    "metrics.f1 = 0",
    "metrics.f1 = 0.0",
    "metrics.f1 != 0.5",
    "metrics.f1 != 0",
    "metrics.f1 > -1",
    "metrics.f1 = 0.9",
    "metrics.f1 = 0.1",
    "metrics.loss > 0",
    "metrics.loss < 0",
    "metrics.loss > 1e300",
    "metrics.loss < -1e300",
    "metrics.loss != 0.2",
    "metrics.`val loss` < 0.3",
    'metrics."val loss" >= 0.25',
    "metrics.`val loss` != 0.5",
    "metric.f1 > 0",
    # params and tags are text
    "params.model = 'rf'",
    "params.model != 'rf'",
    "params.model = 'RF'",
    "params.model LIKE 'r%'",
    "params.model ILIKE 'R%'",
    "params.model LIKE '%'",
    "params.C = '1.0'",
    "params.C != '0.1'",
    "params.C IS NULL",
    "params.C IS NOT NULL",
    "param.model = 'svm'",
    "parameter.model = 'svm'",
    "parameters.model = 'svm'",
    "tags.team = 'vision'",
    "tags.team != 'vision'",
    "tags.team = 'VISION'",
    "tags.team LIKE 'V%'",
    "tags.team ILIKE '%ISI%'",
    "tags.n = '5'",
    "tags.n != '5'",
    "tags.n LIKE '5%'",
    "tags.n = '-1'",
    "tags.team IS NULL",
    "tags.n IS NOT NULL",
    "tag.team = 'nlp'",
    "`tags`.team = 'nlp'",
    "tags.`team` = 'nlp'",
    'tags."team" = "nlp"',
    # attributes
    "attributes.status = 'FINISHED'",
    "attribute.status != 'FINISHED'",
    "attributes.status = 'RUNNING'",
    "attr.status = 'KILLED'",
    "status = 'FAILED'",
    "status != 'SCHEDULED'",
    "status LIKE 'F%'",
    "status ILIKE 'F%'",
    "attributes.run_name = 'beta_1'",
    "attributes.run_name != 'alpha'",
    "run_name LIKE 'beta_1'",
    "run_name LIKE 'beta\\_1'",
    "run_name LIKE '%\\%'",
    "run_name LIKE 'gamma%'",
    "run_name LIKE '%\\%%'",
    "run_name LIKE '%a%'",
    "run_name ILIKE 'E%'",
    "run_name ILIKE '%ETA%'",
    "attributes.`Run name` = 'alpha'",
    "attributes.`run name` = 'zeta 2'",
    "attributes.`Run Name` LIKE 'zeta%'",
    "`run name` = 'alpha'",
    "attributes.run_id = '{id_alpha}'",
    "attributes.run_id != '{id_alpha}'",
    "attributes.run_id IN ('{id_alpha}','{id_eta}')",
    "run_id NOT IN ('{id_alpha}', '{id_eta}')",
    "run_name = 'alpha' AND run_id IN ('{id_alpha}')",
    "attributes.user_id = '{user}'",
    "attributes.user_id != '{user}'",
    "attributes.start_time > 0",
    "attributes.start_time > {middle}",
    "attributes.start_time >= {middle}",
    "attributes.start_time < {middle}",
    "attributes.start_time = {ms_beta_1}",
    "attributes.start_time != {ms_beta_1}",
    "attributes.created > {middle}",
    "attributes.Created <= {middle}",
    "attributes.end_time > 0",
    "attributes.end_time >= {middle}",
    # several conditions
    "metrics.f1 > 0 and params.model = 'rf'",
    "tags.team = 'vision' AND attributes.status = 'FINISHED'",
    "params.model LIKE 'r%' and metrics.f1 != 0.5 and tags.n IS NOT NULL",
    "tags.team ILIKE '%ISI%' and tags.n = '5'",
    "metrics.loss < 1 and metrics.f1 >= 0 and run_name LIKE '%a%'",
]

ORDERS = [
    ["metrics.f1"],
    ["metrics.f1 DESC"],
    ["metrics.f1 asc"],
    ["metrics.loss"],
    ["metrics.loss desc"],
    ["metrics.`val loss` desc"],
    ["metrics.missing"],
    ["tags.n"],
    ["tags.n DESC"],
    ["tags.team", "metrics.f1 desc"],
    ["params.model"],
    ["params.model desc", "attributes.start_time"],
    ["tags.n desc", "params.model"],
    ["attributes.run_name"],
    ["run_name DESC"],
    ["attributes.start_time"],
    ["attributes.start_time DESC"],
    ["attributes.created ASC"],
    ["attributes.Created DESC"],
    ["attributes.end_time"],
    ["attributes.end_time desc"],
    ["status"],
    ["attributes.status DESC", "metrics.loss"],
]


@pytest.mark.parametrize("text", FILTERS)
def test_filter_selects_what_mlflow_selects(both: Pair, text: str) -> None:
    expected = both.mlflow(text)
    assert both.ours(text) == expected


@pytest.mark.parametrize("order", ORDERS, ids=", ".join)
def test_order_by_orders_as_mlflow_does(both: Pair, order: list[str]) -> None:
    assert both.ours(order_by=order) == both.mlflow(order_by=order)


@pytest.mark.parametrize(
    "text",
    [
        "attribute.status = 1",
        "attributes.run_name = 5",
        "tags.n = 5",
        "metrics.f1 = 'x'",
        "metrics.f1 LIKE '0%'",
        "attributes.start_time LIKE '1%'",
        "foo.bar = 'x'",
        "attributes.nope = 'x'",
        "metrics.f1 >",
    ],
)
def test_what_mlflow_refuses_is_refused(both: Pair, text: str) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        both.mlflow(text)
    with pytest.raises(FilterSyntaxError):
        both.ours(text)


# Deliberate differences: each is an extension (MLflow refuses the filter) or a
# choice, and each is asserted here so that the table in the README stays true.


@pytest.mark.parametrize(
    ("text", "ours"),
    [
        ("metrics.f1 > 0.4 or tags.n = '-1'", ["eta", "delta\\x", "beta_1", "alpha"]),
        ("(tags.team = 'nlp' or tags.team = 'Vision') and not status = 'FAILED'", ["gamma%", "beta_1"]),
        ("params.model in ('svm', 'lr')", ["zeta 2", "Epsilon"]),
        ("metrics.f1 in (0.5, 0.9)", ["eta", "beta_1", "alpha"]),
        ("metrics.`val loss` is null", ["eta", "Epsilon", "delta\\x", "alpha", "beta_1"]),
        ("run_name is not null and experiment = 'parity' and duration_s >= 0", None),
        ("status = 'finished' and start_time > '2000-01-01'", ["delta\\x", "beta_1", "alpha", "zeta 2"]),
        ("params.C > 0.5", ["Epsilon", "betaX1", "alpha"]),
        ("metrics.f1 == 0.5 and tags.n <> '10'", ["eta", "alpha"]),
    ],
)  # fmt: skip
def test_extensions_mlflow_refuses(both: Pair, text: str, ours: list[str] | None) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        both.mlflow(text)
    result = both.ours(text)
    if ours is None:
        assert sorted(result) == sorted(name for name, *_ in RUNS if name != "eta")
    else:
        assert sorted(result) == sorted(ours)


def test_statuses_compare_in_any_case(both: Pair) -> None:
    assert both.mlflow("status = 'finished'") == []
    assert both.ours("status = 'finished'") == both.mlflow("status = 'FINISHED'")
    assert both.ours("status LIKE 'f%'") == both.mlflow("status LIKE 'F%'")


def test_numeric_params_sort_as_numbers(both: Pair) -> None:
    # MLflow keeps params as text ('2' > '10'); mlops-lab sorts params logged as numbers by value.
    assert both.mlflow(order_by=["params.C desc"])[:3] == ["Epsilon", "betaX1", "alpha"]
    assert both.ours(order_by=["params.C desc"])[:3] == ["betaX1", "Epsilon", "alpha"]


def test_infinity_is_kept_as_infinity(both: Pair) -> None:
    # MLflow stores ±inf as ±1.7976931348623157e308; mlops-lab keeps ±inf.
    largest = "metrics.loss = 1.7976931348623157e308"
    assert both.mlflow(largest) == ["betaX1"]
    assert both.ours(largest) == []
    assert both.ours("metrics.loss = 1e999") == ["betaX1"]
    assert both.ours("metrics.loss > -1e999") == ["betaX1", "beta_1", "alpha"]
    assert both.mlflow("metrics.loss > -1e999") == ["gamma%", "betaX1", "beta_1", "alpha"]


def test_nan_reads_back_as_nan(both: Pair) -> None:
    frame = ml.runs(experiment="parity").set_index("name")
    assert math.isnan(frame.loc["betaX1", "metrics.f1"])
    assert math.isnan(frame.loc["delta\\x", "metrics.loss"])
    assert math.isnan(frame.loc["delta\\x", "metrics.f1"])  # missing is NaN in the frame too
    history = ml.get_run(both.ids["ours"]["zeta 2"]).metric_history("val loss")
    assert math.isnan(history["value"].iloc[0])


def test_a_trailing_and_is_refused(both: Pair) -> None:
    # MLflow ignores a dangling AND; mlops-lab points at it.
    assert both.mlflow("run_name = 'alpha' AND") == ["alpha"]
    with pytest.raises(FilterSyntaxError, match="expected a field"):
        both.ours("run_name = 'alpha' AND")
