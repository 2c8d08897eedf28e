"""The backward pass over one tape's record.

Guarantees:

* Nodes are visited once, in reverse recording order (a reverse topological order), starting
  at the latest node that produced a seeded value; a node whose output got no cotangent is
  skipped. Each input that needs a gradient gets ``prim.vjp(i).fn(g, ans, *args, **kwargs)``,
  passed through :func:`chainrule.runtime.unbroadcast` when the primitive broadcasts. A
  missing rule raises :class:`~chainrule.MissingRuleError` (from ``Primitive.vjp``).
* Multi-output primitives receive a tuple cotangent (nested like their output) with zeros in
  place of missing ones.
* Rules are only called for inputs that lead to a requested source: watched values that are
  not sources, and everything computed only from them, are pruned first.
* Fast path: with no tape recording in this thread, rules run on the raw NumPy values.
  Recorded path (``slow=True``): rule bodies run on Tensors carrying the tape ids of the
  primal values, so the recording tapes (outer ones, or this one when it is persistent and
  still recording) record the backward pass itself; that gives higher-order derivatives.
  There, calls inside rule bodies to primitives that NumPy cannot dispatch to Tensors (the
  ``chainrule.runtime`` helpers, ``math`` functions, ``float``) are recorded as those
  primitives rather than run on Tensors.
* Cotangents are summed with ``+`` into new values; nothing is updated in place.
"""

from __future__ import annotations

import builtins
import types
from typing import Any

import numpy as np

from ..rules import primitive_of
from ..runtime import unbroadcast, zeros_like
from .record import _wrap_out, apply, nest_like, out_leaves
from .state import Recorder
from .tensor import Tensor, _TensorLike, wrap

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
            for o, g in zip(oid, gs, strict=True):
                if o in wanted and g is not None:
                    results[o] = g
            g = nest_like(out, (_zeros(v, slow) if g is None else g
                                for v, g in zip(out_leaves(out), gs, strict=True)))
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
                fn = _recorded_rule(rule.fn) if slow else rule.fn
                c_all = fn(g, ans, *args, **kwargs) if kwargs else fn(g, ans, *args)
                last = argnum
            if element == -1:
                c = c_all
                if broadcasts and c is not None:
                    x = args[argnum]
                    try:
                        same = c.shape == x.shape
                    except AttributeError:
                        same = False
                    if not same:
                        c = apply(unbroadcast, (c, x)) if slow else unbroadcast(c, x)
            else:  # an element of a sequence argument: the cotangent is a sequence too
                c = c_all
                for j in element if type(element) is tuple else (element,):
                    if c is None:
                        break
                    c = c[j]
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


_RECORDED: dict[int, tuple[Any, Any]] = {}
_WRAPPERS: dict[int, tuple[Any, Any]] = {}


def _recorded_rule(fn: Any) -> Any:
    """``fn`` for the recorded path: the same code, with each global name that refers to a
    primitive NumPy cannot dispatch to Tensors (the :mod:`chainrule.runtime` helpers such as
    ``getitem_adjoint``, which may update arrays in place internally; ``math`` functions and
    ``float``, which would turn a Tensor into a Python number) rebound to a wrapper that
    records the call as that primitive; modules other than NumPy's (``math``) are seen
    through a proxy that does the same for their attributes. Cached per rule."""
    hit = _RECORDED.get(id(fn))
    if hit is not None and hit[0] is fn:
        return hit[1]
    new = fn
    code = getattr(fn, "__code__", None)
    namespace = getattr(fn, "__globals__", None)
    if code is not None and namespace is not None:
        swaps = {}
        for name in _global_names(code):
            obj = namespace[name] if name in namespace else getattr(builtins, name, None)
            if isinstance(obj, types.ModuleType) and not obj.__name__.startswith("numpy"):
                swaps[name] = _RecordingModule(obj)
            elif _needs_recording(obj):
                swaps[name] = _recording(obj)
        if swaps:
            new = types.FunctionType(code, {**namespace, **swaps}, fn.__name__,
                                     fn.__defaults__, fn.__closure__)
            new.__kwdefaults__ = fn.__kwdefaults__
    _RECORDED[id(fn)] = (fn, new)
    return new


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _needs_recording(obj: Any) -> bool:
    """A differentiable primitive that NumPy's protocols or Python's operators do not route to
    the tape by themselves."""
    if obj is None or isinstance(obj, np.ufunc) or hasattr(obj, "_implementation"):
        return False
    if getattr(obj, "__module__", None) == "_operator" or obj in (builtins.abs, builtins.pow):
        return False
    prim = primitive_of(obj)
    return prim is not None and not prim.nondiff


class _RecordingModule:
    """A module as the recorded backward pass sees it: its differentiable primitives record."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._module, name)
        return _recording(value) if _needs_recording(value) else value


def _recording(fn: Any) -> Any:
    """A function that records ``fn(*args, **kwargs)`` as the primitive ``fn`` (cached)."""
    hit = _WRAPPERS.get(id(fn))
    if hit is not None and hit[0] is fn:
        return hit[1]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return apply(fn, args, kwargs)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    _WRAPPERS[id(fn)] = (fn, wrapper)
    return wrapper


def _zeros(like: Any, slow: bool) -> Any:
    z = zeros_like(like)
    return wrap(z, 0) if slow else z


def _lift(value: Any, obj: Any) -> Any:
    """The argument as rule bodies should see it on the recorded path: a Tensor carrying the
    id of the value it was (Variables: the value read then, with the variable's id)."""
    if isinstance(obj, _TensorLike):
        return obj if type(obj) is Tensor else wrap(value, obj._id)
    if value is not obj and type(obj) in (list, tuple):
        lifted = [_lift(v, o) for v, o in zip(value, obj, strict=True)]
        return tuple(lifted) if type(value) is tuple else lifted
    return value


def _lift_all(args: tuple[Any, ...], inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_lift(v, o) for v, o in zip(args, inputs, strict=True))
