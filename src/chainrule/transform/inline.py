"""Rule inlining, shared by reverse and forward mode.

Guarantees: a rule's parameters are bound to the call's operands exactly as Python binds
the primitive's own parameters (positional, keyword, keyword-only, defaults, ``*args``); a
one-expression rule comes back as that expression with its parameters replaced and its
free names bound in the generated code's namespace (renamed where they would collide); a
multi-statement rule comes back as a call to the rule function, bound under a
deterministic name. Binding errors are ``TransformError``s naming the primitive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gast

from .astutil import call, clone, const, name, substitute

__all__ = ["inline_rule"]


def _literal(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, tuple):
        return all(_literal(v) for v in value)
    return False


def inline_rule(rule: Any, g: Any, ans: Any, args: list[Any], keywords: list[Any], ns: Any,
                prim: Any, error: Callable[[str, str], Exception]) -> Any:
    """The expression computing ``rule(g, ans, *args, **keywords)`` in generated code.

    ``error(message, construct)`` builds the exception for a binding error (the caller
    knows the user's file and line)."""
    tpl = rule.template()
    params = tpl.params
    mapping: dict[str, Any] = {params[0]: g, params[1]: ans}
    rest = params[2:]
    positional = list(args)
    extra: list[Any] = []
    kwnames = {k.arg for k in keywords}
    for p in [q for q in rest if q not in tpl.kwonly]:
        if positional and p not in kwnames:
            mapping[p] = positional.pop(0)
    if positional:
        if tpl.varargs is None:
            raise error(f"too many arguments in the call to {prim.name}", prim.name)
        extra = positional
    register = "chainrule.defvjp" if rule.kind == "vjp" else "chainrule.defjvp"
    for k in keywords:
        if k.arg not in rest:
            raise error(f"{prim.name}() got keyword argument {k.arg!r} that its derivative "
                        f"rule does not accept; register a rule with that parameter "
                        f"({register})", prim.name)
        mapping[k.arg] = k.value
    for p in rest:
        if p in mapping:
            continue
        if p not in tpl.defaults:
            raise error(f"missing argument {p!r} in the call to {prim.name}", prim.name)
        default = tpl.defaults[p]
        mapping[p] = const(default) if _literal(default) else \
            name(ns.bind(f"{p}_default", default))
    if tpl.expr is None:
        fn_name = ns.bind_rule(rule, prim)
        positional_params = [p for p in rest if p not in tpl.kwonly]
        call_args = [mapping[params[0]], mapping[params[1]]] + \
            [mapping[p] for p in positional_params] + extra
        node = call(name(fn_name), *[clone(a) for a in call_args])
        node.keywords = [gast.keyword(arg=p, value=clone(mapping[p])) for p in rest
                         if p in tpl.kwonly]
        return node
    if tpl.varargs is not None:
        mapping[tpl.varargs] = gast.Tuple(elts=extra, ctx=gast.Load())
    for free, obj in tpl.free.items():
        bound = ns.bind(free, obj)
        if bound != free:
            mapping[free] = name(bound)
    return substitute(tpl.expr, mapping)
