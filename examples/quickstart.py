"""Quickstart: the loss of a tiny model with a loop and a branch.

Print its generated gradient with:

    chainrule show examples/quickstart.py:loss

or from Python:

    import chainrule as cr
    from examples.quickstart import loss
    print(cr.source(cr.grad(loss)))
"""

import numpy as np


def loss(w, x, y):
    """Mean squared error of a 3-step tanh recurrence, with a hinge on large weights."""
    h = x
    for step in range(3):
        h = np.tanh(h * w + 0.5)
    err = np.mean((h - y) ** 2)
    if w > 2.0:
        err = err + 0.1 * (w - 2.0) ** 2
    return err


if __name__ == "__main__":
    import chainrule as cr

    x = np.linspace(-1.0, 1.0, 5)
    y = np.sin(x)
    dloss = cr.grad(loss)
    print(cr.source(dloss))
    print("loss:", loss(0.7, x, y))
    print("d loss / d w:", dloss(0.7, x, y))
