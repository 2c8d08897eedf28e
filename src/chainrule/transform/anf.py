"""Pass 5, three-address form: one differentiable operation per statement.

Guarantees after this pass, for every assignment ``target = value``:

* ``value`` is an atom (name or constant), or one operation whose differentiable operands
  are atoms: a binary/unary arithmetic operation, a call (arguments of non-differentiable
  callees, subscript indices, comparisons and boolean tests stay whole: they carry no
  gradient), a subscript or attribute of a name, or a list/tuple of atoms;
* conditional expressions are ``if`` statements; ``if`` tests are names; ``for`` loops
  run over ``range`` of atoms; ``return`` returns an atom; docstrings are gone.

Temporaries are named ``t1, t2, ...`` (avoiding the user's names) in source order, so the
output is deterministic.
"""

from __future__ import annotations

from typing import Any

import gast

from .astutil import assign, is_atom, name, walk
from .desugar import Context
from .resolve import resolve_callee

__all__ = ["to_anf"]


def _static(e: Any) -> bool:
    """A constant expression: never differentiable, keep it whole."""
    if isinstance(e, gast.Constant):
        return True
    if isinstance(e, (gast.Tuple, gast.List)):
        return all(_static(x) for x in e.elts)
    if isinstance(e, gast.UnaryOp):
        return _static(e.operand)
    if isinstance(e, gast.Slice):
        return all(x is None or _static(x) for x in (e.lower, e.upper, e.step))
    return False


def _module_path(e: Any, local_names: set[str]) -> bool:
    """``np.linalg``: attributes of a global name (a module), kept whole so that a call
    ``np.linalg.lstsq(...)`` stays a call of that function (and errors name it)."""
    while isinstance(e, gast.Attribute):
        e = e.value
    return isinstance(e, gast.Name) and e.id not in local_names


class _ANF:
    def __init__(self, ctx: Context, local_names: set[str]) -> None:
        self.ctx = ctx
        self.namer = ctx.namer
        self.local_names = local_names

    def block(self, stmts: list[Any]) -> list[Any]:
        out: list[Any] = []
        for s in stmts:
            new = self.stmt(s)
            for n in new:
                if getattr(n, "lineno", None) is None and hasattr(s, "lineno"):
                    for sub in walk(n):
                        if isinstance(sub, (gast.stmt, gast.expr)) and \
                                getattr(sub, "lineno", None) is None:
                            sub.lineno = s.lineno
                            sub.col_offset = getattr(s, "col_offset", 0)
            out += new
        return out

    def stmt(self, s: Any) -> list[Any]:
        pre: list[Any] = []
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            if isinstance(target, gast.Subscript):
                value = self.atom(s.value, pre)
                return pre + [gast.Assign(targets=[target], value=value, type_comment=None)]
            if isinstance(s.value, gast.IfExp):
                return self.ifexp_into(target.id, s.value)
            value = self.op(s.value, pre)
            if isinstance(value, gast.Name) and value.id == target.id:
                return pre
            return pre + [gast.Assign(targets=[target], value=value, type_comment=None)]
        if isinstance(s, gast.Expr):
            if isinstance(s.value, gast.Constant):
                return []
            if isinstance(s.value, gast.Call):
                func = s.value.func
                if isinstance(func, gast.Attribute) and func.attr == "pop" and \
                        isinstance(func.value, gast.Name) and func.value.id in self.local_names:
                    # keep what a list pop removes: its adjoint puts the value back
                    tmp = self.namer.fresh("popped")
                    return pre + [assign(tmp, self.op(s.value, pre))]
                return pre + [gast.Expr(value=self.op(s.value, pre))]
            return [s]
        if isinstance(s, gast.If):
            if not isinstance(s.test, gast.Name):
                c = self.namer.fresh("cond")
                pre.append(assign(c, s.test))
                s.test = name(c)
            s.body = self.block(s.body) or [gast.Pass()]
            s.orelse = self.block(s.orelse)
            return pre + [s]
        if isinstance(s, gast.While):
            s.body = self.block(s.body) or [gast.Pass()]
            return [s]
        if isinstance(s, gast.For):
            s.iter.args = [a if is_atom(a) else self.atom(a, pre) for a in s.iter.args]
            s.body = self.block(s.body) or [gast.Pass()]
            return pre + [s]
        if isinstance(s, gast.Return):
            if s.value is None:
                return [s]
            s.value = self.atom(s.value, pre)
            return pre + [s]
        return [s]

    def ifexp_into(self, target: str, e: Any) -> list[Any]:
        pre: list[Any] = []
        test = e.test
        if not isinstance(test, gast.Name):
            c = self.namer.fresh("cond")
            pre.append(assign(c, test))
            test = name(c)
        body = self.block([assign(target, e.body)])
        orelse = self.block([assign(target, e.orelse)])
        # ``x = x if c else ...`` leaves the branch that keeps x empty
        return pre + [gast.If(test=test, body=body or [gast.Pass()], orelse=orelse)]

    def atom(self, e: Any, pre: list[Any]) -> Any:
        if is_atom(e) or _static(e):
            return e
        if isinstance(e, gast.IfExp):
            tmp = self.namer.fresh("t")
            pre += self.ifexp_into(tmp, e)
            return name(tmp)
        value = self.op(e, pre)
        tmp = self.namer.fresh("t")
        pre.append(assign(tmp, value))
        return name(tmp)

    def op(self, e: Any, pre: list[Any]) -> Any:
        if is_atom(e) or _static(e):
            return e
        if isinstance(e, gast.BinOp):
            return gast.BinOp(left=self.atom(e.left, pre), op=e.op, right=self.atom(e.right, pre))
        if isinstance(e, gast.UnaryOp):
            if isinstance(e.op, gast.Not):
                return e
            return gast.UnaryOp(op=e.op, operand=self.atom(e.operand, pre))
        if isinstance(e, gast.Call):
            callee = resolve_callee(e.func, self.ctx, self.local_names)
            func = e.func
            if callee.kind in ("nondiff", "nondiff_method"):
                return e
            if isinstance(func, gast.Attribute) and callee.self_arg is None and \
                    callee.kind in ("opaque",) and not isinstance(func.value, gast.Name) and \
                    not _module_path(func.value, self.local_names):
                func = gast.Attribute(value=self.atom(func.value, pre), attr=func.attr,
                                      ctx=gast.Load())
            elif isinstance(func, gast.Attribute) and callee.kind == "unresolved" and \
                    not isinstance(func.value, gast.Name):
                func = gast.Attribute(value=self.atom(func.value, pre), attr=func.attr,
                                      ctx=gast.Load())
            args = [self.atom(a, pre) for a in e.args]
            keywords = [gast.keyword(arg=k.arg, value=self.atom(k.value, pre))
                        for k in e.keywords]
            return gast.Call(func=func, args=args, keywords=keywords)
        if isinstance(e, gast.Subscript):
            return gast.Subscript(value=self.atom(e.value, pre), slice=e.slice, ctx=gast.Load())
        if isinstance(e, gast.Attribute):
            if isinstance(e.value, gast.Name) and e.value.id not in self.local_names:
                return e  # a module attribute such as np.pi
            return gast.Attribute(value=self.atom(e.value, pre), attr=e.attr, ctx=gast.Load())
        if isinstance(e, (gast.Tuple, gast.List)):
            return type(e)(elts=[self.atom(x, pre) for x in e.elts], ctx=gast.Load())
        if isinstance(e, gast.IfExp):
            tmp = self.namer.fresh("t")
            pre += self.ifexp_into(tmp, e)
            return name(tmp)
        return e  # comparisons, boolean operations, comprehensions: no gradient flows


def to_anf(ctx: Context, fdef: Any, local_names: set[str]) -> Any:
    fdef.body = _ANF(ctx, local_names).block(fdef.body)
    return fdef


