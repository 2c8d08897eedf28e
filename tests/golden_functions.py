"""Functions whose generated gradients are pinned by golden files in tests/golden/."""

import numpy as np


def loop_sum(x, w):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.tanh(x * w[i]))
    return s


def branch(x, y):
    if x > y:
        z = x * y
    else:
        z = np.sin(x) + y
    return z * z


def while_break(x):
    y = x
    n = 0
    while y < 100.0:
        y = y * y + 1.0
        n = n + 1
        if n > 5:
            break
    return y


def subscript_assign(x):
    y = np.zeros(3)
    for i in range(3):
        y[i] = x[i] * x[i]
    return np.sum(y * x)


def mlp(w1, w2, x):
    h = np.tanh(x @ w1)
    return np.mean((h @ w2) ** 2)
