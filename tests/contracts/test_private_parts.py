"""No module outside internals/ touches a dependency's private parts.

An AST scan of the project's packages. A private name is one with a single leading
underscore. Flagged:
- an import of a private module or name from a library (``from sqlalchemy.sql._typing
  import ...``, ``from ... import _OperationStreamClosed``);
- ``self._x``, ``cls._x`` or ``super()._x`` in a class when neither the class nor a
  project base class of it defines ``_x``: inherited from a library
  (``self._cache`` in a DataLoader, ``super()._handle_execution_result``);
- a method or class attribute ``_x`` defined in a class whose library base defines
  ``_x`` already: an override of a library's private part (``_send_result_stream``,
  ``_traverse_internals``);
- ``anything._x`` when no module of the project defines ``_x``: a library object's
  private attribute (``schema._schema``, ``websocket._send``, ``gauge._name``).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "schema", "resolvers", "db", "domain")
PROJECT = (*PACKAGES, "internals", "tests", "bench")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _ours(module: str) -> bool:
    return module.split(".")[0] in PROJECT


@dataclass
class Scan:
    # Every private name some module of the project (outside internals/) defines.
    defined: set[str] = field(default_factory=set)
    # Per class name: the private names its body defines, and its bases' names.
    classes: dict[str, tuple[set[str], list[str]]] = field(default_factory=dict)


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), ast.parse(path.read_text(), str(path))


def _defined_in(node: ast.AST) -> set[str]:
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(child.name)
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            names.add(child.id)
        elif (
            isinstance(child, ast.Attribute)
            and isinstance(child.ctx, ast.Store)
            and isinstance(child.value, ast.Name)
            and child.value.id in ("self", "cls")
        ):
            names.add(child.attr)  # ours: set on an object of ours
        elif isinstance(child, ast.arg):
            names.add(child.arg)
        elif isinstance(child, ast.alias):
            names.add(child.asname or child.name.split(".")[0])
    return {name for name in names if _private(name)}


def _scan(modules: list[tuple[str, ast.Module]]) -> Scan:
    scan = Scan()
    for _, tree in modules:
        scan.defined |= _defined_in(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base).split("[")[0].split(".")[-1] for base in node.bases]
                # Classes of one name in several modules: what any of them defines.
                defined, known = scan.classes.get(node.name, (set(), []))
                scan.classes[node.name] = (defined | _defined_in(node), known + bases)
    return scan


def _inherits(scan: Scan, class_name: str, name: str, seen: set[str] | None = None) -> bool:
    """Whether a project class, or a project base class of it, defines ``name``."""
    seen = seen if seen is not None else set()
    if class_name in seen or class_name not in scan.classes:
        return False
    seen.add(class_name)
    defined, bases = scan.classes[class_name]
    return name in defined or any(_inherits(scan, base, name, seen) for base in bases)


def _library_defines(module: str, class_name: str, name: str) -> str | None:
    """The library class in ``module.class_name``'s MRO that defines ``name``, if any."""
    found = getattr(importlib.import_module(module), class_name, None)
    for base in getattr(found, "__mro__", ())[1:]:
        if not _ours(base.__module__) and name in vars(base):
            return f"{base.__module__}.{base.__qualname__}"
    return None


def _own_nodes(cls: ast.ClassDef) -> Iterator[ast.AST]:
    """The nodes of a class body, without those of classes nested in it (each of
    those speaks for itself)."""
    stack: list[ast.AST] = list(cls.body)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.ClassDef))


def _violations_in(module: str, tree: ast.Module, scan: Scan) -> Iterator[str]:
    def where(node: ast.AST) -> str:
        return f"{module}:{getattr(node, 'lineno', '?')}"

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not _ours(node.module):
            if node.module != "__future__" and any(map(_private, node.module.split("."))):
                yield f"{where(node)} imports the private module {node.module}"
            for alias in node.names:
                if _private(alias.name):
                    yield f"{where(node)} imports the private {node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not _ours(alias.name) and any(map(_private, alias.name.split("."))):
                    yield f"{where(node)} imports the private module {alias.name}"
        elif isinstance(node, ast.ClassDef):
            for child in _own_nodes(node):
                if not (isinstance(child, ast.Attribute) and _private(child.attr)):
                    continue
                base = child.value
                on_self = isinstance(base, ast.Name) and base.id in ("self", "cls")
                on_super = (
                    isinstance(base, ast.Call)
                    and isinstance(base.func, ast.Name)
                    and base.func.id == "super"
                )
                if (on_self or on_super) and not _inherits(scan, node.name, child.attr):
                    yield f"{where(child)} {node.name} uses the inherited private {child.attr}"
            for statement in node.body:
                names = []
                if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                    names = [statement.name]
                elif isinstance(statement, ast.Assign | ast.AnnAssign):
                    targets = (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                    )
                    names = [t.id for t in targets if isinstance(t, ast.Name)]
                for name in filter(_private, names):
                    owner = _library_defines(module, node.name, name)
                    if owner is not None:
                        yield f"{where(statement)} {node.name} overrides {owner}.{name}"
        elif (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and node.attr not in scan.defined
        ):
            yield f"{where(node)} uses the private {ast.unparse(node)}"


def violations() -> list[str]:
    modules = list(_modules())
    scan = _scan(modules)
    return sorted({v for module, tree in modules for v in _violations_in(module, tree, scan)})


def test_no_module_outside_internals_touches_a_library_s_private_parts() -> None:
    assert violations() == [], (
        "a dependency's private parts are touched in internals/ only (with a contract "
        "test in tests/contracts/); wrap this use there"
    )
