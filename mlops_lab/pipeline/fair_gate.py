"""The evaluate step that scores the candidate and the champion itself, on the same data.

When the evaluate step of ``pipeline.json`` names its evaluation data, the
library computes every figure the gate uses (``ml.evaluate``), never the
number the training notebook logged about itself::

    {"kind": "evaluate", "metric": "r2",
     "data": "eval_path",            # a parameter holding the path, or a path;
                                     # or "holdout": {"fraction": 0.2, "seed": 0}
                                     # to hold out rows of the training data
     "target": "y",
     "slices": ["region"],           # optional
     "sensitive": ["sex"],           # optional (the fairness extra)
     "thresholds": {"r2": {"min_value": 0.3, "max_slice_drop": 0.05}}}

The candidate (the train step's model) and the current champion are scored on
those rows; both reports, the dataset digest and every rule's outcome are
recorded on the evaluate step's run (``evaluation.json``) and its tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PipelineError


@dataclass
class FairScore:
    """The candidate's figure, the champion's on the same rows, and the failed rules."""

    candidate: float
    champion: float | None
    champion_version: int | None
    dataset: str
    failed_rules: list[str] = field(default_factory=list)
    report: Any = None


def split_holdout(
    conf: dict[str, Any], params: dict[str, Any], workdir: Path, folder: Path
) -> tuple[str, Path, Path]:
    """Split the training data into the rows the notebook trains on and a held-out part.

    ``conf["holdout"]`` is ``{"fraction": 0.2, "seed": 0, "from": "train_path"}``
    (``from`` defaults to the first path parameter). Returns the parameter, the
    training part's path (to pass to the notebook) and the held-out part's path.
    """
    from sklearn.model_selection import train_test_split

    from ..data.io import read_table

    spec = conf["holdout"]
    fraction, seed = float(spec.get("fraction", 0.2)), int(spec.get("seed", 0))
    if not 0 < fraction < 1:
        raise PipelineError(f"holdout fraction: expected a share in (0, 1), got {fraction!r}")
    param = spec.get("from") or next(
        (k for k, v in params.items() if str(v).endswith((".csv", ".parquet"))), None
    )
    if param is None or param not in params:
        raise PipelineError(f"holdout: no dataset parameter {param!r} to split")
    source = Path(str(params[param])).expanduser()
    frame = read_table(source if source.is_absolute() else workdir / source)
    train, held = train_test_split(frame, test_size=fraction, random_state=seed)
    folder.mkdir(parents=True, exist_ok=True)
    train_path, held_path = folder / f"train-{source.stem}.csv", folder / "holdout.csv"
    train.to_csv(train_path, index=False)
    held.to_csv(held_path, index=False)
    return param, train_path, held_path


def eval_data_path(conf: dict[str, Any], params: dict[str, Any], workdir: Path) -> Path:
    if "holdout_path" in conf:
        return Path(conf["holdout_path"])
    ref = conf["data"]
    value = params.get(ref, ref)
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else workdir / path


def score_fairly(
    conf: dict[str, Any],
    *,
    params: dict[str, Any],
    workdir: Path,
    candidate_model: Any,
    model_name: str,
    store: Any,
    step_run: Any,
) -> FairScore:
    """Score candidate and champion with ``ml.evaluate`` on the step's evaluation data."""
    from ..errors import ModelNotFoundError
    from ..evaluation import evaluate
    from ..registry.api import get_model_version

    metric = conf["metric"]
    if "target" not in conf:
        raise PipelineError("the evaluate step names its data but not its target column")
    path = eval_data_path(conf, params, workdir)
    try:
        champion = get_model_version(f"{model_name}@champion", store=store)
    except ModelNotFoundError:
        champion = None
    report = evaluate(
        candidate_model,
        str(path),
        target=conf["target"],
        task=conf.get("task"),
        slices=conf.get("slices"),
        sensitive=conf.get("sensitive"),
        baseline=champion.load() if champion is not None else None,
        log=False,
    )
    report.model = "candidate"
    if report.baseline is not None and champion is not None:
        report.baseline.model = f"champion v{champion.version}"
    if metric not in report.metrics:
        raise PipelineError(
            f"the evaluation gives no {metric!r} for this {report.task} model "
            f"(it gives: {', '.join(report.metrics)})"
        )
    failed = [r.message for r in report.check(conf.get("thresholds", {})) if not r.passed]
    step_run.log_metrics(report.metrics)
    if report.baseline is not None:
        step_run.log_metrics({f"champion.{k}": v for k, v in report.baseline.metrics.items()})
    step_run.set_tag("evaluation.dataset", report.dataset)
    step_run.set_tag("evaluation.data", str(path))
    if failed:
        step_run.set_tag("evaluation.failed_rules", "; ".join(failed))
    digest, size = store.blobs.put_bytes(report.to_json().encode())
    store.add_artifact(step_run.run_id, "evaluation.json", digest, size, kind="file")
    base = report.baseline.metrics.get(metric) if report.baseline is not None else None
    return FairScore(
        candidate=report.metrics[metric],
        champion=base,
        champion_version=champion.version if champion is not None else None,
        dataset=report.dataset,
        failed_rules=failed,
        report=report,
    )
