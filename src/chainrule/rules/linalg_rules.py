"""Rules for ``np.linalg``.

Guarantees:

* ``inv``, ``pinv`` (full rank), ``det``, ``slogdet``, ``solve``, ``cholesky``, ``eigh``,
  ``eigvalsh``, ``svd`` (square, or ``full_matrices=False``; distinct singular values),
  ``qr`` (``mode='reduced'``, rows >= columns), ``norm`` and ``matrix_power`` have VJP and
  JVP rules, all for stacks of matrices too, checked against central finite differences in
  float64 by ``tests/test_rules.py``.
* ``cholesky``, ``eigh`` and ``eigvalsh`` read one triangle of their input (NumPy ignores the
  other), and their rules are the exact derivative of that: the cotangent lives on the read
  triangle (:func:`chainrule.runtime.symmetrize_tri_adjoint`). For a symmetric input built
  by the user's code, the chain rule gives the usual symmetric gradient.
* Multi-output functions (``slogdet``, ``eigh``, ``svd``, ``qr``) receive a tuple ``g`` (one
  cotangent per output, zeros materialised) in reverse mode and return a tuple of output
  tangents in forward mode.
* Multi-statement rules take NumPy's keyword-only parameters (``upper``, ``rtol``) as
  ordinary ones, with the same names and defaults: NumPy never passes them positionally, and
  generated code calls these rules with all arguments in order.
* Eigen/singular vector rules divide by differences of eigen/singular values: they are
  exact for distinct values and infinite (not silently wrong) for repeated ones.
"""

import numpy as np

from ..runtime import (
    expand_reduced,
    extremum_mask,
    matmul_adjoint_x,
    symmetrize_tri,
    symmetrize_tri_adjoint,
)
from .registry import defjvp, defvjp

# --------------------------------------------------------------------------- inverse, det, solve

defvjp(
    np.linalg.inv,
    lambda g, ans, a: -np.swapaxes(ans, -1, -2) @ g @ np.swapaxes(ans, -1, -2),
)
defjvp(np.linalg.inv, lambda g, ans, a: -ans @ g @ ans)
defvjp(
    np.linalg.det,
    lambda g, ans, a: np.expand_dims(g * ans, (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2),
)
defjvp(
    np.linalg.det,
    lambda g, ans, a: ans * np.trace(np.linalg.solve(a, g), axis1=-2, axis2=-1),
)
# slogdet returns (sign, logabsdet); the sign is piecewise constant.
defvjp(
    np.linalg.slogdet,
    lambda g, ans, a: np.expand_dims(g[1], (-2, -1)) * np.swapaxes(np.linalg.inv(a), -1, -2),
)
defjvp(
    np.linalg.slogdet,
    lambda g, ans, a:
        (np.zeros_like(ans[0]), np.trace(np.linalg.solve(a, g), axis1=-2, axis2=-1)),
)
# x = solve(a, b): b's cotangent is solve(a^T, g), a's is minus that times x^T.
defvjp(
    np.linalg.solve,
    lambda g, ans, a, b:
        matmul_adjoint_x(-np.linalg.solve(np.swapaxes(a, -1, -2), g), a, ans),
    lambda g, ans, a, b: np.linalg.solve(np.swapaxes(a, -1, -2), g),
    broadcasts=True,  # stacks of a and b broadcast against each other
)
defjvp(
    np.linalg.solve,
    lambda g, ans, a, b: -np.linalg.solve(a, g @ ans),
    lambda g, ans, a, b: np.linalg.solve(a, g),
    broadcasts=True,
)


def pinv_vjp(g, ans, a, rcond=None, hermitian=False, rtol=None):
    pt = np.swapaxes(ans, -1, -2)
    gt = np.swapaxes(g, -1, -2)
    m, n = np.shape(a)[-2:]
    return (
        -pt @ g @ pt
        + (np.eye(m) - a @ ans) @ gt @ ans @ pt
        + pt @ ans @ gt @ (np.eye(n) - ans @ a)
    )


def pinv_jvp(g, ans, a, rcond=None, hermitian=False, rtol=None):
    pt = np.swapaxes(ans, -1, -2)
    gt = np.swapaxes(g, -1, -2)
    m, n = np.shape(a)[-2:]
    return (
        -ans @ g @ ans
        + ans @ pt @ gt @ (np.eye(m) - a @ ans)
        + (np.eye(n) - ans @ a) @ gt @ pt @ ans
    )


defvjp(np.linalg.pinv, pinv_vjp)
defjvp(np.linalg.pinv, pinv_jvp)


def matrix_power_vjp(g, ans, a, n):
    b = a if n >= 0 else np.linalg.inv(a)
    bt = np.swapaxes(b, -1, -2)
    k = abs(n)
    ct = np.zeros_like(bt)
    for i in range(k):
        ct = ct + np.linalg.matrix_power(bt, i) @ g @ np.linalg.matrix_power(bt, k - 1 - i)
    return ct if n >= 0 else -bt @ ct @ bt


def matrix_power_jvp(g, ans, a, n):
    b = a if n >= 0 else np.linalg.inv(a)
    db = g if n >= 0 else -b @ g @ b
    k = abs(n)
    out = np.zeros_like(b @ db)
    for i in range(k):
        out = out + np.linalg.matrix_power(b, i) @ db @ np.linalg.matrix_power(b, k - 1 - i)
    return out


defvjp(np.linalg.matrix_power, matrix_power_vjp, None)
defjvp(np.linalg.matrix_power, matrix_power_jvp, None)

# --------------------------------------------------------------------------- decompositions


def cholesky_vjp(g, ans, a, upper=False):
    l = np.swapaxes(ans, -1, -2) if upper else ans
    gl = np.swapaxes(g, -1, -2) if upper else g
    half_diag = 1 - np.eye(np.shape(a)[-1]) / 2
    phi = np.tril(np.swapaxes(l, -1, -2) @ gl) * half_diag
    linv = np.linalg.inv(l)
    return symmetrize_tri_adjoint(np.swapaxes(linv, -1, -2) @ phi @ linv, not upper)


def cholesky_jvp(g, ans, a, upper=False):
    l = np.swapaxes(ans, -1, -2) if upper else ans
    half_diag = 1 - np.eye(np.shape(a)[-1]) / 2
    linv = np.linalg.inv(l)
    x = linv @ symmetrize_tri(g, not upper) @ np.swapaxes(linv, -1, -2)
    dl = l @ (np.tril(x) * half_diag)
    return np.swapaxes(dl, -1, -2) if upper else dl


defvjp(np.linalg.cholesky, cholesky_vjp)
defjvp(np.linalg.cholesky, cholesky_jvp)


def eigh_vjp(g, ans, a, UPLO="L"):
    w, v = ans
    gw, gv = g
    vt = np.swapaxes(v, -1, -2)
    eye = np.eye(np.shape(w)[-1])
    f = 1 / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye) - eye  # 1 / (w_j - w_i)
    inner = eye * np.expand_dims(gw, -1) + f * (vt @ gv)
    return symmetrize_tri_adjoint(v @ inner @ vt, UPLO == "L")


def eigh_jvp(g, ans, a, UPLO="L"):
    w, v = ans
    eye = np.eye(np.shape(w)[-1])
    f = 1 / (np.expand_dims(w, -2) - np.expand_dims(w, -1) + eye) - eye  # 1 / (w_j - w_i)
    x = np.swapaxes(v, -1, -2) @ symmetrize_tri(g, UPLO == "L") @ v
    return (np.diagonal(x, 0, -2, -1), v @ (f * x))


defvjp(np.linalg.eigh, eigh_vjp)
defjvp(np.linalg.eigh, eigh_jvp)


def eigvalsh_vjp(g, ans, a, UPLO="L"):
    v = np.linalg.eigh(a, UPLO)[1]
    return symmetrize_tri_adjoint(
        v @ (np.expand_dims(g, -1) * np.swapaxes(v, -1, -2)), UPLO == "L"
    )


def eigvalsh_jvp(g, ans, a, UPLO="L"):
    v = np.linalg.eigh(a, UPLO)[1]
    return np.sum(v * (symmetrize_tri(g, UPLO == "L") @ v), axis=-2)


defvjp(np.linalg.eigvalsh, eigvalsh_vjp)
defjvp(np.linalg.eigvalsh, eigvalsh_jvp)


def svd_vjp(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return u @ (np.expand_dims(g, -1) * vh)
    if full_matrices and np.shape(a)[-1] != np.shape(a)[-2]:
        raise ValueError(
            "the derivative of np.linalg.svd of a non-square matrix needs "
            "full_matrices=False (the extra singular vectors are not unique)"
        )
    u, s, vh = ans
    gu, gs, gvh = g
    ut, v, gv = np.swapaxes(u, -1, -2), np.swapaxes(vh, -1, -2), np.swapaxes(gvh, -1, -2)
    s_row, s_col = np.expand_dims(s, -2), np.expand_dims(s, -1)
    eye = np.eye(np.shape(s)[-1])
    f = 1 / (s_row**2 - s_col**2 + eye) - eye  # 1 / (s_j^2 - s_i^2)
    j = f * (ut @ gu)
    k = f * (vh @ gv)
    core = (j + np.swapaxes(j, -1, -2)) * s_row + eye * np.expand_dims(gs, -1)
    core = core + s_col * (k + np.swapaxes(k, -1, -2))
    ct = u @ core @ vh
    ct = ct + (gu - u @ (ut @ gu)) / s_row @ vh
    return ct + u @ ((gvh - (gvh @ v) @ vh) / s_col)


def svd_jvp(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    if not compute_uv:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        return np.sum(u * (g @ np.swapaxes(vh, -1, -2)), axis=-2)
    if full_matrices and np.shape(a)[-1] != np.shape(a)[-2]:
        raise ValueError(
            "the derivative of np.linalg.svd of a non-square matrix needs "
            "full_matrices=False (the extra singular vectors are not unique)"
        )
    u, s, vh = ans
    ut, v, gt = np.swapaxes(u, -1, -2), np.swapaxes(vh, -1, -2), np.swapaxes(g, -1, -2)
    s_row, s_col = np.expand_dims(s, -2), np.expand_dims(s, -1)
    eye = np.eye(np.shape(s)[-1])
    f = 1 / (s_row**2 - s_col**2 + eye) - eye  # 1 / (s_j^2 - s_i^2)
    dp = ut @ g @ v
    dpt = np.swapaxes(dp, -1, -2)
    du = u @ (f * (dp * s_row + s_col * dpt)) + (g @ v - u @ (ut @ g @ v)) / s_row
    dv = v @ (f * (s_col * dp + dpt * s_row)) + (gt @ u - v @ (vh @ gt @ u)) / s_row
    return (du, np.diagonal(dp, 0, -2, -1), np.swapaxes(dv, -1, -2))


defvjp(np.linalg.svd, svd_vjp)
defjvp(np.linalg.svd, svd_jvp)


def qr_vjp(g, ans, a, mode="reduced"):
    if mode != "reduced" or np.shape(a)[-2] < np.shape(a)[-1]:
        raise ValueError("the derivative of np.linalg.qr needs mode='reduced' and rows >= columns")
    q, r = ans
    gq, gr = g
    qt_gq = np.swapaxes(q, -1, -2) @ gq
    gr_rt = gr @ np.swapaxes(r, -1, -2)
    skew = qt_gq - gr_rt
    b = gr_rt + np.tril(skew - np.swapaxes(skew, -1, -2), -1)
    y = gq + q @ (b - qt_gq)
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(y, -1, -2)), -1, -2)  # y r^-T


def qr_jvp(g, ans, a, mode="reduced"):
    if mode != "reduced" or np.shape(a)[-2] < np.shape(a)[-1]:
        raise ValueError("the derivative of np.linalg.qr needs mode='reduced' and rows >= columns")
    q, r = ans
    g_rinv = np.swapaxes(np.linalg.solve(np.swapaxes(r, -1, -2), np.swapaxes(g, -1, -2)), -1, -2)
    x = np.swapaxes(q, -1, -2) @ g_rinv
    lower = np.tril(x, -1)
    x_upper = x - (lower - np.swapaxes(lower, -1, -2))
    return (g_rinv - q @ x_upper, x_upper @ r)


defvjp(np.linalg.qr, qr_vjp)
defjvp(np.linalg.qr, qr_jvp)

# --------------------------------------------------------------------------- norm
# Both rules compute ``d``, the derivative of each norm with respect to ``x`` (shaped like
# ``x``); the VJP scales it by ``g``, the JVP contracts it with the tangent.


def norm_vjp(g, ans, x, ord=None, axis=None, keepdims=False):
    nx = expand_reduced(ans, x, axis, keepdims)
    matrix = np.ndim(axis) == 1 and len(axis) == 2 or axis is None and np.ndim(x) == 2
    if ord is None or ord == "fro" or (ord == 2 and not matrix):
        d = x / nx
    elif matrix and ord == "nuc":
        axes = (-2, -1) if axis is None else axis
        u, s, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
        d = np.moveaxis(u @ vh, (-2, -1), axes)
    elif matrix and ord == 2:
        axes = (-2, -1) if axis is None else axis
        u, s, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
        d = np.moveaxis(u[..., :, :1] @ vh[..., :1, :], (-2, -1), axes)
    elif matrix and (ord == 1 or ord == np.inf):
        axes = (-2, -1) if axis is None else axis
        summed = axes[0] if ord == 1 else axes[1]  # column sums for 1, row sums for inf
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        d = np.sign(x) * extremum_mask(sums, ans, axes, keepdims)
    elif matrix:
        raise NotImplementedError(f"no derivative for the matrix norm ord={ord!r}")
    elif ord == 1:
        d = np.sign(x)
    elif ord == np.inf or ord == -np.inf:
        d = np.sign(x) * extremum_mask(np.abs(x), ans, axis, keepdims)
    elif ord == 0:
        d = np.zeros_like(x)
    else:
        d = np.sign(x) * (np.abs(x) / nx) ** (ord - 1)
    return expand_reduced(g, x, axis, keepdims) * d


def norm_jvp(g, ans, x, ord=None, axis=None, keepdims=False):
    nx = expand_reduced(ans, x, axis, keepdims)
    matrix = np.ndim(axis) == 1 and len(axis) == 2 or axis is None and np.ndim(x) == 2
    if ord is None or ord == "fro" or (ord == 2 and not matrix):
        d = x / nx
    elif matrix and ord == "nuc":
        axes = (-2, -1) if axis is None else axis
        u, s, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
        d = np.moveaxis(u @ vh, (-2, -1), axes)
    elif matrix and ord == 2:
        axes = (-2, -1) if axis is None else axis
        u, s, vh = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), full_matrices=False)
        d = np.moveaxis(u[..., :, :1] @ vh[..., :1, :], (-2, -1), axes)
    elif matrix and (ord == 1 or ord == np.inf):
        axes = (-2, -1) if axis is None else axis
        summed = axes[0] if ord == 1 else axes[1]  # column sums for 1, row sums for inf
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        d = np.sign(x) * extremum_mask(sums, ans, axes, keepdims)
    elif matrix:
        raise NotImplementedError(f"no derivative for the matrix norm ord={ord!r}")
    elif ord == 1:
        d = np.sign(x)
    elif ord == np.inf or ord == -np.inf:
        d = np.sign(x) * extremum_mask(np.abs(x), ans, axis, keepdims)
    elif ord == 0:
        d = np.zeros_like(x)
    else:
        d = np.sign(x) * (np.abs(x) / nx) ** (ord - 1)
    return np.sum(g * d, axis=axis, keepdims=keepdims)


defvjp(np.linalg.norm, norm_vjp)
defjvp(np.linalg.norm, norm_jvp)
