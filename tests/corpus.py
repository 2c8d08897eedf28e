"""A corpus of functions covering the Python that chainrule differentiates.

Each entry of ``CASES`` is ``(function, [argument tuples])``. The argument tuples put
inputs on both sides of every branch. Functions are module-level so their source is
readable; helper functions they call live here too.
"""

import math

import numpy as np

SCALE = 1.5
OFFSET = np.array([0.5, -0.25, 1.0])


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------- straight line
def arith(x, y):
    return x * y + x / y - y ** 2 + (-x) + (+y) - x % 3.0


def arith_arrays(x, y):
    return np.sum(x * y - x / (y * y + 1.0) + x ** 3)


def rebinding(x):
    y = x * 2.0
    y = y * x
    x = y + x
    return x * y


def swap(x, y):
    x, y = y, x * 2.0
    a, b = x * y, x - y
    return a * b + x


def aug_assign(x, y):
    z = x * 1.0
    z += y
    z -= 0.5 * x
    z *= y
    z /= 2.0 + x * x
    return np.sum(z)


def matmul_aug(a, b):
    c = a * 1.0
    c @= b
    return np.sum(c ** 2)


def unary_ops(x):
    return np.sum(np.tanh(x) + np.exp(-x * x) + np.sin(x) * np.cos(x) + abs(x))


def math_scalar(x):
    return math.sin(x) * math.exp(x / 3.0) + math.log(1.0 + x * x) + math.sqrt(x * x + 1.0)


def broadcasting(x, b):
    return np.sum(np.tanh(x + b) * b)


def matrix_chain(w, x):
    h = np.tanh(x @ w)
    return np.sum(h * h)


def mlp(w1, w2, x, y):
    h = np.tanh(x @ w1)
    out = h @ w2
    return np.mean((out - y) ** 2)


def constant_output(x):
    return 3.0


def ignores_input(x, y):
    return y * 2.0


def integer_arg(x, n):
    return x ** n + n * x


def uses_globals(x):
    return np.sum((x + OFFSET) * SCALE)


def closure_maker():
    k = 2.5

    def inner(x):
        return np.sum(np.sin(x) * k)

    return inner


closure_fn = closure_maker()


# --------------------------------------------------------------------------- branches
def branch(x):
    if x > 0:
        y = x * x
    else:
        y = -x * 3.0
    return y


def branch_elif(x):
    if x > 1.0:
        y = x ** 3
    elif x > -1.0:
        y = 2.0 * x
    else:
        y = np.sin(x)
    return y


def branch_bool_ops(x, y):
    if x > 0 and y > 0:
        z = x * y
    elif not (x > 0) or y < -1.0:
        z = x + y * y
    else:
        z = x - y
    return z


def branch_one_sided(x, y):
    z = x * 2.0
    if y > 0:
        z = z + y * x
    return z * z


def branch_on_array(x):
    if np.sum(x) > 0:
        return np.sum(x ** 2)
    return np.sum(np.sin(x))


def cond_expr(x):
    y = x * x if x > 0 else -x
    return y + (x if x < 1 else 2.0 * x)


def nondiff_condition(x, flag):
    if flag:
        return x * 3.0
    return x * x


# --------------------------------------------------------------------------- loops
def for_range(x):
    s = 0.0
    for i in range(5):
        s = s + x ** i
    return s


def for_range_step(x):
    acc = x
    for i in range(10, 1, -3):
        acc = acc * 0.5 + np.sin(acc) * i
    return acc


def for_range_start(x, n):
    y = x
    for i in range(1, n):
        y = y * x + i
    return y


def for_over_array(x, w):
    s = 0.0
    for row in w:
        s = s + np.sum(np.tanh(row * x))
    return s


def for_over_list(x):
    total = 0.0
    for c in [1.0, 2.0, 3.0]:
        total = total + c * x * x
    return total


def for_enumerate(x):
    s = 0.0
    for i, v in enumerate(x):
        s = s + v * i + v * v
    return s


def for_zip(x, y):
    s = 0.0
    for a, b in zip(x, y):
        s = s + a * b
    return s


def nested_loops(x):
    s = 0.0
    for i in range(3):
        for j in range(i + 1):
            s = s + x ** (i + j) / (1.0 + j)
    return s


def while_loop(x):
    y = x
    while y < 10.0:
        y = y * 1.7 + 0.1
    return y


def while_counter(x):
    i = 0
    y = x
    while i < 4:
        y = np.sin(y) + y
        i = i + 1
    return y


def loop_break(x):
    y = x
    for i in range(20):
        y = y * 1.3
        if y > 5.0:
            break
        y = y + 0.1
    return y


def loop_continue(x):
    s = 0.0
    for i in range(6):
        if i % 2 == 0:
            continue
        s = s + x * i
    return s


def while_break(x):
    y = x
    while True:
        y = y * y + 0.5
        if y > 3.0:
            break
    return y


def early_return(x):
    if x < 0:
        return x * x
    y = np.sin(x)
    return y * x


def return_in_loop(x):
    y = x
    for i in range(10):
        y = y * 1.5
        if y > 4.0:
            return y * 2.0
    return y


def multiple_returns(x, y):
    if x > y:
        return x * y
    elif x > 0:
        return x + y
    return y * y


def rnn(w, xs):
    h = np.zeros(3)
    for t in range(xs.shape[0]):
        h = np.tanh(w @ h + xs[t])
    return np.sum(h)


def loop_invariant_use(x, w):
    s = 0.0
    for i in range(4):
        s = s + np.sum(w * x) * i
    return s


def polynomial_loop(x):
    coeffs = [1.0, -2.0, 0.5, 3.0]
    y = 0.0
    for c in coeffs:
        y = y * x + c
    return y


# --------------------------------------------------------------------------- calls
def helper_square(v):
    return v * v


def helper_scaled(v, scale=2.0):
    return v * scale + 1.0


def helper_tuple(a, b):
    return a * b, a + b


def calls_helper(x):
    return helper_square(x) + helper_scaled(x) + helper_scaled(x, scale=3.0)


def calls_tuple(x, y):
    p, q = helper_tuple(x, y)
    return p * q


def calls_in_loop(x):
    y = x
    for i in range(3):
        y = helper_square(y) * 0.5 + 0.1
    return y


def recursive_power(x, n):
    if n == 0:
        return 1.0
    return x * recursive_power(x, n - 1)


def calls_recursive(x):
    return recursive_power(x, 4)


def nested_def(x):
    def inner(v):
        return v * x

    return inner(x) + inner(2.0)


def uses_lambda(x):
    f = lambda v: v * v + x  # noqa: E731
    return f(x) * 2.0


def calls_closure(x):
    return closure_fn(x) * 2.0


# --------------------------------------------------------------------------- attributes
def attributes(x):
    return np.sum(x.T * 2.0) + x.shape[0] * np.sum(x)


def methods(x):
    return x.sum() + x.mean(axis=0).sum() + x.dot(x.T).sum() + x.reshape(-1).max()


# --------------------------------------------------------------------------- subscripts
def subscript_read(x):
    return x[0] * x[1] + x[-1] * 2.0 + np.sum(x[1:3])


def subscript_2d(x):
    return np.sum(x[0, :] * x[:, 1]) + x[1, 2] + np.sum(x[..., 0])


def fancy_index(x):
    return np.sum(x[[0, 2, 2]] ** 2)


def mask_index(x):
    return np.sum(x[x > 0] ** 2)


def subscript_write(x):
    y = np.zeros(3)
    y[0] = x * 2.0
    y[1] = x * x
    y[2] = np.sin(x)
    return np.sum(y * y)


def subscript_write_loop(x):
    y = np.zeros(4)
    for i in range(4):
        y[i] = x ** i
    return np.sum(y * x)


def subscript_overwrite(x):
    y = x * 1.0
    y[1] = y[0] * 3.0
    y[0] = y[1] * y[2]
    return np.sum(y ** 2)


def subscript_aug(x):
    y = x * 1.0
    y[1:3] += x[0:2] * 2.0
    y[0] *= 3.0
    return np.sum(y * y)


# --------------------------------------------------------------------------- lists
def list_literal(x, y):
    parts = [x * 2.0, x * y, y]
    return parts[0] + parts[1] * parts[2]


def list_append(x):
    out = []
    for i in range(4):
        out.append(x * i)
    return out[1] * out[3] + out[2]


def list_to_array(x, y):
    v = np.array([x, y, x * y])
    return np.sum(v ** 2)


def list_sum(x):
    vals = []
    y = x
    for i in range(3):
        y = np.sin(y)
        vals.append(y)
    return sum(vals)


CASES = [
    (arith, [(1.3, 0.7), (-0.4, 2.1)]),
    (arith_arrays, [(_r(3), _r(3, seed=1) + 2.0)]),
    (rebinding, [(0.7,), (-1.2,)]),
    (swap, [(0.5, 1.5)]),
    (aug_assign, [(_r(3), _r(3, seed=2))]),
    (matmul_aug, [(_r(2, 3), _r(3, 3, seed=3))]),
    (unary_ops, [(_r(4) + 0.1,)]),
    (math_scalar, [(0.3,), (2.0,)]),
    (broadcasting, [(_r(3, 4), _r(4, seed=4))]),
    (matrix_chain, [(_r(3, 2), _r(4, 3, seed=5))]),
    (mlp, [(_r(3, 4), _r(4, 2, seed=6), _r(5, 3, seed=7), _r(5, 2, seed=8))]),
    (constant_output, [(1.0,)]),
    (ignores_input, [(1.0, 2.0)]),
    (integer_arg, [(1.1, 3)]),
    (uses_globals, [(_r(3),)]),
    (closure_fn, [(_r(3),)]),
    (branch, [(0.8,), (-0.6,)]),
    (branch_elif, [(1.5,), (0.3,), (-2.0,)]),
    (branch_bool_ops, [(0.5, 0.6), (-0.5, 0.6), (0.5, -2.0), (0.5, -0.5)]),
    (branch_one_sided, [(0.4, 1.0), (0.4, -1.0)]),
    (branch_on_array, [(_r(3) + 1.0,), (_r(3) - 1.0,)]),
    (cond_expr, [(0.5,), (-0.5,), (1.5,)]),
    (nondiff_condition, [(0.7, True), (0.7, False)]),
    (for_range, [(1.1,)]),
    (for_range_step, [(0.3,)]),
    (for_range_start, [(0.9, 4)]),
    (for_over_array, [(_r(3), _r(4, 3, seed=9))]),
    (for_over_list, [(0.6,)]),
    (for_enumerate, [(_r(4),)]),
    (for_zip, [(_r(3), _r(3, seed=10))]),
    (nested_loops, [(0.8,)]),
    (while_loop, [(1.2,), (11.0,)]),
    (while_counter, [(0.4,)]),
    (loop_break, [(0.5,), (4.5,)]),
    (loop_continue, [(0.7,)]),
    (while_break, [(0.6,), (2.0,)]),
    (early_return, [(-0.7,), (0.8,)]),
    (return_in_loop, [(1.1,), (0.01,)]),
    (multiple_returns, [(2.0, 1.0), (0.5, 1.0), (-0.5, 1.0)]),
    (rnn, [(_r(3, 3) * 0.5, _r(5, 3, seed=11))]),
    (loop_invariant_use, [(_r(3), _r(3, seed=12))]),
    (polynomial_loop, [(0.7,)]),
    (calls_helper, [(0.9,)]),
    (calls_tuple, [(0.4, 1.3)]),
    (calls_in_loop, [(0.8,)]),
    (calls_recursive, [(1.2,)]),
    (nested_def, [(0.6,)]),
    (uses_lambda, [(0.6,)]),
    (calls_closure, [(_r(3),)]),
    (attributes, [(_r(3, 2),)]),
    (methods, [(_r(2, 3),)]),
    (subscript_read, [(_r(4),)]),
    (subscript_2d, [(_r(3, 3),)]),
    (fancy_index, [(_r(4),)]),
    (mask_index, [(_r(5),)]),
    (subscript_write, [(0.7,)]),
    (subscript_write_loop, [(1.1,)]),
    (subscript_overwrite, [(_r(3),)]),
    (subscript_aug, [(_r(4),)]),
    (list_literal, [(0.5, 1.5)]),
    (list_append, [(0.9,)]),
    (list_to_array, [(0.5, -1.5)]),
    (list_sum, [(0.7,)]),
]
