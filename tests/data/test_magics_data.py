from __future__ import annotations

import pandas as pd
import pytest
from data_frames import make_frame
from IPython.core.error import UsageError

import mlops_lab as ml


@pytest.fixture
def ns(shell):
    shell.user_ns["train"] = make_frame(seed=0)
    shell.user_ns["batch"] = make_frame(seed=1)
    return shell


def test_data_verb_links_a_dataset(ns, capsys) -> None:
    ns.run_cell("%mlops start first")
    ns.run_cell("%mlops data training=train --role train")
    ns.run_cell("%mlops end")
    out = capsys.readouterr().out
    assert "dataset training:" in out and "as train" in out
    (d,) = ml.get_run("first").datasets
    assert d["name"] == "training" and d["digest"] == ml.fingerprint(ns.user_ns["train"])


def test_data_verb_reads_files(ns, tmp_path) -> None:
    ns.user_ns["train"].to_csv(tmp_path / "train.csv", index=False)
    ns.run_cell("%mlops start")
    ns.run_cell(f"%mlops data raw={tmp_path / 'train.csv'}")
    assert ml.active_run().datasets[0]["name"] == "raw"


def test_validate_verb(ns, tmp_path) -> None:
    path = tmp_path / "schema.json"
    ns.run_cell(f"%mlops validate train --save-schema {path}")
    assert path.is_file()
    ns.user_ns["bad"] = ns.user_ns["batch"].assign(age=ns.user_ns["batch"]["age"] + 500)
    result = ns.run_cell(f"report = %mlops validate bad --schema {path}")
    report = ns.user_ns["report"]
    assert not report.passed and report.failures[0].column == "age"
    ns.run_cell("%mlops start base")
    ns.run_cell("%mlops data train=train")
    ns.run_cell("%mlops end")
    ns.run_cell("r2 = %mlops validate batch --against base")
    assert ns.user_ns["r2"].passed, str(ns.user_ns["r2"])
    assert result is not None


def test_drift_and_profile_verbs(ns) -> None:
    ns.user_ns["shifted"] = ns.user_ns["batch"].assign(income=ns.user_ns["batch"]["income"] * 2)
    ns.run_cell(
        "d = %mlops drift train shifted --columns income,age --threshold wasserstein=0.2 --test age=psi"
    )
    d = ns.user_ns["d"]
    assert [c.column for c in d.columns] == ["income", "age"]
    assert d["income"].drifted and d["age"].test == "psi"
    ns.run_cell("p = %mlops profile train")
    assert isinstance(ns.user_ns["p"], ml.DatasetProfile)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("%mlops data train", "expected NAME=VAR_OR_PATH"),
        ("%mlops data t=nothing_here", "neither a variable of the notebook nor a file"),
        ("%mlops data t=missing.csv", "no dataset file at 'missing.csv'"),
        ("%mlops validate train", "give --schema FILE or --against RUN"),
        ("%mlops validate train --schema a.json --against b", "not allowed with argument"),
        ("%mlops validate train --schema nope.json", "no schema file at 'nope.json'"),
        ("%mlops drift train batch --threshold x", "expects KEY=VALUE"),
        ("%mlops drift train batch --test age=magic", "unknown test 'magic'"),
        ("%mlops data n=notdf", "expected a pandas DataFrame or a CSV/Parquet path, got int"),
    ],
)
def test_mistakes_are_one_line(ns, line: str, match: str) -> None:
    ns.user_ns["notdf"] = 3
    with pytest.raises(UsageError, match=match):
        ns.run_cell(line)


def test_help(ns, capsys) -> None:
    for name in ("data", "validate", "drift", "profile"):
        ns.run_cell(f"%mlops {name} --help")
    out = capsys.readouterr().out
    assert "--against" in out and "--drift-share" in out


def test_frame_stays_a_frame(ns) -> None:
    assert isinstance(ns.user_ns["train"], pd.DataFrame)
