"""Promotion: a tracked run's captured cells become a parameterised pipeline folder.

``promote(run, "iris")`` writes ``pipelines/iris/``:

- ``train.ipynb``: the minimal slice of the session's history the run's cells
  depend on (:mod:`.slicing`): the imports, data loading, helper functions and
  classes above ``%mlops start`` that they use, then the run's own cells, in
  execution order, as the user wrote them. Display cells, failed cells and
  definitions nothing uses are left out. The parameters (``%mlops param``
  values, top-level literals logged with ``ml.log_param(s)``, the paths of the
  datasets the run read) go into one cell tagged ``parameters`` (papermill's
  convention). The code is not rewritten to open or end runs: inside the
  pipeline's kernel, ``start_run`` adopts the step's run and ``end_run`` leaves
  it to the pipeline (see :mod:`mlops_lab.project`).
- ``pipeline.json``: steps validate / train / evaluate / gate / register,
  the typed parameters with their defaults, and the gate rule.
- ``schema.json``: the schema of the run's training data (when it logged one).
- ``README.md``: how to run it.
"""

from __future__ import annotations

import ast
import keyword
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._args import split_assignments
from ..errors import InvalidArgumentError, MlopsLabError, PipelineError, PromotionError
from .slicing import Cell, Slice, slice_cells
from .spec import Param, PipelineSpec, param_type

if TYPE_CHECKING:
    from ..tracking.run import Run

_MAXIMISE = ("accuracy", "acc", "f1", "roc_auc", "auc", "r2", "precision", "recall", "score")
_MINIMISE = ("rmse", "mse", "mae", "loss", "log_loss", "error")


def choose_metric(metrics: dict[str, float], metric: str | None, mode: str) -> tuple[str, str]:
    """The gate's metric and direction: ``metric`` if given, else a well-known one."""
    if mode not in ("max", "min"):
        raise InvalidArgumentError(f"mode: expected 'max' or 'min', got {mode!r}")
    if metric is not None:
        if metric not in metrics:
            raise InvalidArgumentError(
                f"metric {metric!r} was not logged by the run (it logged: "
                f"{', '.join(metrics) or 'no metrics'})"
            )
        return metric, mode
    for names, direction in ((_MAXIMISE, "max"), (_MINIMISE, "min")):
        for name in names:
            for key in metrics:
                if key.lower() == name or key.lower().endswith(("_" + name, "." + name)):
                    return key, direction
    if len(metrics) == 1:
        return next(iter(metrics)), mode
    raise InvalidArgumentError(
        "metric: the run logged "
        + (", ".join(metrics) if metrics else "no metrics")
        + "; name the one the gate compares with metric= (--metric)"
    )


def check_key(key: str, pipeline: str) -> str:
    """``key`` if it can be a papermill parameter (a Python identifier, not a keyword)."""
    if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
        raise PromotionError(
            f"parameter {key!r} is not a valid Python name (letters, digits and _, not "
            "starting with a digit, not a keyword), so it cannot be a pipeline parameter: "
            "log it under a name like learning_rate",
            pipeline=pipeline,
            name=str(key),
        )
    return key


def session_cells(run: Run) -> list[Cell]:
    """The run's stored cells (its context and its own), as :class:`~.slicing.Cell`."""
    out = []
    for row in run.store.cells(run.run_id, context=True):
        in_run = row.get("kind") != "context"
        count = row.get("execution_count")
        out.append(
            Cell(
                row["source"],
                status=row.get("status") or "ok",
                in_run=in_run,
                cell_id=row.get("cell_id"),
                execution_count=count,
                label=f"[{count}]" if count is not None else f"#{row['seq']}",
            )
        )
    return _without_deleted(out, run.info.get("source_path"))


def _without_deleted(cells: list[Cell], notebook: str | None) -> list[Cell]:
    """Leave out the cells whose front-end id is no longer in the saved notebook."""
    if not notebook or not str(notebook).endswith(".ipynb") or not any(c.cell_id for c in cells):
        return cells
    try:
        import nbformat

        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # no file, or not a notebook: nothing tells what was deleted
        return cells
    ids = {c.get("id") for c in nb.cells if c.get("id")}
    if not ids:
        return cells
    return [c for c in cells if not c.cell_id or c.cell_id in ids]


def _first_line(source: str) -> str:
    line = next((ln for ln in source.splitlines() if ln.strip()), "")
    return line.strip()[:80]


def _refuse_unresolved(cells: list[Cell], sliced: Slice, pipeline: str) -> None:
    if not sliced.unresolved:
        return
    lines = []
    for item in sliced.unresolved:
        cell = cells[item.cell]
        lines.append(
            f"  {item.name!r}, used by cell {cell.label} ({_first_line(cell.source)}): {item.hint}"
        )
    first = sliced.unresolved[0]
    raise PromotionError(
        "cannot promote: the run's code uses names that no earlier cell defines, so the "
        "pipeline's notebook would fail:\n"
        + "\n".join(lines)
        + "\nDefine them in a cell (and run it), then run the training cells again.",
        pipeline=pipeline,
        name=first.name,
        cell=cells[first.cell].label,
    )


def _dataset_sources(run: Run, workdir: Path) -> list[tuple[dict[str, Any], str]]:
    """The datasets the run read from files: ``(dataset, path)``. Autolog's fingerprints
    of in-memory data have no file and are not parameters."""
    out = []
    for ds in run.datasets:
        source = ds.get("source")
        if not source or not isinstance(source, str) or source == "autolog":
            continue
        if not (workdir / source).exists():
            continue
        out.append((ds, source))
    return out


_WRITES = frozenset({"savefig", "write", "write_text", "write_bytes", "dump", "save", "mkdir"})


def _written_constants(tree: ast.AST) -> set[int]:
    """Ids of string constants a call writes to (``df.to_csv(PATH)``, ``open(PATH, "w")``)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        writes = isinstance(func, ast.Attribute) and (
            func.attr.startswith("to_") or func.attr in _WRITES
        )
        if isinstance(func, ast.Name) and func.id == "open":
            modes = [a for a in node.args[1:2]] + [
                k.value for k in node.keywords if k.arg == "mode"
            ]
            writes = any(
                isinstance(m, ast.Constant)
                and isinstance(m.value, str)
                and set(m.value) & set("wax")
                for m in modes
            )
        if writes:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out.add(id(arg))
    return out


class _Builder:
    """Collects the parameters and the edited cells of the promoted notebook."""

    def __init__(self, run: Run, cells: list[Cell], sliced: Slice, pipeline: str) -> None:
        self.run = run
        self.cells = cells
        self.sliced = sliced
        self.pipeline = pipeline
        self.params: dict[str, Param] = {}
        self.remove: dict[int, set[int]] = {}  # cell index -> 1-based lines moved out
        self.constants: dict[int, list[tuple[int, int, int, str]]] = {}
        self.run_params = run.params

    def magic_params(self) -> None:
        for j in self.sliced.cells:
            for pm in self.sliced.effects[j].params:
                key = check_key(pm.name, self.pipeline)
                if key in self.run_params:
                    value = self.run_params[key]
                else:
                    try:
                        value = ast.literal_eval(pm.expr)
                    except (ValueError, SyntaxError):
                        raise PromotionError(
                            f"parameter {key}={pm.expr} was not logged by run "
                            f"{self.run.run_id[:8]} and is not a literal: log it in the run "
                            "(%mlops param while the run is open)",
                            pipeline=self.pipeline,
                            name=key,
                        ) from None
                self.params[key] = Param(param_type(value), value)

    def logged_literals(self) -> None:
        """``C = 1.0`` ... ``ml.log_params({"C": C})``: ``C`` becomes a parameter."""
        kept = self.sliced.cells
        effects = self.sliced.effects
        for pos in kept:
            for key, var in effects[pos].logged.items():
                if var in self.params:
                    continue
                j = self._definition(var, pos)
                if j is None:
                    continue
                lit = effects[j].literals.get(var)
                if lit is None or not self._lines_are_plain(j, lit.line, lit.end_line):
                    continue
                check_key(var, self.pipeline)
                value = self.run_params.get(key, lit.value)
                if value != lit.value:
                    continue  # the logged value is not the literal: leave the code alone
                self.params[var] = Param(param_type(value), value)
                self.remove.setdefault(j, set()).update(range(lit.line, lit.end_line + 1))

    def move_literals(self) -> None:
        """A parameter's ``NAME = <literal>`` lines in kept cells move to the parameters cell,
        so they do not overwrite the value papermill injects."""
        for j in self.sliced.cells:
            for key, lit in self.sliced.effects[j].literals.items():
                if key in self.params and self._lines_are_plain(j, lit.line, lit.end_line):
                    self.remove.setdefault(j, set()).update(range(lit.line, lit.end_line + 1))

    def _definition(self, name: str, pos: int) -> int | None:
        for j in reversed([k for k in self.sliced.cells if k <= pos]):
            if name in self.sliced.effects[j].binds:
                return j
        return None

    def _lines_are_plain(self, j: int, first: int, last: int) -> bool:
        """The lines are plain Python in the raw cell (not inside a cell magic)."""
        from .slicing import transform

        raw = self.cells[j].source.splitlines()
        python = transform(self.cells[j].source).splitlines()
        return last <= len(raw) and raw[first - 1 : last] == python[first - 1 : last]

    def dataset_params(self, workdir: Path) -> None:
        for ds, source in _dataset_sources(self.run, workdir):
            full = (workdir / source).resolve()
            role = ds.get("role") or "train"
            existing = next(
                (
                    k
                    for k, p in self.params.items()
                    if isinstance(p.default, str)
                    and p.default
                    and (workdir / p.default).resolve() == full
                ),
                None,
            )
            if existing is not None:
                self.params[existing] = Param("path", self.params[existing].default, dataset=role)
                continue
            literal = self._path_literal(source)
            if literal is not None:
                j, lit = literal
                self.params[lit.name] = Param("path", source, dataset=role)
                self.remove.setdefault(j, set()).update(range(lit.line, lit.end_line + 1))
                continue
            base = re.sub(r"\W", "_", ds.get("name") or role or "data").strip("_") or "data"
            key = base if base.endswith("_path") else f"{base}_path"
            if not key.isidentifier() or keyword.iskeyword(key):
                key = f"data_{key}"
            key = check_key(key, self.pipeline)
            self.params[key] = Param("path", source, dataset=role)
            self._replace_constants(source, key)

    def _path_literal(self, source: str) -> tuple[int, Any] | None:
        for j in self.sliced.cells:
            for lit in self.sliced.effects[j].literals.values():
                if lit.value == source and self._lines_are_plain(j, lit.line, lit.end_line):
                    return j, lit
        return None

    def _replace_constants(self, path: str, name: str) -> None:
        """Each string literal ``path`` in plain Python lines of the kept cells becomes ``name``."""
        from .slicing import transform

        for j in self.sliced.cells:
            text = self.cells[j].source
            try:
                tree = ast.parse(transform(text))
            except SyntaxError:
                continue
            raw = text.splitlines()
            written = _written_constants(tree)
            for node in ast.walk(tree):
                if id(node) in written:
                    continue  # the notebook writes the file there: keep the literal
                if (
                    isinstance(node, ast.Constant)
                    and node.value == path
                    and node.lineno == node.end_lineno
                    and node.lineno <= len(raw)
                ):
                    line = raw[node.lineno - 1].encode()
                    start, end = node.col_offset, node.end_col_offset or 0
                    if ast.literal_eval(line[start:end].decode() or "None") == path:
                        self.constants.setdefault(j, []).append((node.lineno, start, end, name))

    def source(self, j: int) -> str:
        """Cell ``j`` as the pipeline runs it: parameters moved out, path literals named."""
        lines = self.cells[j].source.splitlines()
        for lineno, start, end, name in sorted(self.constants.get(j, []), reverse=True):
            raw = lines[lineno - 1].encode()
            lines[lineno - 1] = (raw[:start] + name.encode() + raw[end:]).decode()
        out = []
        removed = self.remove.get(j, set())
        for i, line in enumerate(lines, start=1):
            if i in removed:
                continue
            out.append(self._param_line(line))
        text = "\n".join(out).strip("\n")
        meaningful = [
            ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")
        ]
        return text if meaningful else ""

    def _param_line(self, line: str) -> str:
        """``%mlops param C=0.5`` logs the pipeline's value: ``%mlops param C=C``;
        ``%mlops data train=data/a.csv`` reads the dataset parameter."""
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        words = stripped.split(None, 2)
        if len(words) < 2 or words[0] != "%mlops":
            return line
        if words[1] == "param":
            try:
                pairs = split_assignments(words[2] if len(words) > 2 else "")
            except InvalidArgumentError:  # a line that failed in the run; left as it was
                return line
            return f"{indent}%mlops param " + " ".join(f"{k}={k}" for k, _ in pairs)
        if words[1] == "data" and len(words) > 2:
            rest = words[2]
            for key, p in self.params.items():
                if p.type == "path":
                    rest = re.sub(
                        rf"=(['\"]?){re.escape(str(p.default))}\1(?=\s|$)", f"=${key}", rest
                    )
            return f"{indent}%mlops data {rest}"
        return line


def _no_model_error(target: Run, name: str, metric: str | None, mode: str) -> PipelineError:
    """ "Logged no model", saying which runs of the experiment have one and which is best."""
    from ..tracking.api import get_run
    from ..tracking.api import runs as list_runs

    message = (
        f"run {target.run_id[:8]} ({target.name}) logged no model: log one (ml.log_model or "
        "autolog) so the pipeline has something to register"
    )
    try:
        frame = list_runs(experiment=target.experiment)
    except Exception:  # the hint is a nicety; the error stands without it
        return PipelineError(message, pipeline=name)
    with_model = []
    for run_id in frame["run_id"]:
        run = get_run(run_id)
        if any(a["kind"] == "model" for a in run.artifacts):
            with_model.append(run)
    if not with_model:
        return PipelineError(
            message + f"; no run of experiment {target.experiment!r} has a model", pipeline=name
        )
    key = metric
    if key is None:
        try:
            key, mode = choose_metric(target.metrics or with_model[0].metrics, None, mode)
        except InvalidArgumentError:
            key = None
    scored = [r for r in with_model if key is not None and key in r.metrics]
    listed = ", ".join(f"{r.run_id[:8]} ({r.name})" for r in with_model[:10])
    hint = f"; runs of experiment {target.experiment!r} with a model: {listed}"
    if scored and key is not None:
        sign = 1 if mode == "max" else -1
        best = max(scored, key=lambda r: sign * r.metrics[key])
        hint += (
            f"; the best of them by {key} ({mode}) is {best.run_id[:8]} ({best.name}, "
            f"{key}={best.metrics[key]:.6g}): promote it with "
            f"%mlops promote {best.run_id[:8]} --name {name}"
        )
    return PipelineError(message + hint, pipeline=name)


LIBRARY_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "log_loss",
    "roc_auc",
    "rmse",
    "mae",
    "r2",
    "mape",
    "max_error",
)


def _check_evaluation(evaluation: dict[str, Any], metric: str | None) -> None:
    known = {"target", "data", "holdout", "slices", "sensitive", "thresholds", "task"}
    unknown = sorted(set(evaluation) - known)
    if unknown:
        raise InvalidArgumentError(
            f"evaluation: unknown keys {', '.join(unknown)} (keys: {', '.join(sorted(known))})"
        )
    if "target" not in evaluation or not ("data" in evaluation or "holdout" in evaluation):
        raise InvalidArgumentError(
            "evaluation: give the target column and either data (a parameter or path) "
            "or holdout ({'fraction': 0.2, 'seed': 0})"
        )
    if metric not in LIBRARY_METRICS:
        raise InvalidArgumentError(
            f"metric: with evaluation, the gate compares one of the library's metrics "
            f"({', '.join(LIBRARY_METRICS)}), got {metric!r}"
        )


def promote(
    run: Run | str | None,
    name: str,
    *,
    metric: str | None = None,
    mode: str = "max",
    out_dir: str | os.PathLike[str] = "pipelines",
    otherwise: str = "challenger",
    min_delta: float = 0.0,
    verify: bool = True,
    rtol: float = 1e-6,
    evaluation: dict[str, Any] | None = None,
) -> PipelineSpec:
    """Write ``out_dir/name/``: the run as a parameterised papermill pipeline.

    Parameters
    ----------
    run
        A ``Run``, run id, id prefix or name (``None``: the active run, else the latest).
    name
        The pipeline's name, also the registered model's name.
    metric, mode
        The gate: the candidate's ``metric`` must beat the current champion's
        (``max``: higher is better, ``min``: lower). Default: a well-known metric
        the run logged (accuracy, f1, r2... or rmse, loss...).
    otherwise
        What a model that does not beat the champion becomes: ``"challenger"``
        (registered with that alias) or ``"rejected"`` (not registered).
    min_delta
        How much better than the champion the candidate must be.
    evaluation
        Let the library score candidate and champion itself (see
        :mod:`.fair_gate`): ``{"target": "y", "holdout": {"fraction": 0.2, "seed": 0}}``
        or ``{"target": "y", "data": "eval_path"}``, optionally ``slices``,
        ``sensitive`` and ``thresholds``; ``metric`` is then one of the library's
        (accuracy, f1_macro, roc_auc, log_loss, r2, rmse, mae...).
    verify, rtol
        Execute the new notebook once (papermill, a real kernel, a throwaway
        store) with the run's own parameters and check that it logs the run's
        metrics within ``rtol``; the outcome is recorded in ``pipeline.json``.

    Returns
    -------
    PipelineSpec
        The written spec (``spec.folder`` is the pipeline folder).

    Raises
    ------
    PromotionError
        Before anything is written: a name the run's code uses that no earlier
        cell defines (named with the cell that uses it), or a parameter key that
        is not a Python name. After writing: the notebook failed its
        verification (names the cell and the error, or the metric that differs).
    """
    from ..project import default_project
    from ..tracking.api import get_run

    _check_options(name, evaluation, metric, otherwise)
    folder = Path(out_dir) / name
    if default_project().adopted and (folder / "pipeline.json").is_file():
        return PipelineSpec.load(folder)  # inside a pipeline step: already promoted
    target = get_run(run)
    model = _model_artifact(target, name, metric, mode)
    metric, mode = _gate_metric(target, metric, mode, evaluation)
    cells, sliced = _sliced_code(target, name)
    workdir = _workdir(target)
    params, body = _parameterised(target, cells, sliced, name, workdir)
    folder.mkdir(parents=True, exist_ok=True)
    _write_notebook(folder / "train.ipynb", target, name, params, body)
    gate = {"mode": mode, "min_delta": float(min_delta), "otherwise": otherwise}
    steps = _steps(target, folder, name, params, model, metric, gate, evaluation)
    spec = PipelineSpec(
        name=name,
        folder=folder.resolve(),
        params=params,
        steps=steps,
        model=model,
        experiment=target.info["experiment"],
        workdir=os.path.relpath(workdir, folder.resolve()),
        source=_source(target, cells, sliced, metric),
    )
    spec.save()
    (folder / "README.md").write_text(readme(spec), encoding="utf-8")
    if verify:
        _verify(spec, target, rtol)
    return spec


def _check_options(
    name: str, evaluation: dict[str, Any] | None, metric: str | None, otherwise: str
) -> None:
    """Refuse a bad pipeline name, evaluation or ``otherwise`` before reading the run."""
    from ..registry.api import check_name

    check_name(name)
    if evaluation is not None:
        _check_evaluation(evaluation, metric)
    if otherwise not in ("challenger", "rejected"):
        raise InvalidArgumentError(
            f"otherwise: expected 'challenger' or 'rejected', got {otherwise!r}"
        )


def _model_artifact(target: Run, name: str, metric: str | None, mode: str) -> str:
    """The run's model to train and register: ``"model"`` if it logged one by that name."""
    models = [a["path"] for a in target.artifacts if a["kind"] == "model"]
    if not models:
        raise _no_model_error(target, name, metric, mode)
    return "model" if "model" in models else models[0]


def _gate_metric(
    target: Run, metric: str | None, mode: str, evaluation: dict[str, Any] | None
) -> tuple[str, str]:
    """The gate's metric and mode: chosen among the run's metrics, or the library's."""
    if evaluation is None:
        return choose_metric(target.metrics, metric, mode)
    if mode not in ("max", "min"):
        raise InvalidArgumentError(f"mode: expected 'max' or 'min', got {mode!r}")
    assert metric is not None  # checked by _check_evaluation
    return metric, mode


def _sliced_code(target: Run, name: str) -> tuple[list[Cell], Slice]:
    """The run's captured cells and the slice of them that produced its results."""
    cells = session_cells(target)
    if not any(c.in_run for c in cells):
        raise PipelineError(
            f"run {target.run_id[:8]} captured no code (was %load_ext mlops_lab loaded "
            "while it ran?)",
            pipeline=name,
        )
    sliced = slice_cells(cells)
    _refuse_unresolved(cells, sliced, name)
    return cells, sliced


def _workdir(target: Run) -> Path:
    """Where the run's relative paths point: its notebook's folder, else the working dir."""
    source_nb = target.info.get("source_path")
    if source_nb and str(source_nb).endswith(".ipynb") and Path(source_nb).parent.is_dir():
        return Path(source_nb).resolve().parent
    return Path.cwd()


def _parameterised(
    target: Run, cells: list[Cell], sliced: Slice, name: str, workdir: Path
) -> tuple[dict[str, Param], list[str]]:
    """The pipeline's parameters, and the sources of the sliced cells that read them."""
    builder = _Builder(target, cells, sliced, name)
    builder.magic_params()
    builder.logged_literals()
    builder.dataset_params(workdir)
    builder.move_literals()
    params = {check_key(k, name): p for k, p in builder.params.items()}
    return params, [text for j in sliced.cells if (text := builder.source(j))]


def _write_notebook(
    path: Path, target: Run, name: str, params: dict[str, Param], body: list[str]
) -> None:
    """The train notebook: a title, the papermill ``parameters`` cell, then the code."""
    import nbformat
    import nbformat.v4 as nbf

    code = [nbf.new_code_cell(text) for text in body]
    load = nbf.new_code_cell("%load_ext mlops_lab")
    nb = nbf.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["mlops_lab"] = {"pipeline": name, "source_run": target.run_id}
    nb.cells = [
        nbf.new_markdown_cell(
            f"# {name}: training step\n\nPromoted from run `{target.run_id[:8]}` "
            f"({target.info['name']}). Run it with `mlops-lab pipeline run {name} -p NAME VALUE`."
        ),
        nbf.new_code_cell(
            "\n".join(f"{k} = {p.default!r}" for k, p in params.items()) or "# no parameters",
            metadata={"tags": ["parameters"]},
        ),
        *([] if code and "%load_ext mlops_lab" in code[0].source else [load]),
        *code,
    ]
    nbformat.write(nb, path)


def _steps(
    target: Run,
    folder: Path,
    name: str,
    params: dict[str, Param],
    model: str,
    metric: str,
    gate: dict[str, Any],
    evaluation: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """validate, train, evaluate, gate, register (writes the schema the first one checks)."""
    schema_file = _write_schema(target, folder)
    data_param = next((k for k, p in params.items() if p.dataset == "train"), None)
    data_param = data_param or next((k for k, p in params.items() if p.type == "path"), None)
    return [
        {"name": "validate", "kind": "validate", "schema": schema_file, "data": data_param},
        {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": model},
        {"name": "evaluate", "kind": "evaluate", "metric": metric, **(evaluation or {})},
        {
            "name": "gate",
            "kind": "gate",
            "metric": metric,
            "mode": gate["mode"],
            "min_delta": gate["min_delta"],
            "against": "champion",
            "otherwise": gate["otherwise"],
        },
        {"name": "register", "kind": "register", "model_name": name},
    ]


def _source(target: Run, cells: list[Cell], sliced: Slice, metric: str) -> dict[str, Any]:
    """What the pipeline was promoted from: the run, its notebook, commit, metric, cells."""
    info = target.info
    return {
        "run_id": target.run_id,
        "run_name": info["name"],
        "notebook": info.get("source_path"),
        "git_commit": info.get("git_commit"),
        "metrics": {metric: target.metrics.get(metric)},
        "cells": [cells[j].label for j in sliced.cells],
    }


def _verify(spec: PipelineSpec, target: Run, rtol: float) -> None:
    from .verify import verify

    try:
        outcome = verify(spec, target, rtol=rtol)
    except PromotionError as exc:
        spec.source["verification"] = {"status": "error", "rtol": rtol, "error": str(exc)}
        spec.save()
        raise
    spec.source["verification"] = outcome.to_dict()
    spec.save()
    if not outcome.passed:
        raise PromotionError(
            f"promotion of {spec.name!r} did not verify: the train notebook, run with the run's "
            f"own parameters, logged other metrics:\n{outcome}\n(the notebook is kept in "
            f"{spec.folder}; promote with verify=False / --no-verify to skip this check)",
            pipeline=spec.name,
        )


def _write_schema(run: Run, folder: Path) -> str | None:
    """Save the schema of the run's training data beside the notebook, if it logged any."""
    if not run.datasets:
        return None
    from ..data.api import run_schema

    try:
        schema = run_schema(run)
    except MlopsLabError:
        return None
    schema.save(folder / "schema.json")
    return "schema.json"


def readme(spec: PipelineSpec) -> str:
    gate = spec.gate
    better = "higher" if gate.get("mode") == "max" else "lower"
    rows = "\n".join(
        f"| `{k}` | {p.type} | `{p.default!r}` |" + (" dataset" if p.dataset else "")
        for k, p in spec.params.items()
    )
    return f"""# Pipeline `{spec.name}`

Promoted by mlops-lab from run `{spec.source.get("run_id", "")[:8]}`
({spec.source.get("run_name", "")}). Edit `train.ipynb` freely; re-promoting overwrites it.

```bash
mlops-lab pipeline run {spec.name}                      # the defaults below
mlops-lab pipeline run {spec.name} -p NAME VALUE        # override a parameter
```

or, in a notebook, `%mlops pipeline run {spec.name} -p NAME VALUE` /
`ml.run_pipeline("{spec.name}", {{"NAME": VALUE}})`.

| parameter | type | default |
|---|---|---|
{rows}

Steps: {", ".join(s["name"] for s in spec.steps)}. Every step is a child run of the
pipeline run; the executed notebook is kept with the train step's run.

Gate: the candidate's `{gate.get("metric")}` ({better} is better, by more than
{gate.get("min_delta", 0.0)}) must beat `{spec.name}@champion`; then it is registered as the
new champion, else as {gate.get("otherwise")}.

Continuous training: run the same command from cron or CI when new data arrives, e.g.
`0 3 * * * cd /project && mlops-lab pipeline run {spec.name} -p train_path data/latest.csv`.
"""
