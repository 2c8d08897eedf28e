"""The runtime of generated code: the only chainrule module generated code imports.

Guarantees:

* Imports NumPy and the standard library's :mod:`copy` only:
  ``chainrule.source(fn, standalone=True)`` copies this file's helper functions into the
  exported module, so exported gradients run without chainrule.
* Every helper is written with ``np.*`` calls only, so it also runs on
  :class:`chainrule.Tensor` values (NumPy dispatches to the tape) and can itself be
  differentiated: each helper has VJP and JVP rules in :mod:`chainrule.rules.runtime_rules`.
* Helpers never mutate their inputs.
"""

import copy

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
    "at_adjoint",
    "grad_item",
    "pop_grad",
    "snapshot",
    "snapshot_all",
    "sum_adjoint",
    "sum_cotangents",
    "push_grad",
    "list_prefix",
    "finalize",
    "owned",
    "scalar_seed",
    "fit_to",
    "split_like",
    "join_like",
    "unstack",
    "nested_stack",
    "nested_unstack",
    "repeat_adjoint",
    "tile_adjoint",
    "diagonal_adjoint",
    "tensordot_adjoint_a",
    "tensordot_adjoint_b",
    "dot_axes",
    "kron_adjoint_a",
    "kron_adjoint_b",
    "diff_adjoint",
    "weights_like",
    "reshape_method",
    "transpose_method",
    "inverse_axes",
    "astype",
    "extremum_mask",
    "irfft_weights",
    "fft_axes",
    "fft_lengths",
    "pad_slices",
    "take_index",
    "along_axis_index",
    "einsum_adjoint_spec",
    "einsum_adjoint_extras",
    "symmetrize_tri",
    "symmetrize_tri_adjoint",
    "basis",
    "element_count",
    "output_basis",
    "output_count",
    "zero_tangent",
    "jacobian_columns",
    "jacobian_columns_adjoint",
    "jacobian_rows",
    "jacobian_rows_adjoint",
    "by_output",
    "by_argument",
]

_SCALAR_TYPES = (float, int, complex)


def unbroadcast(g, x):
    """Sum ``g`` over the axes NumPy broadcasting added or stretched to reach ``x``'s shape."""
    if type(g) is np.ndarray and type(x) is np.ndarray:
        gshape, shape = g.shape, x.shape
        if gshape == shape:
            return g
        plan = _UNBROADCAST_PLANS.get((gshape, shape))
        if plan is None:
            plan = _unbroadcast_plan(gshape, shape)
        if plan:
            lead, axes, reshape = plan
            if lead:
                g = g.sum(axis=lead)
            if axes:
                g = g.sum(axis=axes, keepdims=True)
            if reshape:
                g = g.reshape(shape)
            return g
    if type(x) in _SCALAR_TYPES or isinstance(x, np.generic):  # shape (): sum everything
        if type(g) in _SCALAR_TYPES or isinstance(g, np.generic):
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


_UNBROADCAST_PLANS = {}  # (shape of g, shape of x) -> plan


def _unbroadcast_plan(gshape, shape):
    """What :func:`unbroadcast` does to an array of shape ``gshape`` for one of ``shape``:
    the leading axes to sum away, the stretched axes to sum keeping them, whether a reshape
    follows (``()`` when ``gshape`` has fewer axes: the general path decides). Kept per
    pair of shapes, so the array case costs a dictionary lookup and the sums themselves."""
    extra = len(gshape) - len(shape)
    if extra < 0:
        return ()
    rest = gshape[extra:]
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and rest[i] != 1)
    summed = tuple(1 if i in axes else n for i, n in enumerate(rest))
    plan = (tuple(range(extra)), axes, summed != shape)
    if len(_UNBROADCAST_PLANS) > 4096:
        _UNBROADCAST_PLANS.clear()
    _UNBROADCAST_PLANS[(gshape, shape)] = plan
    return plan


def broadcast_like(t, ans):
    """Broadcast a tangent ``t`` to the shape of the primal output ``ans``."""
    shape = np.shape(ans)
    if np.shape(t) == shape:
        return t
    return np.broadcast_to(t, shape)


_NON_NUMERIC = (slice, str, bytes, range, type(Ellipsis))


def zeros_like(x):
    """A zero with the structure of ``x``: ``0.0`` for Python numbers and ``None``, arrays of
    zeros, lists of zeros."""
    if type(x) in _SCALAR_TYPES or x is None:
        return 0.0
    if type(x) is list:
        return [zeros_like(e) for e in x]
    if isinstance(x, tuple):
        return tuple(zeros_like(e) for e in x)
    if isinstance(x, _NON_NUMERIC):  # indices and names saved next to values: no cotangent
        return None
    return np.zeros_like(x, dtype=np.result_type(x, 1.0))


def ones_like(x):
    """A one with the shape of ``x`` (the seed of reverse mode)."""
    if type(x) in _SCALAR_TYPES:
        return 1.0
    return np.ones_like(x, dtype=np.result_type(x, 1.0))


def expand_reduced(g, x, axis=None, keepdims=False):
    """Undo a reduction over ``axis``: broadcast ``g`` back to ``x``'s shape."""
    if axis is None and type(x) is np.ndarray and (
            type(g) in _SCALAR_TYPES or isinstance(g, np.generic)
            or (type(g) is np.ndarray and g.ndim == 0)):
        return np.full(x.shape, g, dtype=x.dtype if x.dtype.kind in "fc" else np.float64)
    shape = np.shape(x)
    if not keepdims and axis is not None and shape:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        axes = tuple(sorted(a % len(shape) for a in axes))
        for a in axes:
            g = np.expand_dims(g, a)
    return np.broadcast_to(g, shape)


def getitem_adjoint(g, x, index):
    """The cotangent of ``x`` for ``y = x[index]``: zeros with ``g`` added at ``index``."""
    if isinstance(x, (list, tuple)):
        out = [None] * len(x)
        out[index] = g
        return out
    out = np.zeros(np.shape(x), dtype=np.result_type(x, g, 1.0))
    _scatter_add(out, index, g)
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
    if type(a) in (list, tuple) or type(b) in (list, tuple):
        # a zero made for a value that was ``None`` (``zeros_like(None)`` is 0.0) adds to a
        # list or tuple cotangent as the zero it is
        if type(b) in _SCALAR_TYPES and b == 0:
            return a
        if type(a) in _SCALAR_TYPES and a == 0:
            return b
        n = max(len(a), len(b))  # a list cotangent may be longer than a shrunk list
        out = [add_grad(a[i] if i < len(a) else None, b[i] if i < len(b) else None)
               for i in range(n)]
        return tuple(out) if type(a) is tuple and type(b) is tuple else out
    return a + b


def _sum_leading(a, ndim):
    """Sum ``a`` over its leading axes until ``ndim`` axes remain."""
    extra = np.ndim(a) - ndim
    return np.sum(a, axis=tuple(range(extra))) if extra > 0 else a


def matmul_adjoint_x(g, x, y):
    """Cotangent of ``x`` for ``x @ y`` (any of NumPy's 1-D, 2-D and stacked cases)."""
    if type(y) is np.ndarray and type(g) is np.ndarray and y.ndim == 2 and g.ndim == 2:
        return g @ y.T
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
    if type(x) is np.ndarray and type(g) is np.ndarray and x.ndim == 2 and g.ndim == 2:
        return x.T @ g
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
    if isinstance(b, (list, tuple)):
        out = list(b)
        if type(index) is int and index >= len(out):  # a cotangent list shorter than its list
            out.extend([None] * (index + 1 - len(out)))
        out[index] = g if out[index] is None else add_grad(out[index], g)
        return out
    out = np.array(b, dtype=np.result_type(b, g, 1.0), copy=True)
    _scatter_add(out, index, g)
    return out


_UNIQUE_INDEX_TYPES = (int, np.integer, slice, type(Ellipsis), type(None))


def _scatter_add(out, index, g):
    """``np.add.at(out, index, g)`` on the fresh array ``out``. ``np.add.at`` is unbuffered
    (about 50x slower than ``+=`` on a 10,000-element slice); it is only needed when an
    integer array may select an element twice, so an index made of ints, slices,
    ``...``, ``None`` and boolean masks (each element at most once) with an array or number
    ``g`` uses ``out[index] += g``."""
    parts = index if type(index) is tuple else (index,)
    unique = type(g) is np.ndarray or type(g) in _SCALAR_TYPES or isinstance(g, np.generic)
    for p in parts:
        if not unique:
            break
        unique = (isinstance(p, _UNIQUE_INDEX_TYPES) and type(p) is not bool) or (
            type(p) is np.ndarray and p.dtype == np.bool_)
    if unique:
        out[index] += g
    else:
        np.add.at(out, index, g)


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


def at_adjoint(ct, index, g):
    """The cotangent of ``g`` in ``add_at(b, index, g)``: ``ct[index]`` summed to ``g``'s
    shape, or for a list ``b`` the entry itself (zero where it is ``None``)."""
    if type(ct) in (list, tuple):
        return grad_item(ct, index, g)
    return unbroadcast(ct[index], g)


def grad_item(b, index, like):
    """``b[index]``, or a zero shaped like ``like`` when that cotangent is ``None`` (a
    cotangent list shorter than its list is zero beyond its end)."""
    if b is None or (type(b) in (list, tuple) and index >= len(b)):
        return zeros_like(like)
    g = b[index]
    return zeros_like(like) if g is None else g


def pop_grad(b, like):
    """Pop the cotangent of the last appended element (zero when it has none)."""
    g = b.pop()
    return zeros_like(like) if g is None else g


def push_grad(b, x, g):
    """The cotangent list of ``x`` after ``v = x.pop()`` is undone: a new list, the first
    ``len(x)`` entries of ``b`` (``None`` where ``b`` is shorter; entries of items popped
    since are dropped) followed by ``g``."""
    return list_prefix(b, len(x)) + [g]


def list_prefix(b, n):
    """The first ``n`` entries of a cotangent list, ``None`` where ``b`` is shorter."""
    if b is None:
        return [None] * n
    head = list(b[:n])
    return head + [None] * (n - len(head))


def snapshot_all(values):
    """A deep copy of saved values in which values that alias each other still do."""
    return copy.deepcopy(values)


def snapshot(v):
    """A copy of an array or list (they get modified in place); other values as they are."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if type(v) is list:
        return list(v)
    return v


def owned(b, x):
    """A fresh, writable copy of the cotangent ``b`` (zeros shaped like ``x`` for ``None``)."""
    if b is None:
        return zeros_like(x)
    if type(b) is list:
        return [finalize(p, q) for p, q in zip(b, x)]
    return np.array(b, dtype=np.result_type(b, 1.0), copy=True)


def finalize(b, x):
    """A cotangent ready to return: ``None`` entries become zeros shaped like ``x``."""
    if b is None:
        return zeros_like(x)
    if type(b) is list:
        return [finalize(p, q) for p, q in zip(b, x)]
    if isinstance(b, tuple):
        return tuple(finalize(p, q) for p, q in zip(b, x))
    return b


def scalar_seed(y, name="the function"):
    """The seed ``1.0`` of reverse mode, after checking that ``y`` is a scalar."""
    if type(y) is float or getattr(y, "ndim", None) == 0:
        return 1.0
    if np.ndim(y) != 0 or isinstance(y, (list, tuple)):
        raise ValueError(
            f"grad requires {name} to return a scalar (a Python number or a 0-d array), "
            f"but it returned a value of shape {np.shape(y)}; use chainrule.vjp for "
            "non-scalar outputs or chainrule.elementwise_grad for elementwise functions"
        )
    if not isinstance(y, (int, float, complex, np.number)):
        raise TypeError(
            f"grad requires {name} to return a number, but it returned "
            f"{type(y).__name__} {y!r}"
        )
    return 1.0


# --------------------------------------------------------------------------- rule helpers
# Helpers used inside the rule library's formulas (chainrule.rules.*). Each is either linear
# in its first argument (with VJP and JVP rules in chainrule.rules.runtime_rules) or returns
# only shapes, axes, index tuples or constant arrays (registered as non-differentiable).

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def fit_to(g, x):
    """``g`` truncated or zero-padded along each axis to ``x``'s shape, and made real when
    ``x`` is real: how FFT rules return the cotangent of an input padded to length ``n``."""
    shape = np.shape(x)
    for axis, n in enumerate(shape):
        m = np.shape(g)[axis]
        if m > n:
            g = g[(slice(None),) * axis + (slice(0, n),)]
        elif m < n:
            pad = [(0, 0)] * len(shape)
            pad[axis] = (0, n - m)
            g = np.pad(g, pad)
    if np.iscomplexobj(g) and not np.iscomplexobj(x):
        g = np.real(g)
    return g


def split_like(g, arrays, axis=0):
    """Cut ``g`` along ``axis`` into pieces shaped like ``arrays`` (the adjoint of
    ``np.concatenate`` and the ``np.*stack`` family; ``axis=None`` means flattened)."""
    if axis is None:
        g = np.ravel(g)
        axis = 0
    n = np.shape(g)[axis]
    other = np.size(g) // n if n else 1
    bounds = np.cumsum([np.size(x) // other for x in arrays])[:-1]
    pieces = np.split(g, bounds, axis=axis)
    return [np.reshape(p, np.shape(x)) for p, x in zip(pieces, arrays, strict=True)]


def join_like(parts, like, axis=0):
    """Concatenate ``parts`` along ``axis`` into an array shaped like ``like`` (the inverse
    and adjoint of :func:`split_like`)."""
    if axis is None:
        return np.reshape(np.concatenate([np.ravel(p) for p in parts]), np.shape(like))
    shape = list(np.shape(like))
    other = np.size(like) // shape[axis] if shape[axis] else 1
    pieces = []
    for p in parts:
        piece_shape = list(shape)
        piece_shape[axis] = np.size(p) // other
        pieces.append(np.reshape(p, piece_shape))
    return np.concatenate(pieces, axis=axis)


def unstack(g, axis=0):
    """The list of slices of ``g`` along ``axis`` (the adjoint of ``np.stack``)."""
    moved = np.moveaxis(g, axis, 0)
    return [moved[i] for i in range(np.shape(moved)[0])]


def nested_stack(t):
    """Stack a nested list of arrays and numbers into one array (``np.array`` of a list)."""
    if type(t) is list or type(t) is tuple:
        return np.stack([nested_stack(e) for e in t])
    return t


def nested_unstack(g, like):
    """Split ``g`` into a nested list shaped like the list ``like`` (the adjoint of
    ``np.array(list)``); an array ``like`` gets ``g`` reshaped to its shape."""
    g = np.reshape(g, np.shape(like))
    if type(like) is list or type(like) is tuple:
        return [nested_unstack(p, e) for p, e in zip(unstack(g, 0), like, strict=True)]
    return g


def repeat_adjoint(g, a, repeats, axis=None):
    """The cotangent of ``a`` for ``np.repeat(a, repeats, axis)``: sums of repeated entries."""
    if axis is None:
        g = np.ravel(g)
        n = np.size(a)
        axis = 0
    else:
        n = np.shape(a)[axis]
    owner = np.repeat(np.arange(n), np.broadcast_to(repeats, (n,)))
    select = np.expand_dims(np.arange(n), 1) == np.expand_dims(owner, 0)
    out = np.moveaxis(np.tensordot(select, np.moveaxis(g, axis, 0), axes=1), 0, axis)
    return np.reshape(out, np.shape(a))


def tile_adjoint(g, A, reps):
    """The cotangent of ``A`` for ``np.tile(A, reps)``: the sum of all tiles."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    d = max(np.ndim(A), len(reps))
    shape = (1,) * (d - np.ndim(A)) + tuple(np.shape(A))
    reps = (1,) * (d - len(reps)) + reps
    g = np.reshape(g, [k for r, n in zip(reps, shape, strict=True) for k in (r, n)])
    return np.reshape(np.sum(g, axis=tuple(range(0, 2 * d, 2))), np.shape(A))


def diagonal_adjoint(g, a, offset=0, axis1=0, axis2=1):
    """The cotangent of ``a`` for ``np.diagonal(a, offset, axis1, axis2)``: ``g`` written on
    that diagonal of zeros."""
    n, m = np.shape(a)[axis1], np.shape(a)[axis2]
    eye = np.eye(n, m, k=offset)
    pad = [(0, 0)] * np.ndim(g)
    if offset >= 0:
        pad[-1] = (0, n - np.shape(g)[-1])
        out = np.expand_dims(np.pad(g, pad), -1) * eye
    else:
        pad[-1] = (0, m - np.shape(g)[-1])
        out = np.expand_dims(np.pad(g, pad), -2) * eye
    return np.moveaxis(out, (-2, -1), (axis1, axis2))


def _tensordot_axes(a, b, axes):
    na, nb = np.ndim(a), np.ndim(b)
    if np.ndim(axes) == 0:
        ax_a, ax_b = list(range(na - axes, na)), list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if np.ndim(ax_a) == 0 else list(ax_a)
        ax_b = [ax_b] if np.ndim(ax_b) == 0 else list(ax_b)
    ax_a = [int(i) % na for i in ax_a]
    ax_b = [int(i) % nb for i in ax_b]
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [i for i in range(nb) if i not in ax_b]
    return ax_a, ax_b, free_a, free_b


def tensordot_adjoint_a(g, a, b, axes=2):
    """The cotangent of ``a`` for ``np.tensordot(a, b, axes)``."""
    ax_a, ax_b, free_a, free_b = _tensordot_axes(a, b, axes)
    nfa = len(free_a)
    out = np.tensordot(g, b, axes=(list(range(nfa, np.ndim(g))), free_b))
    order = sorted(ax_b)
    perm = [0] * np.ndim(a)
    for i, axis in enumerate(free_a):
        perm[axis] = i
    for axis_a, axis_b in zip(ax_a, ax_b, strict=True):
        perm[axis_a] = nfa + order.index(axis_b)
    return np.transpose(out, perm)


def tensordot_adjoint_b(g, a, b, axes=2):
    """The cotangent of ``b`` for ``np.tensordot(a, b, axes)``."""
    ax_a, ax_b, free_a, free_b = _tensordot_axes(a, b, axes)
    nfa = len(free_a)
    out = np.tensordot(a, g, axes=(free_a, list(range(nfa))))
    order = sorted(ax_a)
    perm = [0] * np.ndim(b)
    for i, axis in enumerate(free_b):
        perm[axis] = len(ax_a) + i
    for axis_a, axis_b in zip(ax_a, ax_b, strict=True):
        perm[axis_b] = order.index(axis_a)
    return np.transpose(out, perm)


def dot_axes(a, b):
    """The ``axes`` argument that makes ``np.tensordot(a, b, axes)`` equal ``np.dot(a, b)``."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return 0
    return ([-1], [-2 if np.ndim(b) > 1 else -1])


def _kron_shapes(a, b):
    d = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (d - np.ndim(a)) + tuple(np.shape(a))
    sb = (1,) * (d - np.ndim(b)) + tuple(np.shape(b))
    return d, sa, sb


def kron_adjoint_a(g, a, b):
    """The cotangent of ``a`` for ``np.kron(a, b)``."""
    d, sa, sb = _kron_shapes(a, b)
    blocks = np.reshape(g, [k for p in zip(sa, sb, strict=True) for k in p])
    b_in = np.reshape(b, [k for n in sb for k in (1, n)])
    return np.reshape(np.sum(blocks * b_in, axis=tuple(range(1, 2 * d, 2))), np.shape(a))


def kron_adjoint_b(g, a, b):
    """The cotangent of ``b`` for ``np.kron(a, b)``."""
    d, sa, sb = _kron_shapes(a, b)
    blocks = np.reshape(g, [k for p in zip(sa, sb, strict=True) for k in p])
    a_in = np.reshape(a, [k for n in sa for k in (n, 1)])
    return np.reshape(np.sum(blocks * a_in, axis=tuple(range(0, 2 * d, 2))), np.shape(b))


def diff_adjoint(g, n=1, axis=-1):
    """The cotangent of ``a`` for ``np.diff(a, n, axis)``."""
    for _ in range(n):
        zero = np.zeros_like(np.take(g, [0], axis=axis))
        g = -np.diff(np.concatenate([zero, g, zero], axis=axis), axis=axis)
    return g


def weights_like(weights, a, axis=None):
    """``np.average``'s ``weights`` reshaped to broadcast against ``a`` (1-D weights lie along
    ``axis``)."""
    if np.ndim(weights) == 1 and np.ndim(a) > 1 and axis is not None:
        shape = [1] * np.ndim(a)
        shape[axis] = -1
        return np.reshape(weights, shape)
    return weights


def reshape_method(a, *shape, order="C"):
    """``a.reshape(*shape)``: the method takes the shape as one tuple or as varargs."""
    return np.reshape(a, shape[0] if len(shape) == 1 else shape, order=order)


def transpose_method(a, *axes):
    """``a.transpose(*axes)``: the method takes the axes as one tuple, as varargs or none."""
    return np.transpose(a, axes[0] if len(axes) == 1 else (axes or None))


def inverse_axes(axes, ndim):
    """The permutation undoing ``np.transpose(x, axes)`` for an ``ndim``-dimensional ``x``."""
    if axes is None or len(axes) == 0:
        return None
    return tuple(int(i) for i in np.argsort(np.mod(axes, ndim)))


def astype(x, dtype, order="K", casting="unsafe", subok=True, copy=True):
    """``x.astype(dtype)`` as a function (the method form has no ``np.*`` equivalent before
    NumPy 2.1)."""
    if hasattr(np, "astype"):
        return np.astype(x, dtype, copy=copy)
    return np.asarray(x).astype(dtype, order=order, casting=casting, subok=subok, copy=copy)


def extremum_mask(a, ans, axis=None, keepdims=False):
    """Where ``a`` attains the reduced extremum ``ans``, normalised so that ties share."""
    mask = a == expand_reduced(ans, a, axis, keepdims)
    return mask / np.sum(mask, axis=axis, keepdims=True)


def irfft_weights(g, axis):
    """Weights along ``axis`` mapping ``np.fft.ifft(g)`` to the cotangent of ``irfft``'s input:
    1 for the zero frequency (and Nyquist when the length is even), 2 for the others, 0 for
    the negative frequencies."""
    n = np.shape(g)[axis]
    k = np.arange(n)
    w = np.where(k == 0, 1.0, np.where(2 * k < n, 2.0, np.where(2 * k == n, 1.0, 0.0)))
    shape = [1] * np.ndim(g)
    shape[axis] = n
    return np.reshape(w, shape)


def fft_axes(a, s=None, axes=None):
    """The axes ``np.fft.fftn(a, s, axes)`` transforms."""
    if axes is not None:
        return tuple(axes)
    if s is None:
        return tuple(range(np.ndim(a)))
    return tuple(range(np.ndim(a) - len(s), np.ndim(a)))


def fft_lengths(a, s=None, axes=None):
    """The lengths ``np.fft.rfftn(a, s, axes)`` transforms (before halving the last one)."""
    if s is not None:
        return tuple(s)
    return tuple(np.shape(a)[i] for i in fft_axes(a, s, axes))


def pad_slices(array, pad_width, mode="constant"):
    """The index of the original ``array`` inside ``np.pad(array, pad_width)``."""
    if mode != "constant":
        raise NotImplementedError(
            f"the reverse-mode derivative of np.pad supports mode='constant', not {mode!r}"
        )
    widths = np.broadcast_to(pad_width, (np.ndim(array), 2))
    return tuple(
        slice(int(w[0]), int(w[0]) + n) for w, n in zip(widths, np.shape(array), strict=True)
    )


def take_index(a, indices, axis=None, mode="raise"):
    """An index with ``a[index] == np.take(a, indices, axis, mode=mode)``."""
    n = np.size(a) if axis is None else np.shape(a)[axis]
    if mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    elif mode == "wrap" or axis is None:
        indices = np.mod(indices, n)
    if axis is None:
        return np.unravel_index(indices, np.shape(a))
    return (slice(None),) * (axis % np.ndim(a)) + (indices,)


def along_axis_index(arr, indices, axis=-1):
    """An index with ``arr[index] == np.take_along_axis(arr, indices, axis)``."""
    if axis is None:
        return np.unravel_index(np.mod(indices, np.size(arr)), np.shape(arr))
    axis = axis % np.ndim(arr)
    index = []
    for d, n in enumerate(np.shape(indices)):
        if d == axis:
            index.append(indices)
        else:
            shape = [1] * np.ndim(indices)
            shape[d] = n
            index.append(np.reshape(np.arange(n), shape))
    return tuple(index)


def _einsum_parse(subscripts, operands):
    if not isinstance(subscripts, str):
        raise TypeError("chainrule differentiates np.einsum called with a subscripts string")
    spec = subscripts.replace(" ", "")
    inputs, _, output = spec.partition("->")
    inputs = inputs.split(",")
    free = [c for c in _LETTERS if c not in spec]
    pairs = list(zip(inputs, operands, strict=True))
    n_ell = max([np.ndim(x) - len(s) + 3 for s, x in pairs if "..." in s] or [0])
    ell = "".join(free[:n_ell])
    expanded = []
    for s, x in pairs:
        if "..." in s:
            k = np.ndim(x) - len(s) + 3
            s = s.replace("...", ell[n_ell - k:])
        expanded.append(s)
    if "->" in spec:
        output = output.replace("...", ell)
    else:
        letters = "".join(inputs).replace(".", "")
        output = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return expanded, output, free[n_ell:]


def _einsum_adjoint(subscripts, operands, i):
    inputs, output, fresh = _einsum_parse(subscripts, operands)
    target = inputs[i]
    others = inputs[:i] + inputs[i + 1:]
    sizes = dict(zip(target, np.shape(operands[i]), strict=True))
    result, eyes = "", []
    for c in target:
        if c in result:
            f = fresh.pop(0)
            eyes.append(c + f)
            result += f
        else:
            result += c
    covered = set(output + "".join(others) + "".join(eyes))
    ones = [c for c in result if c not in covered]
    spec = ",".join([output, *others, *eyes, *ones]) + "->" + result
    extras = [np.eye(sizes[e[0]]) for e in eyes] + [np.ones(sizes[c]) for c in ones]
    return spec, extras


def einsum_adjoint_spec(subscripts, operands, i):
    """The subscripts of the einsum giving operand ``i``'s cotangent: the output's
    subscripts, the other operands', then :func:`einsum_adjoint_extras`'."""
    return _einsum_adjoint(subscripts, operands, i)[0]


def einsum_adjoint_extras(subscripts, operands, i):
    """Constant operands the cotangent einsum of operand ``i`` needs: an identity for each
    repeated index (a diagonal) and ones for each index summed over that operand alone."""
    return _einsum_adjoint(subscripts, operands, i)[1]


def symmetrize_tri(a, lower=True):
    """The symmetric matrix that the lower (``lower=True``) or upper triangle of ``a`` stands
    for: what ``np.linalg.cholesky``, ``eigh`` and ``eigvalsh`` actually read."""
    if lower:
        return np.tril(a) + np.swapaxes(np.tril(a, -1), -1, -2)
    return np.triu(a) + np.swapaxes(np.triu(a, 1), -1, -2)


def symmetrize_tri_adjoint(g, lower=True):
    """The adjoint of :func:`symmetrize_tri`: the cotangent of a matrix of which only one
    triangle is read, from the cotangent ``g`` of the symmetric matrix it stands for."""
    if lower:
        return np.tril(g) + np.tril(np.swapaxes(g, -1, -2), -1)
    return np.triu(g) + np.triu(np.swapaxes(g, -1, -2), 1)


# --------------------------------------------------------------------------- Jacobian helpers
# Used by the drivers of chainrule.jacfwd, jacrev, hessian and forward-mode grad (see
# chainrule.forward_api); their rules are registered in chainrule.forward_rules. ``basis``,
# ``element_count`` and ``zero_tangent`` make constants; the others only move numbers around
# (linear in their first argument).


def basis(x, k):
    """The ``k``-th unit tangent shaped like ``x`` (flat index ``k``); ``1.0`` for a number."""
    if type(x) is tuple or type(x) is list or x is None:
        raise ValueError(_NOT_A_JACOBIAN.format(type(x).__name__))
    if np.ndim(x) == 0:
        return 1.0
    e = np.zeros(np.shape(x), dtype=np.result_type(x, 1.0))
    e.flat[k] = 1.0
    return e


def element_count(x):
    """The number of elements of an array or number (what a Jacobian has one row or column
    per); a ``ValueError`` naming the alternatives for tuples and lists."""
    if type(x) is tuple or type(x) is list or x is None:
        raise ValueError(_NOT_A_JACOBIAN.format(type(x).__name__))
    return int(np.size(x))


def output_basis(out, k):
    """The ``k``-th unit cotangent of an output: :func:`basis`, and for a tuple or list of
    arrays and numbers a tuple in which ``k`` counts through the entries in order (the
    entry holding it gets the unit, the others zeros)."""
    if type(out) is not tuple and type(out) is not list:
        return basis(out, k)
    parts = []
    for e in out:
        n = element_count(e)
        parts.append(basis(e, k) if 0 <= k < n else zero_tangent(e))
        k -= n
    return tuple(parts)


def output_count(out):
    """The number of elements of an output: :func:`element_count`, summed over the entries
    of a tuple or list."""
    if type(out) is tuple or type(out) is list:
        return sum(element_count(e) for e in out)
    return element_count(out)


_NOT_A_JACOBIAN = (
    "Jacobians (chainrule.jacfwd, jacrev, hessian, forward-mode grad) are taken with respect "
    "to arrays and numbers, not a {}; use chainrule.jvp or chainrule.vjp for tuples and "
    "lists")


def zero_tangent(x):
    """A zero tangent with the structure of ``x``: ``None`` stays ``None`` (it means zero to
    the runtime's cotangent helpers), numbers give ``0.0``, arrays zeros, lists and tuples
    their elements' zeros."""
    if x is None:
        return None
    if type(x) is list:
        return [zero_tangent(e) for e in x]
    if type(x) is tuple:
        return tuple(zero_tangent(e) for e in x)
    if type(x) in (float, int, bool, complex):
        return 0.0
    return np.zeros_like(x, dtype=np.result_type(x, 1.0))


def jacobian_columns(cols, out, x):
    """Stack JVP results, one per element of ``x``, into the Jacobian of ``out`` with respect
    to ``x``, shaped ``out.shape + x.shape`` (a tuple of such Jacobians for a tuple ``out``).
    ``None`` columns are zeros. A 0-d result is a NumPy scalar."""
    if type(out) is tuple or type(out) is list:
        return tuple(jacobian_columns([None if c is None else c[i] for c in cols], out[i], x)
                     for i in range(len(out)))
    shape = np.shape(out)
    if not cols:
        return np.zeros(shape + np.shape(x))
    stacked = np.stack([np.broadcast_to(0.0 if c is None else c, shape) for c in cols], axis=-1)
    return np.reshape(stacked, shape + np.shape(x))[()]


def jacobian_columns_adjoint(g, out, x):
    """The adjoint of :func:`jacobian_columns`: the list of columns of the Jacobian ``g``."""
    n = int(np.size(x))
    if type(out) is tuple or type(out) is list:
        parts = [jacobian_columns_adjoint(g[i], out[i], x) for i in range(len(out))]
        return [tuple(p[k] for p in parts) for k in range(n)]
    flat = np.reshape(g, np.shape(out) + (n,))
    return [flat[..., k] for k in range(n)]


def jacobian_rows(rows, out, x):
    """Stack VJP results, one per element of ``out``, into the Jacobian of ``out`` with
    respect to ``x``, shaped ``out.shape + x.shape`` (a tuple of such Jacobians for a tuple
    or list ``out``, whose elements the rows follow entry by entry, as
    :func:`output_basis` counts them). ``None`` rows are zeros."""
    if type(x) is tuple or type(x) is list or x is None:
        raise ValueError(_NOT_A_JACOBIAN.format(type(x).__name__))
    if type(out) is tuple or type(out) is list:
        parts, start = [], 0
        for e in out:
            n = element_count(e)
            parts.append(jacobian_rows(rows[start:start + n], e, x))
            start += n
        return tuple(parts)
    shape = np.shape(x)
    if not rows:
        return np.zeros(np.shape(out) + shape)
    stacked = np.stack([np.broadcast_to(0.0 if r is None else r, shape) for r in rows], axis=0)
    return np.reshape(stacked, np.shape(out) + shape)[()]


def jacobian_rows_adjoint(g, out, x):
    """The adjoint of :func:`jacobian_rows`: the list of rows of the Jacobian ``g``
    (``None`` rows for a ``None``, that is zero, cotangent)."""
    if g is None:
        return [None] * output_count(out)
    if type(out) is tuple or type(out) is list:
        rows = []
        for gi, e in zip(g, out):
            rows += jacobian_rows_adjoint(gi, e, x)
        return rows
    m = int(np.size(out))
    flat = np.reshape(g, (m,) + np.shape(x))
    return [flat[k] for k in range(m)]


def by_output(jacs, out):
    """Jacobians indexed ``[argument][output]`` regrouped as ``[output][argument]`` (JAX's
    order) when ``out`` is a tuple; unchanged otherwise."""
    if type(out) is tuple or type(out) is list:
        return tuple(tuple(j[i] for j in jacs) for i in range(len(out)))
    return jacs


def by_argument(jacs, out):
    """The inverse (and adjoint) of :func:`by_output`."""
    if type(out) is tuple or type(out) is list:
        n = len(jacs[0]) if len(jacs) else 0
        return tuple(tuple(jacs[i][j] for i in range(len(out))) for j in range(n))
    return jacs


def sum_adjoint(g, x):
    """Cotangent of ``x`` for ``y = sum(x)``: ``g`` shaped like each element, as a list for
    a list or tuple ``x``, as an array shaped like ``x`` for an array (summed along axis 0)."""
    if isinstance(x, np.ndarray):
        return np.zeros(np.shape(x), dtype=np.result_type(x, g, 1.0)) + g
    return [broadcast_like(g, e) for e in x]


def sum_cotangents(ct, like):
    """The sum of a list of cotangents (``None`` is zero), shaped like ``like``."""
    total = zeros_like(like)
    for c in ct:
        if c is not None:
            total = total + unbroadcast(c, like)
    return total
