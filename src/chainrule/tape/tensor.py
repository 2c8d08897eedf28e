"""``Tensor``: an immutable NumPy value that records on the active GradientTapes.

Guarantees:

* A :class:`Tensor` wraps one NumPy value (an ``ndarray``, or a NumPy scalar for 0-d values)
  and never changes it: ``.numpy()`` returns a copy, indexing assignment is a ``TypeError``.
* Every operation on tensors — Python operators (recorded as the :mod:`operator` functions
  the rule registry keys them by), NumPy ufuncs through ``__array_ufunc__``, NumPy functions
  through ``__array_function__`` and the TF-named ops — goes through :func:`apply`,
  :func:`binary` or :func:`unary`: the primitive runs on the raw values, and the call is
  recorded as one node on each recording tape of this thread that tracks one of its inputs.
* An output is tracked only when it is floating point (or complex); integer and boolean
  values never carry gradients, as in TensorFlow.
* A NumPy function with no rule at all runs plainly; if one of its inputs is tracked on a
  recording tape and its output is floating point, :class:`~chainrule.MissingRuleError` is
  raised instead of silently losing the gradient. Non-differentiable primitives
  (comparisons, ``argmax``...) return untracked tensors.
* The recording path allocates the output tensor, its id and the node tuple, nothing else.
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import MissingRuleError
from ..rules import primitive_of
from ..rules.registry import (
    Primitive,
    attr_function,
    defjvp,
    defvjp,
    method_function,
    qualified_name,
)
from .state import STATE, Recorder, new_id, user_location

__all__ = [
    "Tensor", "Reference", "constant", "convert_to_tensor", "cast_value",
    "apply", "binary", "unary", "getitem", "wrap",
]

_new = object.__new__
_FLOAT_KINDS = "fc"
_PY_SCALARS = (float, int, bool, complex)


class _TensorLike:
    """Operators, NumPy protocols and read-only properties shared by Tensor and Variable.

    Subclasses have the slots ``_value`` (raw NumPy value) and ``_id`` (0 when untracked) and
    implement ``_read()`` (the raw value an operation should use).
    """

    __slots__ = ()
    _value: Any
    _id: int

    def _read(self) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> int:
        return self._value.size

    def get_shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def T(self) -> Tensor:
        return apply(np.transpose, (self,))

    def reshape(self, *shape: Any) -> Tensor:
        """NumPy's ``x.reshape(2, 3)`` / ``x.reshape((2, 3))``, recorded as ``np.reshape``."""
        return apply(np.reshape, (self, shape[0] if len(shape) == 1 else shape))

    def transpose(self, *axes: Any) -> Tensor:
        """NumPy's ``x.transpose()`` / ``x.transpose(1, 0)``, recorded as ``np.transpose``."""
        if len(axes) == 1:
            axes = axes[0]
        return apply(np.transpose, (self, axes or None))

    def astype(self, dtype: Any) -> Tensor:
        """A cast to ``dtype`` (differentiable between floating dtypes), as ``chainrule.cast``."""
        return apply(cast_value, (self, np.dtype(dtype)))

    def numpy(self) -> Any:
        """The value as NumPy: a NumPy scalar for 0-d values, else a fresh array (a copy)."""
        _escape(self, ".numpy()")
        value = self._value
        if isinstance(value, np.ndarray):
            return value[()] if value.ndim == 0 else value.copy()
        return value

    # ----------------------------------------------------------- Python protocols
    def __len__(self) -> int:
        if self._value.ndim == 0:
            raise TypeError("Scalar tensor has no `len()`")
        return len(self._value)

    def __iter__(self) -> Iterator[Tensor]:
        if self._value.ndim == 0:
            raise TypeError("Cannot iterate over a scalar tensor.")
        return (self[i] for i in range(len(self._value)))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __float__(self) -> float:
        _escape(self, "float()")
        return float(self._value)

    def __int__(self) -> int:
        _escape(self, "int()")
        return int(self._value)

    def __complex__(self) -> complex:
        _escape(self, "complex()")
        return complex(self._value)

    def __index__(self) -> int:
        return operator.index(self._value)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        _escape(self, "np.asarray()")
        value = np.asarray(self._value, dtype=dtype)
        if copy:
            return value.copy()
        if value is self._value:  # hand out a read-only view: the value is immutable
            value = value.view()
            value.flags.writeable = False
        return value

    def __format__(self, spec: str) -> str:
        return format(self._value, spec) if spec else str(self)

    def __setitem__(self, index: Any, value: Any) -> None:
        raise TypeError(
            f"'{type(self).__name__}' object does not support item assignment; tensors are "
            "immutable (build a new one, e.g. with chainrule.where or concat)")

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: NumPy-style methods and attributes
        # (x.sum(), x.reshape(...), x.real...) declared with defmethod / defattr.
        if name.startswith("__") or name in ("_value", "_id"):
            raise AttributeError(name)
        fn = method_function(name) or _METHOD_FALLBACK.get(name)
        if fn is not None:
            this = self

            def method(*args: Any, **kwargs: Any) -> Any:
                return apply(fn, (this, *args), kwargs)

            method.__name__ = name
            return method
        fn = attr_function(name)
        if fn is not None:
            return apply(fn, (self,))
        raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}")

    # --------------------------------------------------------------- operators
    def __add__(self, other: Any) -> Tensor:
        return binary(operator.add, _ADD, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return binary(operator.add, _ADD, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return binary(operator.sub, _SUB, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return binary(operator.sub, _SUB, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return binary(operator.mul, _MUL, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return binary(operator.mul, _MUL, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return binary(operator.truediv, _DIV, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return binary(operator.truediv, _DIV, other, self)

    def __pow__(self, other: Any) -> Tensor:
        return binary(operator.pow, _POW, self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return binary(operator.pow, _POW, other, self)

    def __mod__(self, other: Any) -> Tensor:
        return binary(operator.mod, _MOD, self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return binary(operator.mod, _MOD, other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return binary(operator.matmul, _MATMUL, self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return binary(operator.matmul, _MATMUL, other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return apply(operator.floordiv, (self, other))

    def __rfloordiv__(self, other: Any) -> Tensor:
        return apply(operator.floordiv, (other, self))

    def __neg__(self) -> Tensor:
        return unary(operator.neg, _NEG, self)

    def __pos__(self) -> Tensor:
        return unary(operator.pos, _POS, self)

    def __abs__(self) -> Tensor:
        return unary(operator.abs, _ABS, self)

    def __getitem__(self, index: Any) -> Tensor:
        return getitem(self, index)

    # Comparisons and bitwise operators are elementwise and carry no gradient (TF 2).
    def __lt__(self, other: Any) -> Tensor:
        return apply(operator.lt, (self, other))

    def __le__(self, other: Any) -> Tensor:
        return apply(operator.le, (self, other))

    def __gt__(self, other: Any) -> Tensor:
        return apply(operator.gt, (self, other))

    def __ge__(self, other: Any) -> Tensor:
        return apply(operator.ge, (self, other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return apply(operator.eq, (self, other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return apply(operator.ne, (self, other))

    __hash__ = None  # type: ignore[assignment]  # elementwise ==, as tf.Tensor: use .ref()

    def __and__(self, other: Any) -> Tensor:
        return apply(operator.and_, (self, other))

    def __rand__(self, other: Any) -> Tensor:
        return apply(operator.and_, (other, self))

    def __or__(self, other: Any) -> Tensor:
        return apply(operator.or_, (self, other))

    def __ror__(self, other: Any) -> Tensor:
        return apply(operator.or_, (other, self))

    def __xor__(self, other: Any) -> Tensor:
        return apply(operator.xor, (self, other))

    def __rxor__(self, other: Any) -> Tensor:
        return apply(operator.xor, (other, self))

    def __invert__(self) -> Tensor:
        return apply(operator.invert, (self,))

    def ref(self) -> Reference:
        """A hashable reference to this object (``tf.Tensor.ref``), usable as a dict key."""
        return Reference(self)

    # ----------------------------------------------------------- NumPy protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or "out" in kwargs:
            return _ufunc_other(ufunc, method, inputs, kwargs)
        prim = primitive_of(ufunc)
        if prim is not None and not kwargs and not prim.nondiff and not prim.nondiff_args:
            if len(inputs) == 1:
                return unary(ufunc, prim, inputs[0])
            if len(inputs) == 2:
                return binary(ufunc, prim, inputs[0], inputs[1])
        return apply(ufunc, inputs, kwargs, prim)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        for t in types:
            if not (issubclass(t, _TensorLike) or issubclass(t, np.ndarray)):
                return NotImplemented
        return apply(func, args, kwargs)


class Tensor(_TensorLike):
    """An immutable value wrapping a NumPy array, recorded by :class:`GradientTape`.

    Create one with :func:`chainrule.constant` (or ``Tensor(value, dtype=None)``, the same).
    Python floats become float64 (NumPy's default). Operators, NumPy functions
    (``np.sin(x)``, ``np.sum(x * w)``, ``x @ w``) and the TF-named ops all work on tensors and
    return tensors.
    """

    __slots__ = ("_value", "_id")

    def __init__(self, value: Any, dtype: Any = None) -> None:
        self._value = _as_value(value, dtype)
        self._id = 0

    def _read(self) -> Any:
        return self._value

    def _as_tensor(self) -> Tensor:
        return self

    def __repr__(self) -> str:
        body = str(np.asarray(self._value))
        if "\n" in body:
            body = "\n" + body
        return f"Tensor({body}, shape={self._value.shape}, dtype={self._value.dtype.name})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        return (Tensor, (self._value,))


class Reference:
    """Hashable identity reference to a Tensor or Variable (``x.ref()``); ``.deref()`` it."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def deref(self) -> Any:
        return self._obj

    def __hash__(self) -> int:
        return id(self._obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reference) and other._obj is self._obj

    def __repr__(self) -> str:
        return f"<Reference to {self._obj!r}>"


def wrap(value: Any, uid: int) -> Tensor:
    """A Tensor around a raw NumPy ``value`` with tape id ``uid`` (0: untracked). No copy."""
    t = _new(Tensor)
    t._value = value
    t._id = uid
    return t


def _as_value(value: Any, dtype: Any) -> Any:
    """A private NumPy copy of ``value``: an array, or a NumPy scalar for 0-d values."""
    if isinstance(value, _TensorLike):
        value = value._value
    array = np.array(value, dtype=dtype)
    return array[()] if array.ndim == 0 else array


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str | None = None) -> Tensor:
    """A new untracked Tensor holding a copy of ``value`` (``tf.constant``).

    ``dtype`` is honoured (Python floats default to float64); ``shape`` broadcasts a scalar or
    reshapes a value of the same size. A Tensor argument is returned as is (a ``TypeError`` if
    ``dtype`` asks for another dtype, as TensorFlow).
    """
    del name
    if type(value) is Tensor and shape is None:
        if dtype is not None and np.dtype(dtype) != value.dtype:
            raise TypeError(f"constant: expected dtype {np.dtype(dtype).name}, got a Tensor "
                            f"of dtype {value.dtype.name}; use chainrule.cast")
        return value
    v = _as_value(value, dtype)
    if shape is not None:
        shape = tuple(shape) if not isinstance(shape, int) else (shape,)
        v = np.broadcast_to(v, shape).copy() if np.size(v) == 1 else np.reshape(v, shape).copy()
        v = v[()] if v.ndim == 0 else v
    return wrap(v, 0)


def convert_to_tensor(value: Any, dtype: Any = None) -> Tensor:
    """``value`` as a Tensor: Tensors as they are, Variables read (the read is recorded),
    anything else copied into a new constant. A dtype mismatch with a Tensor is a
    ``ValueError``, as ``tf.convert_to_tensor``."""
    if isinstance(value, _TensorLike):
        t = value._as_tensor()  # type: ignore[attr-defined]
        if dtype is not None and np.dtype(dtype) != t.dtype:
            raise ValueError(f"Tensor conversion requested dtype {np.dtype(dtype).name} for "
                             f"Tensor with dtype {t.dtype.name}")
        return t
    return wrap(_as_value(value, dtype), 0)


# =========================================================================== recording

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
                oid = tuple(new_id() for _ in out) if _is_multi(out) else new_id()
            where = where or user_location()
            name = prim.name if isinstance(prim, Primitive) else qualified_name(prim)
            for o in (oid if type(oid) is tuple else (oid,)):
                rec.paused_ids[o] = (name, where)
    return oid


def unary(fn: Any, prim: Primitive, a: Any) -> Tensor:
    """Record ``fn(a)`` for a primitive whose only argument is differentiable."""
    if type(a) is Tensor:
        av = a._value
        ia = a._id
    else:  # a Variable: operators are only called with a tensor-like ``a``
        av = a._read()
        ia = a._id
    out = fn(av)
    if not ia:
        return wrap(out, 0)
    tapes, paused, _ = STATE.ctx
    oid = 0
    for rec in tapes:
        if ia in rec.ids:
            if not oid:
                oid = new_id()
            _record(rec, (prim, (av,), None, (a,), ((0, -1, ia),), out, oid), oid)
    if paused:
        oid = _mark_paused(paused, prim, [ia], oid, out) if not oid else oid
    return wrap(out, oid)


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
    if not (ia or ib):
        return wrap(out, 0)
    tapes, paused, _ = STATE.ctx
    oid = 0
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
        _record(rec, (prim, (av, bv), None, (a, b), parents, out, oid), oid)
    if paused and not oid:
        oid = _mark_paused(paused, prim, [ia, ib], oid, out)
    return wrap(out, oid)


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


def apply(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None,
          prim: Any = _LOOKUP) -> Any:
    """Call ``fn(*args, **kwargs)`` on raw values and record it on the recording tapes.

    Positional arguments may be tensors, Variables, or lists/tuples of them (sequence
    arguments such as ``np.stack``'s). ``prim`` defaults to ``fn``'s registry entry.
    Returns Tensors in place of the NumPy arrays of the result (same container).
    """
    if prim is _LOOKUP:
        prim = primitive_of(fn)
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
    floating = _any_differentiable(out) if multi else _differentiable(out)
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
            oid = tuple(new_id() if _differentiable(o) else 0 for o in out) if multi else new_id()
            node_args = tuple(vals)
        _record(rec, (prim, node_args, kwargs, tuple(args), parents, out, oid), oid)
    if paused and not oid:
        oid = _mark_paused(paused, prim, [u[2] for u in uids], oid, out)
    return _wrap_out(out, oid)


def _unwrap_sequence(seq: Any, argnum: int, uids: list[tuple[int, int, int]]) -> Any:
    """Raw values of a list/tuple argument; tracked elements go to ``uids``."""
    if not any(isinstance(e, _TensorLike) or type(e) in (list, tuple) for e in seq):
        return seq
    out = []
    for j, e in enumerate(seq):
        if type(e) is Tensor:
            out.append(e._value)
            if e._id:
                uids.append((argnum, j, e._id))
        elif isinstance(e, _TensorLike):
            out.append(e._read())
            uids.append((argnum, j, e._id))
        elif type(e) in (list, tuple):
            out.append(_unwrap_nested(e))
        else:
            out.append(e)
    return type(seq)(out) if type(seq) is tuple else out


def _unwrap_nested(seq: Any) -> Any:
    """Values of a sequence nested two levels deep (no gradient flows there)."""
    out = []
    for e in seq:
        if isinstance(e, _TensorLike):
            if e._id and any(e._id in rec.ids for rec in STATE.ctx[0]):
                raise MissingRuleError(
                    "a tracked tensor is nested two sequences deep in an argument; gradients "
                    "only flow through tensors that are arguments or elements of a list/tuple "
                    "argument (stack or concat the inner lists first)")
            out.append(e._value)
        elif type(e) in (list, tuple):
            out.append(_unwrap_nested(e))
        else:
            out.append(e)
    return type(seq)(out) if type(seq) is tuple else out


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


def _differentiable(v: Any) -> bool:
    dtype = getattr(v, "dtype", None)
    return dtype is not None and dtype.kind in _FLOAT_KINDS


def _any_differentiable(out: Any) -> bool:
    return any(_differentiable(o) for o in out)


def _wrap_one(v: Any, uid: int) -> Any:
    if isinstance(v, (np.ndarray, np.generic)):
        return wrap(v, uid)
    return v


def _wrap_out(out: Any, oid: Any) -> Any:
    """Tensors in place of the arrays of ``out`` (a value, or a tuple/namedtuple/list)."""
    if isinstance(out, (np.ndarray, np.generic)):
        return wrap(out, oid)
    if isinstance(out, (tuple, list)):
        ids = oid if type(oid) is tuple else (0,) * len(out)
        items = [_wrap_one(v, i) for v, i in zip(out, ids)]
        if type(out) is list:
            return items
        if type(out) is tuple:
            return tuple(items)
        return type(out)(*items)  # a namedtuple such as EighResult
    return out


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
    if method == "at" and isinstance(inputs[0], _TensorLike):
        raise TypeError(f"numpy.{ufunc.__name__}.at: tensors are immutable")

    def call(*vals: Any, **kw: Any) -> Any:
        return getattr(ufunc, method)(*vals, **kw)

    call.__qualname__ = f"{ufunc.__name__}.{method}"
    call.__module__ = "numpy"
    return apply(call, inputs, kwargs, None)


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

# NumPy-style methods used when the registry declares none (defmethod takes precedence).
_METHOD_FALLBACK: dict[str, Any] = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "prod": np.prod,
    "reshape": np.reshape, "transpose": np.transpose, "dot": np.dot, "clip": np.clip,
    "ravel": np.ravel, "squeeze": np.squeeze, "swapaxes": np.swapaxes, "std": np.std,
    "var": np.var, "cumsum": np.cumsum, "argmax": np.argmax, "argmin": np.argmin,
    "round": np.round, "conj": np.conj, "trace": np.trace, "diagonal": np.diagonal,
}


def cast_value(x: Any, dtype: Any) -> Any:
    """The primitive behind ``chainrule.cast`` / ``Tensor.astype``: ``x`` as ``dtype``.

    Differentiable between floating dtypes (the cotangent is cast back); a cast to an integer
    or boolean dtype ends the gradient, because such outputs are never tracked.
    """
    out = np.asarray(x).astype(dtype)
    return out[()] if out.ndim == 0 else out


defvjp(cast_value, lambda g, ans, x, dtype: g.astype(x.dtype), None, name="chainrule.cast")
defjvp(cast_value, lambda g, ans, x, dtype: g.astype(dtype), None, name="chainrule.cast")
