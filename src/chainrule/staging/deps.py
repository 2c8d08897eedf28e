"""Which sources a staged tape's targets are *connected* to, decided as the eager tape does.

The eager :class:`~chainrule.GradientTape` returns ``None`` (or zeros, or raises) for a
source that the executed operations never linked to the target: a branch not taken, a
loop that ran zero times, a value cut by an integer cast or ``.numpy()``. Generated adjoint
code computes a zero there instead. To give the same answer, every generated function of a
staged block gets a *twin* that also computes, for each value, the set of sources it was
computed from, as an int bit mask (``dep_x`` for ``x``):

* an assignment ``v = E`` sets ``dep_v`` to the union of the masks of the values ``E``
  reads (none for comparisons, non-differentiable functions, shapes and dtypes); a value
  that is not floating point (or complex) has the empty mask, because the tape never tracks
  integers and booleans;
* tuples and lists built by the code keep one mask per element (a tuple or list of masks),
  so the stack the primal sweep pushes and the adjoint pops, and the ``saved`` tuple
  between the two sweeps, stay exact (masks are combined with :func:`dor`, never ``|``);
* ``if``/``for``/``while`` run as they do in the function, so masks follow the path taken;
* a call to another generated function of the same request calls its twin; any other call
  unions the masks of its arguments (an over-approximation: it can only say *connected*
  where the tape would say the same or the source is connected through a zero derivative).

:func:`instrument` builds the twins (``<name>__dep``) next to the generated functions, in
their namespace; a twin takes the original arguments plus ``dep_<param>=mask`` keywords and
returns ``(result, mask_of_result)``. :func:`is_static` tells when the masks cannot depend on
the values (no control flow anywhere): then one evaluation per specialisation is enough.
"""

from __future__ import annotations

import builtins
import re
from typing import Any

import gast
import numpy as np

from .. import runtime
from ..rules import registry
from ..transform.astutil import Namer, call, const, name, store
from ..transform.emit import COMMENT_TAG, compile_function, render

__all__ = ["dor", "dflat", "ditem", "dsplit", "dappend", "dpop", "dcopy",
           "dkeep", "dcast", "dconnected", "instrument", "is_static", "HELPERS"]


# ===================================================================== runtime helpers

def dflat(d: Any) -> int:
    """The union of a (possibly structured) mask."""
    if type(d) is int:
        return d
    out = 0
    for e in d:
        out |= dflat(e)
    return out


def dor(*ds: Any) -> int:
    out = 0
    for d in ds:
        out |= d if type(d) is int else dflat(d)
    return out


def ditem(d: Any, index: Any) -> Any:
    """The mask of ``value[index]``."""
    if type(d) is int:
        return d
    if type(index) is int or isinstance(index, np.integer):
        try:
            return d[index]
        except IndexError:
            return dflat(d)
    return dflat(d)


def dsplit(d: Any, n: int) -> tuple[Any, ...]:
    """The masks of ``n`` values unpacked from a value with mask ``d``."""
    if type(d) is not int and len(d) == n:
        return tuple(d)
    flat = dflat(d)
    return (flat,) * n


def dappend(d: Any, e: Any) -> Any:
    if type(d) is list:
        d.append(e)
        return d
    return dor(d, e)


def dpop(d: Any) -> Any:
    if type(d) is list:
        return d.pop() if d else 0
    return d


def dcopy(d: Any) -> Any:
    if type(d) is list:
        return list(d)
    return d


def _inexact(v: Any) -> bool:
    t = type(v)
    if t is float or t is complex:
        return True
    if t is int or t is bool or v is None:
        return False
    dtype = getattr(v, "dtype", None)
    if dtype is not None:
        return dtype.kind in "fc"
    return True  # lists, tuples, other objects: keep the mask


def dkeep(v: Any, d: Any) -> Any:
    """``d``, or the empty mask when ``v`` is an integer or boolean value (never tracked)."""
    if type(d) is int and d and not _inexact(v):
        return 0
    return d


def dcast(d: Any, dtype: Any) -> Any:
    """The mask of ``astype(x, dtype)``: a cast to an integer or boolean dtype cuts it."""
    try:
        inexact = np.issubdtype(np.dtype(dtype), np.inexact)
    except TypeError:
        inexact = True
    return d if inexact else 0


def dconnected(d: Any, bit: int) -> bool:
    return bool(dflat(d) & bit)


HELPERS = {f.__name__: f for f in (dor, ditem, dsplit, dappend, dpop, dcopy, dkeep, dcast)}

# Masks carry no gradient: when an enclosing tape block differentiates a twin (nested
# tapes), these calls are constants to it.
for _helper in (*HELPERS.values(), dflat, dconnected):
    registry.nondifferentiable(_helper, name=f"chainrule.staging.deps.{_helper.__name__}")

# Attributes that describe a value rather than compute from it.
_META_ATTRS = {"shape", "dtype", "ndim", "size", "itemsize", "nbytes"}
_CONTROL = (gast.If, gast.For, gast.While, gast.IfExp, gast.BoolOp, gast.Try)
_COMMENT_LINE = re.compile(r"^(\s*)# grad of: (.*)$")


# ===================================================================== instrumentation

def _parse_generated(source: str) -> Any:
    """A generated function's tree, its ``# grad of:`` comments kept as marker strings."""
    lines = []
    for line in source.splitlines():
        m = _COMMENT_LINE.match(line)
        if m:
            lines.append(f"{m.group(1)}{(COMMENT_TAG + '|' + m.group(2))!r}")
        else:
            lines.append(line)
    return gast.parse("\n".join(lines) + "\n").body[0]


def _is_marker(stmt: Any) -> bool:
    return (isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant)
            and isinstance(stmt.value.value, str))


class _Twin:
    """Instrument one generated FunctionDef."""

    def __init__(self, fdef: Any, namespace: Any, twins: dict[str, str]) -> None:
        self.fdef = fdef
        self.ns = namespace
        self.twins = twins
        self.signatures: dict[str, list[tuple[str, str]]] = {}
        args = fdef.args
        self.params = [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]
        self.locals = set(self.params)
        for sub in gast.walk(fdef):
            if isinstance(sub, gast.Name) and isinstance(sub.ctx, (gast.Store, gast.Param)):
                self.locals.add(sub.id)
        taken = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)}
        self.namer = Namer(taken | set(HELPERS))
        self.dnames: dict[str, str] = {}
        self.helper_names = {h: self._bind(h, obj) for h, obj in HELPERS.items()}
        self.param_masks = [(p, self.d(p)) for p in self.params]

    def _bind(self, preferred: str, obj: Any) -> str:
        return self.ns.bind(preferred, obj)

    def h(self, helper: str) -> Any:
        return name(self.helper_names[helper])

    def d(self, var: str) -> str:
        if var not in self.dnames:
            self.dnames[var] = self.namer.exact_or_fresh(f"dep_{var}")
        return self.dnames[var]

    # -------------------------------------------------------------- expressions
    def resolve(self, func: Any) -> Any:
        parts = []
        node = func
        while isinstance(node, gast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, gast.Name) or node.id in self.locals:
            return None
        obj = self.ns.get(node.id, None)
        if obj is None:
            obj = getattr(builtins, node.id, None)
        for attr in reversed(parts):
            if obj is None:
                return None
            obj = getattr(obj, attr, None)
        return obj

    def union(self, parts: list[Any]) -> Any:
        parts = [p for p in parts if not (isinstance(p, gast.Constant) and p.value == 0)]
        if not parts:
            return const(0)
        if len(parts) == 1:
            return parts[0]
        return call(self.h("dor"), *parts)

    def dep(self, e: Any) -> Any:  # noqa: C901 - one case per expression type
        if e is None:
            return const(0)
        if isinstance(e, gast.Name):
            return name(self.d(e.id)) if e.id in self.locals else const(0)
        if isinstance(e, gast.Constant):
            return const(0)
        if isinstance(e, (gast.Tuple, gast.List)):
            elts = [self.dep(x) for x in e.elts]
            if isinstance(e, gast.List):
                return gast.List(elts=elts, ctx=gast.Load())
            if all(isinstance(x, gast.Constant) for x in elts):
                return const(0)
            return gast.Tuple(elts=elts, ctx=gast.Load())
        if isinstance(e, gast.BinOp):
            return self.union([self.dep(e.left), self.dep(e.right)])
        if isinstance(e, gast.UnaryOp):
            return const(0) if isinstance(e.op, gast.Not) else self.dep(e.operand)
        if isinstance(e, gast.Compare):
            return const(0)
        if isinstance(e, gast.BoolOp):
            return self.union([self.dep(v) for v in e.values])
        if isinstance(e, gast.IfExp):
            a, b = self.dep(e.body), self.dep(e.orelse)
            if isinstance(a, gast.Constant) and isinstance(b, gast.Constant):
                return const(0)
            return gast.IfExp(test=e.test, body=a, orelse=b)
        if isinstance(e, gast.Subscript):
            inner = self.dep(e.value)
            if isinstance(inner, gast.Constant):
                return inner
            index = e.slice
            if isinstance(index, (gast.Slice, gast.Tuple)):
                return call(self.h("dor"), inner)
            return call(self.h("ditem"), inner, index)
        if isinstance(e, gast.Attribute):
            return const(0) if e.attr in _META_ATTRS else self.dep(e.value)
        if isinstance(e, gast.Starred):
            return self.dep(e.value)
        if isinstance(e, gast.Dict):
            return self.union([self.dep(v) for v in e.values])
        if isinstance(e, gast.Call):
            return self.dep_call(e)
        if isinstance(e, (gast.JoinedStr, gast.FormattedValue, gast.Slice, gast.Lambda)):
            return const(0)
        loaded = {n.id for n in gast.walk(e) if isinstance(n, gast.Name)
                  and isinstance(n.ctx, gast.Load) and n.id in self.locals}
        return self.union([name(self.d(n)) for n in sorted(loaded)])

    def cast(self, mask: Any, dtype: Any) -> Any:
        if isinstance(mask, gast.Constant):
            return mask
        return call(self.h("dcast"), mask, dtype)

    def dep_call(self, e: Any) -> Any:
        func = e.func
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                and func.value.id in self.locals:
            if func.attr == "pop" and not e.args:
                return call(self.h("dpop"), name(self.d(func.value.id)))
            if func.attr == "astype":
                dtype = e.args[0] if e.args else next(
                    (k.value for k in e.keywords if k.arg == "dtype"), None)
                if dtype is not None:
                    return self.cast(self.dep(func.value), dtype)
            args = [self.dep(func.value)] + [self.dep(a) for a in e.args] + \
                [self.dep(k.value) for k in e.keywords]
            return self.union(args)
        obj = self.resolve(func)
        if obj is not None and registry.is_nondifferentiable(obj):
            return const(0)
        if obj is not None and (obj is runtime.astype or obj is getattr(np, "astype", None)):
            dtype = e.args[1] if len(e.args) > 1 else next(
                (k.value for k in e.keywords if k.arg == "dtype"), None)
            if e.args and dtype is not None:
                return self.cast(self.dep(e.args[0]), dtype)
        if obj is not None and getattr(obj, "__name__", None) == "snapshot" and \
                getattr(obj, "__module__", "") == "chainrule.runtime" and len(e.args) == 1:
            return call(self.h("dcopy"), self.dep(e.args[0]))
        parts = [self.dep(a) for a in e.args] + [self.dep(k.value) for k in e.keywords]
        if not isinstance(func, gast.Name) or func.id in self.locals:
            parts.append(self.dep(func))
        return self.union(parts)

    # -------------------------------------------------------------- statements
    def keep(self, target: str, mask: Any) -> Any:
        if isinstance(mask, gast.Constant):
            return gast.Assign(targets=[store(self.d(target))], value=mask, type_comment=None)
        return gast.Assign(targets=[store(self.d(target))],
                           value=call(self.h("dkeep"), name(target), mask), type_comment=None)

    def twin_call(self, value: Any) -> Any:
        """``f__dep(args..., dep_p=mask...)`` for a call to a generated function."""
        fname = value.func.id
        params = self.signatures[fname]
        by_name = dict(params)
        keywords = list(value.keywords)
        for i, a in enumerate(value.args):
            if i < len(params):
                keywords.append(gast.keyword(arg=params[i][1], value=self.dep(a)))
        for k in value.keywords:
            if k.arg in by_name:
                keywords.append(gast.keyword(arg=by_name[k.arg], value=self.dep(k.value)))
        return gast.Call(func=name(self.twins[fname]), args=list(value.args), keywords=keywords)

    def is_twin_call(self, value: Any) -> bool:
        return isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and \
            value.func.id in self.twins and value.func.id not in self.locals

    def assign_masks(self, target: Any, mask: Any) -> list[Any]:
        """Statements giving the names of ``target`` the mask(s) ``mask``."""
        if isinstance(target, gast.Name):
            return [self.keep(target.id, mask)]
        if isinstance(target, (gast.Tuple, gast.List)):
            if all(isinstance(t, gast.Name) for t in target.elts):
                tmp = self.namer.fresh("dep_t")
                out = [gast.Assign(targets=[store(tmp)], value=call(
                    self.h("dsplit"), mask, const(len(target.elts))), type_comment=None)]
                for i, t in enumerate(target.elts):
                    out.append(self.keep(t.id, gast.Subscript(
                        value=name(tmp), slice=const(i), ctx=gast.Load())))
                return out
            tmp = self.namer.fresh("dep_t")
            out = [gast.Assign(targets=[store(tmp)], value=call(
                self.h("dsplit"), mask, const(len(target.elts))), type_comment=None)]
            for i, t in enumerate(target.elts):
                out += self.assign_masks(t, gast.Subscript(value=name(tmp), slice=const(i),
                                                           ctx=gast.Load()))
            return out
        if isinstance(target, gast.Subscript):
            root = target.value
            while isinstance(root, gast.Subscript):
                root = root.value
            if isinstance(root, gast.Name) and root.id in self.locals:
                d = self.d(root.id)
                return [gast.Assign(targets=[store(d)],
                                    value=call(self.h("dor"), name(d), mask), type_comment=None)]
            return []
        if isinstance(target, gast.Starred):
            return self.assign_masks(target.value, call(self.h("dor"), mask))
        return []

    def hoist(self, e: Any, pre: list[Any]) -> Any:
        """``e`` with every call to a generated function moved into ``pre`` (in evaluation
        order) as ``r, dep_r = f__dep(...)``; generated functions only mutate copies, so
        the order against the rest of the expression does not matter."""
        if isinstance(e, gast.IfExp) and any(self.is_twin_call(sub) for sub in gast.walk(e)):
            # ``a if t else b`` around a generated call: an if statement computing both the
            # value and its mask in the branch that runs.
            test = self.hoist(e.test, pre)
            tmp = self.namer.fresh("r")
            self.locals.add(tmp)
            branches = []
            for branch in (e.body, e.orelse):
                inner: list[Any] = []
                value = self.hoist(branch, inner)
                inner.append(gast.Assign(targets=[store(tmp)], value=value, type_comment=None))
                inner.append(gast.Assign(targets=[store(self.d(tmp))], value=self.dep(value),
                                         type_comment=None))
                branches.append(inner)
            pre.append(gast.If(test=test, body=branches[0], orelse=branches[1]))
            return name(tmp)
        if isinstance(e, (gast.BoolOp, gast.IfExp, gast.Lambda)):
            for sub in gast.walk(e):
                if self.is_twin_call(sub):
                    raise AssertionError("call to a generated function in a short-circuit "
                                         "expression")
            return e
        for field, value in gast.iter_fields(e):
            if isinstance(value, gast.AST) and isinstance(value, gast.expr):
                setattr(e, field, self.hoist(value, pre))
            elif isinstance(value, list):
                setattr(e, field, [self.hoist(v, pre) if isinstance(v, gast.expr) else
                                   (self._hoist_keyword(v, pre) if isinstance(v, gast.keyword)
                                    else v) for v in value])
        if self.is_twin_call(e):
            tmp = self.namer.fresh("r")
            self.locals.add(tmp)
            dtmp = self.d(tmp)
            pre.append(gast.Assign(targets=[gast.Tuple(elts=[store(tmp), store(dtmp)],
                                                       ctx=gast.Store())],
                                   value=self.twin_call(e), type_comment=None))
            return name(tmp)
        return e

    def _hoist_keyword(self, k: Any, pre: list[Any]) -> Any:
        k.value = self.hoist(k.value, pre)
        return k

    def stmt(self, s: Any) -> list[Any]:
        if _is_marker(s):
            return [s]
        if isinstance(s, (gast.Assign, gast.AugAssign, gast.AnnAssign, gast.Expr,
                          gast.Return)) and getattr(s, "value", None) is not None:
            pre: list[Any] = []
            top = s.value
            if self.is_twin_call(top):
                top.args = [self.hoist(a, pre) for a in top.args]
                for k in top.keywords:
                    k.value = self.hoist(k.value, pre)
            else:
                s.value = self.hoist(top, pre)
            return pre + self.simple_stmt(s)
        return self.simple_stmt(s)

    def simple_stmt(self, s: Any) -> list[Any]:  # noqa: C901 - one case per statement type
        if isinstance(s, gast.Assign):
            if self.is_twin_call(s.value):
                tmp = self.namer.fresh("dep_r")
                value_tmp = self.namer.fresh("r")
                self.locals.add(value_tmp)
                out = [gast.Assign(targets=[gast.Tuple(elts=[store(value_tmp), store(tmp)],
                                                       ctx=gast.Store())],
                                   value=self.twin_call(s.value), type_comment=None)]
                for t in s.targets:
                    out.append(gast.Assign(targets=[t], value=name(value_tmp),
                                           type_comment=None))
                    out += self.assign_masks(t, name(tmp))
                return out
            mask = self.dep(s.value)
            out = [s]
            for t in s.targets:
                out += self.assign_masks(t, mask)
            return out
        if isinstance(s, gast.AugAssign):
            mask = self.dep(s.value)
            tgt = s.target
            out = [s]
            if isinstance(tgt, gast.Name):
                out.append(self.keep(tgt.id, self.union([name(self.d(tgt.id)), mask])))
            else:
                out += self.assign_masks(tgt, mask)
            return out
        if isinstance(s, gast.AnnAssign):
            if s.value is None:
                return [s]
            return self.stmt(gast.Assign(targets=[s.target], value=s.value, type_comment=None))
        if isinstance(s, gast.Expr):
            v = s.value
            if self.is_twin_call(v):
                return [gast.Expr(value=self.twin_call(v))]
            if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) and \
                    isinstance(v.func.value, gast.Name) and v.func.value.id in self.locals:
                recv = v.func.value.id
                d = self.d(recv)
                if v.func.attr == "append" and len(v.args) == 1:
                    return [s, gast.Assign(targets=[store(d)], value=call(
                        self.h("dappend"), name(d), self.dep(v.args[0])), type_comment=None)]
                if v.func.attr == "pop":
                    return [s, gast.Expr(value=call(self.h("dpop"), name(d)))]
                mask = self.union([self.dep(a) for a in v.args] +
                                  [self.dep(k.value) for k in v.keywords])
                if isinstance(mask, gast.Constant):
                    return [s]
                return [s, gast.Assign(targets=[store(d)], value=call(
                    self.h("dor"), name(d), mask), type_comment=None)]
            if isinstance(v, gast.Call):
                # A call for its effect: anything local it receives may be written.
                mask = self.dep(v)
                out = [s]
                if not isinstance(mask, gast.Constant):
                    for a in v.args:
                        if isinstance(a, gast.Name) and a.id in self.locals:
                            d = self.d(a.id)
                            out.append(gast.Assign(targets=[store(d)], value=call(
                                self.h("dor"), name(d), mask), type_comment=None))
                return out
            return [s]
        if isinstance(s, gast.Return):
            if s.value is not None and self.is_twin_call(s.value):
                return [gast.Return(value=self.twin_call(s.value))]
            value = s.value if s.value is not None else const(None)
            return [gast.Return(value=gast.Tuple(elts=[value, self.dep(value)],
                                                 ctx=gast.Load()))]
        if isinstance(s, gast.If):
            s.body = self.block(s.body)
            s.orelse = self.block(s.orelse)
            return [s]
        if isinstance(s, gast.While):
            s.body = self.block(s.body)
            return [s]
        if isinstance(s, gast.For):
            body = self.block(s.body)
            it = s.iter
            ranged = isinstance(it, gast.Call) and self._is_range(it)
            mask = const(0) if ranged else call(self.h("dor"), self.dep(it))
            s.body = self.assign_masks(s.target, mask) + body
            return [s]
        if isinstance(s, (gast.Pass, gast.Break, gast.Continue)):
            return [s]
        if isinstance(s, gast.FunctionDef):
            raise AssertionError("nested function in generated code")
        return [s]

    def _is_range(self, it: Any) -> bool:
        obj = self.resolve(it.func)
        if obj is range:
            return True
        if obj is reversed and it.args and isinstance(it.args[0], gast.Call):
            return self.resolve(it.args[0].func) is range
        return False

    def block(self, stmts: list[Any]) -> list[Any]:
        out: list[Any] = []
        for s in stmts:
            out += self.stmt(s)
        return out

    def build(self, twin_name: str) -> Any:
        body = self.block(self.fdef.body)
        if not body or not isinstance(body[-1], gast.Return):
            body.append(gast.Return(value=gast.Tuple(elts=[const(None), const(0)],
                                                     ctx=gast.Load())))
        inits = sorted(v for p, v in self.dnames.items() if p not in self.params)
        prelude = []
        if inits:
            prelude.append(gast.Assign(targets=[store(n) for n in inits], value=const(0),
                                       type_comment=None))
        docstring = []
        if body and _is_marker(body[0]) and not str(body[0].value.value).startswith(
                COMMENT_TAG):
            docstring = [body.pop(0)]
        args = self.fdef.args
        kwonly = list(args.kwonlyargs)
        kw_defaults = list(args.kw_defaults)
        for _, mask in self.param_masks:
            kwonly.append(gast.Name(id=mask, ctx=gast.Param(), annotation=None,
                                    type_comment=None))
            kw_defaults.append(const(0))
        new_args = gast.arguments(args=args.args, posonlyargs=args.posonlyargs,
                                  vararg=args.vararg, kwonlyargs=kwonly,
                                  kw_defaults=kw_defaults, kwarg=args.kwarg,
                                  defaults=args.defaults)
        return gast.FunctionDef(name=twin_name, args=new_args,
                                body=docstring + prelude + body, decorator_list=[],
                                returns=None, type_comment=None, type_params=[])


def instrument(generated: list[Any]) -> dict[str, Any]:
    """Twins of the generated functions (``chainrule.transform.generate.Generated`` items,
    compiled): returns ``{name: twin function}``; each twin is also bound in its function's
    namespace under ``<name>__dep`` (or a fresh variant)."""
    namespaces = []
    for g in generated:
        if not any(ns is g.namespace for ns in namespaces):
            namespaces.append(g.namespace)
    twins: dict[str, str] = {}
    for g in generated:
        cand, i = f"{g.name}__dep", 0
        while any(cand in ns for ns in namespaces) or cand in twins.values():
            i += 1
            cand = f"{g.name}__dep{i}"
        twins[g.name] = cand
    builders = {g.name: _Twin(_parse_generated(g.source), g.namespace, twins)
                for g in generated}
    signatures = {n: b.param_masks for n, b in builders.items()}
    out: dict[str, Any] = {}
    for g in generated:
        builder = builders[g.name]
        builder.signatures = signatures
        twin = builder.build(twins[g.name])
        source = render(twin)
        fn = compile_function(source, twins[g.name], g.namespace, twins[g.name])
        fn.__dep_params__ = list(builder.param_masks)
        if g.fn is not None and g.fn.__defaults__ is not None:
            fn.__defaults__ = g.fn.__defaults__
        out[g.name] = fn
    for g in generated:
        for ns in namespaces:
            dict.__setitem__(ns, twins[g.name], out[g.name])
    return out


def is_static(generated: list[Any]) -> bool:
    """True when no generated function has control flow: the masks then depend only on the
    masks (and dtypes) of the inputs, never on values."""
    for g in generated:
        tree = _parse_generated(g.source)
        if any(isinstance(sub, _CONTROL) for sub in gast.walk(tree)):
            return False
    return True
