"""The derivative of y = x**2 at x = 3 with a GradientTape (seed document 000).

The first program of the TensorFlow.NET tutorial, in Python with ``import chainrule as cr``
in place of TensorFlow. Run it with ``python examples/tape_square.py``; it prints::

    Tensor(9.0, shape=(), dtype=float32)
    Tensor(6.0, shape=(), dtype=float32)

y = 3**2 = 9, and dy/dx = 2 * x = 6 at x = 3.
"""

import chainrule as cr


def main() -> None:
    x = cr.Variable(3.0, dtype=cr.float32)
    # Inside the tape's context every operation is recorded, to be differentiated later.
    with cr.GradientTape() as tape:
        y = cr.square(x)
    y_grad = tape.gradient(y, x)  # the derivative of y with respect to x
    print(y)
    print(y_grad)


if __name__ == "__main__":
    main()
