"""The recording engine: how one operation on tensors lands on the recording tapes.

Guarantees:

* Every operation on tensors — Python operators, NumPy ufuncs (``__array_ufunc__``), NumPy
  functions (``__array_function__``), the TF-named ops — goes through :func:`apply`,
  :func:`binary`, :func:`unary` or :func:`getitem`: the primitive runs on the raw values,
  and the call is recorded as ONE node on each recording tape of this thread that tracks
  one of its differentiable inputs (see :mod:`chainrule.tape.state` for the node layout).
* An output is tracked only when it is floating point (or complex); integer and boolean
  values never carry gradients, as in TensorFlow.
* A NumPy function with no rule at all runs plainly; if one of its inputs is tracked on a
  recording tape and its output is floating point, :class:`~chainrule.MissingRuleError` is
  raised instead of silently losing the gradient. Non-differentiable primitives
  (comparisons, ``argmax``...) return untracked tensors.
* The common path allocates the output tensor, its id and the node tuple, nothing else, and
  reads the thread-local state only when an input is tracked somewhere.
"""

from __future__ import annotations

import inspect
import operator
from typing import Any

import numpy as np

from ..errors import MissingRuleError
from ..rules import primitive_of
from ..rules.registry import Primitive, qualified_name
from .state import STATE, Recorder, new_id, user_location

__all__ = ["apply", "binary", "unary", "getitem", "lookup"]

_new = object.__new__

_FLOAT_KINDS = "fc"
_PY_SCALARS = (float, int, bool, complex)


def _escape(x: _TensorLike, how: str) -> None:
    """Remember that a tracked value left the tape (for ``unconnected_gradients="raise"``)."""
    uid = x._id
    if uid:
        for rec in STATE.ctx[0]:
            if uid in rec.ids:
                rec.escapes.append((uid, how, user_location()))


def _record(rec: Recorder, node: tuple[Any, ...], oid: Any) -> None:
    ids = rec.ids
    index = len(rec.nodes)
    if type(oid) is tuple:
        for o in oid:
            if o:
                ids[o] = index
    else:
        ids[oid] = index
    rec.nodes.append(node)


def _mark_paused(paused: tuple[Recorder, ...], prim: Any, uids: list[int], oid: Any,
                 out: Any) -> Any:
    """Outputs computed from values a paused tape tracks: remember why they are untracked."""
    where = None
    for rec in paused:
        if any(u in rec.ids or u in rec.paused_ids for u in uids):
            if not oid:
                oid = _new_ids(out)
            where = where or user_location()
            name = prim.name if isinstance(prim, Primitive) else qualified_name(prim)
            for o in (oid if type(oid) is tuple else (oid,)):
                rec.paused_ids[o] = (name, where)
    return oid


def unary(fn: Any, prim: Primitive, a: Any) -> Tensor:
    """Record ``fn(a)`` for a primitive whose only argument is differentiable."""
    if type(a) is Tensor:
        av = a._value
    else:  # a Variable: operators are only called with a tensor-like ``a``
        av = a._read()
    ia = a._id
    out = fn(av)
    oid = 0
    if ia:
        tapes, paused, _ = STATE.ctx
        for rec in tapes:
            ids = rec.ids
            if ia in ids:
                if not oid:
                    oid = new_id()
                nodes = rec.nodes
                ids[oid] = len(nodes)
                nodes.append((prim, (av,), None, (a,), ((0, -1, ia),), out, oid))
        if paused and not oid:
            oid = _mark_paused(paused, prim, [ia], oid, out)
    t = _new(Tensor)  # wrap(out, oid), inlined: this is the hot path
    t._value = out
    t._id = oid
    return t


def binary(fn: Any, prim: Primitive, a: Any, b: Any) -> Tensor:
    """Record ``fn(a, b)`` for a primitive whose two arguments are both differentiable."""
    ta = type(a)
    if ta is Tensor:
        av = a._value
        ia = a._id
    elif isinstance(a, _TensorLike):
        av = a._read()
        ia = a._id
    else:
        av = a
        ia = 0
    tb = type(b)
    if tb is Tensor:
        bv = b._value
        ib = b._id
    elif isinstance(b, _TensorLike):
        bv = b._read()
        ib = b._id
    else:
        bv = b
        ib = 0
    out = fn(av, bv)
    oid = 0
    if ia or ib:
        tapes, paused, _ = STATE.ctx
        for rec in tapes:
            ids = rec.ids
            if ia in ids:
                parents = ((0, -1, ia), (1, -1, ib)) if ib in ids else ((0, -1, ia),)
            elif ib in ids:
                parents = ((1, -1, ib),)
            else:
                continue
            if not oid:
                oid = new_id()
            nodes = rec.nodes
            ids[oid] = len(nodes)
            nodes.append((prim, (av, bv), None, (a, b), parents, out, oid))
        if paused and not oid:
            oid = _mark_paused(paused, prim, [ia, ib], oid, out)
    t = _new(Tensor)  # wrap(out, oid), inlined: this is the hot path
    t._value = out
    t._id = oid
    return t


def getitem(x: _TensorLike, index: Any) -> Tensor:
    """Record ``x[index]`` (``operator.getitem``); tensors inside ``index`` are unwrapped."""
    xv = x._value if type(x) is Tensor else x._read()
    ix = x._id
    if type(index) is tuple:
        if any(isinstance(i, _TensorLike) for i in index):
            index = tuple(i._value if isinstance(i, _TensorLike) else i for i in index)
    elif isinstance(index, _TensorLike):
        index = index._value
    out = xv[index]
    if not ix:
        return wrap(out, 0)
    tapes, paused, _ = STATE.ctx
    oid = 0
    for rec in tapes:
        if ix in rec.ids:
            if not oid:
                oid = new_id()
            _record(rec, (_GETITEM, (xv, index), None, (x, index), ((0, -1, ix),), out, oid),
                    oid)
    if paused and not oid:
        oid = _mark_paused(paused, _GETITEM, [ix], oid, out)
    return wrap(out, oid)


_LOOKUP: Any = object()
_PRIMS: dict[Any, Primitive] = {}


def lookup(fn: Any) -> Primitive | None:
    """``primitive_of(fn)``, remembered once found (registry entries are stable objects that
    later registrations update in place, so a found entry never goes stale)."""
    try:
        prim = _PRIMS.get(fn)
    except TypeError:  # an unhashable callable
        return primitive_of(fn)
    if prim is None:
        prim = primitive_of(fn)
        if prim is not None:
            _PRIMS[fn] = prim
    return prim


def apply(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
          prim: Any = _LOOKUP) -> Any:
    """Call ``fn(*args, **kwargs)`` on raw values and record it on the recording tapes.

    Positional arguments may be tensors, Variables, or lists/tuples of them (sequence
    arguments such as ``np.stack``'s). ``prim`` defaults to ``fn``'s registry entry.
    Returns Tensors in place of the NumPy arrays of the result (same container).
    """
    if prim is _LOOKUP:
        prim = lookup(fn)
    if kwargs:
        for v in kwargs.values():
            if isinstance(v, _TensorLike):
                args, kwargs = _kwargs_to_positional(fn, prim, args, kwargs)
                break
    else:
        kwargs = None
    vals = []
    uids: list[tuple[int, int, int]] = []  # (argnum, element, id) of every tracked input
    for i, a in enumerate(args):
        ta = type(a)
        if ta is Tensor:
            vals.append(a._value)
            if a._id:
                uids.append((i, -1, a._id))
        elif isinstance(a, _TensorLike):
            vals.append(a._read())
            uids.append((i, -1, a._id))
        elif ta is list or ta is tuple:
            vals.append(_unwrap_sequence(a, i, uids))
        else:
            vals.append(a)
    out = fn(*vals, **kwargs) if kwargs else fn(*vals)
    differentiable = prim is not None and not prim.nondiff
    if differentiable and type(out) in _PY_SCALARS:
        out = np.asarray(out)[()]
    if not uids:
        return _wrap_out(out, 0)
    tapes, paused, _ = STATE.ctx
    multi = _is_multi(out)
    floating = any(_differentiable(v) for v in out_leaves(out)) if multi else _differentiable(out)
    if not differentiable:
        if prim is None and floating and any(u[2] in rec.ids for rec in tapes for u in uids):
            raise _no_rule(fn, uids)
        return _wrap_out(out, 0)
    if not floating:
        return _wrap_out(out, 0)
    nondiff = prim.nondiff_args
    oid: Any = 0
    node_args = None
    for rec in tapes:
        ids = rec.ids
        parents = tuple(u for u in uids if u[2] in ids and u[0] not in nondiff)
        if not parents:
            continue
        if not oid:
            oid = _new_ids(out)
            node_args = tuple(vals)
        _record(rec, (prim, node_args, kwargs, tuple(args), parents, out, oid), oid)
    if paused and not oid:
        oid = _mark_paused(paused, prim, [u[2] for u in uids], oid, out)
    return _wrap_out(out, oid)


def _unwrap_sequence(seq: Any, argnum: int, uids: list[tuple[int, Any, int]],
                     path: tuple[int, ...] = ()) -> Any:
    """Raw values of a (nested) list/tuple argument; each tracked element goes to ``uids`` as
    ``(argnum, element, id)``, ``element`` being its index (an int one level deep, a tuple of
    indices deeper): the argument's cotangent has the same nesting."""
    if not any(isinstance(e, _TensorLike) or type(e) in (list, tuple) for e in seq):
        return seq
    out = []
    for j, e in enumerate(seq):
        if isinstance(e, _TensorLike):
            out.append(e._value if type(e) is Tensor else e._read())
            if e._id:
                uids.append((argnum, (*path, j) if path else j, e._id))
        elif type(e) in (list, tuple):
            out.append(_unwrap_sequence(e, argnum, uids, (*path, j)))
        else:
            out.append(e)
    return tuple(out) if type(seq) is tuple else out


_SIGNATURES: dict[int, Any] = {}


def _kwargs_to_positional(fn: Any, prim: Any, args: tuple[Any, ...],
                          kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Move keyword arguments holding tensors to their positions (rules are per position)."""
    sig = _SIGNATURES.get(id(fn), _LOOKUP)
    if sig is _LOOKUP:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        _SIGNATURES[id(fn)] = sig
    kwargs = dict(kwargs)
    if sig is not None:
        params = list(sig.parameters.values())
        wanted = [i for i, p in enumerate(params)
                  if p.name in kwargs and isinstance(kwargs[p.name], _TensorLike)
                  and p.kind is p.POSITIONAL_OR_KEYWORD]
        if wanted:
            last = max(wanted)
            fill = list(args)
            for p in params[len(args):last + 1]:
                if p.kind is not p.POSITIONAL_OR_KEYWORD:
                    break
                if p.name in kwargs:
                    fill.append(kwargs.pop(p.name))
                elif p.default is not p.empty:
                    fill.append(p.default)
                else:
                    break
            else:
                args = tuple(fill)
    tapes = STATE.ctx[0]
    for k, v in list(kwargs.items()):
        if isinstance(v, _TensorLike):
            if v._id and any(v._id in rec.ids for rec in tapes):
                name = prim.name if prim is not None else qualified_name(fn)
                raise MissingRuleError(
                    f"{name} got the tracked tensor {k}= as a keyword-only argument; rules "
                    "are per positional argument, so pass it positionally", construct=name)
            kwargs[k] = v._value
    return args, kwargs


def _is_multi(out: Any) -> bool:
    return isinstance(out, (tuple, list))


def out_leaves(out: Any) -> list[Any]:
    """The values of a multi-output result, depth first (outputs may be nested lists)."""
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in out_leaves(item)]
    return [out]


def nest_like(out: Any, leaves: Any) -> Any:
    """``leaves`` (an iterator) arranged like ``out``, sequences as tuples: the structure of a
    multi-output primitive's cotangent."""
    if isinstance(out, (tuple, list)):
        return tuple(nest_like(item, leaves) for item in out)
    return next(leaves)


def _differentiable(v: Any) -> bool:
    dtype = getattr(v, "dtype", None)
    return dtype is not None and dtype.kind in _FLOAT_KINDS


def _new_ids(out: Any) -> Any:
    """The output id of a result: one id, or a tuple of ids (0 for integer values) over the
    leaves of a multi-output result."""
    if _is_multi(out):
        return tuple(new_id() if _differentiable(v) else 0 for v in out_leaves(out))
    return new_id()


def _wrap_out(out: Any, oid: Any) -> Any:
    """Tensors in place of the arrays of ``out`` (a value, or nested tuples/namedtuples/lists
    of values; ``oid`` is then a tuple over their leaves)."""
    if not _is_multi(out):
        return wrap(out, oid) if isinstance(out, (np.ndarray, np.generic)) else out
    ids = iter(oid) if type(oid) is tuple else None

    def build(v: Any) -> Any:
        if isinstance(v, (tuple, list)):
            items = [build(e) for e in v]
            if type(v) is list:
                return items
            return tuple(items) if type(v) is tuple else type(v)(*items)  # namedtuples too
        uid = next(ids) if ids is not None else 0
        return wrap(v, uid) if isinstance(v, (np.ndarray, np.generic)) else v

    return build(out)


def _no_rule(fn: Any, uids: list[tuple[int, int, int]]) -> MissingRuleError:
    name = qualified_name(fn)
    argnum = uids[0][0]
    return MissingRuleError(
        f"no derivative rule for {name}, and argument {argnum} is watched by a recording "
        f"GradientTape (the gradient would silently be lost); register one with "
        f"chainrule.defvjp({name}, rule) where rule(g, ans, *args) returns the cotangent of "
        "the argument, or compute it outside the tape / under tape.stop_recording()",
        construct=name)


def _ufunc_other(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
    """ufunc methods other than ``__call__`` (``reduce``, ``at``...) and ``out=``: no rules
    exist for them, so they run plainly unless a watched input would lose its gradient."""
    out_arg = kwargs.get("out")
    outs = out_arg if isinstance(out_arg, tuple) else (out_arg,)
    if any(isinstance(o, _TensorLike) for o in outs):
        raise TypeError(f"numpy.{ufunc.__name__}: a Tensor cannot be an out= argument; "
                        "tensors are immutable")
    if method == "at":
        if isinstance(inputs[0], _TensorLike):
            raise TypeError(f"numpy.{ufunc.__name__}.at: tensors are immutable")
        tapes = STATE.ctx[0]
        if any(isinstance(a, _TensorLike) and a._id and any(a._id in r.ids for r in tapes)
               for a in inputs):
            raise MissingRuleError(
                f"numpy.{ufunc.__name__}.at writes a watched tensor into a plain array in place, "
                "which a tape cannot record; build the result with chainrule.where, "
                "np.concatenate or indexing instead", construct=f"numpy.{ufunc.__name__}.at")

    def call(*vals: Any, **kw: Any) -> Any:
        return getattr(ufunc, method)(*vals, **kw)

    call.__qualname__ = f"{ufunc.__name__}.{method}"
    call.__module__ = "numpy"
    if out_arg is None or method != "__call__":
        return apply(call, inputs, kwargs, None)
    try:
        return apply(call, inputs, kwargs, None)
    except MissingRuleError:
        pass  # raised again below with what went wrong: the in-place write
    raise MissingRuleError(
        f"numpy.{ufunc.__name__}(..., out=...) would write a watched tensor into a plain "
        "array in place (as `a += t` does when `a` is a NumPy array), which a tape cannot "
        "record; write `a = a + t` instead", construct=f"numpy.{ufunc.__name__}")


# Primitives recorded by the operators (resolved once; registry entries are stable objects).
def _prim(fn: Any) -> Primitive:
    prim = primitive_of(fn)
    if prim is None:
        raise ImportError(f"chainrule.tape: the rule registry has no entry for {fn!r}")
    return prim


_ADD = _prim(operator.add)
_SUB = _prim(operator.sub)
_MUL = _prim(operator.mul)
_DIV = _prim(operator.truediv)
_POW = _prim(operator.pow)
_MOD = _prim(operator.mod)
_MATMUL = _prim(operator.matmul)
_NEG = _prim(operator.neg)
_POS = _prim(operator.pos)
_ABS = _prim(operator.abs)
_GETITEM = _prim(operator.getitem)


# tensor.py and this module need each other's names; each imports the other's at its end, so
# either may be imported first (only functions defined above use these names).
from .tensor import Tensor, _TensorLike, wrap  # noqa: E402
