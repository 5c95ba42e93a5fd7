from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import mlops_lab as ml
from mlops_lab.errors import InvalidArgumentError, PipelineError
from mlops_lab.pipeline.promote import choose_metric


@pytest.mark.parametrize(
    ("metrics", "metric", "mode", "expected"),
    [
        ({"acc": 0.9, "loss": 0.1}, None, "max", ("acc", "max")),
        ({"val_rmse": 2.0, "n": 3}, None, "max", ("val_rmse", "min")),
        ({"custom": 1.0}, None, "min", ("custom", "min")),
        ({"loss": 0.1, "acc": 0.9}, "loss", "min", ("loss", "min")),
    ],
)
def test_choose_metric(metrics, metric, mode, expected) -> None:
    assert choose_metric(metrics, metric, mode) == expected


def test_choose_metric_asks_when_ambiguous() -> None:
    with pytest.raises(InvalidArgumentError, match="name the one the gate compares"):
        choose_metric({"a": 1.0, "b": 2.0}, None, "max")
    with pytest.raises(InvalidArgumentError, match="was not logged"):
        choose_metric({"a": 1.0}, "b", "max")


def _train_in_shell(shell, train_csv) -> ml.Run:
    shell.run_cell("import numpy as np")  # before the run: not part of it
    shell.run_cell("%mlops start clf-train")
    shell.run_cell(
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "%mlops param C=0.5 max_iter=100"
    )
    shell.run_cell(
        "df = pd.read_csv('data/train.csv')\n"
        "from mlops_lab.data.api import log_dataset\n"
        "log_dataset('data/train.csv', 'train')"
    )
    with pytest.raises(NameError):
        shell.run_cell("undefined_name")
    shell.run_cell(
        "model = LogisticRegression(C=C, max_iter=max_iter).fit(df[['x1', 'x2']], df['y'])\n"
        "ml.log_model(model)\n%mlops log acc=model.score(df[['x1', 'x2']], df['y'])"
    )
    shell.run_cell("%mlops runs")
    shell.run_cell("%mlops end")
    return ml.get_run("clf-train")


@pytest.mark.kernel
def test_promote_writes_notebook_spec_schema_readme(shell, train_csv, tmp_path) -> None:
    shell.run_cell("import mlops_lab as ml")
    run = _train_in_shell(shell, train_csv)
    spec = ml.promote(run, "clf")
    folder = tmp_path / "pipelines" / "clf"
    assert spec.folder == folder.resolve()
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "pipeline.json",
        "schema.json",
        "train.ipynb",
    ]
    data = json.loads((folder / "pipeline.json").read_text())
    assert data["params"] == {
        "C": {"type": "float", "default": 0.5},
        "max_iter": {"type": "int", "default": 100},
        "train_path": {"type": "path", "default": "data/train.csv", "dataset": "train"},
    }
    assert [s["name"] for s in data["steps"]] == [
        "validate",
        "train",
        "evaluate",
        "gate",
        "register",
    ]
    gate = data["steps"][3]
    assert (gate["metric"], gate["mode"], gate["otherwise"]) == ("acc", "max", "challenger")
    assert data["steps"][0] == {
        "name": "validate",
        "kind": "validate",
        "schema": "schema.json",
        "data": "train_path",
    }
    assert data["workdir"] == "../.."
    nb = nbformat.read(folder / "train.ipynb", as_version=4)
    sources = [c.source for c in nb.cells]
    params_cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert params_cell.source == "C = 0.5\nmax_iter = 100\ntrain_path = 'data/train.csv'"
    code = "\n".join(sources)
    assert "%mlops param C=C max_iter=max_iter" in code
    assert "pd.read_csv(train_path)" in code
    assert "log_dataset(train_path, 'train')" in code
    assert "undefined_name" not in code  # a failed cell
    assert "%mlops runs" not in code  # a display cell
    assert "import numpy" not in code  # it ran before the run started, and nothing uses it
    # the run's own lines stay: inside the pipeline's kernel they adopt the step's run
    assert sources[3] == "import mlops_lab as ml"  # above the run, used by it
    assert sources[4] == "%mlops start clf-train"
    assert sources[-1] == "%mlops end"
    assert sources[2] == "%load_ext mlops_lab"
    assert "pipeline run clf" in (folder / "README.md").read_text()
    # promotion ran the new notebook once and got the run's metrics back
    verification = data["source"]["verification"]
    assert verification["status"] == "passed"
    assert [r["metric"] for r in verification["metrics"]] == ["acc"]
    assert verification["metrics"][0]["reproduced"] == run.metrics["acc"]


def test_promote_needs_a_model(shell) -> None:
    shell.run_cell("%mlops start nomodel")
    shell.run_cell("%mlops log acc=0.5")
    shell.run_cell("%mlops end")
    with pytest.raises(PipelineError, match="logged no model"):
        ml.promote("nomodel", "clf")


def test_promote_refuses_a_bad_name(shell) -> None:
    with pytest.raises(InvalidArgumentError, match="model name"):
        ml.promote(None, "a/b")


@pytest.mark.parametrize(
    ("line", "key"),
    [("%mlops param class=1", "'class'"), ("%mlops param 1x=2", "'1x'")],
)
def test_param_refuses_keywords_and_non_identifiers(shell, line: str, key: str) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=key):
        shell.run_cell(line)


def _fit_and_log(shell, params: str) -> None:
    shell.run_cell("import mlops_lab as ml\nimport numpy as np")
    shell.run_cell("from sklearn.linear_model import LogisticRegression")
    shell.run_cell("%mlops start keys")
    shell.run_cell(f"ml.log_params({params})")
    shell.run_cell(
        "X = np.array([[0.0], [1.0], [0.2], [0.8]]); y = np.array([0, 1, 0, 1])\n"
        "ml.log_model(LogisticRegression().fit(X, y))\nml.log_metric('acc', 1.0)"
    )
    shell.run_cell("%mlops end")


def test_a_literal_logged_with_log_params_becomes_a_parameter(shell) -> None:
    shell.run_cell("C = 1.0\nsolver = 'lbfgs'")
    _fit_and_log(shell, '{"C": C, "solver": solver}')
    spec = ml.promote("keys", "keys", verify=False)
    assert {k: (p.type, p.default) for k, p in spec.params.items()} == {
        "C": ("float", 1.0),
        "solver": ("str", "lbfgs"),
    }
    nb = nbformat.read(spec.folder / "train.ipynb", as_version=4)
    params_cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert params_cell.source == "C = 1.0\nsolver = 'lbfgs'"
    # the assignment moved into the parameters cell
    assert not any("C = 1.0" in c.source for c in nb.cells if c is not params_cell)


def test_a_key_that_is_not_a_python_name_is_refused(shell, tmp_path) -> None:
    # a key that would be code if written into the parameters cell
    shell.run_cell("%mlops start keys")
    shell.run_cell("%mlops end")
    from mlops_lab.errors import PromotionError
    from mlops_lab.pipeline.promote import check_key

    for key in ["x=1;import os;os.system('id')#", "class", "a b", "1a"]:
        with pytest.raises(PromotionError, match="not a valid Python name"):
            check_key(key, "keys")
    assert check_key("learning_rate", "keys") == "learning_rate"


def test_promote_names_the_runs_with_a_model_and_the_best(shell) -> None:
    shell.run_cell("import mlops_lab as ml\nimport numpy as np")
    shell.run_cell("from sklearn.linear_model import LogisticRegression")
    shell.run_cell("X = np.array([[0.0], [1.0], [0.2], [0.8]]); y = np.array([0, 1, 0, 1])")
    for name, acc in (("weak", 0.6), ("strong", 0.9)):
        shell.run_cell(f"%mlops start {name}")
        shell.run_cell(f"ml.log_model(LogisticRegression().fit(X, y))\nml.log_metric('acc', {acc})")
        shell.run_cell("%mlops end")
    shell.run_cell("%mlops start best-no-model")
    shell.run_cell("ml.log_metric('acc', 0.99)")
    shell.run_cell("%mlops end")
    with pytest.raises(PipelineError) as info:
        ml.promote("best-no-model", "clf")
    message = str(info.value)
    assert "logged no model" in message
    assert "(weak)" in message and "(strong)" in message
    strong = ml.get_run("strong").run_id[:8]
    assert f"the best of them by acc (max) is {strong} (strong" in message
    assert f"%mlops promote {strong} --name clf" in message


def test_start_run_adopts_the_pipeline_step_run(shell, monkeypatch) -> None:
    from mlops_lab.tracking.session import RUN_ID_ENV_VAR, session

    step = session().start_run("step", experiment=None, tags=None, parent=None)
    session().end_run(step)
    step.store.update_run(step.run_id, status="running", end_time=None)
    monkeypatch.setenv(RUN_ID_ENV_VAR, step.run_id)
    run = ml.start_run(
        "whatever",
        experiment="x",
    )
    assert run.run_id == step.run_id
    ml.end_run()  # left to the pipeline
    assert ml.active_run() == step
    with ml.start_run("again") as again:
        assert again == step
    shell.run_cell("%mlops start other\n%mlops end")
    assert ml.active_run() == step and step.status == "running"
    session().end_run(step, release=True)
    assert step.status == "finished" and ml.active_run() is None


@pytest.mark.kernel
def test_verification_names_a_metric_that_is_not_reproduced(shell) -> None:
    from mlops_lab.errors import PromotionError

    shell.run_cell("import mlops_lab as ml\nimport numpy as np")
    shell.run_cell("from sklearn.linear_model import LogisticRegression")
    shell.run_cell("%mlops start noisy")
    shell.run_cell(
        "X = np.array([[0.0], [1.0], [0.2], [0.8]]); y = np.array([0, 1, 0, 1])\n"
        "ml.log_model(LogisticRegression().fit(X, y))\n"
        "ml.log_metric('acc', np.random.default_rng().random())"
    )
    shell.run_cell("%mlops end")
    with pytest.raises(PromotionError, match="did not verify") as info:
        ml.promote("noisy", "noisy")
    assert "acc: run" in str(info.value) and "<- differs" in str(info.value)
    spec = json.loads(Path("pipelines/noisy/pipeline.json").read_text())
    assert spec["source"]["verification"]["status"] == "failed"
    assert ml.promote("noisy", "noisy", verify=False).source.get("verification") is None


@pytest.mark.kernel
def test_verification_names_the_failing_cell(shell, train_csv) -> None:
    from mlops_lab.errors import PromotionError

    shell.run_cell("import mlops_lab as ml\nimport numpy as np\nimport pandas as pd")
    shell.run_cell("from sklearn.linear_model import LogisticRegression")
    (train_csv.parent.parent / "notes.txt").write_text("written by hand")
    shell.run_cell("%mlops start needs-file")
    shell.run_cell("df = pd.read_csv('data/train.csv')\nstats = open('notes.txt').read()")
    shell.run_cell(
        "ml.log_model(LogisticRegression().fit(df[['x1', 'x2']], df['y']))\n"
        "ml.log_metric('acc', 0.5)"
    )
    shell.run_cell("%mlops end")
    (train_csv.parent.parent / "notes.txt").unlink()  # gone since the run
    with pytest.raises(PromotionError) as info:
        ml.promote("needs-file", "needs-file")
    message = str(info.value)
    assert "the train notebook failed" in message
    assert "open('notes.txt')" in message and "FileNotFoundError" in message


def test_a_parameter_assigned_above_the_run_moves_to_the_parameters_cell(shell) -> None:
    shell.run_cell("import mlops_lab as ml\nimport numpy as np")
    shell.run_cell("from sklearn.linear_model import LogisticRegression\nC = 0.25")
    shell.run_cell("%mlops start moved\n%mlops param C=C")
    shell.run_cell(
        "X = np.array([[0.0], [1.0], [0.2], [0.8]]); y = np.array([0, 1, 0, 1])\n"
        "ml.log_model(LogisticRegression(C=C).fit(X, y))\nml.log_metric('acc', 1.0)"
    )
    shell.run_cell("%mlops end")
    spec = ml.promote("moved", "moved", verify=False)
    assert spec.params["C"].default == 0.25
    nb = nbformat.read(spec.folder / "train.ipynb", as_version=4)
    body = [c.source for c in nb.cells if "parameters" not in c.metadata.get("tags", [])]
    assert "from sklearn.linear_model import LogisticRegression" in body
    assert not any("C = 0.25" in c for c in body)
    assert "%mlops start moved\n%mlops param C=C" in body


def test_a_path_the_notebook_writes_stays_a_literal(shell, train_csv) -> None:
    shell.run_cell("import mlops_lab as ml\nimport pandas as pd")
    shell.run_cell(
        "from sklearn.linear_model import LogisticRegression\n"
        "pd.read_csv('data/train.csv').to_csv('data/train.csv', index=False)"
    )
    shell.run_cell("%mlops start writes")
    shell.run_cell(
        "%mlops data train=data/train.csv\ndf = pd.read_csv('data/train.csv')\n"
        "ml.log_model(LogisticRegression().fit(df[['x1', 'x2']], df['y']))\n"
        "ml.log_metric('acc', 0.5)"
    )
    shell.run_cell("%mlops end")
    spec = ml.promote("writes", "writes", verify=False)
    code = "\n".join(c.source for c in nbformat.read(spec.notebook_path, as_version=4).cells)
    assert ".to_csv('data/train.csv', index=False)" in code  # written: not the parameter
    assert "df = pd.read_csv(train_path)" in code and "%mlops data train=$train_path" in code


def test_promote_writes_the_evaluation_data_into_the_evaluate_step(shell) -> None:
    _fit_and_log(shell, '{"C": 1.0}')
    evaluation = {"target": "y", "holdout": {"fraction": 0.25, "seed": 3}}
    spec = ml.promote("keys", "evaluated", metric="accuracy", evaluation=evaluation, verify=False)
    step = spec.step("evaluate")
    assert step["target"] == "y" and step["holdout"] == {"fraction": 0.25, "seed": 3}
    assert step["metric"] == "accuracy" == spec.gate["metric"]
    with pytest.raises(InvalidArgumentError, match="one of the library's metrics"):
        ml.promote("keys", "evaluated2", metric="acc", evaluation=evaluation, verify=False)
    with pytest.raises(InvalidArgumentError, match="either data"):
        ml.promote(
            "keys", "evaluated3", metric="accuracy", evaluation={"target": "y"}, verify=False
        )
