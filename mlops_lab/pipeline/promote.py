"""Promotion: a tracked run's captured cells become a parameterised pipeline folder.

``promote(run, "iris")`` writes ``pipelines/iris/``:

- ``train.ipynb``: the cells that succeeded, in order. The ``%mlops param``
  values become one cell tagged ``parameters`` (papermill's convention) and
  the ``%mlops param`` lines log the (possibly overridden) values again; the
  paths of the datasets the run read become parameters too. Cells that only
  displayed or compared (``%mlops runs``, ``show``, ``compare``...) are
  dropped, as are the lines that opened and ended the run: the notebook opens
  its own run, a child of the pipeline run when the pipeline executes it.
- ``pipeline.json``: steps validate / train / evaluate / gate / register,
  the typed parameters with their defaults, and the gate rule.
- ``schema.json``: the schema of the run's training data (when it logged one).
- ``README.md``: how to run it.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, PipelineError
from .spec import Param, PipelineSpec, param_type

if TYPE_CHECKING:
    from ..tracking.run import Run

PARENT_ENV_VAR = "MLOPS_LAB_PARENT_RUN"
DROPPED_VERBS = {
    "start",
    "end",
    "runs",
    "show",
    "compare",
    "registry",
    "lineage",
    "promote",
    "pipeline",
    "serve",
    "monitor",
    "help",
    "--help",
    "-h",
}
_MAGIC = re.compile(r"^(\s*)%mlops\s+(\S+)(.*)$")
_DROPPED_CALLS = re.compile(
    r"^(\s*)(?:ml|mlops_lab)\.(?:end_run|runs|compare|show|promote|run_pipeline|"
    r"register_model|set_alias|delete_alias|lineage|models|model_versions)\(.*\)\s*$"
)
_START_CALL = re.compile(r"^(\s*)(?:(\w+)\s*=\s*)?(?:ml|mlops_lab)\.start_run\(.*\)\s*$")
_WITH_START = re.compile(r"^(\s*)with\s+(?:ml|mlops_lab)\.start_run\(.*\)(\s+as\s+\w+)?\s*:\s*$")
_MAXIMISE = ("accuracy", "acc", "f1", "roc_auc", "auc", "r2", "precision", "recall", "score")
_MINIMISE = ("rmse", "mse", "mae", "loss", "log_loss", "error")


def _param_pairs(rest: str) -> list[tuple[str, str]]:
    from ..magics.tracking import split_assignments

    try:
        return split_assignments(rest)
    except Exception:  # UsageError: a line that failed in the run was dropped with its cell
        return []


def transform_cell(source: str, params: dict[str, str], paths: dict[str, str]) -> str:
    """The cell as the pipeline runs it (see the module docstring); ``""`` drops it.

    ``params`` collects ``{name: expression}`` of the ``%mlops param`` lines;
    ``paths`` maps a dataset path literal to the parameter that replaces it.
    """
    out: list[str] = []
    for line in source.splitlines():
        magic = _MAGIC.match(line)
        if magic:
            indent, verb, rest = magic.groups()
            if verb in DROPPED_VERBS:
                if indent:
                    out.append(f"{indent}pass")
                continue
            if verb == "param":
                pairs = _param_pairs(rest)
                for key, expr in pairs:
                    params.setdefault(key, expr)
                names = [key for key, _ in pairs]
                if names:
                    out.append(f"{indent}%mlops param " + " ".join(f"{n}={n}" for n in names))
                continue
            if verb == "data":
                for path, name in paths.items():
                    rest = re.sub(rf"=(['\"]?){re.escape(path)}\1(?=\s|$)", f"=${name}", rest)
                out.append(f"{indent}%mlops {verb}{rest}")
                continue
            out.append(line)
            continue
        if _DROPPED_CALLS.match(line):
            indent = _DROPPED_CALLS.match(line).group(1)  # type: ignore[union-attr]
            if indent:
                out.append(f"{indent}pass")
            continue
        start = _START_CALL.match(line)
        if start:
            indent, target = start.groups()
            if target:
                out.append(f"{indent}{target} = ml.active_run()")
            elif indent:
                out.append(f"{indent}pass")
            continue
        with_start = _WITH_START.match(line)
        if with_start:
            indent, alias = with_start.groups()
            if alias:
                out.append(f"{indent}with contextlib.nullcontext(ml.active_run()){alias}:")
            else:
                out.append(f"{indent}with contextlib.nullcontext():")
            continue
        for path, name in paths.items():
            line = line.replace(f"'{path}'", name).replace(f'"{path}"', name)
        out.append(line)
    text = "\n".join(out).strip("\n")
    meaningful = [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return text if meaningful else ""


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


def _dataset_params(run: Run, params: dict[str, Any], workdir: Path) -> dict[str, Param]:
    """One ``path`` parameter per dataset file the run read (reusing a param holding it)."""
    out: dict[str, Param] = {}
    for ds in run.datasets:
        source = ds.get("source")
        if not source or not isinstance(source, str):
            continue
        full = (workdir / source).resolve()
        existing = next(
            (
                k
                for k, v in params.items()
                if isinstance(v, str) and v and (workdir / v).resolve() == full
            ),
            None,
        )
        base = re.sub(r"\W", "_", ds.get("name") or ds.get("role") or "data").strip("_")
        key = existing or f"{base or 'data'}_path"
        if not key.isidentifier():
            key = f"data_{key}"
        out[key] = Param("path", source, dataset=ds.get("role") or "train")
    return out


def notebook_cells(run: Run, params: dict[str, Param]) -> tuple[list[Any], dict[str, str]]:
    """The notebook's cells, and ``{name: expression}`` of its ``%mlops param`` lines."""
    import nbformat.v4 as nbf

    paths = {p.default: k for k, p in params.items() if p.type == "path"}
    declared: dict[str, str] = {}
    body = []
    for cell in run.cells:
        if cell.get("status", "ok") != "ok":
            continue
        text = transform_cell(cell["source"], declared, paths)
        if text:
            body.append(nbf.new_code_cell(text))
    return body, declared


def _start_cell(name: str, experiment: str, log_extra: list[str]) -> str:
    lines = [
        "# The run of this notebook: a step of the pipeline run under `mlops-lab pipeline run`.",
        "ml.start_run(",
        f"    {name + '-train'!r},",
        f"    experiment={experiment!r},",
        f"    parent=os.environ.get({PARENT_ENV_VAR!r}) or None,",
        f"    tags={{'mlops.pipeline': {name!r}, 'mlops.step': 'train'}},",
        ")",
    ]
    if log_extra:
        lines.append("ml.log_params({" + ", ".join(f"{k!r}: {k}" for k in log_extra) + "})")
    return "\n".join(lines)


def promote(
    run: Run | str | None,
    name: str,
    *,
    metric: str | None = None,
    mode: str = "max",
    out_dir: str | os.PathLike[str] = "pipelines",
    otherwise: str = "challenger",
    min_delta: float = 0.0,
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

    Returns
    -------
    PipelineSpec
        The written spec (``spec.folder`` is the pipeline folder).
    """
    import nbformat
    import nbformat.v4 as nbf

    from ..registry.api import check_name
    from ..tracking.api import get_run

    check_name(name)
    if otherwise not in ("challenger", "rejected"):
        raise InvalidArgumentError(
            f"otherwise: expected 'challenger' or 'rejected', got {otherwise!r}"
        )
    target = get_run(run)
    models = [a["path"] for a in target.artifacts if a["kind"] == "model"]
    if not models:
        raise PipelineError(
            f"run {target.run_id[:8]} logged no model: log one (ml.log_model or autolog) "
            "so the pipeline has something to register",
            pipeline=name,
        )
    model = "model" if "model" in models else models[0]
    metric, mode = choose_metric(target.metrics, metric, mode)
    if not target.cells:
        raise PipelineError(
            f"run {target.run_id[:8]} captured no code (was %load_ext mlops_lab loaded "
            "while it ran?)",
            pipeline=name,
        )
    info = target.info
    folder = Path(out_dir) / name
    source_nb = info.get("source_path")
    workdir = Path.cwd()
    if source_nb and str(source_nb).endswith(".ipynb") and Path(source_nb).parent.is_dir():
        workdir = Path(source_nb).resolve().parent
    run_params = target.params
    data_params = _dataset_params(target, run_params, workdir)
    body, declared = notebook_cells(target, data_params)
    params: dict[str, Param] = {}
    for key, expr in declared.items():
        if key in data_params:
            params[key] = data_params[key]
        elif key in run_params:
            params[key] = Param(param_type(run_params[key]), run_params[key])
        else:  # set while no run was open: keep the line's literal value
            try:
                value = ast.literal_eval(expr)
            except (ValueError, SyntaxError):
                raise PipelineError(
                    f"parameter {key}={expr} was not logged by run {target.run_id[:8]} and "
                    "is not a literal: log it in the run (%mlops param while the run is open)",
                    pipeline=name,
                ) from None
            params[key] = Param(param_type(value), value)
    extra = [k for k in data_params if k not in params]
    for key in extra:
        params[key] = data_params[key]

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
            f"({info['name']}). Run it with `mlops-lab pipeline run {name} -p NAME VALUE`."
        ),
        nbf.new_code_cell(
            "%load_ext mlops_lab\nimport contextlib\nimport os\n\nimport mlops_lab as ml"
        ),
        nbf.new_code_cell(
            "\n".join(f"{k} = {p.default!r}" for k, p in params.items()) or "# no parameters",
            metadata={"tags": ["parameters"]},
        ),
        nbf.new_code_cell(_start_cell(name, info["experiment"], extra)),
        *body,
        nbf.new_code_cell("ml.end_run()"),
    ]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "train.ipynb")

    schema_file = _write_schema(target, folder)
    data_param = next((k for k, p in params.items() if p.dataset == "train"), None)
    data_param = data_param or next((k for k, p in params.items() if p.type == "path"), None)
    steps: list[dict[str, Any]] = [
        {"name": "validate", "kind": "validate", "schema": schema_file, "data": data_param},
        {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": model},
        {"name": "evaluate", "kind": "evaluate", "metric": metric},
        {
            "name": "gate",
            "kind": "gate",
            "metric": metric,
            "mode": mode,
            "min_delta": float(min_delta),
            "against": "champion",
            "otherwise": otherwise,
        },
        {"name": "register", "kind": "register", "model_name": name},
    ]
    spec = PipelineSpec(
        name=name,
        folder=folder.resolve(),
        params=params,
        steps=steps,
        model=model,
        experiment=info["experiment"],
        workdir=os.path.relpath(workdir, folder.resolve()),
        source={
            "run_id": target.run_id,
            "run_name": info["name"],
            "notebook": source_nb,
            "git_commit": info.get("git_commit"),
            "metrics": {metric: target.metrics.get(metric)},
        },
    )
    spec.save()
    (folder / "README.md").write_text(readme(spec), encoding="utf-8")
    return spec


def _write_schema(run: Run, folder: Path) -> str | None:
    """Save the schema of the run's training data beside the notebook, if it logged any."""
    if not run.datasets:
        return None
    try:
        from ..data.api import run_schema
    except ImportError:
        return None
    from ..errors import MlopsLabError

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
