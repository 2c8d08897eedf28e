"""Shared test helpers: numeric gradients by central differences in float64."""

import numpy as np


def numeric_grad(f, args, argnum, eps=1e-6):
    """Central-difference gradient of scalar ``f`` with respect to ``args[argnum]``."""
    args = list(args)
    x = args[argnum]
    if isinstance(x, float):
        def at(v):
            a = list(args)
            a[argnum] = v
            return float(f(*a))

        return (at(x + eps) - at(x - eps)) / (2 * eps)
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xm = x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        a = list(args)
        a[argnum] = xp
        fp = float(f(*a))
        a[argnum] = xm
        fm = float(f(*a))
        g[idx] = (fp - fm) / (2 * eps)
    return g


def differentiable_argnums(args):
    out = []
    for i, a in enumerate(args):
        if isinstance(a, (bool, int, np.integer)):
            continue
        out.append(i)
    return out


def copy_args(args):
    return tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)
