"""Checking a store before it is merged: every identifier in the shape this project writes.

A merged store comes from someone else (a colleague's folder, a worker, a
download), so before a single blob or row is copied, :func:`check_source`
reads it (read-only) and refuses it with a :class:`~mlops_lab.errors.StoreError`
naming the table, the row and the value when:

- a run id (``runs.run_id``, ``parent_id``, the ``run_id`` of every table) is
  not 32 lowercase hex digits (``uuid4().hex``, what runs are created with);
- a digest (artifacts, model versions, datasets, run inputs, validations,
  environments) is not 64 lowercase hex digits: a digest names a blob file,
  so ``../../home/me/.ssh/id_rsa`` must never become one;
- an experiment name is empty, not text, too long or holds control characters;
- a model name or alias is not one the registry accepts, or a version is not
  a number >= 1;
- a file under ``blobs/`` is not named by a digest in its two-digit folder.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import StoreError
from .blobs import is_digest

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
# The registry's rules for names and aliases (mlops_lab.registry.api.check_name / check_alias).
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
MAX_EXPERIMENT_NAME = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Rule = Callable[[Any], str | None]  # None when fine, else what the value should be


def _run_id(value: Any) -> str | None:
    ok = isinstance(value, str) and RUN_ID.fullmatch(value)
    return None if ok else "a run id (32 lowercase hex digits)"


def _digest(value: Any) -> str | None:
    return None if is_digest(value) else "a digest (64 lowercase hex digits)"


def _optional(rule: Rule) -> Rule:
    return lambda v: None if v is None else rule(v)


def _experiment(value: Any) -> str | None:
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= MAX_EXPERIMENT_NAME
        and not _CONTROL.search(value)
    )
    return None if ok else f"an experiment name (1 to {MAX_EXPERIMENT_NAME} printable characters)"


def _model_name(value: Any) -> str | None:
    ok = isinstance(value, str) and MODEL_NAME.fullmatch(value)
    return None if ok else "a model name (letters, digits, '_', '.', '-')"


def _alias(value: Any) -> str | None:
    ok = isinstance(value, str) and ALIAS.fullmatch(value) and value != "latest"
    return None if ok else "an alias (letters, digits, '_', '-')"


def _version(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    return None if ok else "a version number >= 1"


# table -> column -> rule; tables with a run_id column not listed here get an optional run id.
RULES: Mapping[str, dict[str, Rule]] = MappingProxyType(
    {
        "experiments": {"name": _experiment},
        "environments": {"env_id": _digest},
        "runs": {"run_id": _run_id, "parent_id": _optional(_run_id), "env_id": _optional(_digest)},
        "params": {"run_id": _run_id},
        "metrics": {"run_id": _run_id},  # a store from before metric series
        "metric_series": {"run_id": _run_id},
        "latest_metrics": {"run_id": _run_id},
        "tags": {"run_id": _run_id},
        "cells": {"run_id": _run_id},
        "datasets": {"digest": _digest},
        "run_inputs": {"run_id": _run_id, "digest": _digest},
        "artifacts": {"run_id": _run_id, "digest": _digest},
        "validations": {"run_id": _optional(_run_id), "digest": _digest},
        "registered_models": {"name": _model_name},
        "model_versions": {
            "name": _model_name,
            "version": _version,
            "run_id": _run_id,
            "digest": _digest,
        },
        "model_aliases": {"name": _model_name, "alias": _alias, "version": _version},
        "model_events": {"name": _model_name, "version": _version},
    }
)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_table(conn: sqlite3.Connection, table: str, source: Path) -> None:
    info = conn.execute(f"PRAGMA table_info({_q(table)})").fetchall()
    columns = [r[1] for r in info]
    keys = [r[1] for r in info if r[5]]
    rules = dict(RULES.get(table, {}))
    if "run_id" in columns and "run_id" not in rules:
        rules["run_id"] = _optional(_run_id)
    rules = {c: r for c, r in rules.items() if c in columns}
    if not rules:
        return
    shown = keys or list(rules)
    names = ", ".join(_q(c) for c in [*rules, *shown])
    for row_number, row in enumerate(conn.execute(f"SELECT {names} FROM {_q(table)}"), start=1):
        for i, (column, rule) in enumerate(rules.items()):
            problem = rule(row[i])
            if problem is None:
                continue
            key = ", ".join(
                f"{c}={_short(v)}" for c, v in zip(shown, row[len(rules) :], strict=True)
            )
            raise StoreError(
                f"cannot merge {source}: row {row_number} of table {table!r} ({key}) has "
                f"{column}={_short(row[i])}, which is not {problem}; nothing was merged",
                path=str(source),
            )


def _check_blobs(blobs: Path, source: Path) -> None:
    if not blobs.is_dir():
        return
    for path in sorted(blobs.glob("*/*")):
        if path.name.startswith("."):
            continue
        if not is_digest(path.name) or path.parent.name != path.name[:2] or not path.is_file():
            raise StoreError(
                f"cannot merge {source}: {path} is not a blob (a file named by its sha256 "
                "digest in the folder of its first two digits); nothing was merged",
                path=str(path),
            )


def check_source(db_path: Path, blobs: Path) -> None:
    """Refuse the store at ``db_path`` (and its ``blobs``) before anything is merged from it.

    Raises
    ------
    StoreError
        A row holds an identifier this project would never write (the message names the
        table, the row's key, the column and the value), or ``blobs`` holds a stray file.
    """
    source = db_path.parent
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in sorted(tables):
            _check_table(conn, table, source)
    finally:
        conn.close()
    _check_blobs(blobs, source)
