"""The GradientTape programs of ``tests/test_tape*.py`` and of the tutorials (shared/seeds/),
written as functions so that ``tests/test_function_programs.py`` can run each one eagerly
and under ``@chainrule.function`` and compare.

Each program builds its inputs, runs tape code, and returns what the eager test asserted
on (gradients, values, ``None``s, the type and message of an exception, warnings). Programs
in :data:`PROGRAMS` stage; those in :data:`UNSTAGEABLE` must raise ``TransformError``
when staged (they work eagerly).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import chainrule as cr

# Module-level values some programs read from inside their tape blocks (globals, as in the
# tutorials): a Variable, constants and an optimizer.
X_GLOBAL = cr.Variable(0.0, name="x", dtype=cr.float32)
A_GLOBAL, B_GLOBAL, C_GLOBAL = cr.constant(1.0), cr.constant(-2.0), cr.constant(1.0)


def _caught(fn, *args, **kwargs):
    """``fn(*args)``, or ``(exception type name, message)`` when it raises."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the comparison is the point
        return (type(exc).__name__, str(exc))


# ============================================================== the tutorials (seeds)

def square_of_a_variable_at_3():
    x = cr.Variable(3.0)
    with cr.GradientTape() as tape:
        y = cr.square(x)
    y_grad = tape.gradient(y, x)
    return y, y_grad


def quadratic_derivative():
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    a, b, c = cr.constant(1.0), cr.constant(-2.0), cr.constant(1.0)
    with cr.GradientTape() as tape:
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx = tape.gradient(y, x)
    return dy_dx, repr(dy_dx)


def quadratic_with_watched_constants():
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    a, b, c = cr.constant(1.0), cr.constant(-2.0), cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch([a, b, c])
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx, dy_da, dy_db, dy_dc = tape.gradient(y, [x, a, b, c])
    return dy_dx, dy_da, dy_db, dy_dc


def quadratic_second_derivative():
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    a, b, c = cr.constant(1.0), cr.constant(-2.0), cr.constant(1.0)
    with cr.GradientTape() as tape2:
        with cr.GradientTape() as tape1:
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape1.gradient(y, x)
    dy2_dx2 = tape2.gradient(dy_dx, x)
    return dy_dx, dy2_dx2


def quadratic_in_a_function(x):
    # 001's @tf.function program: (dy_dx, y) at 0 is (-2, 1), at 1 it is (0, 0).
    x = cr.cast(x, cr.float32)
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx = tape.gradient(y, x)
    return dy_dx, y


def minimise_with_apply_gradients():
    # 001: 1,000 SGD steps with optimizer.apply_gradients inside the (staged) function.
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    optimizer = cr.optimizers.SGD(learning_rate=0.01)
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    for _ in cr.range(1000):
        with cr.GradientTape() as tape:
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape.gradient(y, x)
        optimizer.apply_gradients(grads_and_vars=[(dy_dx, x)])
    y = a * cr.pow(x, 2) + b * x + c
    return y, x.numpy(), int(optimizer.iterations.numpy())


def _quadratic_of_the_global():
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    y = a * cr.pow(X_GLOBAL, 2) + b * X_GLOBAL + c
    return y


def minimise_with_minimize(epochs):
    # 001: optimizer.minimize(f, [x]) with a loss function reading a module-level Variable.
    X_GLOBAL.assign(0.0)
    optimizer = cr.optimizers.SGD(learning_rate=0.01)
    for _ in cr.range(epochs):
        optimizer.minimize(_quadratic_of_the_global, [X_GLOBAL])
    return _quadratic_of_the_global(), X_GLOBAL.numpy()


def minimise_with_a_hand_written_step():
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    a, b, c = cr.constant(1.0), cr.constant(-2.0), cr.constant(1.0)
    for _ in range(1000):
        with cr.GradientTape() as tape:
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape.gradient(y, x)
        x.assign_sub(0.01 * dy_dx)
    return x.numpy(), x.dtype


def gradient_of_the_sum_of_ones():
    x = cr.ones((2, 2))
    with cr.GradientTape() as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)
    dz_dx = t.gradient(z, x)
    return [[dz_dx[i][j].numpy() for j in (0, 1)] for i in (0, 1)]


def gradient_with_respect_to_an_intermediate():
    x = cr.ones((2, 2))
    with cr.GradientTape() as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)
    dz_dy = t.gradient(z, y)
    return dz_dy


def persistent_tape_twice():
    x = cr.ones((2, 2))
    with cr.GradientTape(persistent=True) as t:
        t.watch(x)
        y = cr.reduce_sum(x)
        z = cr.multiply(y, y)
    first = t.gradient(z, y)
    dz_dx = t.gradient(z, x)
    return first, dz_dx


def persistent_tape_108_and_6():
    x = cr.constant(3.0)
    with cr.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        z = y * y
    dz_dx = t.gradient(z, x)  # 108.0 (4*x^3 at x = 3)
    dy_dx = t.gradient(y, x)  # 6.0
    del t
    return dz_dx, dy_dx


def _power_between(x, y):
    output = 1.0
    for i in range(y):
        if i > 1 and i < 5:
            output = cr.multiply(output, x)
    return output


def control_flow_is_recorded(x, y):
    with cr.GradientTape() as t:
        t.watch(x)
        out = _power_between(x, y)
    return t.gradient(out, x)


def higher_order_with_a_variable():
    x = cr.Variable(1.0)
    with cr.GradientTape() as t:
        with cr.GradientTape() as t2:
            y = x * x * x
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    return dy_dx, d2y_dx2


def higher_order_with_a_constant_watched_by_both_tapes():
    x = cr.constant(1.0)
    with cr.GradientTape() as t:
        t.watch(x)
        with cr.GradientTape() as t2:
            t2.watch(x)
            y = x * x * x
        dy_dx = t2.gradient(y, x)
    d2y_dx2 = t.gradient(dy_dx, x)
    return dy_dx, d2y_dx2


def _square_of_sin(x):
    return cr.square(cr.sin(x))


def _power(x, y):
    output = 1
    for _ in range(int(y)):
        output = cr.multiply(output, x)
    return output


def tf1_eager_programs():
    x = cr.constant(np.pi / 2)
    with cr.GradientTape() as t:
        t.watch(x)
        y = _square_of_sin(x)
    first = (y, t.gradient(y, x))
    out = []
    for base, n in ((3.0, 2), (4.0, 3)):
        b = cr.constant(base)
        with cr.GradientTape() as t:
            t.watch(b)
            p = _power(b, n)
        out.append((p, t.gradient(p, b)))
    return first, out


def derivatives_of_sin_squared():
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
    return d1, d2, d3


def simple_net_with_adam(steps):
    # 003: a two-layer net (Variables), Adam and mean squared error, a few steps.
    rng = np.random.default_rng(0)
    x = cr.constant(rng.standard_normal((16, 3)))
    y = cr.constant(rng.standard_normal((16, 1)))
    w1 = cr.Variable(rng.standard_normal((3, 8)) * 0.5, name="w1")
    b1 = cr.Variable(np.zeros(8), name="b1")
    w2 = cr.Variable(rng.standard_normal((8, 1)) * 0.5, name="w2")
    b2 = cr.Variable(np.zeros(1), name="b2")
    params = [w1, b1, w2, b2]
    optimizer = cr.optimizers.Adam(learning_rate=0.05)
    losses = []
    for _ in range(steps):
        with cr.GradientTape() as tape:
            hidden = cr.nn.relu(cr.matmul(x, w1) + b1)
            pred = cr.matmul(hidden, w2) + b2
            loss = cr.reduce_mean(cr.losses.mean_squared_error(y, pred))
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params))
        losses.append(loss.numpy())
    return losses, [p.numpy() for p in params]


# ============================================================== tests/test_tape.py

def dtype_is_honoured_and_float32_works():
    x = cr.constant([1.0, 2.0], dtype=np.float32)
    w = cr.Variable([0.5, -1.0], dtype="float32")
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.reduce_sum(cr.tanh(x * w) ** 2 / 2.0 + 1.0)
    gx, gw = tape.gradient(y, [x, w])
    return y, gx, gw


def comparisons_are_untracked():
    x = cr.constant([1.0, 2.0, 3.0])
    with cr.GradientTape() as tape:
        tape.watch(x)
        results = [x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2, ~(x > 2), (x > 1) & (x < 3),
                   (x > 2) | (x < 2), (x > 1) ^ (x > 2)]
    return [(r.numpy().tolist(), r.dtype, r._id) for r in results]


def numpy_methods_and_attributes():
    a = np.arange(6.0).reshape(2, 3) + 1
    x = cr.constant(a)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = (x.T.reshape(3, 2).sum(axis=0) * x.mean()).prod()
    return y, tape.gradient(y, x)


def convert_to_tensor_reads_a_variable():
    v = cr.Variable(2.0)
    with cr.GradientTape() as tape:
        t = cr.convert_to_tensor(v)
        y = t * t
    return type(t).__name__, tape.gradient(y, v)


def trainable_variables_are_watched():
    w = cr.Variable(2.0)
    frozen = cr.Variable(3.0, trainable=False)
    with cr.GradientTape(persistent=True) as tape:
        y = w * frozen
    watched = [v.name for v in tape.watched_variables()]
    first = (tape.gradient(y, w), tape.gradient(y, frozen))
    with cr.GradientTape() as tape:
        tape.watch(frozen)
        y = w * frozen
    return watched, first, tape.gradient(y, frozen)


def watch_accessed_variables_false():
    a, b = cr.Variable(2.0, name="a"), cr.Variable(3.0, name="b")
    with cr.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
        tape.watch(a)
        y = a * b
    return ([v.name for v in tape.watched_variables()], tape.gradient(y, a),
            tape.gradient(y, b))


def integer_variables_carry_no_gradient():
    n = cr.Variable(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cr.GradientTape() as tape:
            y = n * 2.0
        g = tape.gradient(y, n)
    return g, [str(w.message) for w in caught]


def numpy_functions_record():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal(3)
    x, w = cr.constant(a), cr.constant(b)
    with cr.GradientTape() as tape:
        tape.watch([x, w])
        y = np.sum(np.sin(x) * w) + np.sum(np.linalg.inv(x) @ w)
    gx, gw = tape.gradient(y, [x, w])
    return y, gx, gw


def _softmax_loss(w, x, y):
    h = np.tanh(x @ w[0] + w[1])
    p = np.exp(h - np.max(h, axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y)), y]))


def plain_numpy_function_on_tensors():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])
    w0, w1 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    params = [cr.Variable(w0), cr.Variable(w1)]
    with cr.GradientTape() as tape:
        value = _softmax_loss(params, x, y)
    g0, g1 = tape.gradient(value, params)
    return value, g0, g1


def sequence_and_multi_output_functions():
    a = np.arange(6.0).reshape(2, 3) + 1
    x, y = cr.constant(a), cr.constant(2 * a)
    with cr.GradientTape() as tape:
        tape.watch([x, y])
        s = np.stack([x, y], axis=0)
        parts = np.split(np.concatenate((x, y), axis=1), 3, axis=1)
        # (every piece is used: the source transformer's np.split adjoint fails on a piece
        # without a cotangent, plain chainrule.grad included)
        total = np.sum(s**2) + np.sum(parts[0] * parts[2]) + np.sum(parts[1])
    gx, gy = tape.gradient(total, [x, y])
    return gx, gy


def multi_output_eigh():
    # Under NumPy 2 np.linalg.eigh returns a namedtuple; its cotangent is a tuple too.
    w = cr.constant(np.array([[2.0, 1.0], [1.0, 3.0]]))
    with cr.GradientTape() as tape:
        tape.watch(w)
        vals, vecs = np.linalg.eigh(w)
        top = vals[1]
    return type(vecs).__name__, tape.gradient(top, w)


def tensor_keyword_arguments():
    x, lo = cr.constant(np.array([-2.0, 0.0, 2.0])), cr.constant(-1.0)
    with cr.GradientTape() as tape:
        tape.watch([x, lo])
        y = np.sum(np.clip(x, a_min=lo, a_max=1.0))
    return tape.gradient(y, [x, lo])


def non_differentiable_primitives():
    x = cr.constant([0.5, 2.5, 1.5])
    with cr.GradientTape() as tape:
        tape.watch(x)
        i = np.argmax(x)
        f = np.floor(x)
        y = x[i] * 2 + f.sum()
    return i, f, tape.gradient(y, x)


def gradient_returns_the_structure_of_sources():
    a, b, c = cr.constant(1.0), cr.constant(2.0), cr.Variable(3.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        y = a * b * c
    single = tape.gradient(y, a)
    grads = tape.gradient(y, {"x": a, "rest": [b, (c,)]})
    pair = tape.gradient(y, (a, b))
    return single, list(grads), grads, pair


def output_gradients_seed_the_backward_pass():
    x = cr.constant([1.0, 2.0])
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = x * 10
    g1 = tape.gradient(y, x, output_gradients=cr.constant([1.0, -1.0]))
    g2 = tape.gradient([y, z], x, output_gradients=[np.array([1.0, 0.0]), None])
    bad = _caught(tape.gradient, [y, z], x, output_gradients=[np.ones(2)])
    return g1, g2, bad


def unconnected_gradients_policies():
    x, u = cr.constant(1.0), cr.constant([[1.0, 2.0]], dtype=np.float32)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch([x, u])
        y = x * 2
    out = [tape.gradient(y, u), tape.gradient(y, u, unconnected_gradients="none"),
           tape.gradient(y, u, unconnected_gradients=cr.UnconnectedGradients.NONE)]
    for policy in ("zero", cr.UnconnectedGradients.ZERO):
        out.append(tape.gradient(y, u, unconnected_gradients=policy))
    out.append(_caught(tape.gradient, y, u, unconnected_gradients="raise")[0])
    for bad in ("zeros", "None", 0, None):
        out.append(_caught(tape.gradient, y, x, unconnected_gradients=bad))
    return out


def sources_must_be_tensors():
    x = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * 2
    bad = _caught(tape.gradient, y, np.float64(1.0))
    return bad, tape.gradient(y, x)


def non_persistent_tape_computes_one_set():
    x = cr.constant(3.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    first = tape.gradient(y, x)
    again = _caught(tape.gradient, y, x)
    jac = _caught(tape.jacobian, y, x)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    j = tape.jacobian(y, x)
    return first, again, jac, j, _caught(tape.gradient, y, x)


def persistent_tape_allows_many_calls():
    x = cr.constant(3.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    return [(tape.gradient(y, x), tape.jacobian(y, x)) for _ in range(3)]


def jacobian_shapes_and_values():
    a = np.array([0.5, -1.0, 2.0, 0.3])
    x = cr.constant(a)
    m = cr.constant(np.arange(12.0).reshape(3, 4))
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = np.reshape(m @ np.sin(x), (1, 3))
        s = np.sum(x * x)
    return (tape.jacobian(y, x), tape.jacobian(s, x), tape.jacobian(y, m),
            tape.jacobian(y, m, unconnected_gradients="zero"),
            tape.jacobian(y, {"x": x, "m": [m]}))


def batch_jacobian():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 3))
    w = rng.standard_normal((3, 2))
    x = cr.constant(a)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = np.tanh(x @ w)
    bj = tape.batch_jacobian(y, x)
    full = tape.jacobian(y, x)
    return bj, full, _caught(tape.batch_jacobian, y[:4], x)


def nested_tapes_give_mixed_partials():
    a, x = cr.constant(3.0), cr.constant(2.0)
    with cr.GradientTape() as outer:
        outer.watch(a)
        with cr.GradientTape() as inner:
            inner.watch(x)
            y = a * x**2
        dy_dx = inner.gradient(y, x)  # 2 a x
    return dy_dx, outer.gradient(dy_dx, a)


def third_order_and_hessian_vector_product():
    x = cr.constant([0.3, -0.7])
    v = np.array([1.0, 2.0])
    with cr.GradientTape() as t3:
        t3.watch(x)
        with cr.GradientTape() as t2:
            t2.watch(x)
            with cr.GradientTape() as t1:
                t1.watch(x)
                y = np.sum(np.exp(2 * x) * x[0])
            g = t1.gradient(y, x)
        hv = t2.gradient(g, x, output_gradients=v)
    third = t3.gradient(hv, x)
    return g, hv, third


def hessian_as_the_jacobian_of_a_gradient():
    a = np.array([1.0, 2.0])
    x = cr.constant(a)
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            y = x[0] ** 3 * x[1]
        g = inner.gradient(y, x)
    return outer.jacobian(g, x)


def integer_and_bool_sources():
    i = cr.constant(3)
    b = cr.constant(True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cr.GradientTape() as tape:
            tape.watch([i, b])
            y = i * 2.0
        g = tape.gradient(y, [i, b])
    return g, [str(w.message) for w in caught]


def casting_to_an_integer_stops_the_gradient():
    x = cr.constant(2.7)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.cast(cr.cast(x, cr.int32), cr.float64) * x
    first = tape.gradient(y, x)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.cast(x, cr.float32) * 2
    return first, tape.gradient(y, x)


def no_recording_without_a_tape():
    x = cr.constant(1.0)
    y = np.sin(x) * 2 + x
    return y, y._id


def warnings_are_not_raised_for_ordinary_use():
    x = cr.Variable([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with cr.GradientTape() as tape:
            y = cr.reduce_sum(x * x)
        return tape.gradient(y, x)


# ============================================================== beyond the tests

def unconnected_by_control_flow(flag):
    # A branch not taken leaves the source unconnected: None, as eagerly (not zeros).
    x, w = cr.constant(2.0), cr.constant(3.0)
    with cr.GradientTape() as tape:
        tape.watch([x, w])
        y = x * 2.0
        if flag:
            y = y * w
    return tape.gradient(y, [x, w])


def unconnected_through_numpy_and_float(x):
    # .numpy(), float() and math functions leave the tape: their paths carry no gradient.
    with cr.GradientTape() as tape:
        tape.watch(x)
        a = x.numpy() * x
        b = float(x) * x
        c = math.sin(x) * x
        d = cr.stop_gradient(x) * x
    return tape.gradient([a, b, c, d], x)


def output_is_an_input_passed_through():
    x = cr.constant(2.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x
        z = x * 3
    return y is x, tape.gradient(y, x), tape.gradient([y, z], x)


def gradient_of_a_list_output():
    x = cr.constant(np.array([1.0, 2.0]))
    with cr.GradientTape() as tape:
        tape.watch(x)
        parts = []
        for k in range(3):
            parts.append(x * (k + 1.0))
    return tape.gradient(parts, x)


def watch_after_use():
    # Operations before tape.watch(x) are not recorded.
    x = cr.constant(3.0)
    with cr.GradientTape() as tape:
        early = x * x
        tape.watch(x)
        late = x * 5.0
    return tape.gradient([early, late], x)


def loop_around_a_tape_with_a_python_scalar(n):
    w = cr.Variable(np.array([1.0, -1.0]))
    for step in range(n):
        with cr.GradientTape() as tape:
            loss = cr.reduce_sum(w * w) * (step + 1)
        g = tape.gradient(loss, w)
        w.assign_sub(0.1 * g)
    return w.numpy()


def while_loop_inside_the_block():
    x = cr.constant(1.5)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x
        k = 0
        while k < 3:
            y = y * x
            k += 1
    return y, tape.gradient(y, x)


class _Weights:
    """A plain object holding Variables, read as attributes inside tape blocks."""

    def __init__(self):
        self.w = cr.Variable([1.0, 2.0], name="w")
        self.b = cr.Variable(0.5, name="b")
        self.frozen = cr.Variable(3.0, trainable=False, name="frozen")
        self.scale = 2.0


def attributes_of_an_object():
    m = _Weights()
    x = cr.constant([3.0, -1.0])
    with cr.GradientTape(persistent=True) as tape:
        y = cr.reduce_sum(m.w * x) * m.scale + m.b * m.frozen + m.w.T[0]
    grads = tape.gradient(y, [m.w, m.b, m.frozen])
    m.w = cr.Variable([0.0, 1.0])  # rebinding the attribute: the next block reads the new one
    with cr.GradientTape() as tape2:
        z = cr.reduce_sum(m.w * m.w)
    return grads, tape2.gradient(z, m.w), [v.name for v in tape.watched_variables()]


def gradient_in_a_branch_after_the_block(flag):
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x ** 3
    if flag:
        g = tape.gradient(y, x)
    else:
        g = tape.jacobian(y, x)
    return g


# ====================================================== training loops (fused_loop)
# A loop whose body is a tape block, its gradient and apply_gradients of that gradient runs
# as one call in staged code; each program here must still give what the loop as written
# gives: the Variables, the optimizer's state, and the names the loop leaves bound.

def _mlp_params(seed):
    rng = np.random.default_rng(seed)
    return (cr.constant(rng.standard_normal((6, 3))), cr.constant(rng.standard_normal((6, 1))),
            [cr.Variable(rng.standard_normal((3, 4)) * 0.5, name="w1"),
             cr.Variable(np.zeros(4), name="b1"),
             cr.Variable(rng.standard_normal((4, 1)) * 0.5, name="w2"),
             cr.Variable(np.zeros(1), name="b2")])


def training_loop_with_adam(steps):
    x, y, params = _mlp_params(1)
    w1, b1, w2, b2 = params
    optimizer = cr.optimizers.Adam(learning_rate=0.05, amsgrad=True)
    for step in range(steps):
        with cr.GradientTape() as tape:
            hidden = cr.tanh(cr.matmul(x, w1) + b1)
            loss = cr.reduce_mean(cr.square(cr.matmul(hidden, w2) + b2 - y))
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params))
    return (step, loss, grads, [p.numpy() for p in params],
            int(optimizer.iterations.numpy()), optimizer.get_slot(w1, "v_hat"))


def training_loop_with_momentum_schedule_and_clipping():
    x = cr.Variable([0.5, -1.5], name="x")
    optimizer = cr.optimizers.SGD(learning_rate=lambda step: 0.1 / (1 + step), momentum=0.9,
                                  nesterov=True, clipnorm=1.0)
    for _ in cr.range(50):
        with cr.GradientTape() as tape:
            y = cr.reduce_sum(x ** 4 - 3.0 * x)
        g = tape.gradient(y, x)
        optimizer.apply_gradients([(g, x)])
    return x.numpy(), y, g, optimizer.get_slot(x, "momentum"), optimizer.learning_rate


def training_loop_with_weight_decay_and_a_float32_variable():
    w = cr.Variable(np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32), name="w")
    data = cr.constant(np.array([[0.3, -0.2], [0.1, 0.4]]))
    optimizer = cr.optimizers.AdamW(learning_rate=0.01, weight_decay=0.1)
    params = (w,)
    for _ in range(20):
        with cr.GradientTape() as tape:
            loss = cr.reduce_sum(cr.square(cr.matmul(data, w) - 1.0))
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params))
    return w.numpy(), w.dtype, grads, loss


def training_loop_that_never_runs():
    x = cr.Variable(2.0, name="x")
    optimizer = cr.optimizers.SGD(learning_rate=0.1)
    y = g = i = None
    for i in range(0):
        with cr.GradientTape() as tape:
            y = x * x
        g = tape.gradient(y, x)
        optimizer.apply_gradients([(g, x)])
    return x.numpy(), y, g, i, int(optimizer.iterations.numpy())


def training_loop_with_an_unconnected_variable():
    # apply_gradients warns at every step about the Variable without a gradient, staged
    # too (test_function.py counts the warnings)
    used = cr.Variable(1.0, name="used")
    unused = cr.Variable(5.0, name="unused")
    params = [used, unused]
    optimizer = cr.optimizers.SGD(learning_rate=0.1)
    for _ in range(3):
        with cr.GradientTape() as tape:
            y = used * used
        grads = tape.gradient(y, params)
        optimizer.apply_gradients(zip(grads, params))
    return used.numpy(), unused.numpy(), grads, int(optimizer.iterations.numpy())


class _CountingSGD(cr.optimizers.SGD):
    """An optimizer whose apply_gradients is overridden: the loop must call it every step."""

    def __init__(self):
        super().__init__(learning_rate=0.1)
        self.calls = 0

    def apply_gradients(self, grads_and_vars):
        self.calls += 1
        return super().apply_gradients(grads_and_vars)


def training_loop_with_an_overridden_apply_gradients():
    x = cr.Variable(3.0, name="x")
    optimizer = _CountingSGD()
    for _ in range(4):
        with cr.GradientTape() as tape:
            y = x * x
        g = tape.gradient(y, x)
        optimizer.apply_gradients([(g, x)])
    return x.numpy(), optimizer.calls


def training_loop_inside_try():
    # not run as one call (an exception half-way would leave the loop's names as they were
    # at that step), and still the same results
    x = cr.Variable(3.0, name="x")
    optimizer = cr.optimizers.SGD(learning_rate=0.1)
    try:
        for _ in range(4):
            with cr.GradientTape() as tape:
                y = x * x
            g = tape.gradient(y, x)
            optimizer.apply_gradients([(g, x)])
    except ValueError:
        pass
    return x.numpy(), y, g


class _FailingSGD(_CountingSGD):
    """An optimizer whose apply_gradients raises after counting the call."""

    def apply_gradients(self, grads_and_vars):
        self.calls += 1
        raise ValueError("no update today")


def training_step_whose_update_raises_inside_try():
    # not one call (the gradients are bound before apply_gradients raises, and the
    # handler reads them), and still the same results
    x = cr.Variable(3.0, name="x")
    params = [x]
    optimizer = _FailingSGD()
    grads = None
    try:
        with cr.GradientTape() as tape:
            y = x * x
        grads = tape.gradient(y, params)
        optimizer.apply_gradients(zip(grads, params))
    except ValueError:
        pass
    return grads[0], optimizer.calls


def training_steps_without_a_loop():
    # two training steps one after the other, each one fused_step call when staged
    x, y, params = _mlp_params(2)
    w1, b1, w2, b2 = params
    optimizer = cr.optimizers.Adam(learning_rate=0.05)
    with cr.GradientTape() as tape:
        loss = cr.reduce_mean(cr.square(cr.matmul(cr.tanh(cr.matmul(x, w1) + b1), w2) + b2 - y))
    grads = tape.gradient(loss, params)
    optimizer.apply_gradients(zip(grads, params))
    first = loss
    with cr.GradientTape() as second_tape:
        loss = cr.reduce_mean(cr.square(cr.matmul(cr.tanh(cr.matmul(x, w1) + b1), w2) + b2 - y))
    grads = second_tape.gradient(loss, params)
    optimizer.apply_gradients(zip(grads, params))
    return first, loss, grads, [p.numpy() for p in params], int(optimizer.iterations.numpy())


def training_loop_whose_gradient_has_the_wrong_structure():
    # one (gradient, variable) pair written for a list of sources: apply_gradients rejects
    # the pair at the first step, staged or not
    x = cr.Variable(3.0, name="x")
    params = [x]
    optimizer = cr.optimizers.SGD(learning_rate=0.1)
    for _ in range(2):
        with cr.GradientTape() as tape:
            y = x * x
        g = tape.gradient(y, params)
        optimizer.apply_gradients([(g, params)])
    return x.numpy()


PROGRAMS = [
    (multi_output_eigh, ()),
    (square_of_a_variable_at_3, ()),
    (quadratic_derivative, ()),
    (quadratic_with_watched_constants, ()),
    (quadratic_second_derivative, ()),
    (quadratic_in_a_function, (cr.constant(0.0),)),
    (quadratic_in_a_function, (cr.constant(1.0),)),
    (minimise_with_apply_gradients, ()),
    (training_loop_with_adam, (7,)),
    (training_loop_with_momentum_schedule_and_clipping, ()),
    (training_loop_with_weight_decay_and_a_float32_variable, ()),
    (training_loop_that_never_runs, ()),
    (training_loop_with_an_unconnected_variable, ()),
    (training_loop_with_an_overridden_apply_gradients, ()),
    (training_loop_inside_try, ()),
    (training_step_whose_update_raises_inside_try, ()),
    (training_steps_without_a_loop, ()),
    (minimise_with_minimize, (1000,)),
    (minimise_with_a_hand_written_step, ()),
    (gradient_of_the_sum_of_ones, ()),
    (gradient_with_respect_to_an_intermediate, ()),
    (persistent_tape_twice, ()),
    (persistent_tape_108_and_6, ()),
    (control_flow_is_recorded, (cr.convert_to_tensor(2.0), 6)),
    (control_flow_is_recorded, (cr.convert_to_tensor(2.0), 5)),
    (control_flow_is_recorded, (cr.convert_to_tensor(2.0), 4)),
    (control_flow_is_recorded, (cr.convert_to_tensor(2.0), 2)),
    (higher_order_with_a_variable, ()),
    (higher_order_with_a_constant_watched_by_both_tapes, ()),
    (tf1_eager_programs, ()),
    (derivatives_of_sin_squared, ()),
    (simple_net_with_adam, (5,)),
    (dtype_is_honoured_and_float32_works, ()),
    (comparisons_are_untracked, ()),
    (numpy_methods_and_attributes, ()),
    (convert_to_tensor_reads_a_variable, ()),
    (trainable_variables_are_watched, ()),
    (watch_accessed_variables_false, ()),
    (integer_variables_carry_no_gradient, ()),
    (numpy_functions_record, ()),
    (plain_numpy_function_on_tensors, ()),
    (sequence_and_multi_output_functions, ()),
    (tensor_keyword_arguments, ()),
    (non_differentiable_primitives, ()),
    (gradient_returns_the_structure_of_sources, ()),
    (output_gradients_seed_the_backward_pass, ()),
    (unconnected_gradients_policies, ()),
    (sources_must_be_tensors, ()),
    (non_persistent_tape_computes_one_set, ()),
    (persistent_tape_allows_many_calls, ()),
    (jacobian_shapes_and_values, ()),
    (batch_jacobian, ()),
    (nested_tapes_give_mixed_partials, ()),
    (third_order_and_hessian_vector_product, ()),
    (hessian_as_the_jacobian_of_a_gradient, ()),
    (integer_and_bool_sources, ()),
    (casting_to_an_integer_stops_the_gradient, ()),
    (no_recording_without_a_tape, ()),
    (warnings_are_not_raised_for_ordinary_use, ()),
    (unconnected_by_control_flow, (True,)),
    (unconnected_by_control_flow, (False,)),
    (unconnected_through_numpy_and_float, (cr.constant(0.7),)),
    (output_is_an_input_passed_through, ()),
    (gradient_of_a_list_output, ()),
    (watch_after_use, ()),
    (loop_around_a_tape_with_a_python_scalar, (4,)),
    (while_loop_inside_the_block, ()),
    (attributes_of_an_object, ()),
    (gradient_in_a_branch_after_the_block, (True,)),
    (gradient_in_a_branch_after_the_block, (False,)),
]


# ============================================================== not stageable

def values_read_before_an_assignment():
    v = cr.Variable(3.0)
    with cr.GradientTape() as tape:
        y = v * v
        v.assign(5.0)
        z = y + v
    return z, tape.gradient(y, v)


@cr.custom_gradient
def _log1pexp(x):
    e = cr.exp(x)

    def grad(dy):
        return dy * (1 - 1 / (1 + e))

    return cr.log(1 + e), grad


def custom_gradient_inside_the_block():
    x = cr.constant(100.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = _log1pexp(x)
    return tape.gradient(y, x)


def stop_recording_inside_the_block():
    x = cr.constant(2.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            z = y * x
        w = y + z
    return tape.gradient(w, x)


def reentering_a_tape():
    tape = cr.GradientTape(persistent=True)
    x = cr.constant(2.0)
    with tape:
        tape.watch(x)
        y = x * x
    return tape.gradient(y, x)


def gradient_inside_its_own_block():
    x = cr.constant(2.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x ** 3
        dy = tape.gradient(y, x)
    return dy


def reset_inside_the_block():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        z = x * 5
    return tape.gradient([y, z], x)


def variable_created_inside_the_block():
    with cr.GradientTape() as tape:
        v = cr.Variable(2.0)
        y = v * v
    return tape.gradient(y, v)


def method_of_an_object_inside_the_block():
    layer = cr.nn.Dense(2)
    x = cr.constant(np.ones((1, 3)))
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(layer(x))
    return tape.gradient(y, layer.trainable_variables)


LAYER = cr.nn.Dense(2)


def method_of_a_module_level_object():
    x = cr.constant(np.ones((1, 3)))
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(LAYER(x))
    return tape.gradient(y, LAYER.trainable_variables)


def item_update_inside_the_block():
    x = cr.constant(np.array([1.0, 2.0]))
    acc = np.zeros(2)
    with cr.GradientTape() as tape:
        tape.watch(x)
        acc[0] += cr.reduce_sum(x)
    return acc


def return_inside_the_block():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        return x * x


# Programs the source transformer itself cannot differentiate yet: staged, they raise.

UNSTAGEABLE = [
    (values_read_before_an_assignment, "assigns a Variable inside a staged tape block"),
    (custom_gradient_inside_the_block, "custom_gradient"),
    (stop_recording_inside_the_block, "a 'with' statement inside a tape block"),
    (reentering_a_tape, "GradientTape that is not the context"),
    (gradient_inside_its_own_block, "inside the tape's own block"),
    (reset_inside_the_block, "inside the tape's own block"),
    (variable_created_inside_the_block, "creating a Variable"),
    (method_of_an_object_inside_the_block, "a local variable"),
    (method_of_a_module_level_object, "method or callable object"),
    (item_update_inside_the_block, "augmented assignment to an item"),
    (return_inside_the_block, "'return' inside a tape block"),

]
