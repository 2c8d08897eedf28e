"""Higher-order derivatives by transforming generated code again: Hessians of corpus
functions (loops, ``while``, ``if``, subscripts) against finite differences of the
gradient, third derivatives against closed forms, and the nestings of ``grad``,
``elementwise_grad``, ``jacfwd``, ``jacrev`` and forward-mode ``grad``."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_grads
from tests import corpus as c
from tests.util import copy_args, differentiable_argnums


def numeric_jacobian(f, args, argnum, eps=1e-6):
    """Central differences of ``f`` in ``args[argnum]``, shaped ``out.shape + x.shape``."""
    x = np.asarray(args[argnum], dtype=np.float64)
    cols = []
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        a = list(args)
        a[argnum] = plus if x.shape else float(plus)
        fp = np.asarray(f(*a))
        a[argnum] = minus if x.shape else float(minus)
        fm = np.asarray(f(*a))
        cols.append((fp - fm) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(cols[0]) + x.shape)


HESSIAN_FUNCTIONS = [
    c.arith_arrays, c.rebinding, c.matrix_chain, c.mlp, c.branch_elif, c.branch_on_array,
    c.cond_expr, c.for_range_step, c.for_over_array, c.for_enumerate, c.nested_loops,
    c.while_loop, c.while_counter, c.loop_break, c.while_break, c.return_in_loop, c.rnn,
    c.polynomial_loop, c.calls_in_loop, c.calls_recursive, c.uses_lambda, c.methods,
    c.subscript_2d, c.subscript_write_loop, c.subscript_overwrite, c.subscript_aug,
    c.list_append, c.list_sum,
]
HESSIAN_CASES = [
    pytest.param(fn, args, id=f"{fn.__name__}-{k}")
    for fn, arglist in c.CASES if fn in HESSIAN_FUNCTIONS
    for k, args in enumerate(arglist)
]


@pytest.mark.parametrize("fn, args", HESSIAN_CASES)
def test_hessian_matches_finite_differences_of_the_gradient(fn, args):
    i = differentiable_argnums(args)[0]
    H = cr.hessian(fn, argnums=i)(*copy_args(args))
    shape = np.shape(args[i])
    assert np.shape(H) == shape + shape
    expected = numeric_jacobian(cr.grad(fn, argnums=i), copy_args(args), i)
    np.testing.assert_allclose(H, expected, rtol=1e-5, atol=1e-5, err_msg=fn.__name__)
    np.testing.assert_allclose(H, np.swapaxes(np.reshape(H, (np.size(args[i]),) * 2), 0, 1)
                               .reshape(shape + shape), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("fn, args", HESSIAN_CASES[::3])
def test_every_second_derivative_route_agrees(fn, args):
    i = differentiable_argnums(args)[0]
    H = cr.hessian(fn, argnums=i)(*copy_args(args))
    for route in (cr.jacfwd(cr.jacrev(fn, i), i), cr.jacfwd(cr.jacfwd(fn, i), i),
                  cr.jacrev(cr.jacfwd(fn, i), i)):
        np.testing.assert_allclose(route(*copy_args(args)), H, rtol=1e-9, atol=1e-10)


def test_hessian_with_two_arguments_has_jax_block_structure():
    x, y = np.array([0.2, -0.4, 0.9]), np.array([1.5, 0.5])
    H = cr.hessian(c.arith_arrays, argnums=(0, 1))(x, np.array([2.0, 3.0, 4.0]))
    assert [[np.shape(b) for b in row] for row in H] == [[(3, 3), (3, 3)], [(3, 3), (3, 3)]]
    np.testing.assert_allclose(H[0][1], H[1][0].T, rtol=1e-10)

    def f(a, b):
        return np.sum(np.sin(a)) * np.sum(b ** 3)

    H = cr.hessian(f, argnums=(0, 1))(x, y)
    assert np.shape(H[0][1]) == (3, 2) and np.shape(H[1][0]) == (2, 3)
    np.testing.assert_allclose(H[0][1], np.outer(np.cos(x), 3 * y ** 2))
    np.testing.assert_allclose(H[1][1], np.diag(6 * y) * np.sum(np.sin(x)))


# --------------------------------------------------------------------------- third derivatives
def sin_squared(x):
    return np.sin(x) ** 2


def loop_polynomial(x):
    coeffs = [2.0, -1.0, 0.5, 3.0, 1.0]  # 2x^4 - x^3 + 0.5x^2 + 3x + 1
    y = 0.0
    for k in coeffs:
        y = y * x + k
    return y


THIRD = {
    "forward(forward(forward))": lambda f: cr.grad(cr.grad(cr.grad(f, mode="forward"),
                                                           mode="forward"), mode="forward"),
    "jacfwd(hessian)": lambda f: cr.jacfwd(cr.hessian(f)),
    "forward(forward(reverse))": lambda f: cr.grad(cr.grad(cr.grad(f), mode="forward"),
                                                   mode="forward"),
    "reverse(forward(forward))": lambda f: cr.grad(cr.grad(cr.grad(f, mode="forward"),
                                                           mode="forward")),
    "jacfwd(jacfwd(jacrev))": lambda f: cr.jacfwd(cr.jacfwd(cr.jacrev(f))),
}


@pytest.mark.parametrize("route", sorted(THIRD))
def test_third_derivatives_match_closed_forms(route):
    for x in (-1.3, 0.4, 2.2):
        np.testing.assert_allclose(THIRD[route](sin_squared)(x), -4.0 * np.sin(2 * x),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(THIRD[route](loop_polynomial)(x), 48.0 * x - 6.0,
                                   rtol=1e-10, atol=1e-12)


def test_reverse_three_deep_sin_squared():
    d3 = cr.grad(cr.grad(cr.grad(sin_squared)))
    for x in (-1.3, 0.4, 2.2):
        assert d3(x) == pytest.approx(-4.0 * np.sin(2 * x), rel=1e-10)


def test_reverse_three_deep_loop_polynomial():
    """The second derivative pushes and pops values on stacks; the third reverse pass undoes
    those pops and pushes with cotangent lists of their own."""
    d3 = cr.grad(cr.grad(cr.grad(loop_polynomial)))
    for x in (-1.3, 0.4, 2.2):
        assert d3(x) == pytest.approx(48.0 * x - 6.0, rel=1e-10)


@pytest.mark.parametrize("fn, args", [
    pytest.param(fn, args, id=f"{fn.__name__}-{k}")
    for fn, arglist in c.CASES
    if fn in (c.for_range_start, c.while_counter, c.while_break, c.calls_in_loop,
              c.subscript_write_loop, c.nested_loops, c.return_in_loop, c.for_range_step)
    for k, args in enumerate(arglist)
])
def test_reverse_three_deep_agrees_with_forward_three_deep(fn, args):
    x, rest = args[0], args[1:]
    reverse = cr.grad(cr.grad(cr.grad(fn)))(x, *rest)
    fwd = {"mode": "forward"}
    forward = cr.grad(cr.grad(cr.grad(fn, **fwd), **fwd), **fwd)(x, *rest)
    np.testing.assert_allclose(reverse, forward, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", [c.for_range_start, c.for_over_array, c.rnn, c.list_sum,
                                c.subscript_aug, c.methods, c.calls_in_loop],
                         ids=lambda fn: fn.__name__)
def test_vjp_three_deep_matches_finite_differences(fn):
    """``check_grads`` to order 3 in reverse mode: the pullback of the pullback of the
    pullback, through saved tuples that hold stacks, indices and axes."""
    args = next(arglist[0] for f, arglist in c.CASES if f is fn)
    check_grads(fn, args, order=3, modes=("rev",))


def test_elementwise_grad_three_deep():
    x = np.linspace(-2.0, 2.0, 9)
    d3 = cr.elementwise_grad(cr.elementwise_grad(cr.elementwise_grad(sin_squared)))
    np.testing.assert_allclose(d3(x), -4.0 * np.sin(2 * x), atol=1e-12)

    def poly(x):
        return 2.0 * x ** 4 - x ** 3 + 0.5 * x * x + 3.0 * x

    d3 = cr.elementwise_grad(cr.elementwise_grad(cr.elementwise_grad(poly)))
    np.testing.assert_allclose(d3(x), 48.0 * x - 6.0, atol=1e-10)


# --------------------------------------------------------------------------- nesting
GRAD_OF_GRAD = [c.branch, c.branch_elif, c.cond_expr, c.for_range, c.for_range_step,
                c.nested_loops, c.while_loop, c.while_counter, c.loop_break, c.while_break,
                c.return_in_loop, c.polynomial_loop, c.calls_in_loop, c.subscript_write_loop]
SCALAR_CASES = [
    pytest.param(fn, args, id=f"{fn.__name__}-{k}")
    for fn, arglist in c.CASES if fn in GRAD_OF_GRAD
    for k, args in enumerate(arglist)
]


@pytest.mark.parametrize("fn, args", SCALAR_CASES)
def test_grad_of_grad_in_every_mode_combination(fn, args):
    x = args[0]
    expected = numeric_jacobian(cr.grad(fn), args, 0)
    fwd = {"mode": "forward"}
    for second in (cr.grad(cr.grad(fn)), cr.grad(cr.grad(fn, **fwd), **fwd),
                   cr.grad(cr.grad(fn), **fwd), cr.grad(cr.grad(fn, **fwd))):
        np.testing.assert_allclose(second(x, *args[1:]), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=fn.__name__)


def loop_inner(x):
    s = 0.0
    for i in range(3):
        s = s + np.sin(x * i)
    return s


def plain_inner(x):
    return np.sin(x) * x


d_loop_inner = cr.grad(loop_inner)
d_plain_inner = cr.grad(plain_inner)


def calls_grad_of_loop(x):
    return d_loop_inner(x) * x


def calls_grad_of_plain(x):
    return d_plain_inner(x) * x


def test_grad_of_a_function_that_calls_grad_of_another():
    for x in (0.3, 1.7):
        inner1 = sum(i * np.cos(i * x) for i in range(3))
        inner2 = sum(-i * i * np.sin(i * x) for i in range(3))
        expected = inner2 * x + inner1
        for mode in ("reverse", "forward"):
            assert cr.grad(calls_grad_of_loop, mode=mode)(x) == pytest.approx(expected,
                                                                              rel=1e-10)
        expected = (2 * np.cos(x) - x * np.sin(x)) * x + (np.cos(x) * x + np.sin(x))
        assert cr.grad(calls_grad_of_plain)(x) == pytest.approx(expected, rel=1e-10)
        assert cr.grad(cr.grad(calls_grad_of_plain), mode="forward")(x) == pytest.approx(
            float(numeric_jacobian(cr.grad(calls_grad_of_plain), (x,), 0)), rel=1e-6)


def test_hvp_of_a_loop_function_matches_the_hessian():
    x, w = c._r(3), c._r(4, 3, seed=9)
    v = np.array([0.5, -1.0, 2.0])
    H = cr.hessian(c.for_over_array)(x, w)
    g = cr.grad(c.for_over_array)
    _, hv = cr.jvp(g, (x, w), (v, np.zeros_like(w)))
    np.testing.assert_allclose(hv, H @ v, rtol=1e-10)


def test_reverse_four_deep_through_helper_calls_in_a_loop():
    """Four reverse passes through a loop that calls a helper: saved tuples inside stacks,
    cotangents of tuples that are ``None`` on some iterations."""
    args = next(arglist[0] for f, arglist in c.CASES if f is c.calls_in_loop)
    fwd = {"mode": "forward"}
    reverse = cr.grad(cr.grad(cr.grad(cr.grad(c.calls_in_loop))))(*args)
    forward = cr.grad(cr.grad(cr.grad(cr.grad(c.calls_in_loop, **fwd), **fwd), **fwd),
                      **fwd)(*args)
    np.testing.assert_allclose(reverse, forward, rtol=1e-10)


C3 = np.array([0.5, -1.25, 2.0])
C33 = np.array([[1.0, 0.5, -0.5], [0.25, -1.0, 0.75], [0.5, 0.5, 1.5]])


def norm_of_a_scaled_vector(x):
    return np.linalg.norm(np.sin(x) * C3)


def weighted_average(x):
    return np.average(np.exp(x * C3), weights=C3 * C3)


def reductions_along_axes(x):
    m = np.tanh(x * C33)
    return np.sum(np.mean(m, axis=0) * np.max(m, axis=1, keepdims=True).ravel()) + \
        np.sum(np.moveaxis(m, 0, 1) * C33) + np.std(m, axis=0, ddof=1).sum()


@pytest.mark.parametrize("fn", [norm_of_a_scaled_vector, weighted_average,
                                reductions_along_axes])
def test_reverse_three_deep_through_rules_with_axes_and_flags(fn):
    # the second derivative's pullbacks read axis/keepdims/ddof from their saved tuples;
    # a third reverse pass must see them as the integers and flags they are
    x = 0.35
    rev = cr.grad(cr.grad(cr.grad(fn)))(x)
    fwd = cr.grad(cr.grad(cr.grad(fn, mode="forward"), mode="forward"), mode="forward")(x)
    assert rev == pytest.approx(fwd, rel=1e-9, abs=1e-9)
    h = 1e-3
    d2 = cr.grad(cr.grad(fn))
    assert rev == pytest.approx((d2(x + h) - d2(x - h)) / (2 * h), rel=1e-5, abs=1e-6)


def test_a_users_rule_without_an_axis_rule_still_reports_it():
    # only chainrule's own rules treat index parameters as non-differentiable
    def scaled_sum(a, axis):
        return np.sum(a, axis=axis)

    from chainrule.rules import registry

    prim = cr.defvjp(scaled_sum, lambda g, ans, a, axis: cr.runtime.expand_reduced(
        g, a, axis, False))
    try:
        assert not prim.no_gradient(1)
        assert cr.rules.primitive_of(np.sum).no_gradient(1)  # axis of np.sum
    finally:
        registry._PRIMITIVES.pop(id(scaled_sum), None)


def einsum_contraction(x):
    return np.einsum("ij,j->", x * C33, C3)


def test_second_derivatives_through_einsum_are_refused_with_a_way_out():
    assert cr.grad(einsum_contraction)(0.3) == pytest.approx(np.sum(C33 @ C3))
    for make in (lambda: cr.grad(cr.grad(einsum_contraction)),
                 lambda: cr.hessian(einsum_contraction)):
        with pytest.raises(cr.TransformError, match="np.einsum beyond the first") as info:
            make()(0.3)
        assert "nested GradientTapes" in str(info.value)


def early_return_then_a_branch(x, y):
    # found by the higher-derivative fuzzer: the second derivative binds a cotangent in one
    # branch only; the third pass saved it on every path (an unbound local on the others)
    y = y + x
    if x < 5.0:
        if y < x:
            return x
        if y > 10.0:
            y = y / x
            x = np.tanh(x)
    return y


@pytest.mark.parametrize("args", [(-1.114289391692401, -0.0021664126796552274),
                                  (0.5, 11.0), (0.5, 1.0), (6.0, 1.0)])
def test_reverse_three_deep_where_a_branch_binds_a_cotangent(args):
    rev = cr.grad(cr.grad(cr.grad(early_return_then_a_branch)))(*args)
    fwd = cr.grad(cr.grad(cr.grad(early_return_then_a_branch, mode="forward"),
                          mode="forward"), mode="forward")(*args)
    assert rev == pytest.approx(fwd, rel=1e-9, abs=1e-12)


def loop_after_an_early_return(x):
    # the loop's saved temporaries are bound on one path of the branch before it: starting
    # them as None before the adjoint loop would wipe the values that path bound
    if x > 100.0:
        return x
    k = 0
    while k < 4:
        k += 1
        x *= 1.5 ** np.arctan(k * 0.5)
    return x


@pytest.mark.parametrize("x", [-0.030834972136462913, 150.0])
def test_higher_derivatives_of_a_loop_after_an_early_return(x):
    for order in (2, 3):
        rev, fwd = loop_after_an_early_return, loop_after_an_early_return
        for _ in range(order):
            rev, fwd = cr.grad(rev), cr.grad(fwd, mode="forward")
        assert rev(x) == pytest.approx(fwd(x), rel=1e-9, abs=1e-12)
