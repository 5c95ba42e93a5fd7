"""Running a promoted pipeline: validate, train (papermill), evaluate, gate, register.

The pipeline run is a parent run; each step is a child run. The train step's
run is created by the pipeline before the kernel starts, and the kernel gets
its id (``MLOPS_LAB_RUN_ID``, with ``MLOPS_LAB_HOME``, ``MLOPS_LAB_NOTEBOOK``
and ``MLOPS_LAB_PARENT_RUN``): the notebook's ``start_run`` adopts it and its
``end_run`` leaves it to the pipeline, which ends it and finds it by id. Parameters are checked against their declared types
before anything starts. A failing step stops the pipeline: its run and the
pipeline run are marked failed, the executed notebook is kept, nothing is
registered, and :class:`~mlops_lab.errors.PipelineStepError` shows the failing
cell's source and error.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlopsLabError, PipelineStepError
from ..project import RUN_ID_ENV_VAR, process_resource
from .fair_gate import FairScore
from .gate import GateDecision, current_champion, decide
from .progress import Progress
from .spec import PipelineSpec, find

if TYPE_CHECKING:
    from ..project import Project
    from ..registry.api import ModelVersion
    from ..store import Store
    from ..tracking.run import Run

# The pipeline run's id, set for the train step's kernel beside ``RUN_ID_ENV_VAR``.
PARENT_ENV_VAR = "MLOPS_LAB_PARENT_RUN"


@dataclass
class PipelineResult:
    """What a pipeline run did: its run, steps, gate decision and registered version."""

    name: str
    run: Run
    params: dict[str, Any]
    train_run: Run | None = None
    decision: GateDecision | None = None
    version: ModelVersion | None = None
    steps: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"pipeline {self.name!r}: run {self.run.run_id[:8]}"]
        lines += [f"  {step}: {status}" for step, status in self.steps.items()]
        if self.decision is not None:
            lines.append(f"  gate {self.decision}")
        if self.version is not None:
            lines.append(f"  registered {self.version}")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


@contextmanager
def kernel_environment(**values: str) -> Iterator[None]:
    """Set environment variables for a kernel started inside the block, then restore them."""
    # os.environ is the process's: one lock for the process, whichever module sets it.
    with process_resource("process.environ_lock", threading.Lock):
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old


def papermill_execute(input_path: str, output_path: str, **kwargs: Any) -> Any:
    """The default notebook executor: ``papermill.execute_notebook`` in a quiet IPC kernel.

    See :mod:`.kernel`: the kernel's own log lines stay out of the caller's output. The
    kernel is a fresh one from this process's pool (:mod:`.kernels`), started while the
    previous step or combination ran; the step's environment reaches it before its
    first cell.
    """
    from .kernel import execute_notebook

    return execute_notebook(input_path, output_path, **kwargs)


def notebook_error(error: BaseException, output: Path) -> str:
    """One readable line (or a few) for a notebook that failed under papermill.

    papermill reports an error the kernel printed without raising it (a magic's
    ``UsageError``, printed on stderr) as a ``CellExecutionError`` with no message: the
    message is then taken from the failing cell's stderr in the executed notebook.
    """
    ename = getattr(error, "ename", None) or type(error).__name__
    evalue = str(getattr(error, "evalue", error) or "").strip()
    if evalue:
        return f"{ename}: {evalue}"
    printed = _failed_cell_stderr(output, getattr(error, "exec_count", None))
    return printed or f"{ename} (the cell printed no message; see the kept output notebook)"


def _failed_cell_stderr(output: Path, exec_count: int | None) -> str:
    import re

    import nbformat

    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:  # no output notebook, or a partial one: nothing more to say
        return ""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    failed = [c for c in cells if c.get("metadata", {}).get("papermill", {}).get("exception")]
    failed = failed or [c for c in cells if exec_count and c.get("execution_count") == exec_count]
    if not failed:
        return ""
    text = "".join(
        o.get("text", "")
        for o in failed[0].get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    if "UsageError:" in text:
        text = text[text.rindex("UsageError:") :]
    return "\n".join(text.splitlines()[-20:])


class _Runner:
    def __init__(
        self, spec: PipelineSpec, params: dict[str, Any], store: Store, project: Project
    ) -> None:
        self.spec = spec
        self.params = params
        self.store = store
        self.project = project
        self.pipe: Run | None = None
        self.result: PipelineResult | None = None
        self.fair: FairScore | None = None
        self.holdout: Path | None = None  # the held-out rows, when the spec asks for them

    def hold_out(self, conf: dict[str, Any], folder: Path) -> None:
        """Split the training data before training (the evaluate step's ``holdout``)."""
        from .fair_gate import split_holdout

        assert self.pipe is not None
        try:
            param, train_path, held = split_holdout(
                conf, self.params, self.spec.workdir_path, folder
            )
        except MlopsLabError as exc:
            raise self.fail("evaluate", str(exc)) from None
        spec = conf["holdout"]
        for key, value in (
            ("holdout.from", param),
            ("holdout.fraction", spec.get("fraction", 0.2)),
            ("holdout.seed", spec.get("seed", 0)),
        ):
            self.pipe.set_tag(key, str(value))
        self.params = {**self.params, param: str(train_path)}
        self.holdout = held

    def start(self, tags: dict[str, str] | None = None) -> Run:
        from ..tracking.api import log_params

        source = {"source_type": "pipeline", "source_path": str(self.spec.folder)}
        self.pipe = self.project.start_run(
            self.spec.name,
            experiment=self.spec.experiment,
            tags={**(tags or {}), "mlops.pipeline": self.spec.name, "mlops.kind": "pipeline"},
            parent=None,
            store=self.store,
            source=source,
        )
        if self.params:
            log_params(self.params, run=self.pipe)
        self.result = PipelineResult(self.spec.name, self.pipe, self.params)
        return self.pipe

    @contextmanager
    def step(self, name: str) -> Iterator[Run]:
        assert self.pipe is not None and self.result is not None
        run = self.project.start_run(
            name,
            experiment=self.spec.experiment,
            tags={"mlops.pipeline": self.spec.name, "mlops.step": name},
            parent=self.pipe,
            store=self.store,
            source={"source_type": "pipeline", "source_path": str(self.spec.folder)},
        )
        try:
            yield run
        except BaseException:
            self.project.end_run(run=run, status="failed")
            self.result.steps[name] = "failed"
            raise
        self.project.end_run(run=run, status="finished")
        self.result.steps.setdefault(name, "finished")

    def fail(self, step: str, error: str, **context: Any) -> PipelineStepError:
        assert self.pipe is not None
        return PipelineStepError(
            pipeline=self.spec.name, step=step, error=error, run_id=self.pipe.run_id, **context
        )

    # -- steps ---------------------------------------------------------------------------

    def validate(self, conf: dict[str, Any]) -> None:
        schema, data = conf.get("schema"), conf.get("data")
        with self.step(conf.get("name", "validate")) as run:
            if not schema or not data:
                run.set_tag("mlops.skipped", "no schema or no dataset parameter")
                return
            try:
                from ..data.validate import validate
            except ImportError:
                run.set_tag("mlops.skipped", "the data module is not available")
                return
            path = Path(self.params[data])
            if not path.is_absolute():
                path = self.spec.workdir_path / path
            try:
                report = validate(
                    str(path), self.spec.folder / schema, record=True, project=self.project
                )
            except MlopsLabError as exc:
                raise self.fail("validate", f"{data}={self.params[data]!r}: {exc}") from exc
            if not report.passed:
                raise self.fail(
                    "validate",
                    f"{data}={self.params[data]!r} does not fit {schema}:\n{report}",
                )

    def train(self, conf: dict[str, Any], execute: Callable[..., Any], kernel: str | None) -> Run:
        assert self.pipe is not None and self.result is not None
        notebook = self.spec.folder / conf.get("notebook", self.spec.notebook)
        # The train run exists before the kernel starts; the notebook adopts it by id.
        train_run = self.project.start_run(
            f"{self.spec.name}-train",
            experiment=self.spec.experiment,
            tags={"mlops.pipeline": self.spec.name, "mlops.step": "train"},
            parent=self.pipe,
            store=self.store,
            source={"source_type": "notebook", "source_path": str(notebook)},
        )
        self.result.train_run = train_run
        datasets = {k: self.params[k] for k, p in self.spec.params.items() if p.dataset}
        if datasets:  # the notebook logs its other parameters itself
            from ..tracking.api import log_params

            log_params(datasets, run=train_run)
        with tempfile.TemporaryDirectory(prefix="mlops-pipeline-") as tmp:
            output = Path(tmp) / notebook.name
            error: BaseException | None = None
            message = ""
            with kernel_environment(
                MLOPS_LAB_HOME=str(self.store.root),
                MLOPS_LAB_NOTEBOOK=str(notebook),
                # The output notebook is read later, outside any live front-end.
                MLOPS_LAB_WIDGETS="0",
                **{PARENT_ENV_VAR: self.pipe.run_id, RUN_ID_ENV_VAR: train_run.run_id},
            ):
                try:
                    execute(
                        str(notebook),
                        str(output),
                        parameters=self.params,
                        kernel_name=kernel or self.spec.kernel,
                        cwd=str(self.spec.workdir_path),
                        progress_bar=False,
                    )
                except Exception as exc:  # papermill's execution error, a dead kernel...
                    error = exc
                    message = notebook_error(exc, output)  # before the output is removed
            self.project.end_run(
                run=train_run, status="failed" if error else "finished", release=True
            )
            if output.exists():
                digest, size = self.store.blobs.put_file(output)
                for run_id in {train_run.run_id, self.pipe.run_id}:
                    self.store.add_artifact(
                        run_id, notebook.name, digest, size, kind="notebook", meta={"step": "train"}
                    )
        if error is not None:
            self.result.steps["train"] = "failed"
            raise self.fail(
                "train",
                message,
                cell_index=getattr(error, "cell_index", None),
                source=getattr(error, "source", None),
            ) from None
        self.result.steps["train"] = "finished"
        return train_run

    def evaluate(self, conf: dict[str, Any], train_run: Run) -> float:
        metric = conf["metric"]
        with self.step(conf.get("name", "evaluate")) as run:
            metrics = self.store.latest_metrics(train_run.run_id)
            if metric not in metrics and "data" not in conf and "holdout" not in conf:
                raise self.fail(
                    "evaluate",
                    f"the train notebook logged no metric {metric!r} "
                    f"(it logged: {', '.join(metrics) or 'none'}); or name evaluation data "
                    "in the step so the library scores the model itself",
                )
            if self.spec.model not in {
                a["path"] for a in self.store.artifacts(train_run.run_id) if a["kind"] == "model"
            }:
                raise self.fail(
                    "evaluate", f"the train notebook logged no model {self.spec.model!r}"
                )
            if "data" not in conf and "holdout" not in conf:  # the figure the notebook logged
                run.log_metric(metric, metrics[metric])
                return metrics[metric]
            from .fair_gate import score_fairly

            if self.holdout is not None:
                conf = {**conf, "holdout_path": str(self.holdout)}
            try:
                self.fair = score_fairly(
                    conf,
                    params=self.params,
                    workdir=self.spec.workdir_path,
                    candidate_model=train_run.load_model(self.spec.model),
                    model_name=conf.get("model_name", self.spec.name),
                    store=self.store,
                    step_run=run,
                )
            except MlopsLabError as exc:
                raise self.fail("evaluate", str(exc)) from None
            return self.fair.candidate

    def gate(self, conf: dict[str, Any], candidate: float, model_name: str) -> GateDecision:
        assert self.pipe is not None
        with self.step(conf.get("name", "gate")) as run:
            fair = self.fair
            if fair is not None:  # both figures computed by the library on the same rows
                champion, version = fair.champion, fair.champion_version
            else:
                champion, version = current_champion(model_name, conf["metric"], self.store)
            decision = decide(
                candidate,
                champion,
                metric=conf["metric"],
                mode=conf.get("mode", "max"),
                min_delta=float(conf.get("min_delta", 0.0)),
                otherwise=conf.get("otherwise", "challenger"),
                champion_version=version,
                dataset=fair.dataset if fair is not None else None,
                failed_rules=fair.failed_rules if fair is not None else None,
            )
            for target in (run, self.pipe):
                target.set_tag("gate.decision", decision.decision)
                target.set_tag("gate.rule", decision.rule)
                target.set_tag("gate.reason", str(decision)[:2000])
                target.log_metric("gate.candidate", candidate)
                if champion is not None:
                    target.log_metric("gate.champion", champion)
                    target.set_tag("gate.champion_version", str(version))
            return decision

    def register(self, conf: dict[str, Any], train_run: Run, decision: GateDecision) -> Any:
        from ..registry.api import register_model

        assert self.pipe is not None
        with self.step(conf.get("name", "register")) as run:
            if decision.decision == "rejected":
                run.set_tag("mlops.skipped", "rejected by the gate")
                return None
            mv = register_model(
                train_run,
                conf.get("model_name", self.spec.name),
                alias=decision.decision,
                model=self.spec.model,
                store=self.store,
            )
            for target in (run, self.pipe):
                target.set_tag("registered.version", mv.ref)
            return mv


def run_pipeline(
    name: str | os.PathLike[str],
    params: dict[str, Any] | None = None,
    *,
    pipelines_dir: str | os.PathLike[str] = "pipelines",
    progress: bool = True,
    kernel_name: str | None = None,
    execute: Callable[..., Any] | None = None,
    tags: dict[str, str] | None = None,
    project: Project | None = None,
) -> PipelineResult:
    """Run a promoted pipeline with ``params`` overriding its defaults.

    Parameters
    ----------
    name
        A pipeline under ``pipelines_dir`` (or the path of a pipeline folder).
    params
        ``{name: value}``; text values (from a command line) are converted to the
        declared types. Unknown names and wrong types raise before anything runs.
    progress
        A progress bar (a widget in a notebook, tqdm in a terminal).
    execute
        The notebook executor (default: ``papermill.execute_notebook``).
    tags
        Extra tags for the pipeline run (the watcher records why it ran).
    project
        The project whose store gets the runs (default: :func:`~mlops_lab.default_project`).

    Returns
    -------
    PipelineResult
        The pipeline run, the train run, the gate decision and the new version (if any).

    Raises
    ------
    PipelineParamError
        Before anything runs.
    PipelineStepError
        A step failed; the pipeline run is marked failed and nothing is registered.
    """
    from ..project import default_project

    spec = PipelineSpec.load(find(name, pipelines_dir))
    values = spec.resolve_params(params)
    project = project or default_project()
    store = project.store
    runner = _Runner(spec, values, store, project)
    saved = list(project.stack)
    project.stack.clear()  # the pipeline run is a top-level run even if a notebook run is open
    bar = _progress(spec, progress)
    holdout_dir = tempfile.TemporaryDirectory(prefix="mlops-holdout-")
    try:
        pipe = runner.start(tags)
        status = "failed"
        try:
            train_run = None
            score = None
            decision = None
            evaluation = spec.step("evaluate") or {}
            if "holdout" in evaluation:
                runner.hold_out(evaluation, Path(holdout_dir.name))
            for conf in spec.steps:
                kind = conf.get("kind")
                bar.describe(f"{spec.name}: {conf.get('name', kind)}")
                if kind == "validate":
                    runner.validate(conf)
                elif kind == "notebook":
                    train_run = runner.train(conf, execute or papermill_execute, kernel_name)
                elif kind == "evaluate" and train_run is not None:
                    score = runner.evaluate(conf, train_run)
                elif kind == "gate" and score is not None:
                    decision = runner.gate(conf, score, spec.name)
                elif kind == "register" and train_run is not None and decision is not None:
                    assert runner.result is not None
                    runner.result.version = runner.register(conf, train_run, decision)
                bar.update(1)
            bar.describe(spec.name)
            assert runner.result is not None
            runner.result.decision = decision
            status = "finished"
        except PipelineStepError as exc:
            pipe.set_tag("mlops.failed_step", exc.step)
            raise
        finally:
            project.end_run(status, run=pipe)
    finally:
        bar.close()
        holdout_dir.cleanup()
        project.stack[:0] = saved
    assert runner.result is not None
    return runner.result


def _progress(spec: PipelineSpec, enabled: bool) -> Progress:
    return Progress(total=len(spec.steps), desc=spec.name, unit="step", enabled=enabled)
