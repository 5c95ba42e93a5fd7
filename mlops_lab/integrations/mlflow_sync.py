"""Two-way sync with an MLflow tracking server, through MLflow's own client.

:func:`push` copies the store's runs to MLflow: params, every metric's full
history (steps and timestamps), tags, status and times, parent/child links,
the captured code and environment as artifacts, models in MLflow's sklearn
flavour with a signature, then registered versions and their aliases.
:func:`pull` copies an MLflow experiment's runs (params, metric histories,
tags, status, times, parents) into the store.

Both are idempotent: a pushed run carries ``mlops_lab.run_id`` on the MLflow
side (and a pulled run keeps MLflow's own run id), so a second push or pull
adds nothing. A run is marked complete on the server (``mlops_lab.pushed``)
only after everything of it is written; an interrupted push leaves a run
without that mark, which the next push deletes and writes again, so nothing
is logged twice. MLflow is the optional extra ``mlflow``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError, MissingDependencyError

ORIGIN_TAG = "mlops_lab.run_id"
DONE_TAG = "mlops_lab.pushed"
VERSION_TAG = "mlops_lab.version"
_BATCH = 900  # MLflow's log_batch takes at most 1000 metrics
_STATUS = MappingProxyType(
    {"finished": "FINISHED", "failed": "FAILED", "killed": "KILLED", "running": "RUNNING"}
)


@dataclass
class SyncResult:
    """What one push or pull wrote, and what it found already there."""

    direction: str
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"mlflow {self.direction}: {len(self.created)} runs written, "
            f"{len(self.skipped)} already there"
        )
        if self.resumed:
            text += f", {len(self.resumed)} interrupted runs written again"
        if self.models:
            text += f"; model versions: {', '.join(self.models)}"
        return text


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError as exc:
        raise MissingDependencyError("mlflow", "mlflow", "syncing with MLflow") from exc
    return mlflow


def _client(uri: str | None) -> Any:
    mlflow = _mlflow()
    from mlflow.tracking import MlflowClient

    if uri:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _progress(items: list[Any], desc: str, enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield from items
        return
    from tqdm.auto import tqdm

    yield from tqdm(items, desc=desc, unit="run")


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


def _experiment_id(client: Any, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)
    return str(client.create_experiment(name))


def _remote_runs(client: Any, experiment_id: str) -> list[Any]:
    out, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        out += list(page)
        token = page.token
        if not token:
            return out


def _local_runs(store: Any, experiment: str | None) -> list[dict[str, Any]]:
    """The store's runs, parents before their children."""
    from ..store.query import runs_frame

    frame = runs_frame(store, experiment=experiment, order_by="start_time asc")
    rows = [
        {
            "run_id": str(r["run_id"]),
            "parent_id": None if r.get("parent_id") in (None, "") else str(r["parent_id"]),
            "experiment": str(r["experiment"]),
        }
        for r in frame.to_dict("records")
    ]
    known = {r["run_id"] for r in rows}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()

    def place(row: dict[str, Any]) -> None:
        if row["run_id"] in placed:
            return
        parent = row["parent_id"]
        if parent in known and parent not in placed:
            place(next(r for r in rows if r["run_id"] == parent))
        placed.add(row["run_id"])
        ordered.append(row)

    for row in rows:
        place(row)
    return ordered


def push(
    uri: str | None = None,
    *,
    experiment: str | None = None,
    models: bool = True,
    progress: bool = True,
    store: Any = None,
) -> SyncResult:
    """Push the store's runs (of ``experiment``, default all) to the MLflow server at ``uri``.

    Parameters
    ----------
    uri
        The tracking server (``http://127.0.0.1:5000``) or any MLflow tracking URI
        (default: MLflow's own, ``MLFLOW_TRACKING_URI``).
    models
        Also log each run's models (sklearn flavour) and the registered versions and aliases.
    """
    from ..project import default_project

    if store is None:
        default_project().flush()
        store = default_project().store
    client = _client(uri)
    result = SyncResult("push")
    local = _local_runs(store, experiment)
    mapping: dict[str, str] = {}
    uris: dict[tuple[str, str], str] = {}  # (local run, model name) -> MLflow model URI
    remote_by_origin: dict[str, dict[str, Any]] = {}
    for name in sorted({r["experiment"] for r in local}):
        for run in _remote_runs(client, _experiment_id(client, name)):
            origin = run.data.tags.get(ORIGIN_TAG)
            if origin:
                remote_by_origin[origin] = {"id": run.info.run_id, "tags": run.data.tags}
    for row in _progress(local, "mlflow push", progress):
        local_id = row["run_id"]
        existing = remote_by_origin.get(local_id)
        if existing is not None and existing["tags"].get(DONE_TAG):
            mapping[local_id] = existing["id"]
            result.skipped.append(local_id)
            continue
        if existing is not None:  # an interrupted push: write it again from scratch
            client.delete_run(existing["id"])
            result.resumed.append(local_id)
        mapping[local_id] = _push_run(client, store, row, mapping, uris, models=models)
        result.created.append(local_id)
    if models:
        result.models = _push_registry(client, store, mapping, uris)
    return result


def _push_run(
    client: Any,
    store: Any,
    row: dict[str, Any],
    mapping: dict[str, str],
    uris: dict[tuple[str, str], str],
    *,
    models: bool,
) -> str:
    from mlflow.entities import Metric, Param, RunTag

    local_id = row["run_id"]
    record = store.run_record(local_id)
    tags = dict(store.tags(local_id))
    tags.update({ORIGIN_TAG: local_id, "mlflow.runName": record["name"]})
    if row["parent_id"] in mapping:
        tags["mlflow.parentRunId"] = mapping[row["parent_id"]]
    if record.get("git_commit"):
        tags["mlflow.source.git.commit"] = str(record["git_commit"])
    if record.get("source_path"):
        tags["mlflow.source.name"] = str(record["source_path"])
    if record.get("user"):
        tags["mlflow.user"] = str(record["user"])
    run = client.create_run(
        _experiment_id(client, row["experiment"]),
        start_time=_ms(record["start_time"]),
        tags={k: str(v)[:8000] for k, v in tags.items()},
        run_name=record["name"],
    )
    run_id = run.info.run_id
    params = [Param(k, str(v[0])[:6000]) for k, v in store.params(local_id).items()]
    for i in range(0, len(params), 100):
        client.log_batch(run_id, params=params[i : i + 100])
    metrics = []
    for key in store.metric_keys(local_id):
        for step, value, timestamp in store.metric_history(local_id, key):
            value = float("nan") if value is None else float(value)
            metrics.append(Metric(key, value, round(timestamp * 1000), int(step)))
    for i in range(0, len(metrics), _BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + _BATCH])
    _push_files(client, store, local_id, run_id, record)
    if models:
        _push_models(store, local_id, run_id, uris)
    status = _STATUS.get(str(record["status"]), "FINISHED")
    if status != "RUNNING":
        client.set_terminated(run_id, status=status, end_time=_ms(record.get("end_time")))
    client.log_batch(run_id, tags=[RunTag(DONE_TAG, "1")])
    return str(run_id)


def _push_files(client: Any, store: Any, local_id: str, run_id: str, record: dict) -> None:
    cells = store.cells(local_id)
    if cells:
        code = "\n\n".join(
            f"# In[{c.get('execution_count') or ' '}] ({c.get('status') or c.get('outcome', '')})\n"
            f"{c.get('source', '')}"
            for c in cells
        )
        client.log_text(run_id, code, "code/cells.py")
    env = store.environment(record.get("env_id"))
    if env:
        packages = env.get("packages") or {}
        if isinstance(packages, str):
            packages = json.loads(packages)
        lines = [f"# python {env.get('python')} on {env.get('platform')}"]
        lines += [f"{name}=={version}" for name, version in sorted(packages.items())]
        client.log_text(run_id, "\n".join(lines) + "\n", "environment/requirements.txt")


def _push_models(store: Any, local_id: str, run_id: str, uris: dict[tuple[str, str], str]) -> None:
    mlflow = _mlflow()
    from ..tracking.models import load_model

    for art in store.artifacts(local_id):
        if art["kind"] != "model":
            continue
        from ..tracking.run import Run

        model = load_model(Run(store, local_id), art["path"])
        example = _example(art.get("meta") or {})
        signature = None
        if example is not None:
            from mlflow.models import infer_signature

            signature = infer_signature(example, model.predict(example))
        with mlflow.start_run(run_id=run_id):
            info = mlflow.sklearn.log_model(
                model, name=art["path"], signature=signature, input_example=example
            )
        uris[(local_id, art["path"])] = info.model_uri


def _example(meta: dict[str, Any]) -> Any:
    payload = meta.get("input_example")
    if not payload:
        return None
    import pandas as pd

    if "columns" in payload:
        return pd.DataFrame(payload["data"], columns=payload["columns"])
    return None


def _model_uri(
    client: Any, uris: dict[tuple[str, str], str], local_id: str, run_id: str, model: str
) -> str | None:
    """The MLflow URI of a pushed run's model: from this push, else the server's records."""
    if (local_id, model) in uris:
        return uris[(local_id, model)]
    run = client.get_run(run_id)
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{_quote(model)}'",
    )
    return f"models:/{found[0].model_id}" if found else None


def _push_registry(
    client: Any, store: Any, mapping: dict[str, str], uris: dict[tuple[str, str], str]
) -> list[str]:
    from ..store import registry_records as records

    done = []
    aliases = records.all_aliases(store)
    for entry in records.model_names(store):
        name = entry["name"]
        try:
            client.get_registered_model(name)
        except Exception:  # MLflow raises its RestException / MlflowException for a missing name
            client.create_registered_model(name)
        remote = {
            mv.tags.get(VERSION_TAG): mv
            for mv in client.search_model_versions(f"name = '{_quote(name)}'")
        }
        numbers: dict[int, str] = {}
        for version in sorted(records.versions(store, name), key=lambda v: v["version"]):
            number = int(version["version"])
            existing = remote.get(str(number))
            if existing is None:
                run_id = mapping.get(version["run_id"])
                source = (
                    _model_uri(client, uris, version["run_id"], run_id, version["model"])
                    if run_id
                    else None
                )
                if run_id is None or source is None:
                    continue
                existing = client.create_model_version(
                    name,
                    source,
                    run_id=run_id,
                    tags={VERSION_TAG: str(number)},
                    model_id=source.removeprefix("models:/").split("/")[0],
                )
                done.append(f"{name}/{number}")
            numbers[number] = str(existing.version)
        for (model, alias), number in aliases.items():
            if model == name and number in numbers:
                client.set_registered_model_alias(name, alias, numbers[number])
    return done


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


def pull(
    experiment: str,
    uri: str | None = None,
    *,
    progress: bool = True,
    store: Any = None,
) -> SyncResult:
    """Pull the MLflow experiment ``experiment``'s runs into the store (idempotent).

    Runs that were pushed from this store (``mlops_lab.run_id``) and runs pulled before
    (same id) are skipped. Models stay on the MLflow server: MLflow's sklearn flavour is
    a pickle, which mlops-lab never loads.
    """
    from ..project import default_project

    store = store or default_project().store
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        names = [e.name for e in client.search_experiments()]
        raise InvalidArgumentError(
            f"experiment: no MLflow experiment {experiment!r} (experiments: {', '.join(names)})"
        )
    result = SyncResult("pull")
    remote = sorted(_remote_runs(client, found.experiment_id), key=lambda r: r.info.start_time)
    ids = {r.info.run_id for r in remote}
    ordered = sorted(remote, key=lambda r: r.data.tags.get("mlflow.parentRunId") in ids)
    for run in _progress(ordered, "mlflow pull", progress):
        run_id = run.info.run_id
        origin = run.data.tags.get(ORIGIN_TAG)
        if _exists(store, origin) or _exists(store, run_id):
            result.skipped.append(run_id)
            continue
        _pull_run(client, store, run, experiment)
        result.created.append(run_id)
    return result


def _exists(store: Any, run_id: str | None) -> bool:
    from ..errors import RunNotFoundError

    if not run_id:
        return False
    try:
        return store.resolve_run(run_id) == run_id
    except (RunNotFoundError, InvalidArgumentError):
        return False


def _pull_run(client: Any, store: Any, run: Any, experiment: str) -> None:
    import re

    info, data = run.info, run.data
    if not re.fullmatch(r"[0-9a-f]{32}", info.run_id):
        raise InvalidArgumentError(f"MLflow run id {info.run_id!r} is not a 32-digit hex id")
    parent = data.tags.get("mlflow.parentRunId")
    record = {
        "run_id": info.run_id,
        "name": info.run_name or data.tags.get("mlflow.runName") or info.run_id[:8],
        "experiment_id": store.experiment_id(experiment),
        "status": {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}.get(
            info.status, "finished"
        ),
        "start_time": info.start_time / 1000.0,
        "end_time": info.end_time / 1000.0 if info.end_time else None,
        "parent_id": parent if parent and _exists(store, parent) else None,
        "user": info.user_id or None,
        "source_type": "mlflow",
        "source_path": data.tags.get("mlflow.source.name"),
        "git_commit": data.tags.get("mlflow.source.git.commit"),
    }
    tags = {k: v for k, v in data.tags.items() if k != ORIGIN_TAG}
    tags["mlflow.run_id"] = info.run_id
    store.create_run(record, tags)
    store.log_params(info.run_id, [(k, str(v), "str") for k, v in data.params.items()])
    rows = []
    for key in data.metrics:
        for m in client.get_metric_history(info.run_id, key):
            value = float(m.value)
            rows.append((info.run_id, key, value, int(m.step), m.timestamp / 1000.0))
    if rows:
        store.log_metrics(rows)
