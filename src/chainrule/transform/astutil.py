"""Small helpers to build and inspect gast trees (no transformation logic lives here)."""

from __future__ import annotations

import ast
import copy
from typing import Any

import gast

__all__ = [
    "Namer",
    "name",
    "store",
    "const",
    "assign",
    "parse_expr",
    "parse_stmts",
    "names_loaded",
    "names_stored",
    "load_counts",
    "to_source",
    "clone",
    "call",
    "is_atom",
    "substitute",
    "walk",
]


def name(id_: str) -> Any:
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def store(id_: str) -> Any:
    return gast.Name(id=id_, ctx=gast.Store(), annotation=None, type_comment=None)


def const(value: Any) -> Any:
    return gast.Constant(value=value, kind=None)


def assign(target: str | Any, value: Any) -> Any:
    tgt = store(target) if isinstance(target, str) else target
    return gast.Assign(targets=[tgt], value=value, type_comment=None)


def call(func: str | Any, *args: Any, **kwargs: Any) -> Any:
    f = parse_expr(func) if isinstance(func, str) else func
    return gast.Call(func=f, args=list(args),
                     keywords=[gast.keyword(arg=k, value=v) for k, v in kwargs.items()])


def parse_expr(src: str) -> Any:
    return gast.parse(src).body[0].value


def parse_stmts(src: str) -> list[Any]:
    return list(gast.parse(src).body)


_ATOMS = (str, int, float, complex, bool, bytes, type(None), type(Ellipsis))


def clone(node: Any) -> Any:
    """A deep copy of an AST (nodes, lists of nodes, constants and any attributes a pass
    attached), several times faster than ``copy.deepcopy``: a tree never shares a node, so
    no memo is needed."""
    if isinstance(node, ast.AST):
        cls = type(node)
        new = cls.__new__(cls)
        d = new.__dict__
        for key, value in node.__dict__.items():
            if isinstance(value, _ATOMS):
                d[key] = value
            elif isinstance(value, list):
                d[key] = [clone(v) for v in value]
            else:
                d[key] = clone(value)
        return new
    if isinstance(node, list):
        return [clone(v) for v in node]
    if isinstance(node, _ATOMS):
        return node
    return copy.deepcopy(node)


def is_atom(node: Any) -> bool:
    return isinstance(node, (gast.Name, gast.Constant))


def _bfs(node: Any, names_only: bool) -> list[Any]:
    """The nodes of ``node`` in ``ast.walk``'s breadth-first order, or only its ``Name``
    nodes (then names are not descended into); one loop, no generator, no ``getattr``
    per absent field: the analyses run over every statement many times."""
    out: list[Any] = []
    todo = [node]
    AST, Name = gast.AST, gast.Name
    i = 0
    while i < len(todo):
        node = todo[i]
        i += 1
        if names_only:
            if type(node) is Name:
                out.append(node)
                continue
        else:
            out.append(node)
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                todo.append(value)
            elif type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        todo.append(item)
    return out


def walk(node: Any) -> Any:
    """``ast.walk``: every node of the tree, breadth first (listed before the loop runs, so
    changes the loop makes to the tree do not change what it visits)."""
    return iter(_bfs(node, False))


def name_nodes(node: Any) -> list[Any]:
    """The ``Name`` nodes of ``node`` in :func:`walk`'s order."""
    return _bfs(node, True)


def names_loaded(node: Any) -> list[str]:
    """Names read anywhere in ``node``, in order of first appearance."""
    out: dict[str, None] = {}
    Load = gast.Load
    for sub in name_nodes(node):
        if type(sub.ctx) is Load:
            out[sub.id] = None
    return list(out)


def load_counts(stmts: list[Any]) -> dict[str, int]:
    """How many times each name is read in ``stmts``."""
    counts: dict[str, int] = {}
    Load = gast.Load
    for s in stmts:
        for sub in name_nodes(s):
            if type(sub.ctx) is Load:
                counts[sub.id] = counts.get(sub.id, 0) + 1
    return counts


def names_stored(node: Any) -> list[str]:
    """Names assigned (or bound as parameters) anywhere in ``node``, in order."""
    out: dict[str, None] = {}
    for sub in name_nodes(node):
        if isinstance(sub.ctx, (gast.Store, gast.Param)):
            out[sub.id] = None
    return list(out)


def to_source(node: Any) -> str:
    """Python source of a gast node or list of statements, via the standard ``ast.unparse``."""
    if isinstance(node, list):
        node = gast.Module(body=node, type_ignores=[])
    tree = gast.gast_to_ast(node)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def substitute(node: Any, mapping: dict[str, Any]) -> Any:
    """A copy of ``node`` with loaded names replaced by copies of ``mapping``'s nodes."""
    if isinstance(node, gast.Name):
        if isinstance(node.ctx, gast.Load) and node.id in mapping:
            return clone(mapping[node.id])
        return clone(node)
    if isinstance(node, ast.AST):
        cls = type(node)
        new = cls.__new__(cls)
        d = new.__dict__
        for key, value in node.__dict__.items():
            if isinstance(value, _ATOMS):
                d[key] = value
            elif isinstance(value, list):
                d[key] = [substitute(v, mapping) for v in value]
            else:
                d[key] = substitute(value, mapping)
        return new
    return clone(node)


class Namer:
    """Deterministic fresh names that avoid every name already used in a function."""

    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken = set(taken or ())
        self.counters: dict[str, int] = {}

    def reserve(self, id_: str) -> None:
        self.taken.add(id_)

    def fresh(self, base: str) -> str:
        n = self.counters.get(base, 0)
        while True:
            n += 1
            candidate = f"{base}{n}"
            if candidate not in self.taken:
                self.counters[base] = n
                self.taken.add(candidate)
                return candidate

    def exact_or_fresh(self, id_: str) -> str:
        if id_ not in self.taken:
            self.taken.add(id_)
            return id_
        return self.fresh(id_ + "_")
