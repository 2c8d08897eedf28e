"""Small helpers to build and inspect gast trees (no transformation logic lives here)."""

from __future__ import annotations

import ast
import copy
from collections import deque
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


def clone(node: Any) -> Any:
    return copy.deepcopy(node)


def is_atom(node: Any) -> bool:
    return isinstance(node, (gast.Name, gast.Constant))


def walk(node: Any) -> Any:
    """``ast.walk`` (same breadth-first order), without its per-field ``getattr`` overhead."""
    todo = deque([node])
    AST = gast.AST
    while todo:
        node = todo.popleft()
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, AST):
                todo.append(value)
            elif type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        todo.append(item)
        yield node


def names_loaded(node: Any) -> list[str]:
    """Names read anywhere in ``node``, in order of first appearance."""
    out: list[str] = []
    for sub in walk(node):
        if isinstance(sub, gast.Name) and isinstance(sub.ctx, gast.Load) and sub.id not in out:
            out.append(sub.id)
    return out


def names_stored(node: Any) -> list[str]:
    out: list[str] = []
    for sub in walk(node):
        if isinstance(sub, gast.Name) and isinstance(sub.ctx, (gast.Store, gast.Param)) \
                and sub.id not in out:
            out.append(sub.id)
    return out


def to_source(node: Any) -> str:
    """Python source of a gast node or list of statements, via the standard ``ast.unparse``."""
    if isinstance(node, list):
        node = gast.Module(body=node, type_ignores=[])
    tree = gast.gast_to_ast(node)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


class _Subst(gast.NodeTransformer):
    def __init__(self, mapping: dict[str, Any]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: Any) -> Any:
        if isinstance(node.ctx, gast.Load) and node.id in self.mapping:
            return clone(self.mapping[node.id])
        return node


def substitute(node: Any, mapping: dict[str, Any]) -> Any:
    """A copy of ``node`` with loaded names replaced by copies of ``mapping``'s nodes."""
    return _Subst(mapping).visit(clone(node))


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
