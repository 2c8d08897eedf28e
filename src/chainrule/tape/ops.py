"""TensorFlow-named operations over NumPy (``chainrule.square``, ``chainrule.reduce_sum``...).

Guarantees:

* Each op takes Tensors, Variables, NumPy arrays, Python numbers or (nested) lists, and
  returns a Tensor, like its ``tf.*`` namesake. Differences from TensorFlow follow NumPy:
  Python floats are float64, integers int64, and dtypes promote instead of raising.
* Each op is recorded as the NumPy function or :mod:`operator` function with the same
  meaning, so its derivative comes from the shared rule library (``reduce_sum`` is
  ``np.sum``, ``multiply`` is ``operator.mul``, ``cast`` is ``chainrule.runtime.astype``...).
  ``sigmoid`` is a primitive of its own, with its rules registered here.
* Creation ops (``ones``, ``zeros``, ``*_like``, ``range``) and ``stop_gradient`` return
  untracked tensors.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from ..rules.registry import defjvp, defvjp
from ..runtime import astype
from .record import apply
from .tensor import Tensor, _TensorLike, wrap

__all__ = [
    "square", "pow", "multiply", "add", "subtract", "divide", "negative", "abs", "sqrt",
    "exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "maximum", "minimum", "where",
    "matmul", "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
    "reshape", "transpose", "concat", "stack", "cast", "ones", "zeros", "ones_like",
    "zeros_like", "linspace", "range", "clip_by_value", "stop_gradient", "sigmoid_value",
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "complex64", "complex128",
]

# dtypes under their TensorFlow names (cr.float32 is np.float32).
float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64, uint8 = np.int8, np.int16, np.int32, np.int64, np.uint8
complex64, complex128 = np.complex64, np.complex128


def _t(x: Any) -> Any:
    """A TF op's argument: lists and tuples become arrays (stacked when they hold tensors)."""
    if type(x) in (list, tuple):
        if any(isinstance(e, (_TensorLike, list, tuple)) for e in x):
            return apply(np.stack, ([_t(e) for e in x],))
        return np.asarray(x)
    return x


def _axis(axis: Any) -> Any:
    if isinstance(axis, _TensorLike):
        axis = axis._value
    if isinstance(axis, (list, tuple, np.ndarray)):
        return tuple(int(a) for a in np.ravel(axis))
    return None if axis is None else int(axis)


# ------------------------------------------------------------------------ arithmetic

def add(x: Any, y: Any) -> Tensor:
    """``x + y`` (``operator.add``)."""
    return apply(operator.add, (_t(x), _t(y)))


def subtract(x: Any, y: Any) -> Tensor:
    """``x - y`` (``operator.sub``)."""
    return apply(operator.sub, (_t(x), _t(y)))


def multiply(x: Any, y: Any) -> Tensor:
    """``x * y`` (``operator.mul``)."""
    return apply(operator.mul, (_t(x), _t(y)))


def divide(x: Any, y: Any) -> Tensor:
    """``x / y`` (``operator.truediv``)."""
    return apply(operator.truediv, (_t(x), _t(y)))


def pow(x: Any, y: Any) -> Tensor:
    """``x ** y`` (``operator.pow``)."""
    return apply(operator.pow, (_t(x), _t(y)))


def negative(x: Any) -> Tensor:
    """``-x`` (``operator.neg``)."""
    return apply(operator.neg, (_t(x),))


def abs(x: Any) -> Tensor:
    """``|x|`` (``operator.abs``)."""
    return apply(operator.abs, (_t(x),))


def square(x: Any) -> Tensor:
    """``x ** 2`` (``np.square``)."""
    return apply(np.square, (_t(x),))


def sqrt(x: Any) -> Tensor:
    return apply(np.sqrt, (_t(x),))


def exp(x: Any) -> Tensor:
    return apply(np.exp, (_t(x),))


def log(x: Any) -> Tensor:
    """Natural logarithm (``np.log``)."""
    return apply(np.log, (_t(x),))


def sin(x: Any) -> Tensor:
    return apply(np.sin, (_t(x),))


def cos(x: Any) -> Tensor:
    return apply(np.cos, (_t(x),))


def tan(x: Any) -> Tensor:
    return apply(np.tan, (_t(x),))


def tanh(x: Any) -> Tensor:
    return apply(np.tanh, (_t(x),))


def sigmoid_value(x: Any) -> Any:
    """The primitive behind :func:`sigmoid`: ``1 / (1 + exp(-x))`` without overflow."""
    return np.exp(-np.logaddexp(0, -x))


defvjp(sigmoid_value, lambda g, ans, x: g * ans * (1 - ans), name="chainrule.sigmoid")
defjvp(sigmoid_value, lambda g, ans, x: g * ans * (1 - ans), name="chainrule.sigmoid")


def sigmoid(x: Any) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``."""
    return apply(sigmoid_value, (_t(x),))


def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise maximum (``np.maximum``)."""
    return apply(np.maximum, (_t(x), _t(y)))


def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise minimum (``np.minimum``)."""
    return apply(np.minimum, (_t(x), _t(y)))


def where(condition: Any, x: Any = None, y: Any = None) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (``np.where``); with ``condition`` only,
    the indices of its true elements, shape ``(n, ndim)`` (``np.argwhere``)."""
    if x is None and y is None:
        return apply(np.argwhere, (_t(condition),))
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    return apply(np.where, (_t(condition), _t(x), _t(y)))


def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False) -> Tensor:
    """Matrix product ``a @ b`` (``operator.matmul``), optionally transposing the last two
    axes of either operand first."""
    a, b = _t(a), _t(b)
    if transpose_a:
        a = apply(np.swapaxes, (a, -1, -2))
    if transpose_b:
        b = apply(np.swapaxes, (b, -1, -2))
    return apply(operator.matmul, (a, b))


# ------------------------------------------------------------------------ reductions

def reduce_sum(input_tensor: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes by default), as ``np.sum``."""
    return apply(np.sum, (_t(input_tensor),), {"axis": _axis(axis), "keepdims": keepdims})


def reduce_mean(input_tensor: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes by default), as ``np.mean``."""
    return apply(np.mean, (_t(input_tensor),), {"axis": _axis(axis), "keepdims": keepdims})


def reduce_max(input_tensor: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``, as ``np.max``."""
    return apply(np.max, (_t(input_tensor),), {"axis": _axis(axis), "keepdims": keepdims})


def reduce_min(input_tensor: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``, as ``np.min``."""
    return apply(np.min, (_t(input_tensor),), {"axis": _axis(axis), "keepdims": keepdims})


def reduce_prod(input_tensor: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Product over ``axis``, as ``np.prod``."""
    return apply(np.prod, (_t(input_tensor),), {"axis": _axis(axis), "keepdims": keepdims})


# ------------------------------------------------------------------------ shapes

def reshape(tensor: Any, shape: Any) -> Tensor:
    """``tensor`` with a new shape (``-1`` infers one axis), as ``np.reshape``."""
    if isinstance(shape, _TensorLike):
        shape = shape._value
    return apply(np.reshape, (_t(tensor), tuple(int(s) for s in np.ravel(shape))))


def transpose(a: Any, perm: Any = None) -> Tensor:
    """Axes permuted by ``perm`` (reversed by default), as ``np.transpose``."""
    return apply(np.transpose, (_t(a), _axis(perm) if perm is not None else None))


def concat(values: Any, axis: int) -> Tensor:
    """Join tensors along an existing axis (``np.concatenate``)."""
    return apply(np.concatenate, ([_t(v) for v in values],), {"axis": int(axis)})


def stack(values: Any, axis: int = 0) -> Tensor:
    """Join tensors along a new axis (``np.stack``)."""
    return apply(np.stack, ([_t(v) for v in values],), {"axis": int(axis)})


def cast(x: Any, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``; differentiable between floating dtypes, and a cast to an
    integer or boolean dtype stops the gradient (as TensorFlow)."""
    if not isinstance(x, (_TensorLike, np.ndarray, np.generic)):
        x = np.asarray(x)
    return apply(astype, (x, np.dtype(dtype)))


# ------------------------------------------------------------------------ creation

def ones(shape: Any, dtype: Any = np.float64) -> Tensor:
    """A tensor of ones (float64 by default)."""
    return wrap(_scalar_or_array(np.ones(shape, dtype=dtype)), 0)


def zeros(shape: Any, dtype: Any = np.float64) -> Tensor:
    """A tensor of zeros (float64 by default)."""
    return wrap(_scalar_or_array(np.zeros(shape, dtype=dtype)), 0)


def ones_like(input: Any, dtype: Any = None) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``input``; untracked."""
    value = input._value if isinstance(input, _TensorLike) else np.asarray(input)
    return wrap(_scalar_or_array(np.ones_like(value, dtype=dtype)), 0)


def zeros_like(input: Any, dtype: Any = None) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``input``; untracked."""
    value = input._value if isinstance(input, _TensorLike) else np.asarray(input)
    return wrap(_scalar_or_array(np.zeros_like(value, dtype=dtype)), 0)


def linspace(start: Any, stop: Any, num: int, axis: int = 0) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive (``np.linspace``)."""
    return apply(np.linspace, (_t(start), _t(stop), int(num)), {"axis": axis})


def range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None) -> Tensor:
    """``start, start + delta, ...`` up to ``limit`` exclusive (``range(n)`` counts from 0),
    as ``np.arange``; untracked."""
    start, limit, delta = (x._value if isinstance(x, _TensorLike) else x
                           for x in (start, limit, delta))
    if limit is None:
        start, limit = 0, start
    return wrap(np.arange(start, limit, delta, dtype=dtype), 0)


def clip_by_value(t: Any, clip_value_min: Any, clip_value_max: Any) -> Tensor:
    """``t`` clipped to ``[clip_value_min, clip_value_max]`` (``np.clip``)."""
    return apply(np.clip, (_t(t), _t(clip_value_min), _t(clip_value_max)))


def stop_gradient(input: Any) -> Tensor:
    """The same value, untracked: no gradient flows through it."""
    if isinstance(input, _TensorLike):
        value = input._read() if type(input) is not Tensor else input._value
        return wrap(value, 0)
    return wrap(_scalar_or_array(np.array(input)), 0)


def _scalar_or_array(a: np.ndarray) -> Any:
    return a[()] if a.ndim == 0 else a

