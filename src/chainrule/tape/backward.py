"""The backward pass over one tape's record.

Guarantees:

* Nodes are visited once, in reverse recording order (a reverse topological order), starting
  at the latest node that produced a seeded value; a node whose output got no cotangent is
  skipped. Each input that needs a gradient gets ``prim.vjp(i).fn(g, ans, *args, **kwargs)``,
  passed through :func:`chainrule.runtime.unbroadcast` when the primitive broadcasts. A
  missing rule raises :class:`~chainrule.MissingRuleError` (from ``Primitive.vjp``).
* Multi-output primitives receive a tuple cotangent with zeros in place of missing ones.
* Rules are only called for inputs that lead to a requested source: watched values that are
  not sources, and everything computed only from them, are pruned first.
* Fast path: with no tape recording in this thread, rules run on the raw NumPy values.
  Recorded path (``slow=True``): rule bodies run on Tensors carrying the tape ids of the
  primal values, so the recording tapes (outer ones, or this one when it is persistent and
  still recording) record the backward pass itself; that gives higher-order derivatives.
* Cotangents are summed with ``+`` into new values; nothing is updated in place.
"""

from __future__ import annotations

from typing import Any

from ..runtime import unbroadcast, zeros_like
from .state import Recorder
from .tensor import Tensor, _TensorLike, _wrap_out, wrap

__all__ = ["backward"]


def backward(rec: Recorder, seeds: dict[int, Any], wanted: set[int],
             slow: bool) -> dict[int, Any]:
    """Propagate ``seeds`` (id -> cotangent) back through ``rec``.

    Returns id -> cotangent for every id of ``wanted`` that received one (sources that are
    not connected are absent).
    """
    grads = dict(seeds)
    results: dict[int, Any] = {}
    ids = rec.ids
    starts = [ids[uid] for uid in seeds if ids.get(uid) is not None]
    needed = _needed(rec, wanted) if any(uid not in wanted for uid in rec.leaves) else None
    nodes = rec.nodes
    for k in range(max(starts, default=-1), -1, -1):
        prim, args, kwargs, inputs, parents, out, oid = nodes[k]
        if type(oid) is tuple:
            gs = [grads.pop(o, None) if o else None for o in oid]
            if all(g is None for g in gs):
                continue
            for o, g in zip(oid, gs):
                if o in wanted and g is not None:
                    results[o] = g
            g = tuple(_zeros(o, slow) if g is None else g for o, g in zip(out, gs))
        else:
            g = grads.pop(oid, None)
            if g is None:
                continue
            if oid in wanted:
                results[oid] = g
        if slow:
            args = _lift_all(args, inputs)
            ans = _wrap_out(out, oid)
        else:
            ans = out
        vjps = prim.vjps
        broadcasts = prim.broadcasts
        last = -1
        c_all: Any = None
        for argnum, element, puid in parents:
            if needed is not None and puid not in needed:
                continue
            if argnum != last:
                rule = vjps.get(argnum)
                if rule is None:
                    prim.vjp(argnum)  # raises MissingRuleError naming the primitive
                c_all = rule.fn(g, ans, *args, **kwargs) if kwargs else rule.fn(g, ans, *args)
                last = argnum
            if element < 0:
                c = c_all
                if broadcasts and c is not None:
                    c = _unbroadcast(c, args[argnum])
            else:
                c = c_all[element] if c_all is not None else None
            if c is None:
                continue
            old = grads.get(puid)
            grads[puid] = c if old is None else old + c
    for uid in wanted:
        if uid not in results and uid in grads:
            results[uid] = grads[uid]
    return results


def _needed(rec: Recorder, wanted: set[int]) -> set[int]:
    """Ids of the wanted values and of every recorded value computed from one of them."""
    needed = set(wanted)
    for node in rec.nodes:
        parents, oid = node[4], node[6]
        for p in parents:
            if p[2] in needed:
                if type(oid) is tuple:
                    needed.update(o for o in oid if o)
                else:
                    needed.add(oid)
                break
    return needed


def _unbroadcast(c: Any, x: Any) -> Any:
    try:
        if c.shape == x.shape:
            return c
    except AttributeError:
        pass
    return unbroadcast(c, x)


def _zeros(like: Any, slow: bool) -> Any:
    z = zeros_like(like)
    return wrap(z, 0) if slow else z


def _lift(value: Any, obj: Any) -> Any:
    """The argument as rule bodies should see it on the recorded path: a Tensor carrying the
    id of the value it was (Variables: the value read then, with the variable's id)."""
    if isinstance(obj, _TensorLike):
        return obj if type(obj) is Tensor else wrap(value, obj._id)
    if value is not obj and type(obj) in (list, tuple):
        lifted = [_lift(v, o) for v, o in zip(value, obj)]
        return tuple(lifted) if type(value) is tuple else lifted
    return value


def _lift_all(args: tuple[Any, ...], inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_lift(v, o) for v, o in zip(args, inputs))
