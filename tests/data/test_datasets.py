from __future__ import annotations

import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.data.api import dataset_profile
from mlops_lab.errors import DatasetReadError, InvalidArgumentError


def test_log_dataset_stores_once_and_links(store, frame: pd.DataFrame, tmp_path) -> None:
    frame.to_parquet(tmp_path / "train.parquet")
    with ml.start_run("a") as a:
        digest = ml.log_dataset(frame, "train")
        same = ml.log_dataset(tmp_path / "train.parquet", role="reference")
    with ml.start_run("b") as b:
        ml.log_dataset(frame.copy(), "train")
    assert same == digest == ml.fingerprint(frame)
    record = store.dataset(digest)
    assert (record["name"], record["n_rows"], record["n_cols"]) == ("train", 400, 9)
    assert record["schema"]["columns"][0]["name"] == "id"
    assert record["profile"]["columns"]["age"]["kind"] == "integer"
    assert [(d["name"], d["role"]) for d in a.datasets] == [
        ("train", "train"),
        ("train.parquet", "reference"),
    ]
    assert [d["role"] for d in b.datasets] == ["train"]
    assert set(store.runs_with_dataset(digest)) == {a.run_id, b.run_id}
    assert dataset_profile(digest).n_rows == 400


def test_log_dataset_without_a_run_keeps_the_dataset(store, frame: pd.DataFrame) -> None:
    digest = ml.log_dataset(frame)
    assert store.dataset(digest)["name"] == "dataset"


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("missing.csv",), {}, DatasetReadError, "no dataset file at 'missing.csv'"),
        (({"a": 1},), {}, ml.MlopsLabError, "expected a pandas DataFrame .* got dict"),
        ((pd.DataFrame({"a": [1]}),), {"role": ""}, InvalidArgumentError, "role"),
    ],
)
def test_bad_input(args, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        ml.log_dataset(*args, **kwargs)
