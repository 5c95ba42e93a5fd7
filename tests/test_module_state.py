"""No module keeps mutable state of its own, except the holder (``mlops_lab/project.py``).

The default project, the open projects and the process resources (one per process by
nature: autolog's patch table, the git watcher, the kernel pool, the registries) live
in the holder; per-project state lives on the ``Project``, per-shell state on the
extension object of the shell. An AST scan of every module of the package reports:

- a ``global`` statement in a function;
- a module-level binding to a mutable value: a list, dict or set literal or
  comprehension; a call of ``dict``, ``list``, ``set``, ``defaultdict``, ``deque``,
  ``threading.local``, a lock, a weak container or a ``ContextVar``; an instance of a
  class of the package (unless it is a frozen dataclass);
- a module-level item assignment (``TABLE[key] = value``);
- a function memoised with ``functools.cache`` / ``lru_cache``: a memo is state unless
  the function is pure over immutable arguments, which :data:`ALLOWED` says.

Immutable constants (tuples, frozensets, ``MappingProxyType``, compiled regexes,
strings, numbers, ``object()`` sentinels) are not state. A second test writes such
state into a copy of a module and sees the scan report it.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mlops_lab"
HOLDER = "project.py"

# (module path inside mlops_lab, name) -> why it is not state. Keep it short.
ALLOWED = {
    ("comparison/values.py", "ABSENT"): (
        "a sentinel: an instance of a class with no attributes, compared by identity"
    ),
    ("tracking/capture.py", "_key_paths"): (
        "lru_cache over three strings: the paths git's state is read from, pure"
    ),
    ("tracking/capture.py", "_environment"): (
        "lru_cache(maxsize=1) keyed by the sys.path folders and their mtimes: the package "
        "list is read again whenever one changes, so the memo never answers stale"
    ),
    ("tracking/trust.py", "trusted_types"): (
        "lru_cache(maxsize=1) of the scikit-learn class names installed: a function of "
        "the installed packages, which do not change under a running interpreter"
    ),
}

MUTABLE_CALLS = frozenset(
    {
        "dict",
        "list",
        "set",
        "bytearray",
        "defaultdict",
        "OrderedDict",
        "Counter",
        "deque",
        "ChainMap",
        "local",
        "Lock",
        "RLock",
        "Condition",
        "Event",
        "Semaphore",
        "BoundedSemaphore",
        "WeakSet",
        "WeakKeyDictionary",
        "WeakValueDictionary",
        "ContextVar",
        "SimpleNamespace",
    }
)
CACHES = frozenset({"cache", "lru_cache", "cached_property"})
MUTABLE_NODES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def _name(node: ast.expr) -> str:
    """The last name of ``f``, ``a.f`` or ``a.f(...)``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _classes(package: Path) -> tuple[set[str], set[str]]:
    """The names of the package's classes, and of those that are frozen dataclasses."""
    classes, frozen = set(), set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                classes.add(node.name)
                for deco in node.decorator_list:
                    if (
                        isinstance(deco, ast.Call)
                        and _name(deco) == "dataclass"
                        and any(
                            k.arg == "frozen" and getattr(k.value, "value", False) is True
                            for k in deco.keywords
                        )
                    ):
                        frozen.add(node.name)
    return classes, frozen


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """Module-level statements, including those in top-level ``if``, ``try``, ``for`` blocks."""
    out: list[ast.stmt] = []
    todo = list(tree.body)
    while todo:
        node = todo.pop(0)
        out.append(node)
        if isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            for block in ("body", "orelse", "finalbody", "handlers"):
                todo.extend(getattr(node, block, []))
        elif isinstance(node, ast.ExceptHandler):
            todo.extend(node.body)
    return out


def _mutable(value: ast.expr, classes: set[str], frozen: set[str]) -> str | None:
    if isinstance(value, MUTABLE_NODES):
        return f"a {type(value).__name__.lower()}"
    if isinstance(value, ast.Call):
        name = _name(value)
        if name in MUTABLE_CALLS:
            return f"{name}()"
        if name in classes and name not in frozen:
            return f"an instance of {name}"
    return None


def scan(package: Path) -> list[str]:
    """Every piece of module-level mutable state outside the holder, as readable lines."""
    classes, frozen = _classes(package)
    found = []
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        if module == HOLDER:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def report(line: int, name: str, what: str, *, module: str = module) -> None:
            root = name.split("[", 1)[0].split(".", 1)[0]
            if (module, root) not in ALLOWED:
                found.append(f"{module}:{line}: {name}: {what}")

        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                report(node.lineno, ", ".join(node.names), "`global` statement")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for deco in node.decorator_list:
                    if _name(deco) in CACHES:
                        report(node.lineno, node.name, f"memoised with {_name(deco)}")
        for node in _top_level(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript | ast.Attribute):
                        report(node.lineno, ast.unparse(target), "module-level item assignment")
                        continue
                    names = [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
                    if "__all__" in names or node.value is None:
                        continue  # the export list the import system reads
                    what = _mutable(node.value, classes, frozen)
                    if isinstance(node, ast.AugAssign):
                        what = "augmented at module level"
                    if what is not None:
                        for name in names:
                            report(node.lineno, name, what)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                func = node.value.func
                if isinstance(func, ast.Attribute) and func.attr in (
                    "append",
                    "extend",
                    "add",
                    "update",
                    "setdefault",
                ):
                    report(node.lineno, ast.unparse(func.value), f"mutated by .{func.attr}()")
    return found


def test_no_module_level_mutable_state_outside_the_holder() -> None:
    found = scan(PACKAGE)
    assert found == [], "module-level mutable state outside mlops_lab/project.py:\n" + "\n".join(
        found
    )


def test_every_allowed_name_still_exists() -> None:
    """An entry of the allowlist whose name is gone would hide the next one of that name."""
    for module, name in ALLOWED:
        assert name in (PACKAGE / module).read_text(encoding="utf-8"), (module, name)


def test_state_written_into_a_copy_of_the_package_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "mlops_lab"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "labextension"))
    assert scan(copy) == []
    module = copy / "comparison" / "static.py"
    module.write_text(
        module.read_text(encoding="utf-8")
        + "\n\n_seen: dict[str, int] = {}\n_local = threading.local()\n"
        "_last = Progress()\nTABLE = frozenset()\n_RULES = {**{}}\n_RULES['x'] = 1\n"
        "_hooks = []\n_hooks.append(print)\n\n\n"
        "def _shown() -> bool:\n    global _flag\n    _flag = True\n    return _flag\n\n\n"
        "@functools.lru_cache\ndef _memo(x):\n    return x\n",
        encoding="utf-8",
    )
    (copy / "project.py").write_text(  # the holder may keep state
        (copy / "project.py").read_text(encoding="utf-8") + "\n_more: list[int] = []\n",
        encoding="utf-8",
    )
    found = sorted(line.split(": ", 1)[1] for line in scan(copy))
    assert found == sorted(
        [
            "_flag: `global` statement",
            "_memo: memoised with lru_cache",
            "_seen: a dict",
            "_local: local()",
            "_last: an instance of Progress",
            "_RULES: a dict",
            "_RULES['x']: module-level item assignment",
            "_hooks: a list",
            "_hooks: mutated by .append()",
        ]
    )
