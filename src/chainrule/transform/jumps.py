"""Pass 4, jumps: lower ``break``, ``continue`` and early ``return`` to structured code.

Guarantees after this pass: ``continue`` does not occur; ``break`` occurs only as the last
statement of a loop body, as ``if <flag>: break``; ``return`` occurs at most once, as the
last statement of the function. Statements that a jump skips are guarded by
``if not <flag>:``. The flags are plain booleans, so the adjoint code replays exactly the
statements that ran. A function without early exits is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gast

from .astutil import Namer, assign, const, name
from .desugar import Context

__all__ = ["lower_jumps"]


@dataclass
class _Loop:
    brk: str | None = None
    cont: str | None = None


class _Lower:
    def __init__(self, namer: Namer, lower_returns: bool) -> None:
        self.namer = namer
        self.lower_returns = lower_returns
        self.ret_flag = namer.fresh("returned") if lower_returns else None
        self.ret_val = namer.fresh("retval") if lower_returns else None

    def flag_of(self, kind: str, loop: _Loop | None) -> str:
        if kind == "return":
            return self.ret_flag
        return loop.brk if kind == "break" else loop.cont

    def block(self, stmts: list[Any], loop: _Loop | None) -> tuple[list[Any], set[str]]:
        out: list[Any] = []
        kinds: set[str] = set()
        for i, s in enumerate(stmts):
            if isinstance(s, gast.Break):
                loop.brk = loop.brk or self.namer.fresh("broke")
                out.append(assign(loop.brk, const(True)))
                kinds.add("break")
                return out, kinds
            if isinstance(s, gast.Continue):
                loop.cont = loop.cont or self.namer.fresh("skipped")
                out.append(assign(loop.cont, const(True)))
                kinds.add("continue")
                return out, kinds
            if isinstance(s, gast.Return) and self.lower_returns:
                value = s.value if s.value is not None else const(None)
                out.append(assign(self.ret_val, value))
                out.append(assign(self.ret_flag, const(True)))
                kinds.add("return")
                return out, kinds
            new, k = self.stmt(s, loop)
            out += new
            if k:
                kinds |= k
                rest, k2 = self.block(stmts[i + 1:], loop)
                kinds |= k2
                if rest:
                    flags = [name(self.flag_of(kind, loop)) for kind in sorted(k)]
                    test = flags[0] if len(flags) == 1 else gast.BoolOp(op=gast.Or(),
                                                                        values=flags)
                    out.append(gast.If(test=gast.UnaryOp(op=gast.Not(), operand=test),
                                       body=rest, orelse=[]))
                return out, kinds
        return out, kinds

    def stmt(self, s: Any, loop: _Loop | None) -> tuple[list[Any], set[str]]:
        if isinstance(s, gast.If):
            s.body, k1 = self.block(s.body, loop)
            s.orelse, k2 = self.block(s.orelse, loop)
            if not s.body:
                s.body = [gast.Pass()]
            return [s], k1 | k2
        if isinstance(s, (gast.For, gast.While)):
            inner = _Loop()
            body, kinds = self.block(s.body, inner)
            pre: list[Any] = []
            if inner.cont:
                body.insert(0, assign(inner.cont, const(False)))
            if inner.brk:
                pre.append(assign(inner.brk, const(False)))
            exits = [f for f in (inner.brk, self.ret_flag if "return" in kinds else None) if f]
            if exits:
                test = name(exits[0]) if len(exits) == 1 else gast.BoolOp(
                    op=gast.Or(), values=[name(e) for e in exits])
                body.append(gast.If(test=test, body=[gast.Break()], orelse=[]))
            s.body = body or [gast.Pass()]
            return pre + [s], {"return"} & kinds
        return [s], set()


def _returns(node: Any) -> list[Any]:
    """Return statements of ``node``, not looking inside nested functions."""
    if isinstance(node, gast.Return):
        return [node]
    if isinstance(node, (gast.FunctionDef, gast.Lambda)):
        return []
    out = []
    for child in gast.iter_child_nodes(node):
        out += _returns(child)
    return out


def _has_early_return(body: list[Any]) -> bool:
    for i, s in enumerate(body):
        for sub in _returns(s):
            if not (sub is s and i == len(body) - 1):
                return True
    return False


def lower_jumps(ctx: Context, fdef: Any) -> Any:
    """Lower jumps in ``fdef`` in place and return it."""
    early = _has_early_return(fdef.body)
    lowering = _Lower(ctx.namer, early)
    body, _ = lowering.block(fdef.body, None)
    if early:
        body = [assign(lowering.ret_val, const(None)), assign(lowering.ret_flag, const(False))] \
            + body + [gast.Return(value=name(lowering.ret_val))]
    fdef.body = body
    return fdef
