"""Pass 7, reverse mode: the primal sweep with saved values, and the adjoint sweep.

Input: a function in three-address form (see :mod:`.anf`) and its activity. Output:
``Reverse.primal`` (the user's statements plus what the adjoint needs saved) and
``Reverse.adjoint`` (the adjoint statements, in reverse order, each block headed by a
``# grad of: <primal statement>`` marker).

Guarantees:

* Only active statements get adjoint code. A rule body is inlined with its parameters
  replaced by the statement's operands, so the formula shows (``b_x = b_y * np.cos(x)``).
* The first contribution to an adjoint variable assigns it; later ones add to it. Zeros
  are created only where control flow makes a contribution conditional.
* A value is saved (pushed on ``stack``) only when it is overwritten *and* read by the
  adjoint code (to-be-recorded analysis), and restored right after the adjoint of the
  statement that overwrote it. Straight-line code without reassignment saves nothing.
* Loops replay in reverse (``for i in reversed(range(...))``); loops that ``break`` and
  ``while`` loops count their iterations; ``if`` replays the branch that ran.
"""

from __future__ import annotations

import linecache
import operator
from typing import Any

import gast

from ..errors import MissingRuleError, TransformError
from ..rules import registry
from .activity import NONDIFF_ATTRS, Activity, operand_names
from .astutil import (
    Namer,
    assign,
    call,
    clone,
    const,
    name,
    names_loaded,
    substitute,
    to_source,
    walk,
)
from .desugar import Context
from .inline import inline_rule
from .optimize import simplify
from .resolve import Callee

__all__ = ["ReverseGen", "Marker", "COMMENT_PREFIX", "BINOPS"]

COMMENT_PREFIX = "# grad of: "
_ANS = "__ans__"
# runtime helpers whose result may be a list of cotangents (of a list or tuple value)
_STRUCTURED = {"add_at", "getitem_adjoint", "zero_at", "push_grad", "seq_item_adjoint",
               "list_adjoint", "finalize", "owned", "grad_item", "pop_grad",
               "stored_item_adjoint", "add_grad"}

BINOPS = {
    gast.Add: operator.add, gast.Sub: operator.sub, gast.Mult: operator.mul,
    gast.Div: operator.truediv, gast.Pow: operator.pow, gast.MatMult: operator.matmul,
    gast.Mod: operator.mod,
}
UNARYOPS = {gast.USub: operator.neg, gast.UAdd: operator.pos}


class Marker:
    """Placeholders in the adjoint that are filled once saves are known."""

    @staticmethod
    def restore(stmt_id: int) -> Any:
        return gast.Expr(value=gast.Constant(value=f"__restore__{stmt_id}", kind=None))

    @staticmethod
    def recompute(stmt_id: int) -> Any:
        return gast.Expr(value=gast.Constant(value=f"__recompute__{stmt_id}", kind=None))

    @staticmethod
    def remat(loop_id: int) -> Any:
        return gast.Expr(value=gast.Constant(value=f"__remat__{loop_id}", kind=None))

    @staticmethod
    def comment(text: str) -> Any:
        return gast.Expr(value=gast.Constant(value=f"__comment__{text}", kind=None))




def _index_expr(slice_node: Any) -> Any:
    """A subscript's index as an ordinary expression (``1:3`` becomes ``slice(1, 3)``)."""
    if isinstance(slice_node, gast.Slice):
        parts = [slice_node.lower, slice_node.upper, slice_node.step]
        while parts and parts[-1] is None and (len(parts) > 2 or parts[0] is None):
            parts.pop()  # never slice(lower): that would mean slice(None, lower)
        args = [clone(p) if p is not None else const(None) for p in parts] or [const(None)]
        return call(name("slice"), *args)
    if isinstance(slice_node, gast.Tuple):
        return gast.Tuple(elts=[_index_expr(e) for e in slice_node.elts], ctx=gast.Load())
    return clone(slice_node)


class ReverseGen:
    def __init__(self, ctx: Context, fdef: Any, local_names: set[str], activity: Activity,
                 namer: Namer, namespace: Any, helpers: Any, shapes: Any = None) -> None:
        self.ctx = ctx
        self.fdef = fdef
        self.local_names = local_names
        self.activity = activity
        self.namer = namer
        self.ns = namespace  # binds objects referenced by generated code
        self.helpers = helpers  # generates fwd/bwd pairs for called user functions
        self.shapes = shapes  # ShapeClasses: where unbroadcast can be left out
        self.adj_names: dict[str, str] = {}
        self.stmt_ids: dict[int, Any] = {}
        self.counters: dict[int, str] = {}  # id(loop) -> counter name
        self.call_saves: dict[int, str] = {}  # id(stmt) -> saved-state name of a user call
        self.call_fwd: dict[int, str] = {}
        self.no_save: set[int] = set()
        self.int_vars: set[str] = set()  # targets of range loops: plain integers
        self.structured_vars: set[str] = set()  # cotangents that may be lists
        self.seq_vars: set[str] = self._subscripted_names()
        self.param_names = [a.id for a in fdef.args.args + fdef.args.kwonlyargs
                            + fdef.args.posonlyargs]

    # ------------------------------------------------------------------ helpers
    def error(self, message: str, node: Any, construct: str) -> TransformError:
        return self.ctx.parsed.error(message, node, construct)

    def adj(self, v: str) -> str:
        if v not in self.adj_names:
            self.adj_names[v] = self.namer.exact_or_fresh("b_" + v.lstrip("_"))
        return self.adj_names[v]

    def active(self, v: str) -> bool:
        return self.activity.is_active(v)

    def _subscripted_names(self) -> set[str]:
        out = set()
        for sub in walk(self.fdef):
            if isinstance(sub, gast.Subscript) and isinstance(sub.value, gast.Name):
                out.add(sub.value.id)
            if isinstance(sub, gast.Assign) and isinstance(sub.value, (gast.List, gast.Tuple)):
                out.add(sub.targets[0].id if isinstance(sub.targets[0], gast.Name) else "")
            if isinstance(sub, gast.Call) and isinstance(sub.func, gast.Attribute) and \
                    sub.func.attr == "append" and isinstance(sub.func.value, gast.Name):
                out.add(sub.func.value.id)
        return out

    def plus(self, v: str, a: Any, b: Any) -> Any:
        """``a + b`` for cotangents of ``v`` (``add_grad`` when they may be lists)."""
        if v in self.seq_vars or self.structured(a) or self.structured(b):
            return call(self.ns.runtime("add_grad"), a, b)
        return gast.BinOp(left=a, op=gast.Add(), right=b)

    def structured(self, expr: Any) -> bool:
        """Whether a cotangent expression may be a list (of a list or tuple value)."""
        node = expr
        while isinstance(node, gast.Subscript):
            node = node.value
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            fn = self.ns.get(node.func.id)
            return getattr(fn, "__name__", "") in _STRUCTURED or \
                node.func.id in self.helpers.generated_names()
        return False

    def contribute(self, out: list[Any], defined: set[str], v: str, expr: Any) -> None:
        b = self.adj(v)
        if v in defined:
            if self.structured(expr):
                self.structured_vars.add(v)
            if v in self.structured_vars:
                value = call(self.ns.runtime("add_grad"), name(b), expr)
            else:
                value = self.plus(v, name(b), expr)
            out.append(assign(b, value))
        else:
            if self.structured(expr):
                self.structured_vars.add(v)
            out.append(assign(b, expr))
            defined.add(v)

    def zero(self, v: str) -> Any:
        return assign(self.adj(v), call(self.ns.runtime("zeros_like"), name(v)))

    # ------------------------------------------------------------------ rule inlining
    def rule_expr(self, prim: Any, argnum: int, g: Any, ans: Any, args: list[Any],
                  keywords: list[Any], where: Any) -> Any:
        try:
            rule = prim.vjp(argnum)
        except MissingRuleError as exc:
            raise MissingRuleError(exc.message, filename=self.ctx.parsed.filename,
                                   lineno=getattr(where, "lineno", None),
                                   construct=prim.name) from None
        return self.inline(rule, g, ans, args, keywords, where, prim)

    def inline(self, rule: Any, g: Any, ans: Any, args: list[Any], keywords: list[Any],
               where: Any, prim: Any) -> Any:
        expr = inline_rule(rule, g, ans, args, keywords, self.ns, prim,
                           lambda message, construct: self.error(message, where, construct))
        return simplify(self.static_shapes(expr, where))

    def static_shapes(self, expr: Any, where: Any) -> Any:
        """``np.size(s)``, ``np.ndim(s)``, ``np.shape(s)`` of a value known to be a Python
        scalar are the constants 1, 0 and ``()``."""
        if self.shapes is None:
            return expr
        shapes, stmt = self.shapes, where
        constants = {"size": 1, "ndim": 0, "shape": ()}

        class Fold(gast.NodeTransformer):
            def visit_Call(inner, node: Any) -> Any:  # noqa: N805
                inner.generic_visit(node)
                f = node.func
                if (isinstance(f, gast.Attribute) and f.attr in constants
                        and isinstance(f.value, gast.Name) and len(node.args) == 1
                        and not node.keywords and isinstance(node.args[0], gast.Name)):
                    module = self.ns.get(f.value.id)
                    arg = node.args[0].id
                    target = stmt.targets[0] if isinstance(stmt, gast.Assign) else None
                    # ``ans`` is the target, or ``__ans__`` in ``x = f(x)``, where a name
                    # equal to the target is the operand, the old x
                    if arg == _ANS or (isinstance(target, gast.Name) and target.id == arg
                                       and arg not in names_loaded(stmt.value)):
                        cls = shapes.result.get(id(stmt))
                    else:
                        cls = shapes.operand_class(stmt, arg)
                    if getattr(module, "__name__", None) == "numpy" and \
                            shapes.same(cls, "scalar"):
                        return gast.Constant(value=constants[f.attr], kind=None)
                return node

        return Fold().visit(expr)

    # ------------------------------------------------------------------ statements
    def block(self, stmts: list[Any], defined: set[str]) -> list[Any]:
        out: list[Any] = []
        for s in reversed(stmts):
            out += self.stmt(s, defined)
        return out

    def stmt(self, s: Any, defined: set[str]) -> list[Any]:
        self.stmt_ids[id(s)] = s
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            if isinstance(target, gast.Name):
                return self.assign_name(s, target.id, defined)
            return self.assign_item(s, target, defined)
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            return self.expr_call(s, defined)
        if isinstance(s, gast.If):
            return self.if_(s, defined)
        if isinstance(s, (gast.For, gast.While)):
            return self.loop(s, defined)
        return []

    def header(self, s: Any) -> Any:
        lineno = getattr(s, "lineno", None)
        text = linecache.getline(self.ctx.parsed.filename, lineno).strip() if lineno else ""
        if not text or text.startswith(("def ", "lambda")) or "lambda" in text:
            text = to_source(s).splitlines()[0]
        return Marker.comment(f"{lineno}|{text}")

    def assign_name(self, s: Any, t: str, defined: set[str]) -> list[Any]:
        value = s.value
        names, callee = operand_names(value, self.ctx, self.local_names)
        active_ops = [n for n in names if self.active(n)]
        restore = [Marker.restore(id(s))]
        if callee is not None and callee.kind == "pop" and self.active(callee.self_arg.id):
            return self.list_pop(s, t, callee.self_arg.id, defined)
        if not self.active(t) or t not in defined or not active_ops:
            if active_ops and self.active(t) and callee is not None:
                self.check_callee(callee, s, active_ops)
            defined.discard(t)
            return restore + [Marker.recompute(id(s))]
        if callee is not None:
            self.check_callee(callee, s, active_ops)
        self_ref = t in names
        # with ``x = f(x, ...)`` the rule's ``ans`` (new x) and operand x (old x) differ:
        # ans is captured before the old value is restored
        ans = name(_ANS) if self_ref else name(t)
        pre, contribs = self.contributions(s, t, value, callee, ans)
        out: list[Any] = [self.header(s)]
        if not self_ref:
            out.append(Marker.recompute(id(s)))
            out += pre
            self.emit_contribs(out, defined, contribs)
            defined.discard(t)
            return out + restore
        if any(_ANS in names_loaded(e) for _, e, _ in contribs):
            captured = self.namer.fresh(t.lstrip("_") + "_new")
            out.append(assign(captured, name(t)))
            contribs = [(v, substitute(e, {_ANS: name(captured)}), k) for v, e, k in contribs]
        out += pre + restore + [Marker.recompute(id(s))]
        self.emit_contribs(out, defined, [c for c in contribs if c[0] != t])
        own = [self.full(c) for c in contribs if c[0] == t]
        if own:
            total = own[0]
            for e in own[1:]:
                total = self.plus(t, total, e)
            if not (isinstance(total, gast.Name) and total.id == self.adj(t)):
                out.append(assign(self.adj(t), total))
            defined.add(t)
        else:
            defined.discard(t)
        return out

    def contributions(self, s: Any, t: str, value: Any, callee: Callee | None, ans: Any
                      ) -> tuple[list[Any], list[tuple[str, Any, Any]]]:
        """(statements to run first, [(variable, cotangent expression, scatter index)])."""
        g = name(self.adj(t))
        if t in self.seq_vars and isinstance(value, gast.Call):
            # a tuple result (``w, v = np.linalg.eigh(a)``): rules get every entry, zeros
            # for outputs nothing used
            g = call(self.ns.runtime("finalize"), g, name(t))
        if isinstance(value, gast.Name):
            return [], [(value.id, g, None)]
        if isinstance(value, gast.BinOp):
            prim = registry.primitive_of(BINOPS[type(value.op)])
            return [], self.prim_contribs(prim, [value.left, value.right], [], s, g, ans)
        if isinstance(value, gast.UnaryOp):
            prim = registry.primitive_of(UNARYOPS[type(value.op)])
            return [], self.prim_contribs(prim, [value.operand], [], s, g, ans)
        if isinstance(value, gast.Call):
            if callee.kind == "primitive":
                return [], self.prim_contribs(callee.prim, value.args, value.keywords, s, g, ans)
            if callee.kind == "method":
                return [], self.prim_contribs(callee.prim, [callee.self_arg] + value.args,
                                              value.keywords, s, g, ans)
            return self.user_call(s, t, value, callee)
        if isinstance(value, gast.Subscript):
            return [], [(value.value.id, g, _index_expr(value.slice))]
        if isinstance(value, gast.Attribute):
            fn = registry.attr_function(value.attr)
            if fn is None or value.attr in NONDIFF_ATTRS:
                raise self.error(
                    f"attribute '.{value.attr}' of a differentiated value has no derivative "
                    "rule; register one with chainrule.defattr", s, f".{value.attr}")
            prim = registry.primitive_of(fn)
            return [], self.prim_contribs(prim, [value.value], [], s, g, ans)
        if isinstance(value, (gast.Tuple, gast.List)):
            return [], [(e.id, call(self.ns.runtime("grad_item"), g, const(i), name(e.id)), None)
                        for i, e in enumerate(value.elts)
                        if isinstance(e, gast.Name) and self.active(e.id)]
        raise self.error(f"cannot differentiate {to_source(value)}", s, "expression")

    def full(self, contrib: tuple[str, Any, Any]) -> Any:
        var, expr, index = contrib
        if index is None:
            return expr
        return call(self.ns.runtime("getitem_adjoint"), expr, name(var), index)

    def emit_contribs(self, out: list[Any], defined: set[str],
                      contribs: list[tuple[str, Any, Any]]) -> None:
        pending: dict[str, list[tuple[str, Any, Any]]] = {}
        for c in contribs:
            pending.setdefault(c[0], []).append(c)
        for var, items in pending.items():
            adds = [c for c in items if c[2] is None]
            scatters = [c for c in items if c[2] is not None]
            if adds:
                total = adds[0][1]
                for c in adds[1:]:
                    total = self.plus(var, total, c[1])
                self.contribute(out, defined, var, total)
            for c in scatters:
                if var in defined:
                    out.append(assign(self.adj(var), call(self.ns.runtime("add_at"),
                                                          name(self.adj(var)), c[2], c[1])))
                else:
                    self.contribute(out, defined, var, self.full(c))

    def list_pop(self, s: Any, t: str, lst: str, defined: set[str]) -> list[Any]:
        """``v = lst.pop()``: give ``v``'s cotangent back to the list and put ``v`` back."""
        out: list[Any] = [self.header(s)]
        g = name(self.adj(t)) if t in defined else const(None)
        b_lst = name(self.adj(lst)) if lst in defined else const(None)
        out.append(assign(self.adj(lst), call(self.ns.runtime("push_grad"), b_lst, name(lst),
                                              g)))
        defined.add(lst)
        defined.discard(t)
        out.append(gast.Expr(value=call(gast.Attribute(value=name(lst), attr="append",
                                                       ctx=gast.Load()), name(t))))
        return out + [Marker.restore(id(s)), Marker.recompute(id(s))]

    def check_callee(self, callee: Callee, s: Any, active_ops: list[str]) -> None:
        kind = callee.kind
        if kind in ("primitive", "method", "user", "local", "append", "pop", "nondiff",
                    "nondiff_method"):
            return
        what = callee.label
        if kind == "unresolved":
            raise self.error(f"name '{what}' is not defined (cannot resolve it when "
                             "generating the gradient); define it before calling grad", s,
                             "unresolved name")
        if kind == "method_unknown":
            meth = what.rsplit(".", 1)[-1]
            raise self.error(
                f"method '.{meth}()' on a differentiated value has no derivative rule; "
                f"use the NumPy function instead or register one with "
                f"chainrule.defmethod('{meth}', fn)", s, f".{meth}()")
        if kind == "comprehension":
            raise self.error(
                "comprehensions over differentiated values are not supported by "
                "chainrule.grad; write a for loop that appends to a list", s, "comprehension")
        raise self.error(
            f"call to '{what}', which has neither Python source nor a derivative rule, "
            f"receives a differentiated value; register a rule with "
            f"chainrule.defvjp({what}, ...)", s, what)

    def prim_contribs(self, prim: Any, args: list[Any], keywords: list[Any], s: Any, g: Any,
                      ans: Any) -> list[tuple[str, Any, Any]]:
        slots: list[tuple[str, int]] = []
        for i, a in enumerate(args):
            if isinstance(a, gast.Name) and self.active(a.id):
                slots.append((a.id, i))
        for k in keywords:
            if isinstance(k.value, gast.Name) and self.active(k.value.id):
                slots.append((k.value.id, self.kw_position(prim, k.arg, s)))
        out = []
        for var, argnum in slots:
            if prim.no_gradient(argnum):
                continue
            expr = self.rule_expr(prim, argnum, g, ans, args, keywords, s)
            others = [a for j, a in enumerate(args) if j != argnum]
            if prim.broadcasts and not all(isinstance(o, gast.Constant) for o in others) and (
                    self.shapes is None or self.shapes.needs_unbroadcast(s, var)):
                expr = call(self.ns.runtime("unbroadcast"), expr, name(var))
            out.append((var, expr, None))
        return out

    def kw_position(self, prim: Any, kw: str, s: Any) -> int:
        for rule in list(prim.vjps.values()) + list(prim.jvps.values()):
            params = rule.template().params[2:]
            if kw in params:
                return params.index(kw)
        raise self.error(f"{prim.name}() has no derivative rule for keyword argument {kw!r}",
                         s, prim.name)

    def user_call(self, s: Any, t: str, value: Any, callee: Callee
                  ) -> tuple[list[Any], list[tuple[str, Any, Any]]]:
        fwd, bwd, active_params, bound = self.helpers.pair(callee, value, self, s)
        saved = self.namer.fresh(t.lstrip("_") + "_saved")
        self.call_saves[id(s)] = saved
        self.call_fwd[id(s)] = fwd
        bwd_call = call(name(bwd), name(self.adj(t)), name(saved))
        # ``x = h(x)``: the old x is restored before the contributions are computed, and with
        # it the call's saved state (a target too, pushed in a loop); the pullback runs first,
        # on the state of this call
        if len(active_params) == 1 and t not in names_loaded(value):
            item = gast.Subscript(value=bwd_call, slice=const(0), ctx=gast.Load())
            return [], [(bound[active_params[0]].id, item, None)]
        results = [self.namer.fresh("b_arg") for _ in active_params]
        target = gast.Tuple(elts=[gast.Name(id=r, ctx=gast.Store(), annotation=None,
                                            type_comment=None) for r in results],
                            ctx=gast.Store())
        pre = [gast.Assign(targets=[target], value=bwd_call, type_comment=None)]
        return pre, [(bound[p].id, name(r), None) for r, p in zip(results, active_params)]

    def assign_item(self, s: Any, target: Any, defined: set[str]) -> list[Any]:
        return [Marker.recompute(id(s))] + self._assign_item(s, target, defined)

    def _assign_item(self, s: Any, target: Any, defined: set[str]) -> list[Any]:
        a = target.value.id
        restore = [Marker.restore(id(s))]
        if not self.active(a) or a not in defined:
            return restore
        out: list[Any] = [self.header(s)]
        index = _index_expr(target.slice)
        v = s.value
        item = None
        if isinstance(v, gast.Name) and self.active(v.id):
            item = call(self.ns.runtime("stored_item_adjoint"), name(self.adj(a)),
                        clone(index), name(v.id))
            if v.id == a:  # a[i] = a: read the item's cotangent before zeroing it
                tmp = self.namer.fresh("b_item")
                out.append(assign(tmp, item))
                item = name(tmp)
            else:
                self.contribute(out, defined, v.id, item)
        out.append(assign(self.adj(a), call(self.ns.runtime("zero_at"), name(self.adj(a)),
                                            index)))
        if isinstance(v, gast.Name) and v.id == a and item is not None:
            self.contribute(out, defined, a, item)
        return out + restore

    def expr_call(self, s: Any, defined: set[str]) -> list[Any]:
        return [Marker.recompute(id(s))] + self._expr_call(s, defined)

    def _expr_call(self, s: Any, defined: set[str]) -> list[Any]:
        value = s.value
        names, callee = operand_names(value, self.ctx, self.local_names)
        if callee is None or callee.kind != "append":
            active_ops = [n for n in names if self.active(n)]
            if active_ops and callee is not None and callee.kind in ("method_unknown",):
                self.check_callee(callee, s, active_ops)
            return []
        lst = callee.self_arg.id
        if not self.active(lst):
            return []
        out: list[Any] = [self.header(s)]
        if lst in defined:
            arg = value.args[0] if value.args else None
            if isinstance(arg, gast.Name) and self.active(arg.id):
                last = gast.BinOp(left=call(name("len"), name(lst)), op=gast.Sub(),
                                  right=const(1))
                self.contribute(out, defined, arg.id, call(self.ns.runtime("grad_item"),
                                                           name(self.adj(lst)), last,
                                                           name(arg.id)))
        out.append(gast.Expr(value=call(gast.Attribute(value=name(lst), attr="pop",
                                                       ctx=gast.Load()))))
        return out

    def if_(self, s: Any, defined: set[str]) -> list[Any]:
        d1, d2 = set(defined), set(defined)
        body = self.block(s.body, d1)
        orelse = self.block(s.orelse, d2)
        for v in sorted(d1 - d2):
            orelse.append(self.zero(v))
        for v in sorted(d2 - d1):
            body.append(self.zero(v))
        # a cotangent both branches consume (each reassigns its variable) is undefined after
        defined.intersection_update(d1 | d2)
        defined |= d1 | d2
        if not _has_code(body) and not _has_code(orelse):
            return []
        return [gast.If(test=clone(s.test), body=body or [gast.Pass()], orelse=orelse)]

    def loop(self, s: Any, defined: set[str]) -> list[Any]:
        entry = set(defined)
        if isinstance(s, gast.For):
            self.int_vars.add(s.target.id)
        while True:
            state = set(entry)
            body = [Marker.remat(id(s))] + self.block(s.body, state)
            grow = state - entry
            if grow:
                entry |= grow
                continue
            for v in sorted(entry - state):
                body.append(self.zero(v))
            break
        pre = [self.zero(v) for v in sorted(entry - defined)]
        for v in self.accumulate_in_place(body):
            if v in defined:
                pre.append(assign(self.adj(v), call(self.ns.runtime("owned"), name(self.adj(v)),
                                                    name(v))))
        defined |= entry
        if not _has_code(body):
            return pre if _has_code(pre) else []
        has_break = any(isinstance(x, gast.Break) for x in s.body[-1:]) or any(
            isinstance(x, gast.If) and any(isinstance(y, gast.Break) for y in x.body)
            for x in s.body[-1:])
        if isinstance(s, gast.While) or has_break:
            counter = self.counters.setdefault(id(s), self.namer.fresh("n"))
        else:
            counter = None
        if isinstance(s, gast.While):
            header = gast.For(target=gast.Name(id="_", ctx=gast.Store(), annotation=None,
                                               type_comment=None),
                              iter=call(name("range"), name(counter)), body=body, orelse=[],
                              type_comment=None)
        else:
            rng = clone(s.iter)
            if counter is not None:
                rng = gast.Subscript(value=rng, slice=gast.Slice(lower=None, upper=name(counter),
                                                                 step=None), ctx=gast.Load())
            header = gast.For(target=clone(s.target), iter=call(name("reversed"), rng),
                              body=body, orelse=[], type_comment=None)
        return pre + [header, Marker.restore(id(s))]


    def accumulate_in_place(self, body: list[Any]) -> list[str]:
        """Turn ``b_v = add_at(b_v, i, g)`` in a loop into ``b_v[i] += g`` where ``b_v`` is
        read nowhere else in the loop; returns the primal names whose adjoint must then be
        owned (a fresh copy) before the loop."""
        add_at = self.ns.runtime("add_at").id
        adjoint_of = {b: v for v, b in self.adj_names.items()}
        ok: dict[str, bool] = {}
        wrapped = gast.Module(body=body, type_ignores=[])
        for node in walk(wrapped):
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name):
                b = node.targets[0].id
                if b not in adjoint_of:
                    continue
                v = node.value
                good = (isinstance(v, gast.Call) and isinstance(v.func, gast.Name)
                        and v.func.id == add_at and isinstance(v.args[0], gast.Name)
                        and v.args[0].id == b and b not in names_loaded(v.args[1])
                        and b not in names_loaded(v.args[2]))
                ok[b] = ok.get(b, True) and good
        for b in list(ok):
            loads = sum(1 for n in walk(wrapped) if isinstance(n, gast.Name)
                        and n.id == b and isinstance(n.ctx, gast.Load))
            assigns = sum(1 for n in walk(wrapped) if isinstance(n, gast.Assign)
                          and isinstance(n.targets[0], gast.Name) and n.targets[0].id == b)
            if loads != assigns:
                ok[b] = False
        chosen = {b for b, good in ok.items() if good}

        def integer_index(node: Any) -> bool:
            return (isinstance(node, gast.Name) and node.id in self.int_vars) or (
                isinstance(node, gast.Constant) and type(node.value) is int)

        # only integer indices are updated in place (``b_w[i] += g``, itself differentiable
        # again); any other index keeps the functional ``add_at``
        for node in walk(wrapped):
            if isinstance(node, gast.Assign) and isinstance(node.targets[0], gast.Name) and \
                    node.targets[0].id in chosen and not integer_index(node.value.args[1]):
                chosen.discard(node.targets[0].id)
        if not chosen:
            return []

        class Rewrite(gast.NodeTransformer):
            def visit_Assign(inner, node: Any) -> Any:  # noqa: N805
                if isinstance(node.targets[0], gast.Name) and node.targets[0].id in chosen:
                    b = node.targets[0].id
                    index, g = node.value.args[1], node.value.args[2]
                    return gast.AugAssign(
                        target=gast.Subscript(value=name(b), slice=index, ctx=gast.Store()),
                        op=gast.Add(), value=g)
                return node

        Rewrite().visit(wrapped)
        body[:] = wrapped.body
        return sorted(adjoint_of[b] for b in chosen)


def _has_code(stmts: list[Any]) -> bool:
    """Statements besides comments: restores and recomputations count, as they may become
    code when the saves are placed (``save.py`` prunes what stays empty)."""
    for x in stmts:
        if not (isinstance(x, gast.Expr) and isinstance(x.value, gast.Constant)):
            return True
        text = x.value.value
        if isinstance(text, str) and text.startswith(("__restore__", "__recompute__")):
            return True
    return False


