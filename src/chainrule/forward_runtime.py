"""Runtime helpers of forward-mode and Jacobian code, with their derivative rules.

Generated forward-mode code (:mod:`chainrule.transform.forward`) and the Jacobian drivers
of :mod:`chainrule.forward_api` (``jacfwd``, ``jacrev``, ``hessian``, forward-mode
``grad``) call these helpers by name, next to those of :mod:`chainrule.runtime`.

Guarantees:

* Pure NumPy, self-contained (no helper calls another one), so that
  ``chainrule.source(fn, standalone=True)`` can copy each helper's source into an exported
  module that needs only NumPy.
* Helpers never mutate their inputs.
* Every helper is registered with the rule registry when this module is imported:
  ``basis``, ``element_count`` and ``zero_tangent`` are non-differentiable (they make constants); the others
  are linear in their first argument (they only move numbers around), so their JVP is the
  helper itself applied to the tangent and their VJP is the matching ``*_adjoint`` helper.
  Generated Jacobian code can therefore be differentiated again, in either mode.
"""

import numpy as np

from .rules.registry import defjvp, defvjp, nondifferentiable

__all__ = [
    "basis",
    "element_count",
    "zero_tangent",
    "jacobian_columns",
    "jacobian_columns_adjoint",
    "jacobian_rows",
    "jacobian_rows_adjoint",
    "by_output",
    "by_argument",
]


def basis(x, k):
    """The ``k``-th unit tangent shaped like ``x`` (flat index ``k``); ``1.0`` for a number."""
    if type(x) is tuple or type(x) is list or x is None:
        raise ValueError(
            "Jacobians (chainrule.jacfwd, jacrev, hessian, forward-mode grad) are taken of "
            f"arrays and numbers, not of a {type(x).__name__}; use chainrule.jvp or "
            "chainrule.vjp for tuples and lists")
    if np.ndim(x) == 0:
        return 1.0
    e = np.zeros(np.shape(x), dtype=np.result_type(x, 1.0))
    e.flat[k] = 1.0
    return e


def element_count(x):
    """The number of elements of an array or number (what a Jacobian has one row or column
    per); a ``ValueError`` naming the alternatives for tuples and lists."""
    if type(x) is tuple or type(x) is list or x is None:
        raise ValueError(
            "Jacobians (chainrule.jacfwd, jacrev, hessian, forward-mode grad) are taken of "
            f"arrays and numbers, not of a {type(x).__name__}; use chainrule.jvp or "
            "chainrule.vjp for tuples and lists")
    return int(np.size(x))


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
    respect to ``x``, shaped ``out.shape + x.shape``. ``None`` rows are zeros."""
    if type(out) is tuple or type(out) is list:
        raise ValueError(
            "chainrule.jacrev takes Jacobians of functions returning an array or a number, "
            "not a tuple; use chainrule.jacfwd, or chainrule.vjp for tuple outputs")
    shape = np.shape(x)
    if not rows:
        return np.zeros(np.shape(out) + shape)
    stacked = np.stack([np.broadcast_to(0.0 if r is None else r, shape) for r in rows], axis=0)
    return np.reshape(stacked, np.shape(out) + shape)[()]


def jacobian_rows_adjoint(g, out, x):
    """The adjoint of :func:`jacobian_rows`: the list of rows of the Jacobian ``g``."""
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


nondifferentiable(basis, element_count, zero_tangent)
defjvp(jacobian_columns, lambda g, ans, cols, out, x: jacobian_columns(g, out, x), None, None)
defvjp(jacobian_columns, lambda g, ans, cols, out, x: jacobian_columns_adjoint(g, out, x),
       None, None)
defjvp(jacobian_columns_adjoint,
       lambda ct, ans, g, out, x: jacobian_columns_adjoint(ct, out, x), None, None)
defvjp(jacobian_columns_adjoint, lambda ct, ans, g, out, x: jacobian_columns(ct, out, x),
       None, None)
defjvp(jacobian_rows, lambda g, ans, rows, out, x: jacobian_rows(g, out, x), None, None)
defvjp(jacobian_rows, lambda g, ans, rows, out, x: jacobian_rows_adjoint(g, out, x),
       None, None)
defjvp(jacobian_rows_adjoint, lambda ct, ans, g, out, x: jacobian_rows_adjoint(ct, out, x),
       None, None)
defvjp(jacobian_rows_adjoint, lambda ct, ans, g, out, x: jacobian_rows(ct, out, x), None, None)
defjvp(by_output, lambda g, ans, jacs, out: by_output(g, out), None)
defvjp(by_output, lambda g, ans, jacs, out: by_argument(g, out), None)
defjvp(by_argument, lambda g, ans, jacs, out: by_argument(g, out), None)
defvjp(by_argument, lambda g, ans, jacs, out: by_output(g, out), None)
