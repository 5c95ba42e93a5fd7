"""Dependency slicing: the smallest part of a session's history a run's cells need.

Pure functions over a list of :class:`Cell` (execution order), no kernel needed.
:func:`analyse` reads one cell with :mod:`ast` (IPython syntax is first turned
into Python by IPython's ``TransformerManager``; ``%%time``-like cells are
unwrapped and ``%mlops`` lines read for what they set and read) and returns its
:class:`Effects`: the names it reads before binding them, the names it binds
(unconditionally or not), the objects it changes in place, the globals its
functions read when called, whether it only displays something.

:func:`slice_cells` starts from the run's successful cells that do more than
display, and pulls in, transitively, the latest earlier successful cell defining
each name they read (and the cells changing that object in between), in
execution order. Star imports and global settings (``autolog``, random seeds,
``set_option``) are kept conservatively. A name that no earlier cell defines and
that is not a builtin is reported in :attr:`Slice.unresolved`.
"""

from __future__ import annotations

import ast
import builtins
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._args import split_assignments
from ..errors import InvalidArgumentError

# Calls that only show something: a cell made only of these (or of bare
# expressions) is a display cell.
DISPLAY_FUNCTIONS = frozenset({"print", "display", "repr", "pprint", "HTML", "Markdown"})
DISPLAY_METHODS = frozenset(
    {
        "head",
        "tail",
        "describe",
        "info",
        "plot",
        "show",
        "hist",
        "scatter",
        "bar",
        "barh",
        "boxplot",
        "imshow",
        "figure",
        "title",
        "xlabel",
        "ylabel",
        "legend",
        "value_counts",
        "histplot",
        "heatmap",
        "pairplot",
        "lineplot",
        "scatterplot",
        "countplot",
        "displot",
        "set_title",
        "set_xlabel",
        "set_ylabel",
        "nunique",
        "corr",
        "summary",
        "to_string",
        "sample",
    }
)
DISPLAY_MODULES = frozenset({"plt", "sns", "px", "go"})
# Calls on a module that change global state the rest of the notebook relies on.
GLOBAL_SETTINGS = frozenset(
    {
        "autolog",
        "seed",
        "manual_seed",
        "set_seed",
        "set_random_seed",
        "set_option",
        "set_config",
        "filterwarnings",
        "simplefilter",
        "set_default_root",
    }
)
# %mlops verbs that only show or query something.
DISPLAY_VERBS = frozenset(
    {"runs", "show", "compare", "registry", "lineage", "help", "--help", "-h", "profile"}
)
UNWRAPPED_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_IPYTHON_NAMES = frozenset(
    {"get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___"}
)
KNOWN_NAMES = frozenset(dir(builtins)) | _IPYTHON_NAMES | {"__name__", "__file__", "__doc__"}


@dataclass
class Cell:
    """One executed cell: its source, outcome and whether it belongs to the run."""

    source: str
    status: str = "ok"
    in_run: bool = False
    cell_id: str | None = None
    execution_count: int | None = None
    label: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class ParamMagic:
    """A ``%mlops param NAME=EXPR`` assignment: the line it is on (1-based) and its text."""

    name: str
    expr: str
    line: int


@dataclass
class Literal:
    """A top-level ``NAME = <literal>`` statement (lines 1-based, inclusive)."""

    name: str
    value: Any
    line: int
    end_line: int


@dataclass
class Effects:
    """What a cell reads, binds and changes (see the module docstring)."""

    uses: set[str] = field(default_factory=set)
    defs: set[str] = field(default_factory=set)
    weak_defs: set[str] = field(default_factory=set)
    mutates: set[str] = field(default_factory=set)
    calls: set[tuple[str, str]] = field(default_factory=set)
    deferred: dict[str, set[str]] = field(default_factory=dict)
    global_writes: dict[str, set[str]] = field(default_factory=dict)
    imports: set[str] = field(default_factory=set)
    star: bool = False
    settings: bool = False
    display: bool = True
    opaque: bool = False
    params: list[ParamMagic] = field(default_factory=list)
    literals: dict[str, Literal] = field(default_factory=dict)
    logged: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def binds(self) -> set[str]:
        return self.defs | self.weak_defs


def transform(source: str) -> str:
    """IPython syntax (magics, ``!cmd``, ``x?``) as plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _magic_call(node: ast.AST) -> tuple[str, str, str | None] | None:
    """``(kind, name, line, body)`` of ``get_ipython().run_line_magic/run_cell_magic(...)``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    owner = node.func.value
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
    ):
        return None
    args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    if node.func.attr == "run_line_magic" and len(args) >= 2:
        return (str(args[0]), str(args[1]), None)
    if node.func.attr == "run_cell_magic" and len(args) >= 3:
        return (str(args[0]), str(args[1]), str(args[2]))
    return ("system", "", None)


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _target_names(node: ast.AST) -> Iterable[ast.Name]:
    if isinstance(node, ast.Name):
        yield node
    elif isinstance(node, ast.Tuple | ast.List):
        for elt in node.elts:
            yield from _target_names(elt)
    elif isinstance(node, ast.Starred):
        yield from _target_names(node.value)


class _FunctionScope:
    """Free (global) names a function body reads, and the globals it assigns."""

    def __init__(self, node: ast.AST) -> None:
        self.loads: set[str] = set()
        self.stores: set[str] = set()
        self.globals: set[str] = set()
        self.nested_free: set[str] = set()
        args = getattr(node, "args", None)
        if isinstance(args, ast.arguments):
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                self.stores.add(a.arg)
            for extra in (args.vararg, args.kwarg):
                if extra is not None:
                    self.stores.add(extra.arg)
        inner: Any = getattr(node, "body", [])
        body = inner if isinstance(inner, list) else [inner]
        for child in body:
            self._visit(child)

    def _visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Global):
            self.globals.update(node.names)
            return
        if isinstance(node, ast.Nonlocal):
            self.stores.update(node.names)
            return
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            if not isinstance(node, ast.Lambda):
                self.stores.add(node.name)
                for deco in node.decorator_list:
                    self._visit(deco)
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    self._visit(default)
            inner = _FunctionScope(node)
            self.nested_free |= inner.free
            return
        if isinstance(node, ast.ClassDef):
            self.stores.add(node.name)
            for child in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
                self._visit(child)
            inner = _FunctionScope(node)
            self.nested_free |= inner.free
            return
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            self.nested_free |= _comprehension_free(node)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name != "*":
                    self.stores.add((alias.asname or alias.name).split(".")[0])
            return
        if isinstance(node, ast.Name):
            (self.stores if isinstance(node.ctx, ast.Store | ast.Del) else self.loads).add(node.id)
            return
        if isinstance(node, ast.ExceptHandler) and node.name:
            self.stores.add(node.name)
        for sub_node in ast.iter_child_nodes(node):
            self._visit(sub_node)

    @property
    def free(self) -> set[str]:
        local = self.stores - self.globals
        return (self.loads | self.nested_free) - local

    @property
    def global_writes(self) -> set[str]:
        return self.stores & self.globals


def _comprehension_free(node: ast.AST) -> set[str]:
    """Names a comprehension reads from the scope around it."""
    generators = getattr(node, "generators", [])
    bound: set[str] = set()
    free: set[str] = set()
    for i, gen in enumerate(generators):
        reads = _expr_names(gen.iter)
        free |= reads if i == 0 else reads - bound
        bound |= {n.id for n in _target_names(gen.target)}
        for cond in gen.ifs:
            free |= _expr_names(cond) - bound
    parts = (
        [node.key, node.value] if isinstance(node, ast.DictComp) else [getattr(node, "elt", None)]
    )
    for part in parts:
        if part is not None:
            free |= _expr_names(part) - bound
    return free


def _expr_names(node: Any) -> set[str]:
    """Names an expression reads (nested scopes: their free names)."""
    return _FunctionScope(ast.Lambda(args=_NO_ARGS, body=node)).free


_NO_ARGS = ast.arguments(
    posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
)


class _CellWalker:
    """Walks a cell's statements in order (see :func:`analyse`)."""

    def __init__(self, effects: Effects) -> None:
        self.e = effects
        self.bound: set[str] = set()

    # -- helpers -----------------------------------------------------------------------

    def read(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.bound:
                self.e.uses.add(name)

    def bind(self, name: str, weak: bool) -> None:
        (self.e.weak_defs if weak else self.e.defs).add(name)
        self.bound.add(name)

    def expr(self, node: ast.AST | None) -> None:
        if node is None:
            return
        for sub in ast.walk(node):
            magic = _magic_call(sub)
            if magic is not None:
                self.magic(*magic, weak=True, lineno=getattr(sub, "lineno", 0))
            if isinstance(sub, ast.NamedExpr):
                self.read(_expr_names(sub.value))
                self.bind(sub.target.id, True)
        self.read(_expr_names(node))
        if any(isinstance(sub, ast.Call) for sub in ast.walk(node)):
            self.e.display = False

    def target(self, node: ast.AST, weak: bool) -> None:
        if isinstance(node, ast.Name):
            self.bind(node.id, weak)
        elif isinstance(node, ast.Tuple | ast.List):
            for elt in node.elts:
                self.target(elt, weak)
        elif isinstance(node, ast.Starred):
            self.target(node.value, weak)
        elif isinstance(node, ast.Attribute | ast.Subscript):
            # df.x = ..., df["x"] = ..., X.loc[...] = ...: a use and a change of df / X
            root = _root(node)
            self.expr(node.value)
            if isinstance(node, ast.Subscript):
                self.expr(node.slice)
            if root is not None:
                self.read([root])
                self.e.mutates.add(root)

    # -- statements --------------------------------------------------------------------

    def body(self, stmts: Sequence[ast.stmt], weak: bool) -> None:
        for stmt in stmts:
            self.stmt(stmt, weak)

    def stmt(self, node: ast.stmt, weak: bool) -> None:
        e = self.e
        if not isinstance(node, ast.Expr | ast.Pass):
            e.display = False
        if isinstance(node, ast.Assign):
            magic = _magic_call(node.value)
            if magic is not None:
                self.magic(*magic, weak=weak, lineno=node.lineno)
            else:
                self.expr(node.value)
            for t in node.targets:
                self.target(t, weak)
            if (
                not weak
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and magic is None
            ):
                try:
                    value = ast.literal_eval(node.value)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    pass
                else:
                    name = node.targets[0].id
                    end = getattr(node, "end_lineno", None) or node.lineno
                    e.literals[name] = Literal(name, value, node.lineno, end)
            if isinstance(node.value, ast.Lambda) and len(node.targets) == 1:
                t0 = node.targets[0]
                if isinstance(t0, ast.Name):
                    e.deferred[t0.id] = _FunctionScope(node.value).free
        elif isinstance(node, ast.AugAssign):
            self.expr(node.value)
            if isinstance(node.target, ast.Name):
                self.read([node.target.id])
                self.bind(node.target.id, weak)
                e.literals.pop(node.target.id, None)
            else:
                self.target(node.target, weak)
        elif isinstance(node, ast.AnnAssign):
            self.expr(node.value)
            if node.value is not None:
                self.target(node.target, weak)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.expr(node.iter)
            self.target(node.target, True)
            self.body(node.body, True)
            self.body(node.orelse, True)
        elif isinstance(node, ast.While | ast.If):
            self.expr(node.test)
            self.body(node.body, True)
            self.body(node.orelse, True)
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.target(item.optional_vars, weak)
            self.body(node.body, weak)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            self.body(node.body, True)  # type: ignore[attr-defined]
            for handler in node.handlers:  # type: ignore[attr-defined]
                self.expr(handler.type)
                if handler.name:
                    self.bind(handler.name, True)
                self.body(handler.body, True)
            self.body(node.orelse, True)  # type: ignore[attr-defined]
            self.body(node.finalbody, weak)  # type: ignore[attr-defined]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                self.expr(deco)
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                self.expr(default)
            scope = _FunctionScope(node)
            self.bind(node.name, weak)
            e.deferred[node.name] = scope.free
            if scope.global_writes:
                e.global_writes[node.name] = scope.global_writes
        elif isinstance(node, ast.ClassDef):
            for child in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
                self.expr(child)
            self.bind(node.name, weak)
            free: set[str] = set()
            class_bound: set[str] = set()
            for member in node.body:
                if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
                    for deco in [*member.decorator_list, *member.args.defaults]:
                        self.read(_expr_names(deco) - class_bound)
                    free |= _FunctionScope(member).free
                    class_bound.add(member.name)
                else:
                    body_scope = _FunctionScope(ast.Module(body=[member], type_ignores=[]))
                    self.read(body_scope.free - class_bound)
                    class_bound |= body_scope.stores
            e.deferred[node.name] = free
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                self.bind(name, weak)
                e.imports.add(name)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    e.star = True
                    continue
                name = alias.asname or alias.name
                self.bind(name, weak)
                e.imports.add(name)
        elif isinstance(node, ast.Delete):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    self.read([t.id])
                    self.bound.discard(t.id)
                    e.mutates.add(t.id)
                else:
                    self.target(t, weak)
        elif isinstance(node, ast.Expr):
            self.expression_statement(node, weak)
        elif isinstance(node, ast.Global | ast.Nonlocal | ast.Pass | ast.Break | ast.Continue):
            pass
        else:  # return, raise, assert, match...: read every name, bind pattern captures
            for sub in ast.walk(node):
                if isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name:
                    self.bind(sub.name, True)
            for part in ast.iter_child_nodes(node):
                if isinstance(part, ast.stmt):
                    self.stmt(part, True)
                elif isinstance(part, ast.expr):
                    self.expr(part)
                elif hasattr(part, "body"):  # match cases
                    self.expr(getattr(part, "guard", None))
                    self.body(part.body, True)

    def expression_statement(self, node: ast.Expr, weak: bool) -> None:
        e = self.e
        value = node.value
        magic = _magic_call(value)
        if magic is not None:
            self.magic(*magic, weak=weak, lineno=node.lineno)
            return
        display = e.display
        self.expr(value)
        if not isinstance(value, ast.Call):
            e.display = display
            return
        func = value.func
        if isinstance(func, ast.Name):
            e.display = display and func.id in DISPLAY_FUNCTIONS
            if func.id not in DISPLAY_FUNCTIONS:
                e.calls.add((func.id, ""))
            return
        root = _root(func)
        method = func.attr if isinstance(func, ast.Attribute) else ""
        shows = method in DISPLAY_METHODS or root in DISPLAY_MODULES
        e.display = display and shows
        if root is not None and not shows:
            e.calls.add((root, method))
            if method in GLOBAL_SETTINGS:
                e.settings = True
        if method in ("log_params", "log_param"):
            self.logged(value, method)

    def logged(self, call: ast.Call, method: str) -> None:
        """``ml.log_params({"C": C})`` / ``ml.log_param("C", C)``: which variable each key is."""
        e = self.e
        if method == "log_param" and len(call.args) >= 2:
            key, value = call.args[0], call.args[1]
            if isinstance(key, ast.Constant) and isinstance(value, ast.Name):
                e.logged[str(key.value)] = value.id
        elif method == "log_params" and call.args and isinstance(call.args[0], ast.Dict):
            for k, v in zip(call.args[0].keys, call.args[0].values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(v, ast.Name):
                    e.logged[str(k.value)] = v.id

    # -- magics ------------------------------------------------------------------------

    def magic(self, name: str, text: str, body: str | None, *, weak: bool, lineno: int) -> None:
        """A magic call: unwrap ``%%time``-like cells, read ``%mlops`` lines."""
        e = self.e
        if body is not None:  # a cell magic
            if name in UNWRAPPED_CELL_MAGICS or (name == "mlops" and text.split()[:1] == ["run"]):
                if name == "mlops":
                    e.display = False
                try:
                    tree = ast.parse(transform(body))
                except SyntaxError as exc:
                    e.error = f"{type(exc).__name__}: {exc}"
                    e.opaque = True
                    return
                self.body(tree.body, weak)
                return
            e.opaque = True
            e.display = False
            return
        if name == "system":
            e.display = False
            return
        if name in ("time", "timeit", "prun"):
            try:
                tree = ast.parse(text)
            except SyntaxError:
                return
            self.body(tree.body, weak)
            return
        if name != "mlops":
            return  # %matplotlib, %load_ext, %config...: settings of the front-end
        verb, _, rest = text.strip().partition(" ")
        if verb in DISPLAY_VERBS:
            return
        e.display = False
        if verb == "param":
            try:
                pairs = split_assignments(rest)
            except InvalidArgumentError:  # a malformed line failed in the notebook too
                return
            for key, expr in pairs:
                try:
                    self.read(_expr_names(ast.parse(expr, mode="eval").body))
                except SyntaxError:
                    pass
                self.bind(key, weak)
                e.params.append(ParamMagic(key, expr, lineno))
        elif verb == "log":
            for part in rest.split():
                _, eq, expr = part.partition("=")
                if eq:
                    try:
                        self.read(_expr_names(ast.parse(expr, mode="eval").body))
                    except SyntaxError:
                        pass
        elif verb == "data":
            for part in rest.split():
                _, eq, value = part.partition("=")
                if eq and value.isidentifier():
                    self.read([value])
        elif verb == "autolog":
            e.settings = True


def analyse(source: str) -> Effects:
    """The :class:`Effects` of one cell's source (IPython syntax allowed).

    A cell that does not parse gets ``opaque=True`` and ``error`` set.
    """
    effects = Effects()
    try:
        tree = ast.parse(transform(source))
    except (SyntaxError, ValueError) as exc:
        effects.opaque = True
        effects.display = False
        effects.error = f"{type(exc).__name__}: {exc}"
        return effects
    walker = _CellWalker(effects)
    walker.body(tree.body, False)
    return effects


@dataclass
class Unresolved:
    """A name a kept cell reads that no earlier successful cell defines."""

    name: str
    cell: int
    hint: str = ""


@dataclass
class Slice:
    """The result of :func:`slice_cells`: kept cell indices, in execution order."""

    cells: list[int]
    effects: list[Effects]
    unresolved: list[Unresolved]
    reasons: dict[int, str] = field(default_factory=dict)


def slice_cells(cells: Sequence[Cell]) -> Slice:
    """The minimal program slice the run's cells (``in_run``) depend on.

    Parameters
    ----------
    cells
        The session's cells in execution order (the run's own cells flagged ``in_run``).

    Returns
    -------
    Slice
        Indices into ``cells`` to keep, in order; each name that cannot be resolved.
    """
    effects = [analyse(c.source) for c in cells]
    imported: set[str] = set()
    for e in effects:
        imported |= e.imports
    function_globals: dict[str, set[str]] = {}
    for e in effects:
        function_globals.update(e.global_writes)
    for e in effects:  # calling a function that assigns a global defines it, maybe
        for name in e.uses & set(function_globals):
            e.weak_defs |= function_globals[name]

    included: dict[int, str] = {}
    work: deque[tuple[str, int]] = deque()

    def include(j: int, reason: str) -> None:
        if j in included:
            return
        included[j] = reason
        for name in sorted(effects[j].uses):
            work.append((name, j))

    def changes(e: Effects, name: str) -> bool:
        if name in e.mutates:
            return True
        for root, method in e.calls:
            if root == name and (name not in imported or method in GLOBAL_SETTINGS):
                return True
        return False

    run_positions = [j for j, c in enumerate(cells) if c.in_run]
    last = run_positions[-1] if run_positions else -1
    for j, cell in enumerate(cells):
        e = effects[j]
        if not cell.ok or j > last:
            continue
        if cell.in_run and not e.display:
            include(j, "run")
        elif e.star:
            include(j, "star import")
        elif e.settings:
            include(j, "global setting")

    unresolved: list[Unresolved] = []
    seen: set[tuple[str, int]] = set()
    while work:
        name, pos = work.popleft()
        if (name, pos) in seen:
            continue
        seen.add((name, pos))
        found = False
        maybe = False
        for j in range(pos - 1, -1, -1):
            e = effects[j]
            if not cells[j].ok:
                continue
            if name in e.defs:
                include(j, f"defines {name}")
                for free in sorted(e.deferred.get(name, ())):
                    work.append((free, pos))
                found = True
                break
            if name in e.weak_defs or changes(e, name):
                include(j, f"{'defines' if name in e.weak_defs else 'changes'} {name}")
                for free in sorted(e.deferred.get(name, ())):
                    work.append((free, pos))
                maybe = maybe or name in e.weak_defs
            elif e.star:
                maybe = True
        if found or maybe or name in KNOWN_NAMES:
            continue
        unresolved.append(Unresolved(name, pos, _hint(cells, effects, name, pos)))

    kept = sorted(included)
    kept = _without_repeats(cells, kept)
    return Slice(kept, effects, _first_per_name(unresolved), {j: included[j] for j in kept})


def _hint(cells: Sequence[Cell], effects: list[Effects], name: str, pos: int) -> str:
    for j, e in enumerate(effects):
        if name in e.binds:
            if j < pos and not cells[j].ok:
                return f"only cell {_label(cells, j)} defines it, and it failed"
            if j > pos:
                return f"it is defined later, in cell {_label(cells, j)}"
    return "no cell executed since %load_ext mlops_lab defines it"


def _label(cells: Sequence[Cell], j: int) -> str:
    cell = cells[j]
    return cell.label or (
        f"[{cell.execution_count}]" if cell.execution_count is not None else f"#{j}"
    )


def _without_repeats(cells: Sequence[Cell], kept: list[int]) -> list[int]:
    """A cell re-executed unchanged (same front-end id and source) is kept once."""
    out: list[int] = []
    seen: set[tuple[str, str]] = set()
    for j in kept:
        cell = cells[j]
        if cell.cell_id and not cell.in_run:
            key = (cell.cell_id, cell.source)
            if key in seen:
                continue
            seen.add(key)
        out.append(j)
    return out


def _first_per_name(items: list[Unresolved]) -> list[Unresolved]:
    out: dict[str, Unresolved] = {}
    for item in sorted(items, key=lambda u: u.cell):
        out.setdefault(item.name, item)
    return list(out.values())
