"""The reverse-mode pipeline, from a Python function to compiled generated functions.

``PIPELINE`` lists the passes in order. A :class:`Request` generates one user-visible
function plus, for every user function it calls with differentiated arguments, a
``<name>_fwd`` / ``<name>_bwd`` pair (the forward sweep returning its saved values, and the
adjoint sweep taking them). Everything a request generates is compiled at the end, so
recursive functions work, and is recorded for ``chainrule.source(..., standalone=True)``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import gast

from .activity import analyse
from .anf import to_anf
from .astutil import Namer, assign, call, clone, const, name, names_loaded, names_stored, walk
from .desugar import Context, LocalFunction, desugar
from .emit import Namespace, compile_function, render
from .fence import fence
from .jumps import lower_jumps
from .optimize import (
    compact,
    dedupe_comments,
    eliminate_dead_primal,
    fold_primal,
    propagate_copies,
    recomputed,
    scalar_reduction_peephole,
    shape_substitution,
)
from .parse import Parsed, parse_function
from .reverse import ReverseGen
from .save import place_saves
from .shapes import ShapeClasses

__all__ = ["PIPELINE", "Prepared", "prepare", "Request", "Generated"]

PIPELINE = ("parse", "fence", "desugar", "jumps", "anf", "activity", "reverse", "save", "emit")


@dataclass
class Prepared:
    parsed: Parsed
    ctx: Context
    fdef: Any
    local_names: set[str]
    ret: Any  # the returned atom, or None
    params: list[str]
    label: str


def _params(args: Any) -> list[str]:
    return [a.id for a in args.posonlyargs + args.args + args.kwonlyargs]


def _local_names(fdef: Any) -> set[str]:
    out = set(_params(fdef.args))
    for s in fdef.body:
        out |= set(names_stored(s))
    return out


def prepare(parsed: Parsed, label: str, stop: str | None = None) -> Prepared:
    """Run the passes up to three-address form (or up to ``stop``)."""
    fence(parsed)
    fdef = clone(parsed.node)
    taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)} | {fdef.name}
    ctx = Context(parsed=parsed, namer=Namer(taken))
    if stop != "parsed":
        desugar(ctx, fdef)
        lower_jumps(ctx, fdef)
        if stop != "desugared":
            to_anf(ctx, fdef, _local_names(fdef))
    ret = None
    if fdef.body and isinstance(fdef.body[-1], gast.Return) and stop is None:
        ret = fdef.body[-1].value
        fdef.body = fdef.body[:-1]
    return Prepared(parsed=parsed, ctx=ctx, fdef=fdef, local_names=_local_names(fdef),
                    ret=ret, params=_params(fdef.args), label=label)


def _cells(fn: Any) -> dict[str, Any]:
    if fn is None or not getattr(fn, "__closure__", None):
        return {}
    return dict(zip(fn.__code__.co_freevars, fn.__closure__))


@dataclass
class Generated:
    name: str
    source: str
    namespace: Namespace
    fn: Any = None
    defaults_from: Any = None


@dataclass
class _Parts:
    gen: ReverseGen
    primal: list[Any]
    adjoint: list[Any]
    uses_stack: bool
    needed: list[str]
    defined: set[str]
    stack: str
    ns: Namespace
    entry: dict[str, str] = field(default_factory=dict)  # parameter -> its value on entry


@dataclass
class Request:
    """One generation request; owns the names and sources of everything it generates."""

    names: Namer = field(default_factory=Namer)
    generated: list[Generated] = field(default_factory=list)
    pairs: dict[Any, tuple[str, str, list[str]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ shared core
    def reverse_parts(self, prep: Prepared, wrt: list[str], scalar_output: bool = False
                      ) -> _Parts:
        outputs = [prep.ret.id] if isinstance(prep.ret, gast.Name) else []
        shapes = ShapeClasses(prep.fdef, prep.ctx, prep.local_names, prep.params,
                              outputs[0] if outputs and scalar_output else None)
        activity = analyse(prep.fdef, prep.ctx, prep.local_names, wrt, outputs)
        user_globals = prep.parsed.globals
        free = {n.id for n in walk(prep.parsed.node) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load)} - prep.local_names
        ns = Namespace(user_globals, prep.parsed.closure, _cells(prep.parsed.fn),
                       reserved=prep.ctx.namer.taken, free=free)
        gen = ReverseGen(prep.ctx, prep.fdef, prep.local_names, activity, prep.ctx.namer, ns,
                         self, shapes)
        defined = {outputs[0]} if outputs and activity.is_active(outputs[0]) else set()
        adjoint = gen.block(prep.fdef.body, defined)
        primal_locals = prep.local_names | set(gen.call_saves.values()) | \
            set(gen.counters.values())
        stack = prep.ctx.namer.exact_or_fresh("stack")
        primal, adjoint, uses_stack, needed = place_saves(gen, prep.fdef.body, adjoint,
                                                          primal_locals, stack)
        user_names = {n.id for n in walk(prep.parsed.node) if isinstance(n, gast.Name)}
        temps = prep.local_names - user_names
        keep = set(needed) | set(outputs) | set(gen.call_saves.values())
        primal = fold_primal(primal, temps, keep, stack)
        adjoint = propagate_copies(adjoint, set(gen.adj_names.values()))
        intermediates = {b for v, b in gen.adj_names.items() if v not in prep.params}
        adjoint = dedupe_comments(compact(adjoint, intermediates | recomputed(adjoint, primal)))
        # a differentiated parameter with no cotangent gets zeros shaped like the argument,
        # not like what the body rebinds it to (``x = x * v``)
        stored = {n for st in prep.fdef.body for n in names_stored(st)}
        entry = {p: prep.ctx.namer.fresh(f"{p.lstrip('_')}_in") for p in wrt
                 if p not in defined and p in stored}
        primal = [assign(v, name(p)) for p, v in entry.items()] + primal
        return _Parts(gen, primal, adjoint, uses_stack, needed, defined, stack, ns, entry)

    def grad_exprs(self, parts: _Parts, wrt: list[str]) -> list[Any]:
        out = []
        for p in wrt:
            if p in parts.defined:
                expr = name(parts.gen.adj(p))
                if p in parts.gen.seq_vars:
                    expr = call(parts.ns.runtime("finalize"), expr, name(p))
            else:
                expr = call(parts.ns.runtime("zeros_like"), name(parts.entry.get(p, p)))
            out.append(expr)
        return out

    def add(self, fdef: Any, ns: Namespace, defaults_from: Any = None) -> Generated:
        g = Generated(name=fdef.name, source=render(fdef), namespace=ns,
                      defaults_from=defaults_from)
        self.generated.append(g)
        return g

    # ------------------------------------------------------------------ flat gradients
    def flat(self, prep: Prepared, wrt: list[str], kind: str, out_name: str,
             multiple: bool) -> Generated:
        parts = self.reverse_parts(prep, wrt, scalar_output=kind != "elementwise")
        ns = parts.ns
        body: list[Any] = [gast.Expr(value=const(_docstring(prep, wrt, kind)))]
        if parts.uses_stack:
            body.append(assign(parts.stack, gast.List(elts=[], ctx=gast.Load())))
        body += _prebind(parts.primal, parts.adjoint, prep.params,
                         parts.ns.runtime("zeros_like").id)
        body += parts.primal
        ret = prep.ret
        if ret is None:
            raise prep.parsed.error(
                f"{prep.label} returns nothing; chainrule.grad differentiates the value a "
                "function returns", prep.parsed.node, "no return")
        fname = const(prep.label)
        if kind == "value_and_grad" and isinstance(ret, gast.Name):
            value_name = prep.ctx.namer.exact_or_fresh("value")
            body.append(assign(value_name, clone(ret)))
            ret_value: Any = name(value_name)
        else:
            ret_value = clone(ret)
        proved_scalar = parts.gen.shapes is not None and parts.gen.shapes.output_proved_scalar
        if isinstance(ret, gast.Name) and ret.id in parts.defined or (
                isinstance(ret, gast.Name) and parts.gen.active(ret.id)):
            if kind == "elementwise":
                seed = call(ns.runtime("ones_like"), clone(ret))
            elif proved_scalar:
                seed = const(1.0)  # shape analysis proved the output is a scalar
            else:
                seed = call(ns.runtime("scalar_seed"), clone(ret), fname)
            body.append(assign(parts.gen.adj(ret.id), seed))
        elif kind != "elementwise":
            body.append(gast.Expr(value=call(ns.runtime("scalar_seed"), clone(ret), fname)))
        body += parts.adjoint
        grads = self.grad_exprs(parts, wrt)
        result = gast.Tuple(elts=grads, ctx=gast.Load()) if multiple else grads[0]
        if kind == "grad":
            body = self.trim(body, parts, result)
        if kind == "value_and_grad":
            result = gast.Tuple(elts=[ret_value, result], ctx=gast.Load())
        body.append(gast.Return(value=result))
        fdef = gast.FunctionDef(name=out_name, args=clone(prep.parsed.node.args), body=body,
                                decorator_list=[], returns=None, type_comment=None,
                                type_params=[])
        return self.add(fdef, ns, prep.parsed.fn)

    def trim(self, body: list[Any], parts: _Parts, result: Any) -> list[Any]:
        """For ``grad`` (which returns no value): read shapes from the earliest value of
        each shape class, make a reduction's cotangent broadcast instead of materialise,
        and drop the primal code nothing reads any more."""
        shapes = parts.gen.shapes
        if shapes is None:
            return body
        stores = {}
        for st in body:
            for n in walk(st):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    stores[n.id] = stores.get(n.id, 0) + 1
        single = {n for n, c in stores.items() if c == 1}
        split = next((k for k, st in enumerate(body) if _is_seed(st, parts)), None)
        if split is None:
            return body
        primal, rest = body[:split], body[split:]
        rest = shape_substitution(primal, rest, shapes.final_same, single)
        expand = parts.ns.runtime("expand_reduced").id
        rest = scalar_reduction_peephole(rest, shapes.final_same, expand)
        modules = {n for n, v in dict.items(parts.ns) if getattr(v, "__name__", "") in
                   ("numpy", "math")} | {n for n in parts.ns.user_globals
                                          if getattr(parts.ns.user_globals.get(n), "__name__",
                                                     "") in ("numpy", "math")}
        primal = eliminate_dead_primal(primal, rest + [gast.Expr(value=result)], modules)
        return primal + rest

    # ------------------------------------------------------------------ fwd/bwd pairs
    def build_pair(self, prep: Prepared, wrt: list[str], fwd_name: str, bwd_name: str) -> None:
        parts = self.reverse_parts(prep, wrt)
        ns = parts.ns
        gen = parts.gen
        ret = prep.ret if prep.ret is not None else const(None)
        grads = self.grad_exprs(parts, wrt)
        saved_names = list(parts.needed)
        for n in names_loaded(gast.Tuple(elts=grads, ctx=gast.Load())):
            if (n in prep.local_names or n in parts.entry.values()) and n not in saved_names:
                saved_names.append(n)
        bound_at_end = set(prep.params)
        for s in parts.primal:
            if isinstance(s, gast.Assign):
                bound_at_end |= set(names_stored(s))
        fwd_body: list[Any] = []
        for n in saved_names:
            if n not in bound_at_end and n != parts.stack:
                fwd_body.append(assign(n, const(None)))
        if parts.uses_stack:
            fwd_body.append(assign(parts.stack, gast.List(elts=[], ctx=gast.Load())))
        fwd_body += parts.primal
        saved = gast.Tuple(elts=[name(n) for n in saved_names], ctx=gast.Load())
        fwd_body.append(gast.Return(value=gast.Tuple(elts=[clone(ret), saved], ctx=gast.Load())))
        fwd = gast.FunctionDef(name=fwd_name, args=clone(prep.fdef.args), body=fwd_body,
                               decorator_list=[], returns=None, type_comment=None,
                               type_params=[])
        seed = gen.adj(ret.id) if isinstance(ret, gast.Name) else prep.ctx.namer.fresh("b_out")
        saved_param = prep.ctx.namer.exact_or_fresh("saved")
        bwd_body: list[Any] = []
        mutated = _mutated(parts.adjoint, set(saved_names), parts.stack)
        if mutated and set(mutated) != {parts.stack}:
            # the adjoint restores arrays in place: work on a copy of everything saved
            # (one deep copy keeps values that alias each other aliased), so that the
            # pullback can run again
            bwd_body.append(assign(saved_param, call(ns.runtime("snapshot_all"),
                                                     name(saved_param))))
            mutated = []
        if saved_names:
            tgt = gast.Tuple(elts=[gast.Name(id=n, ctx=gast.Store(), annotation=None,
                                             type_comment=None) for n in saved_names],
                             ctx=gast.Store())
            bwd_body.append(gast.Assign(targets=[tgt], value=name(saved_param),
                                        type_comment=None))
        for n in mutated:
            bwd_body.append(assign(n, call(ns.runtime("snapshot"), name(n))))
        bwd_body += parts.adjoint
        bwd_body.append(gast.Return(value=gast.Tuple(elts=grads, ctx=gast.Load())))
        args = gast.arguments(
            args=[gast.Name(id=seed, ctx=gast.Param(), annotation=None, type_comment=None),
                  gast.Name(id=saved_param, ctx=gast.Param(), annotation=None,
                            type_comment=None)],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
            defaults=[])
        bwd = gast.FunctionDef(name=bwd_name, args=args, body=bwd_body, decorator_list=[],
                               returns=None, type_comment=None, type_params=[])
        self.add(fwd, ns, prep.parsed.fn)
        self.add(bwd, ns)

    def pair(self, callee: Any, call_node: Any, caller: ReverseGen, stmt: Any
             ) -> tuple[str, str, list[str], dict[str, Any]]:
        """fwd/bwd names for a call to a user or local function, generating them once."""
        if isinstance(callee.obj, LocalFunction):
            local = callee.obj
            for c in local.captured:
                if c not in {k.arg for k in call_node.keywords}:
                    call_node.keywords.append(gast.keyword(arg=c, value=name(c)))
            parsed = Parsed(fn=None, node=local.node, filename=caller.ctx.parsed.filename,
                            source=caller.ctx.parsed.source, globals=caller.ctx.parsed.globals,
                            closure=caller.ctx.parsed.closure)
            key_obj: Any = id(local.node)
            label = local.node.name
        else:
            parsed = parse_function(callee.obj)
            key_obj = callee.obj
            label = callee.obj.__name__
        sig = _signature(parsed.node.args)
        try:
            bound = sig.bind(*call_node.args, **{k.arg: k.value for k in call_node.keywords})
        except TypeError as exc:
            raise caller.error(f"call to {label}: {exc}", stmt, "call") from None
        mapping = dict(bound.arguments)
        active = [p for p in sig.parameters if isinstance(mapping.get(p), gast.Name)
                  and caller.active(mapping[p].id)]
        key = (key_obj, tuple(active))
        if key not in self.pairs:
            base = "".join(c if c.isalnum() or c == "_" else "_" for c in label)
            fwd_name = self.names.exact_or_fresh(f"{base}_fwd")
            bwd_name = self.names.exact_or_fresh(f"{base}_bwd")
            self.pairs[key] = (fwd_name, bwd_name, active)
            prep = prepare(parsed, label)
            self.build_pair(prep, active, fwd_name, bwd_name)
        fwd_name, bwd_name, active = self.pairs[key]
        return fwd_name, bwd_name, active, mapping

    def generated_names(self) -> set[str]:
        return {name for pair in self.pairs.values() for name in pair[:2]}

    # ------------------------------------------------------------------ compile
    def compile(self) -> None:
        for g in self.generated:
            g.fn = compile_function(g.source, g.name, g.namespace, g.name)
            src = g.defaults_from
            if src is not None and getattr(src, "__defaults__", None) is not None:
                g.fn.__defaults__ = src.__defaults__
            if src is not None and getattr(src, "__kwdefaults__", None):
                g.fn.__kwdefaults__ = dict(src.__kwdefaults__)
        everything = {g.name: g.fn for g in self.generated}
        for g in self.generated:
            for n, fn in everything.items():
                dict.__setitem__(g.namespace, n, fn)


def _is_seed(st: Any, parts: _Parts) -> bool:
    """The statement that starts the adjoint sweep: ``b_out = 1.0`` or ``scalar_seed(...)``."""
    value = st.value if isinstance(st, (gast.Assign, gast.Expr)) else None
    if isinstance(value, gast.Call) and isinstance(value.func, gast.Name) and \
            value.func.id in ("scalar_seed", "ones_like"):
        return True
    return (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
            and st.targets[0].id in parts.gen.adj_names.values()
            and isinstance(value, gast.Constant) and value.value == 1.0)


def _prebind(primal: list[Any], adjoint: list[Any], params: list[str], zeros: str
             ) -> list[Any]:
    """``v = None`` for each local whose cotangent the adjoint zeroes (``b_v = zeros_like(v)``,
    where control flow makes a contribution conditional) and that a branch or an early
    return may leave unbound. On such a path no adjoint statement reads ``b_v``, and
    ``zeros_like(None)`` is ``0.0``. Locals bound before the first compound statement are
    always bound. (``build_pair`` does the same for the values ``_fwd`` returns.)"""
    bound = set(params)
    for s in primal:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            break
        bound |= set(names_stored(s))
    out: list[str] = []
    for sub in walk(gast.Module(body=adjoint, type_ignores=[])):
        if isinstance(sub, gast.Call) and isinstance(sub.func, gast.Name) and \
                sub.func.id == zeros and len(sub.args) == 1 and \
                isinstance(sub.args[0], gast.Name) and sub.args[0].id not in bound and \
                sub.args[0].id not in out:
            out.append(sub.args[0].id)
    return [assign(n, const(None)) for n in out]


def _signature(args: Any) -> inspect.Signature:
    params = []
    pos = args.posonlyargs + args.args
    ndef = len(args.defaults)
    for i, a in enumerate(pos):
        kind = inspect.Parameter.POSITIONAL_ONLY if i < len(args.posonlyargs) else \
            inspect.Parameter.POSITIONAL_OR_KEYWORD
        has_default = i >= len(pos) - ndef
        params.append(inspect.Parameter(a.id, kind, default=0 if has_default else
                                        inspect.Parameter.empty))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        params.append(inspect.Parameter(a.id, inspect.Parameter.KEYWORD_ONLY,
                                        default=0 if d is not None else inspect.Parameter.empty))
    return inspect.Signature(params)


_MUTATING_METHODS = {"pop", "append", "extend", "insert", "remove", "clear", "reverse", "sort"}


def _mutated(adjoint: list[Any], saved: set[str], stack: str) -> list[str]:
    """Saved values the adjoint modifies in place (the pullback must work on copies)."""
    out: list[str] = []
    for sub in walk(gast.Module(body=adjoint, type_ignores=[])):
        target = None
        if isinstance(sub, gast.Assign) and isinstance(sub.targets[0], gast.Subscript):
            target = sub.targets[0].value
        elif isinstance(sub, gast.AugAssign) and isinstance(sub.target, gast.Subscript):
            target = sub.target.value
        elif isinstance(sub, gast.Call) and isinstance(sub.func, gast.Attribute) and \
                sub.func.attr in _MUTATING_METHODS:
            target = sub.func.value
        if isinstance(target, gast.Name) and target.id in saved and target.id not in out:
            out.append(target.id)
    if stack in saved and stack not in out:
        out.insert(0, stack)
    return out


def _docstring(prep: Prepared, wrt: list[str], kind: str) -> str:
    what = {"grad": "Gradient", "value_and_grad": "Value and gradient",
            "elementwise": "Elementwise gradient"}[kind]
    return f"{what} of {prep.label} with respect to {', '.join(wrt)}, generated by chainrule."
