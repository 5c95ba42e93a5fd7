"""Lineage: where a model version came from and what became of it, as a tree.

dataset digests -> the run that trained it (notebook, git commit,
environment, params, metrics) -> the pipeline run around it, if any ->
the model version -> its packages and deployments (model events)::

    >>> print(ml.lineage("iris@champion"))            # doctest: +SKIP
    model iris/3 (champion) · artifact 'model' · registered 2024-05-01 10:12
    ├── run 1a2b3c4d 'train' (finished) in experiment 'default'
    │   ├── notebook pipelines/iris/train.ipynb
    │   ├── git 9f1c2e3 on main
    ...
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..project import Project
    from ..store import Store
    from .api import ModelVersion


@dataclass
class Node:
    """One line of the tree and the lines under it."""

    label: str
    children: list[Node] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, label: str, **data: Any) -> Node:
        node = Node(label, data=data)
        self.children.append(node)
        return node

    def lines(self, prefix: str = "") -> list[str]:
        out = []
        for i, child in enumerate(self.children):
            last = i == len(self.children) - 1
            out.append(prefix + ("└── " if last else "├── ") + child.label)
            out += child.lines(prefix + ("    " if last else "│   "))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            **self.data,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass
class Lineage:
    """The lineage of one model version; ``str()`` is the tree, ``to_dict()`` the data."""

    version: ModelVersion
    root: Node

    def __str__(self) -> str:
        return "\n".join([self.root.label, *self.root.lines()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"

    def to_dict(self) -> dict[str, Any]:
        return self.root.to_dict()


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _run_node(parent: Node, store: Store, run_id: str, label: str) -> Node:
    from ..tracking.run import Run

    run = Run(store, run_id)
    info = store.run_record(run_id)
    node = parent.add(
        f"{label} {run_id[:8]} {info['name']!r} ({info['status']}) "
        f"in experiment {info['experiment']!r}",
        run_id=run_id,
        status=info["status"],
    )
    if info.get("source_path"):
        node.add(f"{info.get('source_type') or 'source'} {info['source_path']}")
    git = run.git
    if git.get("commit"):
        dirty = " (uncommitted changes)" if git.get("dirty") else ""
        node.add(
            f"git {git['commit'][:7]} on {git.get('branch') or '?'}{dirty}", commit=git["commit"]
        )
    env = run.environment
    if env:
        pkgs = env.get("packages", {})
        libs = ", ".join(f"{p} {pkgs[p]}" for p in ("scikit-learn", "pandas", "numpy") if p in pkgs)
        node.add(f"environment python {env.get('python')}" + (f", {libs}" if libs else ""))
    params = run.params
    if params:
        node.add("params " + ", ".join(f"{k}={_fmt(v)}" for k, v in params.items()))
    metrics = store.latest_metrics(run_id)
    if metrics:
        node.add("metrics " + ", ".join(f"{k}={_fmt(v)}" for k, v in metrics.items()))
    inputs = store.run_inputs(run_id)
    if inputs:
        data = node.add("datasets")
        for d in inputs:
            shape = f" {d['n_rows']}×{d['n_cols']}" if d.get("n_rows") is not None else ""
            src = f" from {d['source']}" if d.get("source") else ""
            data.add(
                f"{d.get('role') or 'input'} {d.get('name') or ''} "
                f"{d['digest'][:12]}{shape}{src}".replace("  ", " "),
                digest=d["digest"],
            )
    return node


def lineage(
    ref: str | ModelVersion, *, store: Store | None = None, project: Project | None = None
) -> Lineage:
    """The lineage tree of a model version (``"name@alias"``, ``"name/3"``, ``runs:/...``)."""
    from ..store import registry_records as records
    from .api import ModelVersion, get_model_version

    mv = (
        ref
        if isinstance(ref, ModelVersion)
        else get_model_version(ref, store=store, project=project)
    )
    store = mv._store()
    aliases = f" ({', '.join(mv.aliases)})" if mv.aliases else ""
    title = (
        f"model {mv.ref}{aliases} · artifact {mv.model!r} · registered {_when(mv.created)}"
        if mv.version
        else f"model {mv.ref} (not registered)"
    )
    root = Node(title, data={"name": mv.name, "version": mv.version, "digest": mv.digest})
    run_node = _run_node(root, store, mv.run_id, "trained by run")
    parent_id = store.run_record(mv.run_id).get("parent_id")
    if parent_id:
        pipe = _run_node(run_node, store, parent_id, "within run")
        tags = store.tags(parent_id)
        if tags.get("gate.decision"):
            pipe.add(
                f"gate {tags['gate.decision']}: {tags.get('gate.rule', '')}".rstrip(": "),
            )
        steps = [
            f"{store.run_record(c)['name']} {store.run_record(c)['status']}"
            for c in store.child_run_ids(parent_id)
        ]
        if steps:
            pipe.add("steps " + ", ".join(steps))
    if mv.version:
        events = records.events(store, mv.name, mv.version)
        if events:
            ev = root.add("afterwards")
            for e in events:
                target = f" {e['target']}" if e.get("target") else ""
                ev.add(f"{e['kind']}{target} ({_when(e['created'])})", kind=e["kind"])
    return Lineage(mv, root)
