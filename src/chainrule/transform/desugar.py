"""Pass 3, desugar: rewrite convenient Python into a smaller core, without changing meaning.

Guarantees after this pass:

* assignments have exactly one target, a name or a subscript of a name (augmented,
  annotated, chained and tuple-unpacking assignments are rewritten into plain ones);
* every ``for`` loop iterates over ``range(...)`` with a name as target (loops over
  sequences, ``enumerate``, ``zip`` and ``reversed`` become index loops);
* ``name = lambda ...`` becomes a nested ``def``; every nested ``def`` is also recorded,
  lambda-lifted (free local variables appended as keyword-only parameters), in
  ``Context.local_functions`` so that calls to it can be differentiated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gast

from .astutil import (
    Namer,
    assign,
    call,
    clone,
    const,
    name,
    names_loaded,
    names_stored,
    store,
    walk,
)
from .parse import Parsed

_VIEW_METHODS = {"reshape", "ravel", "transpose", "swapaxes", "view", "squeeze", "T"}


def _is_view_function(fn: Any) -> bool:
    """Built-ins that iterate over their arguments and NumPy functions that may return a
    view of (or the very) array they are given."""
    import builtins

    import numpy as np

    if fn in (builtins.enumerate, builtins.zip, builtins.reversed, builtins.iter):
        return True
    return fn in (np.reshape, np.ravel, np.transpose, np.swapaxes, np.squeeze, np.asarray,
                  np.asanyarray, np.atleast_1d, np.atleast_2d, np.flip, np.fliplr, np.flipud,
                  np.moveaxis, np.expand_dims, np.diagonal)


_AUG_SYMBOL = {gast.Add: "+=", gast.Sub: "-=", gast.Mult: "*=", gast.Div: "/=",
               gast.FloorDiv: "//=", gast.Mod: "%=", gast.Pow: "**=", gast.MatMult: "@="}

__all__ = ["Context", "LocalFunction", "desugar"]


@dataclass
class LocalFunction:
    node: Any  # lifted gast.FunctionDef
    captured: list[str]


@dataclass
class Context:
    parsed: Parsed
    namer: Namer
    local_functions: dict[str, LocalFunction] = field(default_factory=dict)


def _all_names(node: Any) -> set[str]:
    return {n.id for n in walk(node) if isinstance(n, gast.Name)}


def _copy_loc(new: Any, old: Any) -> Any:
    for sub in walk(new):
        if hasattr(old, "lineno") and getattr(sub, "lineno", None) is None and \
                isinstance(sub, (gast.stmt, gast.expr)):
            sub.lineno = old.lineno
            sub.col_offset = getattr(old, "col_offset", 0)
    return new


class _Desugar:
    def __init__(self, ctx: Context, outer_locals: set[str]) -> None:
        self.ctx = ctx
        self.namer = ctx.namer
        self.outer_locals = outer_locals

    def block(self, stmts: list[Any]) -> list[Any]:
        out: list[Any] = []
        for s in stmts:
            for new in self.stmt(s):
                out.append(_copy_loc(new, s))
        return out

    # ------------------------------------------------------------------ statements
    def stmt(self, s: Any) -> list[Any]:
        if isinstance(s, gast.AugAssign):
            return self.aug(s)
        if isinstance(s, gast.AnnAssign):
            if s.value is None:
                return []
            return self.assign_to(s.target, s.value, s)
        if isinstance(s, gast.Assign):
            if len(s.targets) == 1:
                return self.assign_to(s.targets[0], s.value, s)
            first, rest = s.targets[0], s.targets[1:]
            out = self.assign_to(first, s.value, s)
            for t in rest:
                out += self.assign_to(t, clone(first) if isinstance(first, gast.Name)
                                      else self._as_load(first), s)
            return out
        if isinstance(s, gast.For):
            return self.for_(s)
        if isinstance(s, gast.While):
            s.body = self.block(s.body)
            return [s]
        if isinstance(s, gast.If):
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            return [s]
        if isinstance(s, gast.FunctionDef):
            self.lift(s)
            return [s]
        return [s]

    def _as_load(self, target: Any) -> Any:
        node = clone(target)
        for sub in walk(node):
            if hasattr(sub, "ctx"):
                sub.ctx = gast.Load()
        return node

    def aug(self, s: Any) -> list[Any]:
        value = gast.BinOp(left=self._as_load(s.target), op=s.op, right=s.value)
        return self.assign_to(s.target, value, s)

    def assign_to(self, target: Any, value: Any, where: Any) -> list[Any]:
        if isinstance(value, gast.Lambda) and isinstance(target, gast.Name):
            fdef = gast.FunctionDef(
                name=target.id, args=value.args, body=[gast.Return(value=value.body)],
                decorator_list=[], returns=None, type_comment=None, type_params=[])
            _copy_loc(fdef, where)
            self.lift(fdef)
            return [fdef]
        if isinstance(target, (gast.Name, gast.Subscript)):
            if isinstance(target, gast.Subscript) and not isinstance(target.value, gast.Name):
                raise self.ctx.parsed.error(
                    "assignments to nested subscripts (a[i][j] = ...) are not supported by "
                    "chainrule.grad; write a[i, j] = ... or assign through a variable",
                    where, "nested subscript assignment")
            return [assign(target, value)]
        if isinstance(target, (gast.Tuple, gast.List)):
            elts = target.elts
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(elts):
                targets_used = _all_names(target)
                if targets_used & set(names_loaded(value)):
                    temps = [self.namer.fresh("t") for _ in elts]
                    out = [assign(t, v) for t, v in zip(temps, value.elts)]
                    for t, tgt in zip(temps, elts):
                        out += self.assign_to(tgt, name(t), where)
                    return out
                out = []
                for tgt, v in zip(elts, value.elts):
                    out += self.assign_to(tgt, v, where)
                return out
            if isinstance(value, gast.Name):
                tmp = value.id
                out = []
            else:
                tmp = self.namer.fresh("t")
                out = [assign(tmp, value)]
            for i, tgt in enumerate(elts):
                item = gast.Subscript(value=name(tmp), slice=const(i), ctx=gast.Load())
                out += self.assign_to(tgt, item, where)
            return out
        raise self.ctx.parsed.error(
            f"cannot assign to {type(target).__name__} targets in chainrule.grad",
            where, "assignment target")

    def for_(self, s: Any) -> list[Any]:
        it = s.iter
        self.check_iterated_not_modified(s)
        body = self.block(s.body)
        resolve = self.ctx.parsed.resolve
        fname = it.func.id if isinstance(it, gast.Call) and isinstance(it.func, gast.Name) \
            else None
        func = resolve(fname) if fname and fname not in self.outer_locals else None
        import builtins

        if func is builtins.range and isinstance(s.target, gast.Name):
            s.body = body
            return [s]
        pre: list[Any] = []

        rebound = set(names_stored(gast.Module(body=body, type_ignores=[])))

        def seq_name(expr: Any) -> str:
            # the loop iterates over the object the name had when it started, even if the
            # body rebinds the name (``for e in x: x = ...``)
            if isinstance(expr, gast.Name) and expr.id not in rebound:
                return expr.id
            t = self.namer.fresh("seq")
            pre.append(assign(t, expr))
            return t

        def item(seq: str, index: Any) -> Any:
            return gast.Subscript(value=name(seq), slice=index, ctx=gast.Load())

        head: list[Any] = []
        if func is builtins.enumerate and isinstance(s.target, gast.Tuple) and \
                len(s.target.elts) == 2 and 1 <= len(it.args) <= 2 and not it.keywords:
            seq = seq_name(it.args[0])
            idx_t, val_t = s.target.elts
            k = idx_t.id if isinstance(idx_t, gast.Name) and len(it.args) == 1 \
                else self.namer.fresh("i")
            if k != getattr(idx_t, "id", None):
                head += self.assign_to(idx_t, gast.BinOp(left=name(k), op=gast.Add(),
                                                         right=it.args[1]), s)
            head += self.assign_to(val_t, item(seq, name(k)), s)
            n_expr = call("len", name(seq))
        elif func is builtins.zip and isinstance(s.target, gast.Tuple) and \
                len(s.target.elts) == len(it.args) and not it.keywords:
            seqs = [seq_name(a) for a in it.args]
            k = self.namer.fresh("i")
            for tgt, seq in zip(s.target.elts, seqs):
                head += self.assign_to(tgt, item(seq, name(k)), s)
            n_expr = call("min", *[call("len", name(q)) for q in seqs]) if len(seqs) > 1 \
                else call("len", name(seqs[0]))
        elif func is builtins.reversed and len(it.args) == 1 and not it.keywords:
            seq = seq_name(it.args[0])
            k = self.namer.fresh("i")
            last = gast.BinOp(left=gast.BinOp(left=call("len", name(seq)), op=gast.Sub(),
                                              right=const(1)), op=gast.Sub(), right=name(k))
            head += self.assign_to(s.target, item(seq, last), s)
            n_expr = call("len", name(seq))
        else:
            seq = seq_name(it)
            k = self.namer.fresh("i")
            head += self.assign_to(s.target, item(seq, name(k)), s)
            n_expr = call("len", name(seq))
        loop = gast.For(target=store(k), iter=call("range", n_expr), body=self.block(head) + body,
                        orelse=[], type_comment=None)
        return pre + [loop]

    def check_iterated_not_modified(self, s: Any) -> None:
        """``for e in x: x *= 2`` modifies the array the loop iterates over in place (later
        items see the change); derivative code gives augmented assignment value semantics,
        so that loop is refused rather than differentiated as a different function."""
        iterated = self.aliased_names(s.iter)
        if not iterated:
            return
        for node in walk(gast.Module(body=s.body, type_ignores=[])):
            if isinstance(node, gast.AugAssign) and isinstance(node.target, gast.Name) and \
                    node.target.id in iterated:
                op = _AUG_SYMBOL.get(type(node.op), "op=")
                raise self.ctx.parsed.error(
                    f"the loop body modifies the sequence it iterates over "
                    f"(`{node.target.id} {op} ...` inside a loop over `{node.target.id}`); "
                    "for an array that is an in-place change the next items would see, "
                    "which chainrule does not model. Iterate over a copy "
                    f"(`for ... in {node.target.id}.copy()`) or over indices "
                    f"(`for i in range(len({node.target.id})):`)",
                    node, "in-place change of an iterated sequence")

    def aliased_names(self, expr: Any) -> set[str]:
        """Names whose array ``expr`` may be or view: the name itself, either branch of a
        conditional expression, a subscript or attribute of it (``x[1:]``, ``x.T``), the
        arguments of ``enumerate``/``zip``/``reversed`` and of functions and methods that
        return views (``np.reshape``, ``x.ravel()``, ...). Other calls make new arrays."""
        if isinstance(expr, gast.Name):
            return {expr.id}
        if isinstance(expr, gast.IfExp):
            return self.aliased_names(expr.body) | self.aliased_names(expr.orelse)
        if isinstance(expr, (gast.Subscript, gast.Attribute, gast.Starred)):
            return self.aliased_names(expr.value)
        if isinstance(expr, (gast.Tuple, gast.List)):
            return {n for e in expr.elts for n in self.aliased_names(e)}
        if isinstance(expr, gast.Call):
            f = expr.func
            if isinstance(f, gast.Attribute) and f.attr in _VIEW_METHODS:
                return self.aliased_names(f.value)
            fn = None
            if isinstance(f, gast.Name) and f.id not in self.outer_locals:
                fn = self.ctx.parsed.resolve(f.id)
            elif isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and \
                    f.value.id not in self.outer_locals:
                fn = getattr(self.ctx.parsed.resolve(f.value.id), f.attr, None)
            if fn is not None and _is_view_function(fn):
                return {n for a in expr.args for n in self.aliased_names(a)}
        return set()

    # ------------------------------------------------------------------ nested functions
    def lift(self, fdef: Any) -> None:
        inner_params = set(names_stored(fdef.args))
        inner_locals = set()
        for st in fdef.body:
            inner_locals |= set(names_stored(st))
        captured = [
            n for n in names_loaded(gast.Module(body=fdef.body, type_ignores=[]))
            if n in self.outer_locals and n not in inner_params and n not in inner_locals
        ]
        lifted = clone(fdef)
        for n in captured:
            lifted.args.kwonlyargs.append(gast.Name(id=n, ctx=gast.Param(), annotation=None,
                                                    type_comment=None))
            lifted.args.kw_defaults.append(None)
        self.ctx.local_functions[fdef.name] = LocalFunction(node=lifted, captured=captured)


def desugar(ctx: Context, fdef: Any) -> Any:
    """Desugar ``fdef`` (a gast FunctionDef) in place and return it."""
    outer = set(names_stored(fdef.args))
    for st in fdef.body:
        outer |= set(names_stored(st))
    fdef.body = _Desugar(ctx, outer).block(fdef.body)
    return fdef
