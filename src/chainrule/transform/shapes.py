"""Pass 6b, shape classes: which values provably have the same shape.

Each value gets a *shape class*; two values in one class have equal shapes at the points
where they are read. Classes come from: parameters (one class each at entry), scalar
constants, elementwise operations (the result joins the class of operands that share one,
or of the non-constant operand), ``math`` functions (their argument and result are
Python scalars, so both join the ``scalar`` class), and the output of ``grad`` (a scalar).
Anything else gets a class of its own. Loops iterate to a fixed point and branches merge,
so the result holds on every path. Reverse mode uses it to leave out ``unbroadcast``
where broadcasting cannot have happened, which keeps code short and saves nothing extra.
"""

from __future__ import annotations

import operator
from typing import Any

import gast
import numpy as np

from .resolve import resolve_callee

__all__ = ["ShapeClasses"]

SCALAR = "scalar"
_ELEMENTWISE_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow, gast.Mod)
_ELEMENTWISE_FUNCS = {operator.add, operator.sub, operator.mul, operator.truediv,
                      operator.pow, operator.neg, operator.pos, abs, operator.abs}


_REDUCTIONS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std", "average",
               "nansum", "nanmean", "trace", "vdot"}


def _full_reduction(obj: Any, args: list[Any], keywords: list[Any]) -> bool:
    """``np.sum(x)`` and friends without ``axis``: the result is a scalar."""
    if getattr(obj, "__name__", None) not in _REDUCTIONS:
        return False
    module = getattr(obj, "__module__", "") or ""
    if not module.startswith("numpy"):
        return False
    if any(k.arg in ("axis", "keepdims", "out") for k in keywords):
        return False
    limit = 2 if obj.__name__ == "vdot" else 1
    return len(args) <= limit


class ShapeClasses:
    def __init__(self, fdef: Any, ctx: Any, local_names: set[str], params: list[str],
                 scalar_output: str | None) -> None:
        self.ctx = ctx
        self.local_names = local_names
        self.parent: dict[str, str] = {}
        self.at: dict[int, dict[str, str]] = {}  # id(stmt) -> classes before it
        self.result: dict[int, str] = {}  # id(stmt) -> class of its target after it
        self.counter = 0
        self.certain = True
        env = {p: self.fresh(f"param:{p}") for p in params}
        env = self.block(fdef.body, env)
        self.final = env
        # proved before the output is assumed scalar (grad checks that at run time)
        self.output_proved_scalar = scalar_output is not None and scalar_output in env and \
            self.same(env[scalar_output], SCALAR)
        if scalar_output is not None and scalar_output in env:
            self.union(env[scalar_output], SCALAR)

    def final_same(self, a: str, b: str) -> bool:
        """``a`` and ``b`` share a shape class at the end of the function."""
        return self.same(self.final.get(a), self.final.get(b))

    def final_scalar(self, a: str) -> bool:
        return self.same(self.final.get(a), SCALAR)

    # ------------------------------------------------------------------ union-find
    def find(self, c: str) -> str:
        while self.parent.get(c, c) != c:
            c = self.parent[c]
        return c

    def union(self, a: str, b: str) -> str:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        if rb == SCALAR:
            ra, rb = rb, ra
        self.parent[rb] = ra
        return ra

    def fresh(self, hint: str = "") -> str:
        self.counter += 1
        c = f"c{self.counter}{':' + hint if hint else ''}"
        self.parent[c] = c
        return c

    def same(self, a: str | None, b: str | None) -> bool:
        return a is not None and b is not None and self.find(a) == self.find(b)

    # ------------------------------------------------------------------ queries
    def operand_class(self, stmt: Any, var: str) -> str | None:
        env = self.at.get(id(stmt))
        return env.get(var) if env else None

    def needs_unbroadcast(self, stmt: Any, var: str) -> bool:
        result = self.result.get(id(stmt))
        return not self.same(self.operand_class(stmt, var), result)

    # ------------------------------------------------------------------ transfer
    def cls(self, atom: Any, env: dict[str, str]) -> str:
        if isinstance(atom, gast.Constant):
            if isinstance(atom.value, (int, float)) and not isinstance(atom.value, bool):
                return SCALAR
            return self.fresh()
        if isinstance(atom, gast.Name):
            if atom.id not in env:
                env[atom.id] = self.fresh(atom.id)
            return env[atom.id]
        return self.fresh()

    def elementwise(self, atoms: list[Any], env: dict[str, str]) -> str:
        classes = [self.cls(a, env) for a in atoms]
        nonscalar = [c for c, a in zip(classes, atoms)
                     if not (isinstance(a, gast.Constant))]
        if not nonscalar:
            return SCALAR
        first = nonscalar[0]
        if all(self.same(first, c) for c in nonscalar):
            return first
        if all(self.same(c, SCALAR) for c in nonscalar):
            return SCALAR
        return self.fresh()

    def value_class(self, value: Any, env: dict[str, str]) -> str:
        if isinstance(value, (gast.Name, gast.Constant)):
            return self.cls(value, env)
        if isinstance(value, gast.BinOp) and isinstance(value.op, _ELEMENTWISE_OPS):
            return self.elementwise([value.left, value.right], env)
        if isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub, gast.UAdd)):
            return self.cls(value.operand, env)
        if isinstance(value, gast.Call):
            callee = resolve_callee(value.func, self.ctx, self.local_names)
            if callee.kind not in ("primitive", "method"):
                return self.fresh()
            obj = callee.obj
            args = list(value.args)
            if callee.self_arg is not None:
                args = [callee.self_arg] + args
            if getattr(obj, "__module__", None) == "math":
                if self.certain:
                    for a in args:
                        if isinstance(a, gast.Name):
                            self.union(self.cls(a, env), SCALAR)
                return SCALAR
            if _full_reduction(obj, args, value.keywords):
                return SCALAR
            if not value.keywords and (
                    obj in _ELEMENTWISE_FUNCS or
                    (isinstance(obj, np.ufunc) and obj.nout == 1 and len(args) == obj.nin)):
                return self.elementwise(args, env)
        return self.fresh()

    def block(self, stmts: list[Any], env: dict[str, str]) -> dict[str, str]:
        for s in stmts:
            env = self.stmt(s, env)
        return env

    def stmt(self, s: Any, env: dict[str, str]) -> dict[str, str]:
        self.at[id(s)] = dict(env)
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            if isinstance(target, gast.Name):
                c = self.value_class(s.value, env)
                env = dict(env)
                env[target.id] = c
                self.result[id(s)] = c
                self.at[id(s)] = {**self.at[id(s)],
                                  **{k: v for k, v in env.items() if k not in self.at[id(s)]}}
            return env
        if isinstance(s, gast.If):
            certain, self.certain = self.certain, False
            e1 = self.block(s.body, dict(env))
            e2 = self.block(s.orelse, dict(env))
            self.certain = certain
            return self.merge(e1, e2, "if")
        if isinstance(s, (gast.For, gast.While)):
            entry = dict(env)
            if isinstance(s, gast.For):
                entry[s.target.id] = SCALAR
            heads: dict[str, str] = {}
            certain, self.certain = self.certain, isinstance(s, gast.For) and self.certain
            for _ in range(len(entry) + len(self.local_names) + 2):
                end = self.block(s.body, dict(entry))
                changed = False
                for k in sorted(set(entry) | set(end)):
                    if k in entry and k in end and self.same(entry[k], end[k]):
                        continue
                    if k not in heads:
                        heads[k] = self.fresh(f"loop:{k}")
                        entry[k] = heads[k]
                        changed = True
                if not changed:
                    break
            self.certain = certain
            return self.merge(env, entry, "after")
        return env

    def merge(self, a: dict[str, str], b: dict[str, str], tag: str) -> dict[str, str]:
        out = {}
        for k in set(a) | set(b):
            ca, cb = a.get(k), b.get(k)
            if ca is not None and cb is not None and self.same(ca, cb):
                out[k] = ca
            elif ca is None or cb is None:
                out[k] = ca or cb
            else:
                out[k] = self.fresh(f"{tag}:{k}")
        return out
