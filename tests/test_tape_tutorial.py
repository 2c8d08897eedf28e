"""The programs of the TensorFlow 2 automatic-differentiation tutorials (shared/seeds/),
with ``import chainrule as cr`` in place of ``import tensorflow as tf``: TF's numbers."""

import numpy as np
import pytest

import chainrule as cr


def test_square_of_a_variable_at_3():
    # 000: TensorFlow.NET, y = x**2 at x = 3 gives 9 and 6.
    x = cr.Variable(3.0)
    with cr.GradientTape() as tape:
        y = cr.square(x)
    y_grad = tape.gradient(y, x)
    assert y.numpy() == 9.0
    assert y_grad.numpy() == 6.0


@pytest.fixture
def quadratic():
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    return x, a, b, c


def test_quadratic_derivative(quadratic):
    # 001: f(x) = a*x**2 + b*x + c at x = 0: -2, in the variable's float32.
    x, a, b, c = quadratic
    with cr.GradientTape() as tape:
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx = tape.gradient(y, x)
    assert dy_dx.numpy() == -2.0
    assert dy_dx.dtype == np.float32
    assert repr(dy_dx) == "Tensor(-2.0, shape=(), dtype=float32)"


def test_quadratic_with_watched_constants(quadratic):
    x, a, b, c = quadratic
    with cr.GradientTape() as tape:
        tape.watch([a, b, c])
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx, dy_da, dy_db, dy_dc = tape.gradient(y, [x, a, b, c])
    assert dy_dx.numpy() == -2.0
    assert dy_da.numpy() == 0.0
    assert dy_db.numpy() == 0.0
    assert dy_dc.numpy() == 1.0


def test_quadratic_second_derivative(quadratic):
    x, a, b, c = quadratic
    with cr.GradientTape() as tape2:
        with cr.GradientTape() as tape1:
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape1.gradient(y, x)
    dy2_dx2 = tape2.gradient(dy_dx, x)
    assert dy2_dx2.numpy() == 2.0


def test_quadratic_in_a_function(quadratic):
    # 001's @tf.function program, run eagerly: (dy_dx, y) at 0 and at 1.
    def f(x):
        x = cr.cast(x, cr.float32)
        a, b, c = cr.constant(1.0), cr.constant(-2.0), cr.constant(1.0)
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape.gradient(y, x)
        return dy_dx, y

    assert [t.numpy() for t in f(cr.constant(0.0))] == [-2.0, 1.0]
    assert [t.numpy() for t in f(cr.constant(1.0))] == [0.0, 0.0]


def test_minimising_the_quadratic_by_gradient_descent(quadratic):
    # 001's minimisation loop with a hand-written SGD step (optimizers come later).
    x, a, b, c = quadratic
    for _ in range(1000):
        with cr.GradientTape() as tape:
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape.gradient(y, x)
        x.assign_sub(0.01 * dy_dx)
    assert x.numpy() == pytest.approx(0.999998569, abs=1e-7)  # TF prints x = 0.999998569
    assert x.dtype == np.float32


def test_gradient_of_the_sum_of_ones():
    # 002: z = (sum of ones(2, 2))**2: dz/dx is 8 everywhere.
    x = cr.ones((2, 2))
    with cr.GradientTape() as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)
    dz_dx = t.gradient(z, x)
    for i in [0, 1]:
        for j in [0, 1]:
            assert dz_dx[i][j].numpy() == 8.0


def test_gradient_with_respect_to_an_intermediate():
    x = cr.ones((2, 2))
    with cr.GradientTape() as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)
    dz_dy = t.gradient(z, y)
    assert dz_dy.numpy() == 8.0


def test_persistent_tape_twice():
    # 004's version: one persistent tape, gradient w.r.t. the intermediate, then the input.
    x = cr.ones((2, 2))
    with cr.GradientTape(persistent=True) as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)
    assert t.gradient(z, y).numpy() == 8.0
    dz_dx = t.gradient(z, x)
    for i in [0, 1]:
        for j in [0, 1]:
            assert dz_dx[i][j].numpy() == 8.0


def test_persistent_tape_108_and_6():
    x = cr.constant(3.0)
    with cr.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * y
    dz_dx = t.gradient(z, x)  # 108.0 (4*x^3 at x = 3)
    dy_dx = t.gradient(y, x)  # 6.0
    del t
    assert dz_dx.numpy() == 108.0
    assert dy_dx.numpy() == 6.0


def test_control_flow_is_recorded():
    def f(x, y):
        output = 1.0
        for i in range(y):
            if i > 1 and i < 5:
                output = cr.multiply(output, x)
        return output

    def grad(x, y):
        with cr.GradientTape() as t:
            t.watch(x)
            out = f(x, y)
        return t.gradient(out, x)

    x = cr.convert_to_tensor(2.0)
    assert grad(x, 6).numpy() == 12.0
    assert grad(x, 5).numpy() == 12.0
    assert grad(x, 4).numpy() == 4.0


def test_higher_order_with_a_variable():
    x = cr.Variable(1.0)  # Create a variable initialized to 1.0
    with cr.GradientTape() as t:
        with cr.GradientTape() as t2:
            y = x * x * x
        # Compute the gradient inside the 't' context manager
        # which means the gradient computation is differentiable as well.
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    assert dy_dx.numpy() == 3.0
    assert d2y_dx2.numpy() == 6.0


def test_higher_order_with_a_constant_watched_by_both_tapes():
    # 004 (TF 1.x) watched the constant on the inner tape only; in TF 2 each tape watches
    # for itself, so both tapes watch it here.
    x = cr.constant(1.0)
    with cr.GradientTape() as t:
        t.watch(x)
        with cr.GradientTape() as t2:
            t2.watch(x)
            y = x * x * x
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    assert dy_dx.numpy() == 3.0
    assert d2y_dx2.numpy() == 6.0


def test_tf1_eager_programs():
    # 004 (TF 1.x eager): f(x) = square(sin(x)) at pi/2, and a loop of multiplications.
    def f(x):
        return cr.square(cr.sin(x))

    x = cr.constant(np.pi / 2)
    with cr.GradientTape() as t:
        t.watch(x)
        y = f(x)
    assert y.numpy() == 1.0
    assert cr.abs(t.gradient(y, x)).numpy() < 1e-7

    def power(x, y):
        output = 1
        for _ in range(int(y)):
            output = cr.multiply(output, x)
        return output

    def g(x, y):
        with cr.GradientTape() as t:
            t.watch(x)
            out = power(x, y)
        return t.gradient(out, x)

    assert power(cr.constant(3.0), 2).numpy() == 9.0
    assert g(cr.constant(3.0), 2).numpy() == 6.0
    assert power(cr.constant(4.0), 3).numpy() == 64.0
    assert g(cr.constant(4.0), 3).numpy() == 48.0


def test_derivatives_of_sin_squared_over_two_periods():
    # 004: f(x) = square(sin(x)) and its first three derivatives over [-2 pi, 2 pi].
    xs = cr.linspace(-2 * np.pi, 2 * np.pi, 100)
    with cr.GradientTape() as t3:
        t3.watch(xs)
        with cr.GradientTape() as t2:
            t2.watch(xs)
            with cr.GradientTape() as t1:
                t1.watch(xs)
                y = cr.square(cr.sin(xs))
            d1 = t1.gradient(y, xs)
        d2 = t2.gradient(d1, xs)
    d3 = t3.gradient(d2, xs)
    x = xs.numpy()
    np.testing.assert_allclose(d1.numpy(), np.sin(2 * x), atol=1e-12)
    np.testing.assert_allclose(d2.numpy(), 2 * np.cos(2 * x), atol=1e-12)
    np.testing.assert_allclose(d3.numpy(), -4 * np.sin(2 * x), atol=1e-12)
