"""The promoted notebook's parameters, and its cells edited to read them.

A parameter comes from a ``%mlops param`` line, from a top-level literal the run
logged with ``ml.log_param(s)`` (``C = 1.0`` ... ``ml.log_params({"C": C})``), or
from the path of a dataset the run read. Its ``NAME = <literal>`` lines move to
the ``parameters`` cell (so they do not overwrite the value papermill injects),
and a dataset path written as a string literal in the kept cells becomes the
parameter's name. Everything else is left as the user wrote it.
"""

from __future__ import annotations

import ast
import keyword
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._args import split_assignments
from ..errors import InvalidArgumentError, PromotionError
from .slicing import Cell, Slice, transform
from .spec import Param, param_type

if TYPE_CHECKING:
    from ..tracking.run import Run


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


def parameterise(
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
