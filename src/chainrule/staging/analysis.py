"""Name analysis of tape blocks: what a block reads from before it, and what it defines.

Guarantees: :func:`exposed` returns the names a statement list may read before assigning
them (its *upward-exposed* reads), following ``if``/``for``/``while`` conservatively (a
loop may run zero times; a name read in a loop body before it is assigned there is
exposed), together with the names it definitely assigns. Nothing here looks at values.
"""

from __future__ import annotations

from typing import Any

import gast

__all__ = ["loads", "stores", "exposed", "is_tape_method_call", "tape_call_parts"]


def loads(node: Any) -> set[str]:
    """Every name read anywhere in ``node`` (a node or a list of nodes)."""
    nodes = node if isinstance(node, list) else [node]
    out: set[str] = set()
    for n in nodes:
        for sub in gast.walk(n):
            if isinstance(sub, gast.Name) and isinstance(sub.ctx, gast.Load):
                out.add(sub.id)
    return out


def stores(node: Any) -> set[str]:
    """Every name assigned anywhere in ``node`` (targets, loop variables, ``as`` names, defs)."""
    nodes = node if isinstance(node, list) else [node]
    out: set[str] = set()
    for n in nodes:
        for sub in gast.walk(n):
            if isinstance(sub, gast.Name) and isinstance(sub.ctx, (gast.Store, gast.Del)):
                out.add(sub.id)
            elif isinstance(sub, (gast.FunctionDef, gast.ClassDef)):
                out.add(sub.name)
    return out


def _target_names(target: Any) -> set[str]:
    if isinstance(target, gast.Name):
        return {target.id}
    if isinstance(target, (gast.Tuple, gast.List)):
        out: set[str] = set()
        for t in target.elts:
            out |= _target_names(t)
        return out
    if isinstance(target, gast.Starred):
        return _target_names(target.value)
    return set()


def _target_loads(target: Any) -> set[str]:
    """Names a target reads (``a[i] = ...`` reads ``a`` and ``i``)."""
    if isinstance(target, gast.Name):
        return set()
    if isinstance(target, (gast.Tuple, gast.List)):
        out: set[str] = set()
        for t in target.elts:
            out |= _target_loads(t)
        return out
    return loads(target)


def exposed(stmts: list[Any], defined: set[str] | None = None) -> tuple[set[str], set[str]]:
    """``(names read before assignment, names definitely assigned)`` of ``stmts``."""
    defined = set(defined or ())
    out: set[str] = set()
    for s in stmts:
        if isinstance(s, gast.Assign):
            out |= loads(s.value) - defined
            for t in s.targets:
                out |= _target_loads(t) - defined
            for t in s.targets:
                defined |= _target_names(t)
        elif isinstance(s, gast.AugAssign):
            out |= (loads(s.value) | loads(s.target)) - defined
            defined |= _target_names(s.target)
        elif isinstance(s, gast.AnnAssign):
            if s.value is not None:
                out |= loads(s.value) - defined
                defined |= _target_names(s.target)
        elif isinstance(s, gast.If):
            out |= loads(s.test) - defined
            e1, d1 = exposed(s.body, defined)
            e2, d2 = exposed(s.orelse, defined)
            out |= e1 | e2
            defined = d1 & d2
        elif isinstance(s, (gast.For, gast.AsyncFor)):
            out |= loads(s.iter) - defined
            e, _ = exposed(s.body, defined | _target_names(s.target))
            e2, _ = exposed(s.orelse, defined)
            out |= e | e2
        elif isinstance(s, gast.While):
            out |= loads(s.test) - defined
            e, _ = exposed(s.body, defined)
            e2, _ = exposed(s.orelse, defined)
            out |= e | e2
        elif isinstance(s, (gast.With, gast.AsyncWith)):
            for item in s.items:
                out |= loads(item.context_expr) - defined
                if item.optional_vars is not None:
                    defined |= _target_names(item.optional_vars)
            e, d = exposed(s.body, defined)
            out |= e
            defined = d
        elif isinstance(s, (gast.FunctionDef, gast.AsyncFunctionDef)):
            inner = loads(s) - stores(s)
            out |= inner - defined
            defined.add(s.name)
        elif isinstance(s, gast.Try):
            e, _ = exposed(s.body, defined)
            out |= e
            for h in s.handlers:
                out |= exposed(h.body, defined)[0]
            out |= exposed(s.orelse, defined)[0] | exposed(s.finalbody, defined)[0]
        else:
            out |= loads(s) - defined
            defined |= stores(s)
    return out, defined


def tape_call_parts(node: Any) -> tuple[str, str] | None:
    """``(tape name, method)`` when ``node`` is a call ``tape.method(...)``."""
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) and \
            isinstance(node.func.value, gast.Name):
        return node.func.value.id, node.func.attr
    return None


def is_tape_method_call(node: Any, tape: str, methods: tuple[str, ...]) -> bool:
    parts = tape_call_parts(node)
    return parts is not None and parts[0] == tape and parts[1] in methods
