"""Every row of the rule table (``tests/rule_cases.py``) run through the GradientTape.

* First order: the row's function is called on watched Tensors the way a user would call it
  (``np.sin(x)``, ``x.sum(axis=1)``, ``x.T``, ``operator.mul(x, y)``...; plain-Python
  primitives such as the ``chainrule.runtime`` helpers are recorded as themselves), the value
  must equal NumPy's, and the tape's gradient, seeded with a random output cotangent ``v``,
  must pass the inner-product test ``<grad, u> == <v, J u>`` with ``J u`` from central
  differences in float64 (complex values: real parts, as ``tests/test_rules.py``).
* Second order: inside an outer tape, the derivative of ``x -> <grad(x), u>`` along ``w``
  must match central differences of the tape's own first-order gradient. This runs every
  rule body on Tensors, which is how nested tapes give higher-order derivatives.
* Rows without differentiable arguments (non-differentiable methods and attributes) must give
  NumPy's value and an untracked result.
"""

from __future__ import annotations

import builtins
import copy
import math
import operator
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.tape.record import apply
from tests.rule_cases import CASES, Case

EPS = 1e-6
RTOL = 1e-5


# --------------------------------------------------------------------------- helpers

def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple))


def _random_like(x: Any, rng: np.random.Generator) -> Any:
    if _is_seq(x):
        return [_random_like(e, rng) for e in x]
    if np.iscomplexobj(x):
        return rng.standard_normal(np.shape(x)) + 1j * rng.standard_normal(np.shape(x))
    if np.ndim(x) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x))


def _cotangent_like(y: Any, rng: np.random.Generator) -> Any:
    if _is_seq(y):
        return tuple(_cotangent_like(e, rng) for e in y)
    if not np.issubdtype(np.result_type(y), np.inexact):
        return np.zeros(np.shape(y))
    return _random_like(y, rng)


def _axpy(x: Any, eps: float, u: Any) -> Any:
    if _is_seq(x):
        return [_axpy(a, eps, b) for a, b in zip(x, u, strict=True)]
    return x + eps * u


def _flat(y: Any) -> np.ndarray:
    if _is_seq(y):
        parts = [_flat(e) for e in y]
        return np.concatenate(parts) if parts else np.zeros(0)
    y = np.asarray(_plain(y))
    return np.ravel(y).astype(np.result_type(y.dtype, np.float64))


def _vdot(a: Any, b: Any) -> float:
    if a is None or b is None:
        return 0.0
    if _is_seq(a):
        return float(sum(_vdot(p, q) for p, q in zip(a, b, strict=True)))
    return float(np.real(np.sum(np.asarray(_plain(a)) * np.asarray(b))))


def _plain(y: Any) -> Any:
    if isinstance(y, (cr.Tensor, cr.Variable)):
        return y.numpy()
    if _is_seq(y):
        return [_plain(e) for e in y]
    return y


def _check_structure(g: Any, arg: Any, what: str) -> None:
    """A gradient has its argument's nesting and shapes, and is finite."""
    if _is_seq(arg):
        assert _is_seq(g) and len(g) == len(arg), f"{what}: expected a sequence gradient"
        for p, a in zip(g, arg, strict=True):
            _check_structure(p, a, what)
        return
    assert g.shape == np.shape(arg), f"{what}: gradient shape {g.shape} != {np.shape(arg)}"
    assert np.all(np.isfinite(g.numpy())), f"{what}: gradient is not finite"


def _pairs(g: Any, u: Any) -> list[tuple[Any, Any]]:
    """Matching leaves of a (nested) gradient and direction."""
    if _is_seq(g):
        return [pair for p, q in zip(g, u, strict=True) for pair in _pairs(p, q)]
    return [(g, u)]


def _tensors(x: Any) -> Any:
    if _is_seq(x):
        return type(x)(_tensors(e) for e in x)
    return cr.constant(x)


def _dispatches(fn: Any) -> bool:
    """Whether calling ``fn`` on Tensors reaches the tape by itself: ufuncs and NumPy's
    array functions (``__array_ufunc__`` / ``__array_function__``), operators (dunders).
    ``np.array`` / ``np.asarray`` do not: NumPy converts their argument with ``__array__``."""
    return (isinstance(fn, np.ufunc) or hasattr(fn, "_implementation")
            or getattr(fn, "__module__", None) == "_operator" or fn in (builtins.abs, builtins.pow))


def _call(c: Case, args: list[Any]) -> Any:
    """The row's function on tape values, spelled as a user would spell it."""
    if c.method:
        return getattr(args[0], c.method)(*args[1:], **c.kwargs)
    if c.attr:
        return getattr(args[0], c.attr)
    if _dispatches(c.fn):
        return c.fn(*args, **c.kwargs)
    return apply(c.fn, tuple(args), c.kwargs)  # recorded as itself, as the engine would


def _run_plain(c: Case, args: tuple) -> Any:
    return c.fn(*copy.deepcopy(args), **c.kwargs)


def _tape_gradient(c: Case, args: tuple, v: Any, us: dict[int, Any]) -> float:
    """``<grad, u>`` of the tape's gradient at ``args`` for output cotangent ``v``."""
    targs = list(args)
    for i in c.argnums:
        targs[i] = _tensors(args[i])
    sources = [targs[i] for i in c.argnums]
    with cr.GradientTape() as tape:
        tape.watch(sources)
        y = _call(c, targs)
    grads = tape.gradient(y, sources, output_gradients=v, unconnected_gradients="zero")
    return sum(_vdot(g, us[i]) for g, i in zip(grads, c.argnums, strict=True))


DIFF_CASES = [c for c in CASES if c.argnums]
PLAIN_CASES = [c for c in CASES if not c.argnums]


# --------------------------------------------------------------------------- first order

@pytest.mark.parametrize("c", DIFF_CASES, ids=[c.id for c in DIFF_CASES])
def test_tape_matches_finite_differences(c: Case) -> None:
    args = c.args()
    rng = np.random.default_rng(c.seed + 2)
    ans = _run_plain(c, args)
    us = {i: _random_like(args[i], rng) for i in c.argnums}
    plus, minus = list(args), list(args)
    for i, u in us.items():
        plus[i] = _axpy(args[i], EPS, u)
        minus[i] = _axpy(args[i], -EPS, u)
    ju = (_flat(_run_plain(c, tuple(plus))) - _flat(_run_plain(c, tuple(minus)))) / (2 * EPS)
    v = _cotangent_like(ans, rng)

    targs = list(args)
    for i in c.argnums:
        targs[i] = _tensors(args[i])
    with cr.GradientTape() as tape:
        tape.watch([targs[i] for i in c.argnums])
        y = _call(c, targs)
    np.testing.assert_allclose(_flat(y), _flat(ans), rtol=1e-12, atol=1e-12,
                               err_msg=f"{c.id}: value on the tape differs from NumPy's")
    grads = tape.gradient(y, [targs[i] for i in c.argnums], output_gradients=v,
                          unconnected_gradients="zero")
    for g, i in zip(grads, c.argnums, strict=True):
        _check_structure(g, args[i], c.id)
    exact = sum(_vdot(g, us[i]) for g, i in zip(grads, c.argnums, strict=True))
    fv = _flat(v)
    numeric = float(np.real(np.sum(fv * ju)))
    scale = float(np.sum(np.abs(fv * ju)))
    assert abs(exact - numeric) <= RTOL * scale + 1e-8, (
        f"{c.id}: tape <grad, u> = {exact!r} but <v, J u> by central differences = {numeric!r}")


# --------------------------------------------------------------------------- second order

@pytest.mark.parametrize("c", DIFF_CASES, ids=[c.id for c in DIFF_CASES])
def test_tape_second_order_matches_finite_differences(c: Case) -> None:
    args = c.args()
    rng = np.random.default_rng(c.seed + 3)
    ans = _run_plain(c, args)
    v = _cotangent_like(ans, rng)
    us = {i: _random_like(args[i], rng) for i in c.argnums}
    ws = {i: _random_like(args[i], rng) for i in c.argnums}

    targs = list(args)
    for i in c.argnums:
        targs[i] = _tensors(args[i])
    sources = [targs[i] for i in c.argnums]
    with cr.GradientTape() as outer:
        outer.watch(sources)
        with cr.GradientTape() as inner:
            inner.watch(sources)
            y = _call(c, targs)
        grads = inner.gradient(y, sources, output_gradients=v, unconnected_gradients="zero")
        terms = [np.sum(np.real(part * u)) for g, i in zip(grads, c.argnums, strict=True)
                 for part, u in _pairs(g, us[i])]
        s = builtins.sum(terms[1:], terms[0])
    second = outer.gradient(s, sources, unconnected_gradients="zero")
    exact = sum(_vdot(g, ws[i]) for g, i in zip(second, c.argnums, strict=True))

    plus, minus = list(args), list(args)
    for i, w in ws.items():
        plus[i] = _axpy(args[i], EPS, w)
        minus[i] = _axpy(args[i], -EPS, w)
    numeric = (_tape_gradient(c, tuple(plus), v, us)
               - _tape_gradient(c, tuple(minus), v, us)) / (2 * EPS)
    # Central differences of a computed gradient: looser than first order (rtol 1e-4).
    assert abs(exact - numeric) <= 1e-4 * max(abs(numeric), abs(exact)) + 1e-6, (
        f"{c.id}: second order on nested tapes {exact!r}, by central differences of the "
        f"tape's gradient {numeric!r}")


# --------------------------------------------------------------------------- no gradient

@pytest.mark.parametrize("c", PLAIN_CASES, ids=[c.id for c in PLAIN_CASES])
def test_non_differentiable_rows_run_on_tensors(c: Case) -> None:
    args = c.args()
    want = _run_plain(c, args)
    x = cr.constant(args[0])
    with cr.GradientTape() as tape:
        tape.watch(x)
        got = _call(c, [x, *args[1:]])
    if isinstance(got, cr.Tensor):
        assert got._id == 0
    assert np.array_equal(_flat(got), _flat(want))


def test_every_table_function_is_reachable_from_a_tensor() -> None:
    """The dispatch used above covers every kind of callable the table holds."""
    kinds = {type(c.fn) for c in CASES}
    assert kinds <= {np.ufunc, type(np.sum), type(builtins.abs), type(_call), type}, kinds
    assert operator.mul in {c.fn for c in CASES} and _dispatches(np.linalg.inv)
    assert not _dispatches(np.asarray) and not _dispatches(math.sin)
