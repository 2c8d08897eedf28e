"""Rules for the helpers of :mod:`chainrule.runtime`.

Generated derivative code calls these helpers, and so do inlined rules; differentiating
that code again (higher-order derivatives, ``jvp`` of a ``grad``) needs their derivatives.

Guarantees:

* Every helper used by generated code or by a rule has VJP and JVP rules here, or is marked
  non-differentiable when its result is a shape, an index, an axis or a constant array.
* The differentiable helpers are linear in the cotangent they transport (and bilinear in
  ``(g, other operand)`` for the product adjoints), so their rules are other helpers or
  plain NumPy calls: the adjoint of an adjoint is the original operation.

Naming: when a helper has its own parameter called ``g`` or ``ans``, its rules call the
incoming cotangent (or tangent) ``ct`` and the helper's output ``out``.
"""

import numpy as np

from ..runtime import (
    add_at,
    add_grad,
    along_axis_index,
    astype,
    at_adjoint,
    broadcast_like,
    diagonal_adjoint,
    diff_adjoint,
    dot_axes,
    einsum_adjoint_extras,
    einsum_adjoint_spec,
    expand_reduced,
    extremum_mask,
    fft_axes,
    fft_lengths,
    finalize,
    fit_to,
    getitem_adjoint,
    grad_item,
    inverse_axes,
    irfft_weights,
    join_like,
    kron_adjoint_a,
    kron_adjoint_b,
    list_adjoint,
    list_prefix,
    matmul_adjoint_x,
    matmul_adjoint_y,
    nested_stack,
    nested_unstack,
    ones_like,
    owned,
    pad_slices,
    push_grad,
    repeat_adjoint,
    reshape_method,
    scalar_seed,
    seq_item_adjoint,
    setitem_value,
    snapshot,
    snapshot_all,
    split_like,
    stored_item_adjoint,
    sum_adjoint,
    sum_cotangents,
    symmetrize_tri,
    symmetrize_tri_adjoint,
    take_index,
    tensordot_adjoint_a,
    tensordot_adjoint_b,
    tile_adjoint,
    transpose_method,
    unbroadcast,
    unstack,
    weights_like,
    zero_at,
    zeros_like,
)
from .registry import defjvp, defvjp, nondifferentiable

# --------------------------------------------------------------------------- broadcasting

defvjp(unbroadcast, lambda ct, out, g, x: broadcast_like(ct, g), None)
defjvp(unbroadcast, lambda ct, out, g, x: unbroadcast(ct, x), None)
defvjp(broadcast_like, lambda ct, out, t, ans: unbroadcast(ct, t), None)
defjvp(broadcast_like, lambda ct, out, t, ans: broadcast_like(ct, ans), None)
defvjp(
    expand_reduced,
    lambda ct, out, g, x, axis=None, keepdims=False:
        unbroadcast(np.sum(ct, axis=axis, keepdims=keepdims), g),
    None,
)
defjvp(
    expand_reduced,
    lambda ct, out, g, x, axis=None, keepdims=False: expand_reduced(ct, x, axis, keepdims),
    None,
)

# --------------------------------------------------------------------------- items, sequences

defvjp(getitem_adjoint, lambda ct, out, g, x, index: ct[index], None, None)
defjvp(getitem_adjoint, lambda ct, out, g, x, index: getitem_adjoint(ct, x, index), None, None)
defvjp(
    setitem_value,
    lambda g, ans, x, index, value: setitem_value(g, index, 0.0),
    None,
    lambda g, ans, x, index, value: unbroadcast(g[index], value),
)
defjvp(
    setitem_value,
    lambda g, ans, x, index, value: setitem_value(g, index, 0.0),
    None,
    lambda g, ans, x, index, value: setitem_value(np.zeros_like(ans), index, g),
)
defvjp(
    seq_item_adjoint,
    lambda ct, out, b, x, index, g: ct,
    None,
    None,
    lambda ct, out, b, x, index, g: ct[index],
)
defjvp(
    seq_item_adjoint,
    lambda ct, out, b, x, index, g: ct,
    None,
    None,
    lambda ct, out, b, x, index, g: seq_item_adjoint(None, x, index, ct),
)
defvjp(add_grad, lambda g, ans, a, b: g, lambda g, ans, a, b: g)
defjvp(add_grad, lambda g, ans, a, b: g, lambda g, ans, a, b: g)
defvjp(split_like, lambda ct, out, g, arrays, axis=0: join_like(ct, g, axis), None)
defjvp(split_like, lambda ct, out, g, arrays, axis=0: split_like(ct, arrays, axis), None)
defvjp(join_like, lambda g, ans, parts, like, axis=0: split_like(g, parts, axis), None)
defjvp(join_like, lambda g, ans, parts, like, axis=0: join_like(g, like, axis), None)
defvjp(unstack, lambda ct, out, g, axis=0: np.stack(ct, axis))
defjvp(unstack, lambda ct, out, g, axis=0: unstack(ct, axis))
defvjp(nested_stack, lambda g, ans, t: nested_unstack(g, t))
defjvp(nested_stack, lambda g, ans, t: nested_stack(g))
defvjp(nested_unstack, lambda ct, out, g, like: np.reshape(nested_stack(ct), np.shape(g)), None)
defjvp(nested_unstack, lambda ct, out, g, like: nested_unstack(ct, like), None)

# Helpers of the source transformer's adjoint code (all linear in the cotangent ``b``).
defvjp(
    add_at,
    lambda ct, out, b, index, g: ct,
    None,
    lambda ct, out, b, index, g: at_adjoint(ct, index, g),
)
defvjp(at_adjoint, lambda g, ans, ct, index, like: add_at(zeros_like(ct), index, g), None, None)
defjvp(at_adjoint, lambda t, ans, ct, index, like: at_adjoint(t, index, like), None, None)
defjvp(
    add_at,
    lambda ct, out, b, index, g: ct,
    None,
    lambda ct, out, b, index, g: add_at(zeros_like(b), index, ct),
)
defvjp(zero_at, lambda g, ans, b, index: zero_at(g, index), None)
defjvp(zero_at, lambda g, ans, b, index: zero_at(g, index), None)
defvjp(
    stored_item_adjoint,
    lambda g, ans, b, index, v: add_at(zeros_like(b), index, g),
    None,
    None,
)
defjvp(
    stored_item_adjoint,
    lambda g, ans, b, index, v: stored_item_adjoint(g, index, v),
    None,
    None,
)
defvjp(grad_item, lambda g, ans, b, index, like: add_at(zeros_like(b), index, g), None, None)
defjvp(grad_item, lambda g, ans, b, index, like: grad_item(g, index, like), None, None)
defvjp(snapshot, lambda g, ans, v: g)
defjvp(snapshot, lambda g, ans, v: g)
defvjp(owned, lambda g, ans, b, x: g, None)
defjvp(owned, lambda g, ans, b, x: g, None)
defvjp(finalize, lambda g, ans, b, x: g, None)
defjvp(finalize, lambda g, ans, b, x: g, None)

# --------------------------------------------------------------------------- shape adjoints

defvjp(
    repeat_adjoint,
    lambda ct, out, g, a, repeats, axis=None: np.repeat(ct, repeats, axis),
    None,
    None,
)
defjvp(
    repeat_adjoint,
    lambda ct, out, g, a, repeats, axis=None: repeat_adjoint(ct, a, repeats, axis),
    None,
    None,
)
defvjp(tile_adjoint, lambda ct, out, g, A, reps: np.tile(ct, reps), None)
defjvp(tile_adjoint, lambda ct, out, g, A, reps: tile_adjoint(ct, A, reps), None)
defvjp(
    diagonal_adjoint,
    lambda ct, out, g, a, offset=0, axis1=0, axis2=1: np.diagonal(ct, offset, axis1, axis2),
    None,
)
defjvp(
    diagonal_adjoint,
    lambda ct, out, g, a, offset=0, axis1=0, axis2=1:
        diagonal_adjoint(ct, a, offset, axis1, axis2),
    None,
)
defvjp(diff_adjoint, lambda ct, out, g, n=1, axis=-1: np.diff(ct, n, axis))
defjvp(diff_adjoint, lambda ct, out, g, n=1, axis=-1: diff_adjoint(ct, n, axis))
defvjp(weights_like, lambda g, ans, weights, a, axis=None: np.reshape(g, np.shape(weights)), None)
defjvp(weights_like, lambda g, ans, weights, a, axis=None: weights_like(g, a, axis), None)
defvjp(fit_to, lambda ct, out, g, x: fit_to(ct, g), None)
defjvp(fit_to, lambda ct, out, g, x: fit_to(ct, x), None)
defvjp(symmetrize_tri, lambda g, ans, a, lower=True: symmetrize_tri_adjoint(g, lower))
defjvp(symmetrize_tri, lambda g, ans, a, lower=True: symmetrize_tri(g, lower))
defvjp(symmetrize_tri_adjoint, lambda ct, out, g, lower=True: symmetrize_tri(ct, lower))
defjvp(symmetrize_tri_adjoint, lambda ct, out, g, lower=True: symmetrize_tri_adjoint(ct, lower))

# --------------------------------------------------------------------------- product adjoints
# For a bilinear f(x, y) with adjoints A(g, x, y) = d<g, f>/dx and B(g, x, y) = d<g, f>/dy:
# <c, A(g, x, y)> = <g, f(c, y)>, so A's cotangents are f(c, y) for g and B(g, c, y) for y.

defvjp(
    matmul_adjoint_x,
    lambda ct, out, g, x, y: np.matmul(ct, y),
    None,
    lambda ct, out, g, x, y: matmul_adjoint_y(g, ct, y),
)
defjvp(
    matmul_adjoint_x,
    lambda ct, out, g, x, y: matmul_adjoint_x(ct, x, y),
    None,
    lambda ct, out, g, x, y: matmul_adjoint_x(g, x, ct),
)
defvjp(
    matmul_adjoint_y,
    lambda ct, out, g, x, y: np.matmul(x, ct),
    lambda ct, out, g, x, y: matmul_adjoint_x(g, x, ct),
    None,
)
defjvp(
    matmul_adjoint_y,
    lambda ct, out, g, x, y: matmul_adjoint_y(ct, x, y),
    lambda ct, out, g, x, y: matmul_adjoint_y(g, ct, y),
    None,
)
defvjp(
    tensordot_adjoint_a,
    lambda ct, out, g, a, b, axes=2: np.tensordot(ct, b, axes),
    None,
    lambda ct, out, g, a, b, axes=2: tensordot_adjoint_b(g, ct, b, axes),
)
defjvp(
    tensordot_adjoint_a,
    lambda ct, out, g, a, b, axes=2: tensordot_adjoint_a(ct, a, b, axes),
    None,
    lambda ct, out, g, a, b, axes=2: tensordot_adjoint_a(g, a, ct, axes),
)
defvjp(
    tensordot_adjoint_b,
    lambda ct, out, g, a, b, axes=2: np.tensordot(a, ct, axes),
    lambda ct, out, g, a, b, axes=2: tensordot_adjoint_a(g, a, ct, axes),
    None,
)
defjvp(
    tensordot_adjoint_b,
    lambda ct, out, g, a, b, axes=2: tensordot_adjoint_b(ct, a, b, axes),
    lambda ct, out, g, a, b, axes=2: tensordot_adjoint_b(g, ct, b, axes),
    None,
)
defvjp(
    kron_adjoint_a,
    lambda ct, out, g, a, b: np.kron(ct, b),
    None,
    lambda ct, out, g, a, b: kron_adjoint_b(g, ct, b),
)
defjvp(
    kron_adjoint_a,
    lambda ct, out, g, a, b: kron_adjoint_a(ct, a, b),
    None,
    lambda ct, out, g, a, b: kron_adjoint_a(g, a, ct),
)
defvjp(
    kron_adjoint_b,
    lambda ct, out, g, a, b: np.kron(a, ct),
    lambda ct, out, g, a, b: kron_adjoint_a(g, a, ct),
    None,
)
defjvp(
    kron_adjoint_b,
    lambda ct, out, g, a, b: kron_adjoint_b(ct, a, b),
    lambda ct, out, g, a, b: kron_adjoint_b(g, ct, b),
    None,
)

# --------------------------------------------------------------------------- method forms

defvjp(
    reshape_method,
    lambda g, ans, a, *shape, order="C": np.reshape(g, np.shape(a), order=order),
)
defjvp(
    reshape_method,
    lambda g, ans, a, *shape, order="C": np.reshape(g, np.shape(ans), order=order),
)
defvjp(
    transpose_method,
    lambda g, ans, a, *axes:
        np.transpose(g, inverse_axes(axes[0] if len(axes) == 1 else axes, np.ndim(a))),
)
defjvp(transpose_method, lambda g, ans, a, *axes: transpose_method(g, *axes))
# A cast to a floating type keeps the derivative (cast back); to an integer type drops it.
defvjp(
    astype,
    lambda g, ans, x, dtype, order="K", casting="unsafe", subok=True, copy=True:
        astype(g, np.result_type(x, 1.0)) if np.issubdtype(dtype, np.inexact)
        else np.zeros_like(x, dtype=np.result_type(x, 1.0)),
)
defjvp(
    astype,
    lambda g, ans, x, dtype, order="K", casting="unsafe", subok=True, copy=True:
        astype(g, dtype) if np.issubdtype(dtype, np.inexact)
        else np.zeros_like(ans, dtype=np.result_type(ans, 1.0)),
)

# --------------------------------------------------------------------------- constants

nondifferentiable(
    zeros_like, ones_like, list_adjoint, dot_axes, inverse_axes, extremum_mask,
    irfft_weights, fft_axes, fft_lengths, pad_slices, take_index, along_axis_index,
    einsum_adjoint_spec, einsum_adjoint_extras, scalar_seed,
)

# ``sum(list)`` in reverse mode: the cotangent list and its sum are linear in their first
# argument; their own rules make generated code with ``sum(list)`` differentiable again.
defvjp(sum_adjoint, lambda ct, ans, g, x: sum_cotangents(ct, g), None)
defjvp(sum_adjoint, lambda t, ans, g, x: sum_adjoint(t, x), None)
defvjp(sum_cotangents, lambda g, ans, ct, like: sum_adjoint(g, ct), None)
defjvp(sum_cotangents, lambda t, ans, ct, like: sum_cotangents(t, like), None)

# ``v = lst.pop()`` in reverse mode: the cotangent list grows by one entry and shrinks back.
defvjp(push_grad, lambda ct, ans, b, x, g: list_prefix(ct, len(x)), None,
       lambda ct, ans, b, x, g: grad_item(ct, len(x), g))
defjvp(push_grad, lambda t, ans, b, x, g: push_grad(t, x, None), None,
       lambda t, ans, b, x, g: push_grad(None, x, t))
defvjp(list_prefix, lambda g, ans, b, n: list_prefix(g, len(b)), None)
defjvp(list_prefix, lambda t, ans, b, n: list_prefix(t, n), None)
defvjp(snapshot_all, lambda g, ans, values: g)
defjvp(snapshot_all, lambda g, ans, values: g)

# Parameters that are axes, counts, dtypes or flags carry no gradient. In third-order code
# they can come out of a differentiated saved-values tuple, so they are declared, not left
# without a rule.
for _fn, _params in (
    (astype, (1, 2, 3, 4, 5)),
    (diagonal_adjoint, (2, 3, 4)),
    (diff_adjoint, (1, 2)),
    (expand_reduced, (2, 3)),
    (join_like, (2,)),
    (repeat_adjoint, (3,)),
    (split_like, (2,)),
    (symmetrize_tri, (1,)),
    (symmetrize_tri_adjoint, (1,)),
    (tensordot_adjoint_a, (3,)),
    (tensordot_adjoint_b, (3,)),
    (tile_adjoint, (2,)),
    (unstack, (1,)),
    (weights_like, (2,)),
):
    defvjp(_fn, *([None] * len(_params)), argnums=_params)
    defjvp(_fn, *([None] * len(_params)), argnums=_params)
