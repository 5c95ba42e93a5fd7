"""Merging two stores: every row and blob copied once, re-merge adds nothing, registry re-numbered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import mlops_lab as ml
from mlops_lab.cli import build_parser, run
from mlops_lab.errors import StoreError
from mlops_lab.project import set_default_root
from mlops_lab.store import Store
from mlops_lab.store.merge import merge_store
from mlops_lab.tracking import session as session_module

TABLES = [
    "experiments",
    "environments",
    "runs",
    "params",
    "metrics",
    "latest_metrics",
    "tags",
    "cells",
    "datasets",
    "run_inputs",
    "artifacts",
    "validations",
    "registered_models",
    "model_versions",
    "model_aliases",
    "model_events",
]


def _fill(root: Path, experiment: str, acc: float, tmp_path: Path) -> list[str]:
    """Write runs with params, metrics, a dataset, a model, a registered version, an event."""
    set_default_root(root)
    session_module.reset()
    X, y = np.array([[0.0], [1.0], [0.2], [0.8]]), np.array([0, 1, 0, 1])
    frame = pd.DataFrame({"x": [0.0, 1.0, 0.2, 0.8], "y": y})
    csv = tmp_path / f"{experiment}.csv"
    frame.to_csv(csv, index=False)
    ids = []
    for i in range(2):
        with ml.start_run(f"{experiment}-{i}", experiment=experiment) as run:
            run.log_params({"C": float(i + 1), "kind": experiment})
            for step in range(3):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            run.log_metric("acc", acc + i / 100)
            run.set_tag("who", experiment)
            ml.log_dataset(str(csv), "train", role="train")
            ml.log_model(LogisticRegression(C=float(i + 1)).fit(X, y))
            ids.append(run.run_id)
    ml.validate(frame, ml.infer_schema(frame), record=True)
    ml.register_model(ids[0], "clf", alias="champion")
    ml.register_model(ids[1], "clf", alias="challenger")
    from mlops_lab.registry.api import record_event

    record_event("clf/1", "packaged", target=str(tmp_path / "bundle"))
    session_module.session().flush()
    return ids


def _count(store: Store, table: str) -> int:
    return store.db.read_one(f"SELECT count(*) FROM {table}")[0]


@pytest.fixture
def two_stores(tmp_path: Path) -> tuple[Store, Store, list[str], list[str]]:
    mine, theirs = tmp_path / "mine" / ".mlops", tmp_path / "theirs" / ".mlops"
    theirs_ids = _fill(theirs, "bob", 0.7, tmp_path)
    mine_ids = _fill(mine, "alice", 0.8, tmp_path)
    session_module.reset()
    set_default_root(mine)
    return Store(mine), Store(theirs), mine_ids, theirs_ids


def test_merge_copies_every_row_and_blob_once(two_stores) -> None:
    mine, theirs, mine_ids, theirs_ids = two_stores
    before = {t: _count(mine, t) for t in TABLES}
    other = {t: _count(theirs, t) for t in TABLES}
    blobs_before = {p.name for p in mine.blobs.root.glob("??/*")}
    their_blobs = {p.name for p in theirs.blobs.root.glob("??/*")}

    report = ml.merge(theirs.root)

    after = {t: _count(mine, t) for t in TABLES}
    shared = {"environments": other["environments"], "datasets": other["datasets"]}
    for table in TABLES:
        if table in ("registered_models", "model_aliases"):
            continue  # the same name "clf"; aliases checked below
        expected = (
            before[table]
            + other[table]
            - (_shared_rows(mine, theirs, table) if table in shared else 0)
        )
        assert after[table] == expected, table
    assert after["registered_models"] == 1
    assert {p.name for p in mine.blobs.root.glob("??/*")} == blobs_before | their_blobs
    assert report.blobs == len(their_blobs - blobs_before)
    assert report.total > 0 and "merged" in str(report)

    # their runs and everything about them are readable here
    for run_id in theirs_ids:
        run = ml.get_run(run_id)
        assert run.experiment == "bob"
        assert run.params["kind"] == "bob"
        assert len(run.metric_history("loss")) == 3
        for key in ("loss", "acc"):  # under this store's own series ids
            assert mine.metric_history(run_id, key) == theirs.metric_history(run_id, key)
        assert run.datasets and run.tags["who"] == "bob"
        assert run.load_model().C in (1.0, 2.0)
    assert ml.get_run(mine_ids[0]).experiment == "alice"

    # their clf/1 and clf/2 are clf/3 and clf/4 here; mine keep their numbers and aliases
    versions = ml.model_versions("clf")
    assert sorted(versions["version"]) == [1, 2, 3, 4]
    assert ml.get_model_version("clf/3").run_id == theirs_ids[0]
    assert ml.get_model_version("clf/4").run_id == theirs_ids[1]
    assert report.renumbered == {"clf/1": "clf/3", "clf/2": "clf/4"}
    assert ml.get_model_version("clf@champion").run_id == mine_ids[0]  # mine moved later
    assert ml.get_model_version("clf/3").load().C == 1.0
    from mlops_lab.store import registry_records as records

    assert [e["kind"] for e in records.events(mine, "clf", 3)] == ["packaged"]

    # merging again adds nothing
    again = ml.merge(theirs.root)
    assert again.total == 0 and again.blobs == 0 and not again.renumbered
    assert {t: _count(mine, t) for t in TABLES} == after


def _shared_rows(mine: Store, theirs: Store, table: str) -> int:
    key = {"environments": "env_id", "datasets": "digest"}[table]
    ours = {r[0] for r in mine.db.read(f"SELECT {key} FROM {table}")}
    return sum(1 for r in theirs.db.read(f"SELECT {key} FROM {table}") if r[0] in ours)


def test_a_newer_alias_moves_and_an_older_one_does_not(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs" / ".mlops"
    mine = tmp_path / "mine" / ".mlops"
    _fill(mine, "alice", 0.8, tmp_path)  # mine first: their aliases are newer
    their_ids = _fill(theirs, "bob", 0.7, tmp_path)
    session_module.reset()
    set_default_root(mine)
    merge_store(Store(mine), theirs)
    assert ml.get_model_version("clf@champion").run_id == their_ids[0]
    assert ml.get_model_version("clf@champion").version == 3
    assert ml.get_model_version("clf@challenger").version == 4


def test_merge_refuses_what_is_not_a_store(tmp_path: Path, store: Store) -> None:
    with pytest.raises(StoreError, match="no mlops-lab store"):
        ml.merge(tmp_path / "nowhere")
    with pytest.raises(StoreError, match="into itself"):
        ml.merge(store.root)


def test_cli_merge(two_stores, capsys) -> None:
    _, theirs, _, _ = two_stores
    parser = build_parser()
    args = parser.parse_args(["merge", str(theirs.root)])
    assert run(args.spec, args) == 0
    assert "runs: +2" in capsys.readouterr().out
    args = parser.parse_args(["merge", str(theirs.root / "mlops.db")])
    assert run(args.spec, args) == 0
    assert ": 0 rows, 0 blobs" in capsys.readouterr().out
