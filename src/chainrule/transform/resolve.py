"""What a call or attribute in the user's code refers to, decided without running it.

A callee is one of: a *primitive* (a callable with rules in the registry), a
*non-differentiable* function, a *user* Python function (differentiated from its source), a
*local* nested function (lambda-lifted by desugar), an ndarray *method* mapped to a
primitive with :func:`chainrule.defmethod`, a list ``append``, or *opaque* (no source, no
rule: an error when it receives a differentiated value).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import gast

from ..rules import registry
from .parse import UNRESOLVED

__all__ = ["Callee", "resolve_callee", "resolve_attribute_chain"]


@dataclass
class Callee:
    kind: str
    obj: Any = None
    prim: Any = None
    self_arg: Any = None  # the array a method is called on
    label: str = ""


def resolve_attribute_chain(node: Any, ctx: Any, local_names: set[str]) -> Any:
    """The object of ``a.b.c`` when ``a`` is not a local variable, else ``UNRESOLVED``."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name) or node.id in local_names:
        return UNRESOLVED
    obj = ctx.parsed.resolve(node.id)
    for attr in reversed(parts):
        if obj is UNRESOLVED:
            return UNRESOLVED
        obj = getattr(obj, attr, UNRESOLVED)
    return obj


def _classify(obj: Any, label: str) -> Callee:
    prim = registry.primitive_of(obj)
    if prim is not None:
        if prim.nondiff:
            return Callee("nondiff", obj=obj, label=label)
        return Callee("primitive", obj=obj, prim=prim, label=label)
    if isinstance(obj, types.FunctionType):
        return Callee("user", obj=obj, label=label)
    if isinstance(obj, types.MethodType) and isinstance(obj.__func__, types.FunctionType):
        return Callee("opaque", obj=obj, label=label)
    if isinstance(obj, type) and obj in (list, tuple, dict, set, str, bool, int, slice, range):
        return Callee("nondiff", obj=obj, label=label)
    return Callee("opaque", obj=obj, label=label)


def resolve_callee(func: Any, ctx: Any, local_names: set[str]) -> Callee:
    label = _label(func)
    if isinstance(func, gast.Name):
        if func.id in ctx.local_functions:
            return Callee("local", obj=ctx.local_functions[func.id], label=label)
        if func.id in local_names:
            return Callee("opaque", label=label)
        obj = ctx.parsed.resolve(func.id)
        if obj is UNRESOLVED:
            return Callee("unresolved", label=label)
        return _classify(obj, label)
    if isinstance(func, gast.Attribute):
        root = func
        while isinstance(root, gast.Attribute):
            root = root.value
        if isinstance(root, gast.Name) and root.id in local_names:
            if not isinstance(func.value, gast.Name):
                return Callee("opaque", label=label)
            if func.attr == "append":
                return Callee("append", self_arg=func.value, label=label)
            if func.attr == "pop":
                return Callee("pop", self_arg=func.value, label=label)
            fn = registry.method_function(func.attr)
            if fn is None:
                return Callee("method_unknown", self_arg=func.value, label=label)
            callee = _classify(fn, label)
            callee.self_arg = func.value
            if callee.kind == "primitive":
                callee.kind = "method"
            elif callee.kind == "nondiff":
                callee.kind = "nondiff_method"
            return callee
        obj = resolve_attribute_chain(func, ctx, local_names)
        if obj is UNRESOLVED:
            return Callee("unresolved", label=label)
        return _classify(obj, label)
    return Callee("opaque", label=label)


def _label(func: Any) -> str:
    parts = []
    node = func
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return "<expression>"
