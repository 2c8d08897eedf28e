"""Derivatives and minimisation of f(x) = a*x**2 + b*x + c (seed document 001).

With a = 1, b = -2, c = 1, the programs of the tutorial, in order:

1. dy/dx at x = 0 with a Variable x: -2.
2. With the constants watched too: dy/da = 0, dy/db = 0, dy/dc = 1.
3. The second derivative with two nested tapes: 2.
4. A tape inside a function (``@tf.function`` in the tutorial; chainrule runs it eagerly):
   (dy/dx, y) = (-2, 1) at x = 0 and (0, 0) at x = 1.
5. The minimum by gradient descent, ``SGD(learning_rate=0.01)`` for 1,000 steps, once with
   ``optimizer.apply_gradients`` and once with ``optimizer.minimize`` (and the same two
   loops inside functions): x reaches 1 and y reaches 0.

The tutorial declares x with ``dtype=tf.int32`` in two of its minimisation programs; no
gradient flows to an integer variable (TensorFlow would fail there too), so x is float32,
as in the tutorial's other programs. Run ``python examples/tape_quadratic.py``.
"""

import chainrule as cr


def derivatives() -> None:
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)

    # 1. the derivative with respect to a variable
    with cr.GradientTape() as tape:
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx = tape.gradient(y, x)
    print("dy_dx =", dy_dx)

    # 2. constants are differentiated too once watched
    with cr.GradientTape() as tape:
        tape.watch([a, b, c])
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx, dy_da, dy_db, dy_dc = tape.gradient(y, [x, a, b, c])
    print("dy_da =", dy_da)
    print("dy_db =", dy_db)
    print("dy_dc =", dy_dc)

    # 3. the second derivative: the inner gradient is recorded by the outer tape
    with cr.GradientTape() as tape2:
        with cr.GradientTape() as tape1:
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape1.gradient(y, x)
    dy2_dx2 = tape2.gradient(dy_dx, x)
    print("dy2_dx2 =", dy2_dx2)


# 4. a tape inside a function
def f(x):
    x = cr.cast(x, cr.float32)  # the argument as float32
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx = tape.gradient(y, x)
    return dy_dx, y


def minimize_with_apply_gradients() -> None:
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)

    optimizer = cr.optimizers.SGD(learning_rate=0.01)
    for _ in range(1000):
        with cr.GradientTape() as tape:
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape.gradient(y, x)
        optimizer.apply_gradients(grads_and_vars=[(dy_dx, x)])
    print(f"apply_gradients: y = {y.numpy()}; x = {x.numpy()}")


def minimize_with_minimize() -> None:
    x = cr.Variable(0.0, name="x", dtype=cr.float32)

    def f():
        a = cr.constant(1.0)
        b = cr.constant(-2.0)
        c = cr.constant(1.0)
        y = a * cr.pow(x, 2) + b * x + c
        return y

    optimizer = cr.optimizers.SGD(learning_rate=0.01)
    for _ in range(1000):
        optimizer.minimize(f, [x])
    print(f"minimize: y = {f().numpy()}; x = {x.numpy()}")


def minimize_inside_functions() -> None:
    # The tutorial's AutoGraph versions: the same loops inside functions.
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    optimizer = cr.optimizers.SGD(learning_rate=0.01)

    def minimizef():
        a = cr.constant(1.0)
        b = cr.constant(-2.0)
        c = cr.constant(1.0)
        for _ in cr.range(1000):
            with cr.GradientTape() as tape:
                y = a * cr.pow(x, 2) + b * x + c
            dy_dx = tape.gradient(y, x)
            optimizer.apply_gradients(grads_and_vars=[(dy_dx, x)])
        y = a * cr.pow(x, 2) + b * x + c
        return y

    y = minimizef()
    print(f"function with apply_gradients: y = {y.numpy()}; x = {x.numpy()}")

    x2 = cr.Variable(0.0, name="x", dtype=cr.float32)
    optimizer2 = cr.optimizers.SGD(learning_rate=0.01)

    def f():
        a = cr.constant(1.0)
        b = cr.constant(-2.0)
        c = cr.constant(1.0)
        y = a * cr.pow(x2, 2) + b * x2 + c
        return y

    def train(epoch):
        for _ in cr.range(epoch):
            optimizer2.minimize(f, [x2])
        return f()

    y = train(1000)
    print(f"function with minimize: y = {y.numpy()}; x = {x2.numpy()}")


def main() -> None:
    derivatives()
    for at in (0.0, 1.0):
        dy_dx, y = f(cr.constant(at))
        print(f"f({at}) = (dy_dx, y) = ({dy_dx.numpy()}, {y.numpy()})")
    minimize_with_apply_gradients()
    minimize_with_minimize()
    minimize_inside_functions()


if __name__ == "__main__":
    main()
