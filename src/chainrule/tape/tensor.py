"""``Tensor``: an immutable NumPy value that records on the active GradientTapes.

Guarantees:

* A :class:`Tensor` wraps one NumPy value (an ``ndarray``, or a NumPy scalar for 0-d values)
  and never changes it: ``.numpy()`` returns a copy, ``np.asarray(t)`` a read-only view,
  item assignment is a ``TypeError``.
* Operators, NumPy ufuncs and NumPy functions on tensors return tensors and are recorded
  by :mod:`chainrule.tape.record` (operators as the :mod:`operator` functions the rule
  registry keys them by, so both engines share their rules). Comparisons are elementwise
  and carry no gradient, and tensors are unhashable (use ``.ref()``), as in TensorFlow 2.
* Values leaving the tape (``.numpy()``, ``float()``, ``np.asarray``) are remembered by the
  recording tapes, so an unconnected gradient can say where the path was cut. NumPy offers
  no hook for ``np.array(t)`` / ``np.asarray(t)``, nor for tensors inside a Python list
  where a function's dispatcher does not look (``np.sum([t1, t2])``): those convert through
  ``__array__`` and leave the tape; ``np.stack`` / ``chainrule.stack`` keep them on it.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..rules.registry import (
    attr_function,
    method_function,
    registered_attrs,
    registered_methods,
)

__all__ = ["Tensor", "Reference", "constant", "convert_to_tensor", "wrap"]

_new = object.__new__


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
        prim = _PRIMS.get(ufunc) or lookup(ufunc)
        if not kwargs and prim is not None and not (prim.nondiff or prim.nondiff_args):
            n = len(inputs)
            if n == 1:
                return unary(ufunc, prim, inputs[0])
            if n == 2:
                return binary(ufunc, prim, inputs[0], inputs[1])
        return apply(ufunc, inputs, kwargs, prim)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        for t in types:
            if not (issubclass(t, _TensorLike) or issubclass(t, np.ndarray)):
                return NotImplemented
        return apply(func, args, kwargs)



# NumPy's ndarray methods and attributes (``x.sum()``, ``x.reshape(2, 3)``, ``x.T``...), as
# the registry declares them with defmethod / defattr: each call is recorded as the function
# the registry maps it to (looked up at call time). They are real class attributes, not a
# ``__getattr__`` hook, which would slow down every attribute access of every tensor.
def _numpy_method(name: str) -> Any:
    def method(self: _TensorLike, *args: Any, **kwargs: Any) -> Any:
        return apply(method_function(name), (self, *args), kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"NumPy's ``ndarray.{name}``, recorded (see chainrule.defmethod)."
    return method


def _numpy_attribute(name: str) -> Any:
    def getter(self: _TensorLike) -> Any:
        return apply(attr_function(name), (self,))

    getter.__name__ = name
    return property(getter, doc=f"NumPy's ``ndarray.{name}``, recorded (chainrule.defattr).")


for _name in registered_methods():
    if not hasattr(_TensorLike, _name):
        setattr(_TensorLike, _name, _numpy_method(_name))
for _name in registered_attrs():
    if not hasattr(_TensorLike, _name):
        setattr(_TensorLike, _name, _numpy_attribute(_name))
del _name


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


# record.py and this module need each other's names; each imports the other's at its end, so
# either may be imported first (only functions and methods defined above use these names).
from .record import (  # noqa: E402
    _ABS,
    _ADD,
    _DIV,
    _MATMUL,
    _MOD,
    _MUL,
    _NEG,
    _POS,
    _POW,
    _PRIMS,
    _SUB,
    _escape,
    _ufunc_other,
    apply,
    binary,
    getitem,
    lookup,
    unary,
)
