"""Sweeps: type checks before anything starts, local processes, a Dask cluster, merging back."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import mlops_lab as ml
from mlops_lab.cli import build_parser, run
from mlops_lab.errors import InvalidArgumentError, PipelineParamError
from mlops_lab.pipeline import Param, PipelineSpec, executors
from mlops_lab.pipeline.sweep import parse_grid, sweep
from mlops_lab.tracking.session import RUN_ID_ENV_VAR

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline_train.ipynb"


def _spec(tmp_path: Path) -> PipelineSpec:
    spec = PipelineSpec(
        name="clf",
        folder=tmp_path / "pipelines" / "clf",
        params={"C": Param("float", 1.0), "acc": Param("float", 0.5), "n": Param("int", 1)},
        steps=[
            {"name": "validate", "kind": "validate", "schema": None, "data": None},
            {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": "model"},
            {"name": "evaluate", "kind": "evaluate", "metric": "acc"},
            {"name": "gate", "kind": "gate", "metric": "acc", "mode": "max"},
            {"name": "register", "kind": "register", "model_name": "clf"},
        ],
    )
    spec.save()
    return spec


def fake_kernel(input_path, output_path, *, parameters, **kwargs):
    """What the promoted notebook does in its kernel, in-process (picklable for workers)."""
    from sklearn.linear_model import LogisticRegression

    # A kernel is a process of its own: its project is the store MLOPS_LAB_HOME names.
    # The pipeline created the step's run and named it in MLOPS_LAB_RUN_ID: adopted.
    assert os.environ[RUN_ID_ENV_VAR]
    with ml.Project(adopt=True) as project:
        assert project.root == Path(os.environ["MLOPS_LAB_HOME"]).resolve()
        run = project.start_run("clf-train", experiment="default")
        assert run.run_id == os.environ[RUN_ID_ENV_VAR]
        run.log_params(parameters)
        if parameters["acc"] < 0:
            raise RuntimeError("boom")
        X, y = np.array([[0.0], [1.0], [0.1], [0.9]]), np.array([0, 1, 0, 1])
        project.log_model(LogisticRegression(C=parameters["C"]).fit(X, y), run=run)
        project.log_metric("acc", parameters["acc"])
    with open(output_path, "w") as fh:
        fh.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


def _children(result) -> list[ml.Run]:
    return [c for c in result.run.children if c.tags.get("mlops.kind") == "pipeline"]


def test_parse_grid() -> None:
    assert parse_grid(["C=0.1,1,10", "n=3, 5"]) == {"C": ["0.1", "1", "10"], "n": ["3", "5"]}
    with pytest.raises(InvalidArgumentError, match="NAME=V1,V2"):
        parse_grid(["C"])


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"C": ["0.1", "high"]}, "parameter 'C' expects a float, got 'high'"),
        ({"n": [1, 2.5]}, "parameter 'n' expects an int"),
        ({"nope": [1]}, "has no parameter 'nope'"),
    ],
)
def test_mistyped_grid_values_are_rejected_before_anything_starts(tmp_path, grid, message) -> None:
    _spec(tmp_path)

    class Refuses:
        def submit(self, *args, **kwargs):
            raise AssertionError("nothing may be submitted")

    with pytest.raises(PipelineParamError, match=message):
        sweep("clf", grid, executor=Refuses(), execute=fake_kernel, progress=False)
    assert ml.runs().empty


def test_sweep_in_local_processes_records_every_combination(tmp_path) -> None:
    _spec(tmp_path)
    first = ml.run_pipeline("clf", {"acc": 0.6}, progress=False, execute=fake_kernel)
    assert first.version.version == 1
    grid = {"acc": [0.5, 0.9, 0.7], "C": [1.0]}
    with ProcessPoolExecutor(
        2, mp_context=__import__("multiprocessing").get_context("spawn")
    ) as pool:
        result = sweep("clf", grid, executor=pool, execute=fake_kernel, progress=False)
    assert result.run.status == "finished", str(result)
    assert result.run.tags["mlops.kind"] == "sweep"
    table = result.table()
    assert list(table["acc"]) == [0.5, 0.9, 0.7]
    # every combination was gated against the champion of when the sweep started (acc 0.6)
    assert list(table["decision"]) == ["challenger", "champion", "champion"]
    assert sorted(table["version"]) == [2, 3, 4]
    best = int(table.loc[table["acc"] == 0.9, "version"].iloc[0])
    assert ml.get_model_version("clf@champion").version == best
    assert table.loc[table["acc"] == 0.9, "alias"].iloc[0] == "champion"
    children = _children(result)
    assert len(children) == 3
    assert all(c.status == "finished" and len(c.children) == 5 for c in children)
    assert sorted(c.params["acc"] for c in children) == [0.5, 0.7, 0.9]
    assert result.run.params["grid.acc"] == [0.5, 0.9, 0.7]
    for child in children:  # the merged registry numbers are in the merged runs' tags
        version = ml.get_model_version(child.tags["registered.version"])
        assert version.run.parent_id == child.run_id
        assert version.load().C == 1.0  # the model blob came back with the rows
    assert "champion" in str(result)


def test_a_failing_combination_is_reported_and_the_others_merged(tmp_path, capsys) -> None:
    _spec(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        result = sweep(
            "clf", {"acc": [0.8, -1.0]}, executor=pool, execute=fake_kernel, progress=False
        )
    assert result.run.status == "failed"
    assert [r["status"] for r in result.rows] == ["finished", "failed"]
    assert "RuntimeError: boom" in result.rows[1]["error"]
    assert {c.status for c in _children(result)} == {"finished", "failed"}
    assert list(ml.model_versions("clf")["version"]) == [1]


def test_a_sweep_on_two_threads_writes_its_own_stores(tmp_path: Path) -> None:
    """Workers in threads of this process each get a Project; the default one is not touched."""
    _spec(tmp_path)
    target = ml.Project(tmp_path / "target")
    default = ml.default_project()
    with ThreadPoolExecutor(2) as pool:
        result = ml.sweep(
            "clf",
            {"acc": [0.5, 0.9], "C": [1.0, 2.0]},
            executor=pool,
            execute=fake_kernel,
            progress=False,
            project=target,
        )
    assert result.run.status == "finished", str(result)
    assert ml.default_project() is default
    assert not default.store.db_path.exists() or ml.runs().empty
    frame = target.runs()
    assert len(frame[frame["tags.mlops.kind"] == "pipeline"]) == 4
    assert sorted(result.table()["version"]) == [1, 2, 3, 4]
    # each combination ran in a store of its own, merged into the target as it finished
    assert all(target.get_run(r["run_id"]).parent_id == result.run.run_id for r in result.rows)
    target.close()


def test_executor_registry() -> None:
    assert {"dask", "processes"} <= set(executors.names())
    pool = ThreadPoolExecutor(1)
    executors.register("threads", lambda *, workers, address=None: (pool, pool.shutdown))
    try:
        assert executors.get("threads")(workers=1)[0] is pool
    finally:
        executors._registered().pop("threads")
    with pytest.raises(InvalidArgumentError, match="executors: dask, processes"):
        executors.get("nope")
    with pytest.raises(InvalidArgumentError, match="object with submit"):
        executors.open_executor(42, workers=1)


def _cli(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(args.spec, args)


def test_cli_and_magic_refuse_a_mistyped_grid(tmp_path, shell) -> None:
    from IPython.core.error import UsageError

    _spec(tmp_path)
    with pytest.raises(PipelineParamError, match="expects a float"):
        _cli(["pipeline", "sweep", "clf", "--grid", "C=1,x", "--no-progress"])
    with pytest.raises(UsageError, match="expects an int"):
        shell.run_cell("%mlops pipeline sweep clf --grid n=1,1.5")
    with pytest.raises(UsageError, match="--grid"):
        shell.run_cell("%mlops pipeline sweep clf")
    assert ml.runs().empty


@pytest.mark.kernel
def test_sweep_on_a_dask_cluster_records_every_combination(
    tmp_path: Path, train_csv: Path, python3_kernel: str
) -> None:
    """The promoted test notebook, 4 combinations on a 2-worker LocalCluster of processes."""
    import papermill
    from dask.distributed import Client, LocalCluster

    source = tmp_path / "train.ipynb"
    shutil.copy(NOTEBOOK, source)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(source)
    try:
        papermill.execute_notebook(
            str(source), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), progress_bar=False
        )
    finally:
        del os.environ["MLOPS_LAB_NOTEBOOK"]
    ml.promote("clf-train", "clf", metric="acc")
    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1) as cluster,
        Client(cluster) as client,
    ):
        result = sweep("clf", {"C": ["0.0001", "10"], "max_iter": [100, 200]}, executor=client)
    assert result.run.status == "finished", str(result)
    table = result.table()
    assert len(table) == 4
    assert set(zip(table["C"], table["max_iter"], strict=True)) == {
        (0.0001, 100),
        (0.0001, 200),
        (10.0, 100),
        (10.0, 200),
    }
    assert table["acc"].notna().all()
    assert sorted(table["version"]) == [1, 2, 3, 4]
    children = _children(result)
    assert len(children) == 4
    for child in children:
        train = next(c for c in child.children if c.tags.get("mlops.step") == "train")
        assert train.status == "finished"
        assert "acc" in train.metrics
        assert train.datasets  # the run inputs came back too
        assert [a["kind"] for a in train.artifacts].count("notebook") == 1
    champion = ml.get_model_version("clf@champion")
    assert champion.metrics["acc"] == table["acc"].max()
