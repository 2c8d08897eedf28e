"""The runtime of generated code: the only chainrule module generated code imports.

Guarantees:

* Pure NumPy, no other import: ``chainrule.source(fn, standalone=True)`` copies this file's
  helper functions into the exported module, so exported gradients run without chainrule.
* Every helper is written with ``np.*`` calls only, so it also runs on
  :class:`chainrule.Tensor` values (NumPy dispatches to the tape) and can itself be
  differentiated: each helper has VJP and JVP rules in :mod:`chainrule.rules.runtime_rules`.
* Helpers never mutate their inputs.
"""

import numpy as np

__all__ = [
    "unbroadcast",
    "broadcast_like",
    "zeros_like",
    "ones_like",
    "expand_reduced",
    "getitem_adjoint",
    "setitem_value",
    "list_adjoint",
    "seq_item_adjoint",
    "add_grad",
    "matmul_adjoint_x",
    "matmul_adjoint_y",
    "add_at",
    "zero_at",
    "stored_item_adjoint",
    "grad_item",
    "pop_grad",
    "snapshot",
    "finalize",
    "scalar_seed",
]

_SCALAR_TYPES = (float, int, complex)


def unbroadcast(g, x):
    """Sum ``g`` over the axes NumPy broadcasting added or stretched to reach ``x``'s shape."""
    if type(x) in _SCALAR_TYPES:
        if type(g) in _SCALAR_TYPES:
            return g
        return np.sum(g)
    shape = np.shape(x)
    gshape = np.shape(g)
    if gshape == shape:
        return g
    extra = len(gshape) - len(shape)
    if extra > 0:
        g = np.sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(g)[i] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if np.shape(g) != shape:
        g = np.reshape(g, shape)
    return g


def broadcast_like(t, ans):
    """Broadcast a tangent ``t`` to the shape of the primal output ``ans``."""
    shape = np.shape(ans)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape)


def zeros_like(x):
    """A zero with the structure of ``x``: ``0.0`` for Python numbers and ``None``, arrays of
    zeros, lists of zeros."""
    if type(x) in _SCALAR_TYPES or x is None:
        return 0.0
    if type(x) is list:
        return [zeros_like(e) for e in x]
    if type(x) is tuple:
        return tuple(zeros_like(e) for e in x)
    return np.zeros_like(x, dtype=np.result_type(x, 1.0))


def ones_like(x):
    """A one with the shape of ``x`` (the seed of reverse mode)."""
    if type(x) in _SCALAR_TYPES:
        return 1.0
    return np.ones_like(x, dtype=np.result_type(x, 1.0))


def expand_reduced(g, x, axis=None, keepdims=False):
    """Undo a reduction over ``axis``: broadcast ``g`` back to ``x``'s shape."""
    shape = np.shape(x)
    if not keepdims and axis is not None and shape:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(sorted(a % len(shape) for a in axes))
        for a in axes:
            g = np.expand_dims(g, a)
    return np.broadcast_to(g, shape)


def getitem_adjoint(g, x, index):
    """The cotangent of ``x`` for ``y = x[index]``: zeros with ``g`` added at ``index``."""
    if type(x) is list or type(x) is tuple:
        out = [None] * len(x)
        out[index] = g
        return out
    out = np.zeros(np.shape(x), dtype=np.result_type(x, g, 1.0))
    np.add.at(out, index, g)
    return out


def setitem_value(x, index, value):
    """``x`` with ``x[index] = value``, as a new array (the functional form of item assignment)."""
    out = np.array(x, dtype=np.result_type(x, value), copy=True)
    out[index] = value
    return out


def list_adjoint(x):
    """A fresh list of ``None`` cotangents, one per element of the list ``x``."""
    return [None] * len(x)


def seq_item_adjoint(b, x, index, g):
    """Accumulate ``g`` into the cotangent list ``b`` (or a new one) at ``index``; returns it."""
    if b is None:
        b = [None] * len(x)
    b[index] = g if b[index] is None else b[index] + g
    return b


def add_grad(a, b):
    """Sum of two cotangents where ``None`` means zero (lists add elementwise)."""
    if a is None:
        return b
    if b is None:
        return a
    if type(a) is list:
        return [add_grad(p, q) for p, q in zip(a, b)]
    if type(a) is tuple:
        return tuple(add_grad(p, q) for p, q in zip(a, b))
    return a + b


def _sum_leading(a, ndim):
    """Sum ``a`` over its leading axes until ``ndim`` axes remain."""
    extra = np.ndim(a) - ndim
    return np.sum(a, axis=tuple(range(extra))) if extra > 0 else a


def matmul_adjoint_x(g, x, y):
    """Cotangent of ``x`` for ``x @ y`` (any of NumPy's 1-D, 2-D and stacked cases)."""
    xn, yn = np.ndim(x), np.ndim(y)
    if xn == 2 and yn == 2:
        return g @ np.transpose(y)
    if xn == 1 and yn == 1:
        return g * y
    if yn == 1:
        return unbroadcast(np.expand_dims(g, -1) * y, x)
    if xn == 1:
        return _sum_leading(np.squeeze(y @ np.expand_dims(g, -1), -1), 1)
    return unbroadcast(g @ np.swapaxes(y, -1, -2), x)


def matmul_adjoint_y(g, x, y):
    """Cotangent of ``y`` for ``x @ y`` (any of NumPy's 1-D, 2-D and stacked cases)."""
    xn, yn = np.ndim(x), np.ndim(y)
    if xn == 2 and yn == 2:
        return np.transpose(x) @ g
    if xn == 1 and yn == 1:
        return g * x
    if xn == 1:
        return unbroadcast(np.expand_dims(x, -1) * np.expand_dims(g, -2), y)
    if yn == 1:
        return _sum_leading(np.squeeze(np.expand_dims(g, -2) @ x, -2), 1)
    return unbroadcast(np.swapaxes(x, -1, -2) @ g, y)


def add_at(b, index, g):
    """``b`` plus ``g`` scattered at ``index``, as a new value (lists: ``None`` means zero)."""
    if type(b) is list or type(b) is tuple:
        out = list(b)
        out[index] = g if out[index] is None else out[index] + g
        return out
    out = np.array(b, dtype=np.result_type(b, g, 1.0), copy=True)
    np.add.at(out, index, g)
    return out


def zero_at(b, index):
    """``b`` with the entries at ``index`` set to zero, as a new value."""
    if type(b) is list:
        out = list(b)
        out[index] = None
        return out
    out = np.array(b, copy=True)
    out[index] = 0
    return out


def stored_item_adjoint(b, index, v):
    """Cotangent of ``v`` for ``a[index] = v``, given the cotangent ``b`` of ``a``."""
    g = b[index]
    if g is None:
        return zeros_like(v)
    return unbroadcast(g, v)


def grad_item(b, index, like):
    """``b[index]``, or a zero shaped like ``like`` when that cotangent is ``None``."""
    if b is None:
        return zeros_like(like)
    g = b[index]
    return zeros_like(like) if g is None else g


def pop_grad(b, like):
    """Pop the cotangent of the last appended element (zero when it has none)."""
    g = b.pop()
    return zeros_like(like) if g is None else g


def snapshot(v):
    """A copy of an array or list (they get modified in place); other values as they are."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if type(v) is list:
        return list(v)
    return v


def finalize(b, x):
    """A cotangent ready to return: ``None`` entries become zeros shaped like ``x``."""
    if b is None:
        return zeros_like(x)
    if type(b) is list:
        return [finalize(p, q) for p, q in zip(b, x)]
    if type(b) is tuple:
        return tuple(finalize(p, q) for p, q in zip(b, x))
    return b


def scalar_seed(y, name="the function"):
    """The seed ``1.0`` of reverse mode, after checking that ``y`` is a scalar."""
    if np.ndim(y) != 0 or isinstance(y, (list, tuple)):
        raise ValueError(
            f"grad requires {name} to return a scalar (a Python number or a 0-d array), "
            f"but it returned a value of shape {np.shape(y)}; use chainrule.vjp for "
            "non-scalar outputs or chainrule.elementwise_grad for elementwise functions"
        )
    return 1.0
