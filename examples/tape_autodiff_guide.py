"""The GradientTape programs of the TensorFlow automatic-differentiation guides
(seed documents 002, the TF 2 guide, and 004, its TF 1.x eager predecessor).

With ``import chainrule as cr`` in place of TensorFlow, each program keeps its assertions
and prints its numbers:

* gradients of z = (sum of ones(2, 2))**2: 8 for every input, and 8 with respect to the
  intermediate y = sum(x);
* a persistent tape used twice: dz/dx = 108 (4 x**3 at 3), dy/dx = 6;
* Python control flow is recorded as it runs: 12, 12 and 4;
* higher-order derivatives with nested tapes: dy/dx = 3, d2y/dx2 = 6 for y = x**3 at 1;
* (004) a loop of multiplications: f(3, 2) = 9 with derivative 6, f(4, 3) = 64 with 48;
  the sum of ones again on one persistent tape (8 and 8), and the higher-order program
  with a watched constant (3 and 6).

Run ``python examples/tape_autodiff_guide.py``.
"""

import chainrule as cr


def gradients_of_a_sum() -> None:
    x = cr.ones((2, 2))

    with cr.GradientTape() as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)

    # Derivative of z with respect to the original input tensor x
    dz_dx = t.gradient(z, x)
    for i in [0, 1]:
        for j in [0, 1]:
            assert dz_dx[i][j].numpy() == 8.0
    print("dz_dx =", dz_dx.numpy().tolist())

    x = cr.ones((2, 2))

    with cr.GradientTape() as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)

    # Use the tape to compute the derivative of z with respect to the
    # intermediate value y.
    dz_dy = t.gradient(z, y)
    assert dz_dy.numpy() == 8.0
    print("dz_dy =", dz_dy.numpy())


def persistent_tape() -> None:
    x = cr.constant(3.0)
    with cr.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * y
    dz_dx = t.gradient(z, x)  # 108.0 (4*x^3 at x = 3)
    dy_dx = t.gradient(y, x)  # 6.0
    del t  # Drop the reference to the tape
    print("persistent tape: dz_dx =", dz_dx.numpy(), "dy_dx =", dy_dx.numpy())


def control_flow() -> None:
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
    print("control flow: grad(x, 6) =", grad(x, 6).numpy(), "grad(x, 5) =",
          grad(x, 5).numpy(), "grad(x, 4) =", grad(x, 4).numpy())


def higher_order() -> None:
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
    print("higher order: dy_dx =", dy_dx.numpy(), "d2y_dx2 =", d2y_dx2.numpy())


def tf1_eager_programs() -> None:
    # 004: the same ideas in the TF 1.x eager tutorial, where gradients_function(f)
    # differentiated a Python function; here a tape does it.
    def f(x, y):
        output = 1
        for _ in range(int(y)):
            output = cr.multiply(output, x)
        return output

    def g(x, y):
        # Return the gradient of `f` with respect to its first parameter
        x = cr.convert_to_tensor(x)
        with cr.GradientTape() as t:
            t.watch(x)
            out = f(x, y)
        return t.gradient(out, x)

    assert f(3.0, 2).numpy() == 9.0  # f(x, 2) is essentially x * x
    assert g(3.0, 2).numpy() == 6.0  # And its gradient will be 2 * x
    assert f(4.0, 3).numpy() == 64.0  # f(x, 3) is essentially x * x * x
    assert g(4.0, 3).numpy() == 48.0  # And its gradient will be 3 * x * x
    print("power loop: f(3, 2) =", f(3.0, 2).numpy(), "g(3, 2) =", g(3.0, 2).numpy(),
          "f(4, 3) =", f(4.0, 3).numpy(), "g(4, 3) =", g(4.0, 3).numpy())

    # 004: one persistent tape for the gradients with respect to y and to x.
    x = cr.ones((2, 2))
    with cr.GradientTape(persistent=True) as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)
    dz_dy = t.gradient(z, y)
    assert dz_dy.numpy() == 8.0
    dz_dx = t.gradient(z, x)
    for i in [0, 1]:
        for j in [0, 1]:
            assert dz_dx[i][j].numpy() == 8.0
    print("one persistent tape: dz_dy =", dz_dy.numpy(), "dz_dx =", dz_dx.numpy().tolist())

    # 004 watched the constant on the inner tape only (TF 1.x); in TF 2 each tape watches
    # for itself, so both tapes watch it here.
    x = cr.constant(1.0)  # Convert the Python 1.0 to a Tensor object
    with cr.GradientTape() as t:
        t.watch(x)
        with cr.GradientTape() as t2:
            t2.watch(x)
            y = x * x * x
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    assert dy_dx.numpy() == 3.0
    assert d2y_dx2.numpy() == 6.0
    print("higher order of a constant: dy_dx =", dy_dx.numpy(), "d2y_dx2 =", d2y_dx2.numpy())


def main() -> None:
    gradients_of_a_sum()
    persistent_tape()
    control_flow()
    higher_order()
    tf1_eager_programs()


if __name__ == "__main__":
    main()
