"""Registering run models under a name, moving aliases, resolving model references.

The functions here are what ``ml.register_model``, ``ml.models``,
``ml.model_versions``, ``ml.set_alias``, ``ml.delete_alias`` and
``ml.get_model_version`` and ``ml.load_model`` are; the model server and
``ml.load_model`` resolve ``"name@alias"`` / ``"name/3"`` / ``"runs:/RUN_ID/model"``
through :func:`get_model_version`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import InvalidArgumentError, ModelNotFoundError, RegistryError
from ..store import registry_records as records

if TYPE_CHECKING:
    import pandas as pd

    from ..project import Project
    from ..store import Store
    from ..tracking.run import Run

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
RUNS_PREFIX = "runs:/"


@dataclass
class ModelVersion:
    """One registered version of a named model.

    ``version`` is 0 for a run's model that is not registered (a ``runs:/`` reference).

    Examples
    --------
    >>> mv = ml.get_model_version("iris@champion")     # doctest: +SKIP
    >>> mv.version, mv.aliases, mv.metrics["acc"]      # doctest: +SKIP
    (3, ['champion'], 0.97)
    >>> model = mv.load()                              # doctest: +SKIP
    """

    name: str
    version: int
    run_id: str
    model: str
    aliases: list[str]
    created: float
    metrics: dict[str, float]
    digest: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    store: Store | None = field(default=None, repr=False, compare=False)

    @property
    def ref(self) -> str:
        """The reference that names exactly this version (``name/3``, or ``runs:/ID/model``)."""
        if self.version == 0:
            return f"{RUNS_PREFIX}{self.run_id}/{self.model}"
        return f"{self.name}/{self.version}"

    @property
    def run(self) -> Run:
        """The run that logged the model."""
        from ..tracking.run import Run

        return Run(self._store(), self.run_id)

    def _store(self) -> Store:
        if self.store is not None:
            return self.store
        from ..project import default_project

        return default_project().store

    def load(self, *, trusted: list[str] | None = None) -> Any:
        """Load the registered model file (skops; only trusted types, see ``ml.load_model``)."""
        from ..store.blobs import is_digest
        from ..tracking.models import loads

        store = self._store()
        if not is_digest(self.digest):
            raise ModelNotFoundError(
                f"the model file of {self.ref} is recorded under {self.digest[:80]!r}, "
                "which is not a blob digest (64 lowercase hex digits); refusing to read it",
                ref=self.ref,
                name=self.name,
            )
        path = store.blobs.path(self.digest)
        if not path.exists():
            raise ModelNotFoundError(
                f"the model file of {self.ref} (digest {self.digest[:12]}) is missing from "
                f"{store.blobs.root}",
                ref=self.ref,
                name=self.name,
            )
        return loads(path.read_bytes(), trusted=trusted, source=f"model {self.ref}")

    def __str__(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.ref}{aliases} from run {self.run_id[:8]}"


class ParsedRef(NamedTuple):
    """A model reference taken apart: which of ``name``+``version``/``alias`` or ``run_id``."""

    name: str | None
    version: int | None
    alias: str | None
    run_id: str | None
    model: str


def parse_ref(ref: str) -> ParsedRef:
    """Split ``name@alias``, ``name/3``, ``name``, ``runs:/RUN_ID/model`` into their parts."""
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidArgumentError(f"model reference: expected a non-empty string, got {ref!r}")
    text = ref.strip()
    if text.startswith(RUNS_PREFIX):
        run_id, _, model = text[len(RUNS_PREFIX) :].strip("/").partition("/")
        if not run_id:
            raise InvalidArgumentError(f"model reference {ref!r}: expected runs:/RUN_ID/MODEL")
        return ParsedRef(None, None, None, run_id, model or "model")
    if "@" in text:
        name, _, alias = text.partition("@")
        check_name(name)
        check_alias(alias)
        return ParsedRef(name, None, alias, None, "model")
    if "/" in text:
        name, _, number = text.partition("/")
        check_name(name)
        if number == "latest":
            return ParsedRef(name, None, None, None, "model")
        if not number.isdigit() or int(number) < 1:
            raise InvalidArgumentError(
                f"model reference {ref!r}: the version after '/' must be a number >= 1 "
                "(or 'latest')"
            )
        return ParsedRef(name, int(number), None, None, "model")
    check_name(text)
    return ParsedRef(text, None, None, None, "model")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"model name {name!r}: use letters, digits, '_', '.', '-' (no '@' or '/'), "
            "starting with a letter or digit"
        )
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.match(alias) or alias == "latest":
        raise InvalidArgumentError(
            f"alias {alias!r}: use letters, digits, '_', '-', starting with a letter "
            "('latest' is reserved)"
        )
    return alias


def _default_store(store: Store | None, project: Project | None = None) -> Store:
    """``store``, else the store of ``project``, else the default project's."""
    if store is not None:
        return store
    if project is not None:
        return project.store
    from ..project import default_project

    return default_project().store


def _version_from_record(rec: dict[str, Any], store: Store) -> ModelVersion:
    return ModelVersion(
        name=rec["name"],
        version=rec["version"],
        run_id=rec["run_id"],
        model=rec["model"],
        aliases=list(rec["aliases"]),
        created=rec["created"],
        metrics={k: (float("nan") if v is None else v) for k, v in rec["metrics"].items()},
        digest=rec["digest"],
        meta=rec["meta"],
        store=store,
    )


def register_model(
    run: Run | str,
    name: str,
    *,
    alias: str | list[str] | None = None,
    model: str = "model",
    store: Store | None = None,
    project: Project | None = None,
) -> ModelVersion:
    """Register the model a run logged as the next version of ``name``.

    Parameters
    ----------
    run
        A ``Run``, run id, id prefix or run name.
    name
        The registered model's name (created on first use).
    alias
        An alias (or several) to point at the new version, e.g. ``"champion"``;
        it moves from whichever version had it.
    model
        The run's model artifact (``ml.log_model(..., name=)``).

    Returns
    -------
    ModelVersion
        With the run's latest metrics as they were at registration.
    """
    from ..project import flush_for
    from ..tracking.api import get_run

    check_name(name)
    aliases = [] if alias is None else [alias] if isinstance(alias, str) else list(alias)
    for a in aliases:
        check_alias(a)
    target = (
        run if hasattr(run, "run_id") and hasattr(run, "store") else get_run(run, project=project)
    )
    store = store or target.store
    art = records.artifact(store, target.run_id, model)
    if art is None or art["kind"] != "model":
        names = [a["path"] for a in store.artifacts(target.run_id) if a["kind"] == "model"]
        raise RegistryError(
            f"run {target.run_id[:8]} has no model {model!r} to register"
            + (f" (its models: {', '.join(names)})" if names else " (it logged no model)"),
            name=name,
        )
    flush_for(store)
    metrics = store.latest_metrics(target.run_id)
    info = store.run_record(target.run_id)
    meta = {
        **{k: v for k, v in art["meta"].items() if k != "signature"},
        "signature": art["meta"].get("signature"),
        "run_name": info.get("name"),
        "experiment": info.get("experiment"),
        "parent_id": info.get("parent_id"),
    }
    number = records.add_version(
        store,
        name,
        run_id=target.run_id,
        model=model,
        digest=art["digest"],
        metrics=metrics,
        meta=meta,
        aliases=tuple(aliases),
    )
    rec = records.version(store, name, number)
    assert rec is not None
    return _version_from_record(rec, store)


def get_model_version(
    ref: str, *, store: Store | None = None, project: Project | None = None
) -> ModelVersion:
    """The version a reference names: ``name@alias``, ``name/3``, ``name`` or ``runs:/ID/model``.

    A ``runs:/`` reference gives the latest registered version of that run's
    model, or an unregistered one (``version == 0``) when it was never registered.
    """
    store = _default_store(store, project)
    parts = parse_ref(ref)
    if parts.run_id is not None:
        run_id = store.resolve_run(parts.run_id)
        registered = records.versions_of_run(store, run_id, parts.model)
        if registered:
            return _version_from_record(registered[0], store)
        art = records.artifact(store, run_id, parts.model)
        if art is None or art["kind"] != "model":
            raise ModelNotFoundError(
                f"run {run_id[:8]} has no model {parts.model!r}", ref=ref, name=None
            )
        return ModelVersion(
            name=f"{RUNS_PREFIX}{run_id}",
            version=0,
            run_id=run_id,
            model=parts.model,
            aliases=[],
            created=art["created"],
            metrics=store.latest_metrics(run_id),
            digest=art["digest"],
            meta=art["meta"],
            store=store,
        )
    assert parts.name is not None
    if not records.has_model(store, parts.name):
        known = [m["name"] for m in records.model_names(store)]
        raise ModelNotFoundError(
            f"no registered model {parts.name!r}"
            + (f" (registered: {', '.join(known)})" if known else " (none registered yet)"),
            ref=ref,
            name=parts.name,
        )
    number = parts.version
    if parts.alias is not None:
        number = records.alias_version(store, parts.name, parts.alias)
        if number is None:
            have = sorted({a for (n, a) in records.all_aliases(store) if n == parts.name})
            raise ModelNotFoundError(
                f"model {parts.name!r} has no alias {parts.alias!r}"
                + (f" (its aliases: {', '.join(have)})" if have else " (it has no aliases)"),
                ref=ref,
                name=parts.name,
            )
    rec = records.version(store, parts.name, number)
    if rec is None:
        latest = records.version(store, parts.name)
        raise ModelNotFoundError(
            f"model {parts.name!r} has no version {number}"
            + (f" (latest is {latest['version']})" if latest else ""),
            ref=ref,
            name=parts.name,
        )
    return _version_from_record(rec, store)


def load_model(
    run: Run | str | None = None,
    name: str = "model",
    *,
    trusted: list[str] | None = None,
    project: Project | None = None,
) -> Any:
    """Load a model from the registry or from a run, refusing every type that is not trusted.

    Parameters
    ----------
    run
        A registry reference: ``"name@alias"``, ``"name/3"``, ``"runs:/RUN_ID/model"``;
        or a ``Run``, run id, id prefix or run name (default: the latest run).
    name
        The run's model artifact (a registry reference names its own).
    trusted
        Further exact, fully qualified type names to allow (e.g. a class from xgboost).
    project
        The project whose store holds the model (default: the default project).
    """
    if isinstance(run, str) and ("@" in run or "/" in run or run.startswith(RUNS_PREFIX)):
        return get_model_version(run, project=project).load(trusted=trusted)
    from ..tracking.models import load_model as load_run_model

    if project is not None and not isinstance(run, Run):
        run = project.get_run(run)
    return load_run_model(run, name, trusted=trusted)


def models(*, store: Store | None = None, project: Project | None = None) -> pd.DataFrame:
    """Registered models: ``name, latest_version, versions, aliases, created, updated``."""
    import pandas as pd

    rows = records.model_names(_default_store(store, project))
    frame = pd.DataFrame(
        [
            {
                **r,
                "aliases": ", ".join(f"{a}={v}" for a, v in sorted(r["aliases"].items())),
            }
            for r in rows
        ],
        columns=["name", "latest_version", "versions", "aliases", "created", "updated"],
    )
    for col in ("created", "updated"):
        frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
    return frame


def model_versions(
    name: str, *, store: Store | None = None, project: Project | None = None
) -> pd.DataFrame:
    """Versions of ``name``, newest first: version, aliases, run, model, created, metrics."""
    import pandas as pd

    store = _default_store(store, project)
    check_name(name)
    if not records.has_model(store, name):
        raise ModelNotFoundError(f"no registered model {name!r}", ref=name, name=name)
    rows = []
    for rec in records.versions(store, name):
        row = {
            "version": rec["version"],
            "aliases": ", ".join(rec["aliases"]),
            "run_id": rec["run_id"],
            "run_name": rec["meta"].get("run_name"),
            "model": rec["model"],
            "created": rec["created"],
        }
        row.update({f"metrics.{k}": v for k, v in sorted(rec["metrics"].items())})
        rows.append(row)
    base = ["version", "aliases", "run_id", "run_name", "model", "created"]
    frame = pd.DataFrame(rows, columns=base if not rows else None)
    frame["created"] = pd.to_datetime(frame["created"], unit="s", utc=True)
    return frame


def set_alias(
    name: str,
    alias: str,
    version: int,
    *,
    store: Store | None = None,
    project: Project | None = None,
) -> None:
    """Point ``name@alias`` at ``version`` (moving it from any other version)."""
    store = _default_store(store, project)
    check_alias(alias)
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"version: expected a number, got {version!r}") from None
    get_model_version(f"{check_name(name)}/{number}", store=store)
    records.set_alias(store, name, alias, number)


def delete_alias(
    name: str, alias: str, *, store: Store | None = None, project: Project | None = None
) -> None:
    """Remove ``name@alias`` (the version itself stays)."""
    store = _default_store(store, project)
    check_name(name)
    check_alias(alias)
    if not records.delete_alias(store, name, alias):
        raise ModelNotFoundError(
            f"model {name!r} has no alias {alias!r}", ref=f"{name}@{alias}", name=name
        )


def record_event(
    ref: str | ModelVersion,
    kind: str,
    *,
    target: str | None = None,
    meta: dict[str, Any] | None = None,
    store: Store | None = None,
    project: Project | None = None,
) -> None:
    """Record what became of a version (``packaged``, ``deployed``...); lineage shows it."""
    mv = (
        ref
        if isinstance(ref, ModelVersion)
        else get_model_version(ref, store=store, project=project)
    )
    if mv.version == 0:
        raise RegistryError(f"{mv.ref} is not a registered version", name=mv.name)
    records.add_event(mv._store(), mv.name, mv.version, kind, target=target, meta=meta)
