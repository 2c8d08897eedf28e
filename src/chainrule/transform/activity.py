"""Pass 6, activity analysis: which variables carry derivatives.

A variable is *varied* when it may depend, through differentiable operations, on a
parameter being differentiated, and *useful* when the returned value may depend on it
through differentiable operations. *Active* = varied and useful. The analysis is by
name and flow-insensitive (a name is active if any assignment to it is), which is sound:
it can only make more code active, never less. Only active statements get adjoint code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gast

from .astutil import walk
from .desugar import Context
from .resolve import Callee, resolve_callee

__all__ = ["Activity", "analyse", "propagate", "operand_names", "NONDIFF_ATTRS"]

NONDIFF_ATTRS = frozenset({
    "shape", "ndim", "size", "dtype", "itemsize", "nbytes", "flags", "strides",
})
_NONDIFF_BINOPS = (gast.FloorDiv, gast.BitAnd, gast.BitOr, gast.BitXor, gast.LShift,
                   gast.RShift)


def _atom_names(nodes: list[Any]) -> list[str]:
    return [n.id for n in nodes if isinstance(n, gast.Name)]


def operand_names(value: Any, ctx: Context, local_names: set[str]
                  ) -> tuple[list[str], Callee | None]:
    """Names whose derivatives flow into ``value``, and the callee when it is a call."""
    if isinstance(value, gast.Name):
        return [value.id], None
    if isinstance(value, gast.BinOp):
        if isinstance(value.op, _NONDIFF_BINOPS):
            return [], None
        return _atom_names([value.left, value.right]), None
    if isinstance(value, gast.UnaryOp):
        if isinstance(value.op, (gast.USub, gast.UAdd)):
            return _atom_names([value.operand]), None
        return [], None
    if isinstance(value, gast.Call):
        callee = resolve_callee(value.func, ctx, local_names)
        if callee.kind in ("nondiff", "nondiff_method"):
            return [], callee
        args = list(value.args) + [k.value for k in value.keywords]
        names = _atom_names(args)
        if callee.self_arg is not None:
            names = _atom_names([callee.self_arg]) + names
        if callee.kind == "local":
            names += [n for n in callee.obj.captured if n not in names]
        if callee.kind not in ("primitive", "method", "user", "local", "append", "pop"):
            # opaque or unresolved: every name read may carry a derivative in
            names += [n.id for n in walk(value.func) if isinstance(n, gast.Name)
                      and n.id in local_names and n.id not in names]
        return names, callee
    if isinstance(value, gast.Subscript):
        return _atom_names([value.value]), None
    if isinstance(value, gast.Attribute):
        if value.attr in NONDIFF_ATTRS or not isinstance(value.value, gast.Name):
            return [], None
        if value.value.id not in local_names:
            return [], None
        return [value.value.id], None
    if isinstance(value, (gast.Tuple, gast.List)):
        return _atom_names(value.elts), None
    if isinstance(value, (gast.ListComp, gast.GeneratorExp, gast.SetComp, gast.DictComp)):
        return [n.id for n in walk(value) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load) and n.id in local_names], \
            Callee("comprehension", label="comprehension")
    return [], None


@dataclass
class Activity:
    varied: set[str]
    useful: set[str]

    @property
    def active(self) -> set[str]:
        return self.varied & self.useful

    def is_active(self, name: str) -> bool:
        return name in self.varied and name in self.useful


def _edges(body: list[Any], ctx: Context, local_names: set[str]) -> list[tuple[str, list[str]]]:
    """(target, operand names) for every assignment-like statement, in any order."""
    edges: list[tuple[str, list[str]]] = []
    for node in body:
        for sub in walk(node):
            if isinstance(sub, gast.FunctionDef):
                continue
            if isinstance(sub, gast.Assign):
                target = sub.targets[0]
                if isinstance(target, gast.Name):
                    names, _ = operand_names(sub.value, ctx, local_names)
                    edges.append((target.id, names))
                elif isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name):
                    names, _ = operand_names(sub.value, ctx, local_names)
                    edges.append((target.value.id, names + [target.value.id]))
            elif isinstance(sub, gast.Expr) and isinstance(sub.value, gast.Call):
                names, callee = operand_names(sub.value, ctx, local_names)
                if callee is not None and callee.kind == "append":
                    edges.append((callee.self_arg.id, names))
    return edges


def propagate(edges: list[tuple[str, list[str]]], wrt: list[str], outputs: list[str]
              ) -> tuple[set[str], set[str]]:
    """(varied, useful) names over ``(target, operands)`` edges, by fixed-point iteration."""
    varied = set(wrt)
    changed = True
    while changed:
        changed = False
        for target, names in edges:
            if target not in varied and any(n in varied for n in names):
                varied.add(target)
                changed = True
    useful = set(outputs)
    changed = True
    while changed:
        changed = False
        for target, names in edges:
            if target in useful:
                for n in names:
                    if n in varied and n not in useful:
                        useful.add(n)
                        changed = True
    return varied, useful


def analyse(fdef: Any, ctx: Context, local_names: set[str], wrt: list[str],
            outputs: list[str]) -> Activity:
    varied, useful = propagate(_edges(fdef.body, ctx, local_names), wrt, outputs)
    return Activity(varied=varied, useful=useful)
