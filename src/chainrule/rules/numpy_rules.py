"""Rules for NumPy's array functions and ufuncs (``np.linalg`` and ``np.fft`` live in
:mod:`.linalg_rules` and :mod:`.fft_rules`), and the ndarray method/attribute mappings.

Guarantees:

* Every differentiable function here has a VJP *and* a JVP rule for each argument that
  carries a gradient, checked against central finite differences in float64 by
  ``tests/test_rules.py`` (one row per primitive in ``tests/rule_cases.py``).
* Rule parameters mirror the NumPy signature by name and default, so the engines bind a
  user's positional and keyword arguments to them.
* Broadcasting functions are registered with ``broadcasts=True`` (binary ufuncs by default);
  their rules never undo broadcasting themselves.
* Rule bodies use only their parameters, ``np``, builtins and :mod:`chainrule.runtime`
  helpers, and only ``np.*`` calls and operators, so they can be inlined into generated code
  and run on :class:`chainrule.Tensor` values.
* Derivatives at non-differentiable points (``abs`` at 0, ties of ``max``, ``sort`` or
  ``clip`` at a bound) are a subgradient: the one the formula gives.

Not covered (the rules raise or the engines reject the keyword): ``where=``/``initial=`` of
reductions, ``np.average(..., returned=True)``, ``prepend``/``append`` of ``np.diff``, the
reverse mode of non-constant ``np.pad`` modes, ``np.einsum`` in sublist form, and derivatives
of ``prod``/``cumprod`` at zero entries.

Conventions: a list argument (``np.concatenate``'s ``arrays``) has a list cotangent; a
multi-output function (the ``np.split`` family) receives a tuple ``g`` in reverse mode and
returns a tuple of output tangents in forward mode.
"""

import numpy as np

from ..runtime import (
    along_axis_index,
    astype,
    diagonal_adjoint,
    diff_adjoint,
    dot_axes,
    einsum_adjoint_extras,
    einsum_adjoint_spec,
    expand_reduced,
    extremum_mask,
    getitem_adjoint,
    inverse_axes,
    join_like,
    kron_adjoint_a,
    kron_adjoint_b,
    matmul_adjoint_x,
    matmul_adjoint_y,
    nested_stack,
    nested_unstack,
    pad_slices,
    repeat_adjoint,
    reshape_method,
    split_like,
    take_index,
    tensordot_adjoint_a,
    tensordot_adjoint_b,
    tile_adjoint,
    transpose_method,
    unbroadcast,
    unstack,
    weights_like,
)
from .registry import defattr, defjvp, defmethod, defvjp, nondifferentiable


def _both(fn, *rules, **options):
    """Register the same rules for reverse and forward mode (valid when each rule is linear
    in ``g`` and the function's derivative is self-adjoint elementwise, i.e. ``g * f'(x)``)."""
    defvjp(fn, *rules, **options)
    defjvp(fn, *rules, **options)


# --------------------------------------------------------------------------- unary elementwise
# d f(x) = f'(x) dx elementwise, so the VJP and JVP are the same formula ``g * f'(x)``.

_both(np.sin, lambda g, ans, x: g * np.cos(x))
_both(np.cos, lambda g, ans, x: -g * np.sin(x))
_both(np.tan, lambda g, ans, x: g * (1 + ans**2))
_both(np.arcsin, lambda g, ans, x: g / np.sqrt(1 - x**2))
_both(np.arccos, lambda g, ans, x: -g / np.sqrt(1 - x**2))
_both(np.arctan, lambda g, ans, x: g / (1 + x**2))
_both(np.sinh, lambda g, ans, x: g * np.cosh(x))
_both(np.cosh, lambda g, ans, x: g * np.sinh(x))
_both(np.tanh, lambda g, ans, x: g * (1 - ans**2))
_both(np.arcsinh, lambda g, ans, x: g / np.sqrt(x**2 + 1))
_both(np.arccosh, lambda g, ans, x: g / np.sqrt(x**2 - 1))
_both(np.arctanh, lambda g, ans, x: g / (1 - x**2))
_both(np.exp, lambda g, ans, x: g * ans)
_both(np.exp2, lambda g, ans, x: g * ans * np.log(2))
_both(np.expm1, lambda g, ans, x: g * (ans + 1))
_both(np.log, lambda g, ans, x: g / x)
_both(np.log2, lambda g, ans, x: g / (x * np.log(2)))
_both(np.log10, lambda g, ans, x: g / (x * np.log(10)))
_both(np.log1p, lambda g, ans, x: g / (1 + x))
_both(np.sqrt, lambda g, ans, x: g / (2 * ans))
_both(np.cbrt, lambda g, ans, x: g / (3 * ans**2))
_both(np.square, lambda g, ans, x: 2 * g * x)
_both(np.reciprocal, lambda g, ans, x: -g * ans**2)
_both(
    np.sinc,
    lambda g, ans, x: g * np.where(  # at 0: the Taylor term, exact to second order
        x == 0, -(np.pi**2) * x / 3, (np.cos(np.pi * x) - ans) / np.where(x == 0, 1, x)
    ),
)
_both(np.deg2rad, lambda g, ans, x: g * (np.pi / 180))
_both(np.radians, lambda g, ans, x: g * (np.pi / 180))
_both(np.rad2deg, lambda g, ans, x: g * (180 / np.pi))
_both(np.degrees, lambda g, ans, x: g * (180 / np.pi))
_both(np.absolute, lambda g, ans, x: g * np.sign(x))  # np.abs is np.absolute
_both(np.fabs, lambda g, ans, x: g * np.sign(x))
_both(np.negative, lambda g, ans, x: -g)
_both(np.positive, lambda g, ans, x: g)
_both(np.conjugate, lambda g, ans, x: np.conj(g))  # np.conj is np.conjugate

# Complex parts. Cotangents follow the transpose convention (as JAX): the cotangent of
# z = x + iy is dL/dx - i dL/dy, and a real input's cotangent is real.
defvjp(np.real, lambda g, ans, val: g)
defjvp(np.real, lambda g, ans, val: np.real(g))
defvjp(np.imag, lambda g, ans, val: np.zeros_like(g) if np.isrealobj(val) else -1j * g)
defjvp(np.imag, lambda g, ans, val: np.imag(g))

# ``clip`` passes the gradient where the value was not clipped; the bounds get the rest.
defvjp(
    np.clip,
    lambda g, ans, a, a_min=None, a_max=None, out=None, *, min=None, max=None: g * (ans == a),
    lambda g, ans, a, a_min=None, a_max=None, out=None, *, min=None, max=None: g * (a < a_min),
    lambda g, ans, a, a_min=None, a_max=None, out=None, *, min=None, max=None: g * (a > a_max),
    broadcasts=True,
)
defjvp(
    np.clip,
    lambda g, ans, a, a_min=None, a_max=None, out=None, *, min=None, max=None: g * (ans == a),
    lambda g, ans, a, a_min=None, a_max=None, out=None, *, min=None, max=None: g * (a < a_min),
    lambda g, ans, a, a_min=None, a_max=None, out=None, *, min=None, max=None: g * (a > a_max),
    broadcasts=True,
)

# --------------------------------------------------------------------------- binary elementwise
# Binary ufuncs broadcast: the engines undo it (runtime.unbroadcast / broadcast_like).

_both(np.add, lambda g, ans, x1, x2: g, lambda g, ans, x1, x2: g)
_both(np.subtract, lambda g, ans, x1, x2: g, lambda g, ans, x1, x2: -g)
_both(np.multiply, lambda g, ans, x1, x2: g * x2, lambda g, ans, x1, x2: g * x1)
_both(np.divide, lambda g, ans, x1, x2: g / x2, lambda g, ans, x1, x2: -g * ans / x2)
_both(
    np.power,
    lambda g, ans, x1, x2: g * x2 * x1 ** (x2 - 1),
    lambda g, ans, x1, x2: g * ans * np.log(x1),
)
_both(
    np.float_power,
    lambda g, ans, x1, x2: g * x2 * np.float_power(x1, x2 - 1),
    lambda g, ans, x1, x2: g * ans * np.log(x1),
)
_both(  # np.mod is np.remainder: x1 - floor(x1 / x2) * x2
    np.remainder,
    lambda g, ans, x1, x2: g,
    lambda g, ans, x1, x2: -g * np.floor_divide(x1, x2),
)
_both(np.fmod, lambda g, ans, x1, x2: g, lambda g, ans, x1, x2: -g * np.trunc(x1 / x2))
_both(np.maximum, lambda g, ans, x1, x2: g * (x1 >= x2), lambda g, ans, x1, x2: g * (x1 < x2))
_both(np.minimum, lambda g, ans, x1, x2: g * (x1 <= x2), lambda g, ans, x1, x2: g * (x1 > x2))
# fmax/fmin ignore NaN: the gradient goes to whichever argument was returned.
_both(np.fmax, lambda g, ans, x1, x2: g * (ans == x1), lambda g, ans, x1, x2: g * (ans != x1))
_both(np.fmin, lambda g, ans, x1, x2: g * (ans == x1), lambda g, ans, x1, x2: g * (ans != x1))
_both(np.hypot, lambda g, ans, x1, x2: g * x1 / ans, lambda g, ans, x1, x2: g * x2 / ans)
_both(
    np.arctan2,
    lambda g, ans, x1, x2: g * x2 / (x1**2 + x2**2),
    lambda g, ans, x1, x2: -g * x1 / (x1**2 + x2**2),
)
_both(
    np.logaddexp,
    lambda g, ans, x1, x2: g * np.exp(x1 - ans),
    lambda g, ans, x1, x2: g * np.exp(x2 - ans),
)
_both(
    np.logaddexp2,
    lambda g, ans, x1, x2: g * np.exp2(x1 - ans),
    lambda g, ans, x1, x2: g * np.exp2(x2 - ans),
)
_both(np.copysign, lambda g, ans, x1, x2: g * np.sign(x1) * np.copysign(1.0, x2), None)
_both(
    np.where,
    None,
    lambda g, ans, condition, x, y: np.where(condition, g, 0.0),
    lambda g, ans, condition, x, y: np.where(condition, 0.0, g),
    broadcasts=True,
)

# --------------------------------------------------------------------------- reductions

defvjp(
    np.sum,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        expand_reduced(g, a, axis, keepdims),
)
defjvp(
    np.sum,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        np.sum(g, axis=axis, keepdims=keepdims),
)
defvjp(
    np.nansum,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        np.where(np.isnan(a), 0.0, expand_reduced(g, a, axis, keepdims)),
)
defjvp(
    np.nansum,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        np.sum(np.where(np.isnan(a), 0.0, g), axis=axis, keepdims=keepdims),
)
defvjp(
    np.mean,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        expand_reduced(g * (np.size(ans) / np.size(a)), a, axis, keepdims),
)
defjvp(
    np.mean,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        np.mean(g, axis=axis, keepdims=keepdims),
)
# ``prod``: d prod = prod * sum(da / a); defined where no entry of ``a`` is zero.
defvjp(
    np.prod,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        expand_reduced(g * ans, a, axis, keepdims) / a,
)
defjvp(
    np.prod,
    lambda g, ans, a, axis=None, dtype=None, out=None, keepdims=False:
        np.sum(g * expand_reduced(ans, a, axis, keepdims) / a, axis=axis, keepdims=keepdims),
)
defvjp(
    np.var,
    lambda g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
        expand_reduced(g, a, axis, keepdims) * 2 * (a - np.mean(a, axis=axis, keepdims=True))
        / (np.size(a) / np.size(ans) - ddof),
)
defjvp(
    np.var,
    lambda g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
        np.sum(2 * (a - np.mean(a, axis=axis, keepdims=True)) * g, axis=axis, keepdims=keepdims)
        / (np.size(a) / np.size(ans) - ddof),
)
defvjp(
    np.std,
    lambda g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
        expand_reduced(g / ans, a, axis, keepdims) * (a - np.mean(a, axis=axis, keepdims=True))
        / (np.size(a) / np.size(ans) - ddof),
)
defjvp(
    np.std,
    lambda g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False:
        np.sum((a - np.mean(a, axis=axis, keepdims=True)) * g, axis=axis, keepdims=keepdims)
        / ((np.size(a) / np.size(ans) - ddof) * ans),
)
# max/min: the gradient goes to the extremum (shared equally between ties).
for _extremum in (np.max, np.amax, np.min, np.amin):
    defvjp(
        _extremum,
        lambda g, ans, a, axis=None, out=None, keepdims=False:
            expand_reduced(g, a, axis, keepdims) * extremum_mask(a, ans, axis, keepdims),
    )
    defjvp(
        _extremum,
        lambda g, ans, a, axis=None, out=None, keepdims=False:
            np.sum(g * extremum_mask(a, ans, axis, keepdims), axis=axis, keepdims=keepdims),
    )
defvjp(
    np.cumsum,
    lambda g, ans, a, axis=None, dtype=None, out=None:
        np.reshape(np.flip(np.cumsum(np.flip(g, axis), axis), axis), np.shape(a)),
)
defjvp(np.cumsum, lambda g, ans, a, axis=None, dtype=None, out=None: np.cumsum(g, axis=axis))
# ``cumprod``: defined where no entry of ``a`` is zero.
defvjp(
    np.cumprod,
    lambda g, ans, a, axis=None, dtype=None, out=None:
        np.reshape(np.flip(np.cumsum(np.flip(g * ans, axis), axis), axis), np.shape(a)) / a,
)
defjvp(
    np.cumprod,
    lambda g, ans, a, axis=None, dtype=None, out=None: ans * np.cumsum(g / a, axis=axis),
)
defvjp(np.diff, lambda g, ans, a, n=1, axis=-1: diff_adjoint(g, n, axis))
defjvp(np.diff, lambda g, ans, a, n=1, axis=-1: np.diff(g, n, axis))
defvjp(
    np.trace,
    lambda g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None: np.moveaxis(
        np.expand_dims(g, (-2, -1)) * np.eye(np.shape(a)[axis1], np.shape(a)[axis2], offset),
        (-2, -1),
        (axis1, axis2),
    ),
)
defjvp(
    np.trace,
    lambda g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None:
        np.trace(g, offset, axis1, axis2),
)


def average_vjp_a(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    if weights is None:
        return expand_reduced(g * (np.size(ans) / np.size(a)), a, axis, keepdims)
    w = weights_like(weights, a, axis)
    return expand_reduced(g, a, axis, keepdims) * w / np.sum(w, axis=axis, keepdims=True)


def average_vjp_weights(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    w = weights_like(weights, a, axis)
    d = expand_reduced(g, a, axis, keepdims) * (a - expand_reduced(ans, a, axis, keepdims))
    return np.reshape(unbroadcast(d / np.sum(w, axis=axis, keepdims=True), w), np.shape(weights))


def average_jvp_weights(g, ans, a, axis=None, weights=None, returned=False, keepdims=False):
    w = weights_like(weights, a, axis)
    d = (a - expand_reduced(ans, a, axis, keepdims)) * weights_like(g, a, axis)
    total = np.sum(w * np.ones_like(a), axis=axis, keepdims=keepdims)
    return np.sum(d, axis=axis, keepdims=keepdims) / total


defvjp(np.average, average_vjp_a, None, average_vjp_weights, argnums=(0, 1, 2))
defjvp(
    np.average,
    lambda g, ans, a, axis=None, weights=None, returned=False, keepdims=False:
        np.average(g, axis=axis, weights=weights, keepdims=keepdims),
    None,
    average_jvp_weights,
    argnums=(0, 1, 2),
)

# --------------------------------------------------------------------------- products

defvjp(
    np.dot,
    lambda g, ans, a, b, out=None: tensordot_adjoint_a(g, a, b, dot_axes(a, b)),
    lambda g, ans, a, b, out=None: tensordot_adjoint_b(g, a, b, dot_axes(a, b)),
)
defjvp(
    np.dot,
    lambda g, ans, a, b, out=None: np.dot(g, b),
    lambda g, ans, a, b, out=None: np.dot(a, g),
)
defvjp(
    np.vdot,
    lambda g, ans, a, b: np.reshape(g * b, np.shape(a)),
    lambda g, ans, a, b: np.reshape(g * a, np.shape(b)),
)
defjvp(np.vdot, lambda g, ans, a, b: np.vdot(g, b), lambda g, ans, a, b: np.vdot(a, g))
defvjp(
    np.matmul,
    lambda g, ans, x1, x2: matmul_adjoint_x(g, x1, x2),
    lambda g, ans, x1, x2: matmul_adjoint_y(g, x1, x2),
    broadcasts=False,  # the adjoints undo matmul's batch broadcasting themselves
)
defjvp(
    np.matmul,
    lambda g, ans, x1, x2: np.matmul(g, x2),
    lambda g, ans, x1, x2: np.matmul(x1, g),
    broadcasts=False,
)
defvjp(
    np.inner,
    lambda g, ans, a, b:
        tensordot_adjoint_a(g, a, b, (-1, -1) if np.ndim(a) and np.ndim(b) else 0),
    lambda g, ans, a, b:
        tensordot_adjoint_b(g, a, b, (-1, -1) if np.ndim(a) and np.ndim(b) else 0),
)
defjvp(np.inner, lambda g, ans, a, b: np.inner(g, b), lambda g, ans, a, b: np.inner(a, g))
defvjp(
    np.outer,
    lambda g, ans, a, b, out=None: np.reshape(np.dot(g, np.ravel(b)), np.shape(a)),
    lambda g, ans, a, b, out=None: np.reshape(np.dot(np.ravel(a), g), np.shape(b)),
)
defjvp(
    np.outer,
    lambda g, ans, a, b, out=None: np.outer(g, b),
    lambda g, ans, a, b, out=None: np.outer(a, g),
)
defvjp(
    np.tensordot,
    lambda g, ans, a, b, axes=2: tensordot_adjoint_a(g, a, b, axes),
    lambda g, ans, a, b, axes=2: tensordot_adjoint_b(g, a, b, axes),
)
defjvp(
    np.tensordot,
    lambda g, ans, a, b, axes=2: np.tensordot(g, b, axes),
    lambda g, ans, a, b, axes=2: np.tensordot(a, g, axes),
)
defvjp(
    np.kron,
    lambda g, ans, a, b: kron_adjoint_a(g, a, b),
    lambda g, ans, a, b: kron_adjoint_b(g, a, b),
)
defjvp(np.kron, lambda g, ans, a, b: np.kron(g, b), lambda g, ans, a, b: np.kron(a, g))
# <g, a x b> = <a, b x g> = <b, g x a>
defvjp(
    np.cross,
    lambda g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None:
        np.cross(b, g, axisb, axisc, axisa, axis),
    lambda g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None:
        np.cross(g, a, axisc, axisa, axisb, axis),
    broadcasts=True,
)
defjvp(
    np.cross,
    lambda g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None:
        np.cross(g, b, axisa, axisb, axisc, axis),
    lambda g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None:
        np.cross(a, g, axisa, axisb, axisc, axis),
    broadcasts=True,
)

# ``np.einsum(subscripts, *operands)``: operand i's cotangent is another einsum of ``g`` with
# the other operands (up to four operands, subscripts as a string; ``optimize`` changes no value).
defvjp(
    np.einsum,
    lambda g, ans, subscripts, *operands, optimize=False: np.einsum(
        einsum_adjoint_spec(subscripts, operands, 0), g, *operands[1:],
        *einsum_adjoint_extras(subscripts, operands, 0)),
    lambda g, ans, subscripts, *operands, optimize=False: np.einsum(
        einsum_adjoint_spec(subscripts, operands, 1), g, *operands[:1], *operands[2:],
        *einsum_adjoint_extras(subscripts, operands, 1)),
    lambda g, ans, subscripts, *operands, optimize=False: np.einsum(
        einsum_adjoint_spec(subscripts, operands, 2), g, *operands[:2], *operands[3:],
        *einsum_adjoint_extras(subscripts, operands, 2)),
    lambda g, ans, subscripts, *operands, optimize=False: np.einsum(
        einsum_adjoint_spec(subscripts, operands, 3), g, *operands[:3], *operands[4:],
        *einsum_adjoint_extras(subscripts, operands, 3)),
    argnums=(1, 2, 3, 4),
)
defjvp(
    np.einsum,
    lambda g, ans, subscripts, *operands, optimize=False:
        np.einsum(subscripts, g, *operands[1:]),
    lambda g, ans, subscripts, *operands, optimize=False:
        np.einsum(subscripts, *operands[:1], g, *operands[2:]),
    lambda g, ans, subscripts, *operands, optimize=False:
        np.einsum(subscripts, *operands[:2], g, *operands[3:]),
    lambda g, ans, subscripts, *operands, optimize=False:
        np.einsum(subscripts, *operands[:3], g, *operands[4:]),
    argnums=(1, 2, 3, 4),
)

# --------------------------------------------------------------------------- shape

defvjp(
    np.reshape,
    lambda g, ans, a, shape=None, order="C", *, copy=None: np.reshape(g, np.shape(a), order=order),
)
defjvp(
    np.reshape,
    lambda g, ans, a, shape=None, order="C", *, copy=None:
        np.reshape(g, np.shape(ans), order=order),
)
defvjp(np.ravel, lambda g, ans, a, order="C": np.reshape(g, np.shape(a), order=order))
defjvp(np.ravel, lambda g, ans, a, order="C": np.ravel(g, order=order))
defvjp(np.transpose, lambda g, ans, a, axes=None: np.transpose(g, inverse_axes(axes, np.ndim(a))))
defjvp(np.transpose, lambda g, ans, a, axes=None: np.transpose(g, axes))
defvjp(np.swapaxes, lambda g, ans, a, axis1, axis2: np.swapaxes(g, axis1, axis2))
defjvp(np.swapaxes, lambda g, ans, a, axis1, axis2: np.swapaxes(g, axis1, axis2))
defvjp(np.moveaxis, lambda g, ans, a, source, destination: np.moveaxis(g, destination, source))
defjvp(np.moveaxis, lambda g, ans, a, source, destination: np.moveaxis(g, source, destination))
defvjp(np.expand_dims, lambda g, ans, a, axis: np.reshape(g, np.shape(a)))
defjvp(np.expand_dims, lambda g, ans, a, axis: np.expand_dims(g, axis))
defvjp(np.squeeze, lambda g, ans, a, axis=None: np.reshape(g, np.shape(a)))
defjvp(np.squeeze, lambda g, ans, a, axis=None: np.squeeze(g, axis))
# atleast_*d: rules for the one-array form (several arrays return a tuple).
for _atleast in (np.atleast_1d, np.atleast_2d, np.atleast_3d):
    defvjp(_atleast, lambda g, ans, *arys: np.reshape(g, np.shape(arys[0])))
    defjvp(_atleast, lambda g, ans, *arys: np.reshape(g, np.shape(ans)))
defvjp(np.broadcast_to, lambda g, ans, array, shape, subok=False: unbroadcast(g, array))
defjvp(np.broadcast_to, lambda g, ans, array, shape, subok=False: np.broadcast_to(g, shape))
defvjp(np.repeat, lambda g, ans, a, repeats, axis=None: repeat_adjoint(g, a, repeats, axis))
defjvp(np.repeat, lambda g, ans, a, repeats, axis=None: np.repeat(g, repeats, axis))
defvjp(np.tile, lambda g, ans, A, reps: tile_adjoint(g, A, reps))
defjvp(np.tile, lambda g, ans, A, reps: np.tile(g, reps))
defvjp(np.roll, lambda g, ans, a, shift, axis=None: np.roll(g, np.negative(shift), axis))
defjvp(np.roll, lambda g, ans, a, shift, axis=None: np.roll(g, shift, axis))
defvjp(np.rot90, lambda g, ans, m, k=1, axes=(0, 1): np.rot90(g, -k, axes))
defjvp(np.rot90, lambda g, ans, m, k=1, axes=(0, 1): np.rot90(g, k, axes))
_both(np.flip, lambda g, ans, m, axis=None: np.flip(g, axis))
_both(np.fliplr, lambda g, ans, m: np.fliplr(g))
_both(np.flipud, lambda g, ans, m: np.flipud(g))
defvjp(
    np.pad,
    lambda g, ans, array, pad_width, mode="constant", constant_values=0:
        g[pad_slices(array, pad_width, mode)],
)
defjvp(
    np.pad,
    lambda g, ans, array, pad_width, mode="constant", constant_values=0:
        np.pad(g, pad_width, mode),
)
defvjp(np.tril, lambda g, ans, m, k=0: np.tril(g, k))
defjvp(np.tril, lambda g, ans, m, k=0: np.tril(g, k))
defvjp(np.triu, lambda g, ans, m, k=0: np.triu(g, k))
defjvp(np.triu, lambda g, ans, m, k=0: np.triu(g, k))
defvjp(
    np.diagonal,
    lambda g, ans, a, offset=0, axis1=0, axis2=1: diagonal_adjoint(g, a, offset, axis1, axis2),
)
defjvp(
    np.diagonal,
    lambda g, ans, a, offset=0, axis1=0, axis2=1: np.diagonal(g, offset, axis1, axis2),
)
defvjp(
    np.diag,
    lambda g, ans, v, k=0: np.diag(g, k) if np.ndim(v) == 1 else diagonal_adjoint(g, v, k),
)
defjvp(np.diag, lambda g, ans, v, k=0: np.diag(g, k))

# --------------------------------------------------------------------------- joining, splitting

defvjp(
    np.concatenate,
    lambda g, ans, arrays, axis=0, out=None, dtype=None, casting="same_kind":
        split_like(g, arrays, axis),
)
defjvp(
    np.concatenate,
    lambda g, ans, arrays, axis=0, out=None, dtype=None, casting="same_kind":
        np.concatenate(g, axis),
)
defvjp(
    np.stack,
    lambda g, ans, arrays, axis=0, out=None, dtype=None, casting="same_kind": unstack(g, axis),
)
defjvp(
    np.stack,
    lambda g, ans, arrays, axis=0, out=None, dtype=None, casting="same_kind": np.stack(g, axis),
)
defvjp(np.hstack, lambda g, ans, tup: split_like(g, tup, 0 if np.ndim(g) == 1 else 1))
defjvp(np.hstack, lambda g, ans, tup: np.hstack(g))
defvjp(np.vstack, lambda g, ans, tup: split_like(g, tup, 0))
defjvp(np.vstack, lambda g, ans, tup: np.vstack(g))
defvjp(np.dstack, lambda g, ans, tup: split_like(g, tup, 2))
defjvp(np.dstack, lambda g, ans, tup: np.dstack(g))
# The split family returns a list: ``g`` is a tuple of the pieces' cotangents.
defvjp(
    np.split,
    lambda g, ans, ary, indices_or_sections, axis=0: join_like(g, ary, axis),
)
defjvp(
    np.split,
    lambda g, ans, ary, indices_or_sections, axis=0:
        tuple(np.split(g, indices_or_sections, axis)),
)
defvjp(
    np.array_split,
    lambda g, ans, ary, indices_or_sections, axis=0: join_like(g, ary, axis),
)
defjvp(
    np.array_split,
    lambda g, ans, ary, indices_or_sections, axis=0:
        tuple(np.array_split(g, indices_or_sections, axis)),
)
defvjp(
    np.hsplit,
    lambda g, ans, ary, indices_or_sections:
        join_like(g, ary, 1 if np.ndim(ary) > 1 else 0),
)
defjvp(
    np.hsplit,
    lambda g, ans, ary, indices_or_sections: tuple(np.hsplit(g, indices_or_sections)),
)
defvjp(np.vsplit, lambda g, ans, ary, indices_or_sections: join_like(g, ary, 0))
defjvp(
    np.vsplit,
    lambda g, ans, ary, indices_or_sections: tuple(np.vsplit(g, indices_or_sections)),
)
defvjp(np.dsplit, lambda g, ans, ary, indices_or_sections: join_like(g, ary, 2))
defjvp(
    np.dsplit,
    lambda g, ans, ary, indices_or_sections: tuple(np.dsplit(g, indices_or_sections)),
)

# --------------------------------------------------------------------------- indexing, sorting

defvjp(
    np.sort,
    lambda g, ans, a, axis=-1, kind=None, order=None, *, stable=None: np.reshape(
        np.take_along_axis(g, np.argsort(np.argsort(a, axis=axis), axis=axis), axis=axis),
        np.shape(a),
    ),
)
defjvp(
    np.sort,
    lambda g, ans, a, axis=-1, kind=None, order=None, *, stable=None:
        np.take_along_axis(g, np.argsort(a, axis=axis), axis=axis),
)
defvjp(
    np.take,
    lambda g, ans, a, indices, axis=None, out=None, mode="raise":
        getitem_adjoint(g, a, take_index(a, indices, axis, mode)),
    None,
)
defjvp(
    np.take,
    lambda g, ans, a, indices, axis=None, out=None, mode="raise":
        np.take(g, indices, axis, mode=mode),
    None,
)
defvjp(
    np.take_along_axis,
    lambda g, ans, arr, indices, axis=-1:
        getitem_adjoint(g, arr, along_axis_index(arr, indices, axis)),
    None,
)
defjvp(
    np.take_along_axis,
    lambda g, ans, arr, indices, axis=-1: np.take_along_axis(g, indices, axis),
    None,
)

# --------------------------------------------------------------------------- construction

# ``np.array([x, y, ...])``: the cotangent of the list is a list (nested like the input).
defvjp(
    np.array,
    lambda g, ans, object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0:
        nested_unstack(g, object),
)
defjvp(
    np.array,
    lambda g, ans, object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0:
        np.reshape(nested_stack(g), np.shape(ans)),
)
defvjp(
    np.asarray,
    lambda g, ans, a, dtype=None, order=None, *, device=None, copy=None: nested_unstack(g, a),
)
defjvp(
    np.asarray,
    lambda g, ans, a, dtype=None, order=None, *, device=None, copy=None: nested_stack(g),
)
_both(np.copy, lambda g, ans, a, order="K", subok=False: g)
if hasattr(np, "astype"):  # NumPy >= 2.1; a cast to an integer type drops the derivative
    defvjp(
        np.astype,
        lambda g, ans, x, dtype, *, copy=True, device=None:
            np.astype(g, np.result_type(x, 1.0)) if np.issubdtype(dtype, np.inexact)
            else np.zeros_like(x, dtype=np.result_type(x, 1.0)),
    )
    defjvp(
        np.astype,
        lambda g, ans, x, dtype, *, copy=True, device=None:
            np.astype(g, dtype) if np.issubdtype(dtype, np.inexact)
            else np.zeros_like(ans, dtype=np.result_type(ans, 1.0)),
    )

# --------------------------------------------------------------------------- non-differentiable

nondifferentiable(
    # comparisons and logic
    np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.isnan, np.isfinite, np.isinf, np.isclose, np.allclose, np.array_equal,
    np.isreal, np.iscomplex, np.isrealobj, np.iscomplexobj, np.signbit,
    np.any, np.all,
    # piecewise constant
    np.floor, np.ceil, np.round, np.around, np.rint, np.trunc, np.fix, np.sign,
    np.floor_divide, np.heaviside,
    # integer-valued results
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero,
    np.count_nonzero, np.searchsorted, np.digitize, np.bincount, np.unravel_index,
    np.ravel_multi_index,
    # shapes and types
    np.shape, np.ndim, np.size, np.result_type, np.issubdtype,
    # constructors of constants
    np.zeros_like, np.ones_like, np.full_like, np.empty_like,
    np.zeros, np.ones, np.full, np.empty, np.eye, np.identity, np.tri,
    np.arange, np.linspace, np.logspace, np.indices,
    np.diag_indices, np.tril_indices, np.triu_indices,
)

# --------------------------------------------------------------------------- ndarray methods

defattr("T", np.transpose)
defattr("real", np.real)
defattr("imag", np.imag)
defattr("shape", np.shape)
defattr("ndim", np.ndim)
defattr("size", np.size)

for _name in (
    "sum", "mean", "prod", "var", "std", "max", "min", "cumsum", "cumprod", "dot", "ravel",
    "squeeze", "swapaxes", "clip", "copy", "trace", "diagonal", "repeat", "take", "round",
    "any", "all", "argmax", "argmin", "argsort", "nonzero",
):
    defmethod(_name, getattr(np, _name))
defmethod("flatten", np.ravel)
defmethod("conj", np.conjugate)
defmethod("conjugate", np.conjugate)
defmethod("reshape", reshape_method)
defmethod("transpose", transpose_method)
defmethod("astype", astype)
