"""Shape-specialised pullbacks and training steps of ``@chainrule.function``
(:mod:`chainrule.staging.shaped`): what they are made from, when they are not made, and
that staged runs stay bit-for-bit those of the eager tape."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.staging import shaped


def _variables(shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [cr.Variable(rng.standard_normal(s).astype(dtype) * 0.3, name=f"p{i}")
            for i, s in enumerate(shapes)]


def _copies(params):
    return [cr.Variable(p.numpy(), name=p.name) for p in params]


def _mlp(x, w1, b1, w2, b2):
    hidden = cr.tanh(cr.matmul(x, w1) + b1)
    return cr.matmul(hidden, w2) + b2


def _training(model, loss_of, steps, optimizer_factory=lambda: cr.optimizers.SGD(0.05)):
    """``make(params)``: a training loop over ``params`` (four Variables, read by name in the
    tape block, as a training step reads its weights)."""
    def make(params):
        optimizer = optimizer_factory()
        w1, b1, w2, b2 = params[:4]

        def train(x, y):
            for _ in range(steps):
                with cr.GradientTape() as tape:
                    loss = loss_of(model(x, w1, b1, w2, b2), y)
                grads = tape.gradient(loss, params)
                optimizer.apply_gradients(zip(grads, params))
            return loss, grads
        return train
    return make


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), (a, b)


def _check_training(params, model, loss_of, x, y, steps=6, make=None, **kw):
    make = make or _training(model, loss_of, steps, **kw)
    eager_params, staged_params = _copies(params), _copies(params)
    eager = make(eager_params)
    staged = cr.function(make(staged_params))
    for _ in range(2):  # the second call reuses the kept plan and its specialised step
        e_loss, e_grads = eager(x, y)
        s_loss, s_grads = staged(x, y)
        _same(e_loss.numpy(), s_loss.numpy())
        for ge, gs in zip(e_grads, s_grads):
            assert (ge is None) == (gs is None)
            if ge is not None:
                _same(ge.numpy(), gs.numpy())
        for pe, ps in zip(eager_params, staged_params):
            _same(pe.numpy(), ps.numpy())
    return cr.source(staged)


def mse(out, y):
    return cr.reduce_mean(cr.square(out - y))


def _inline_mlp_training(steps):
    def make(params):
        optimizer = cr.optimizers.SGD(0.05)
        w1, b1, w2, b2 = params

        def train(x, y):
            for _ in range(steps):
                with cr.GradientTape() as tape:
                    hidden = cr.tanh(cr.matmul(x, w1) + b1)
                    out = cr.matmul(hidden, w2) + b2
                    loss = cr.reduce_mean(cr.square(out - y))
                grads = tape.gradient(loss, params)
                optimizer.apply_gradients(zip(grads, params))
            return loss, grads
        return train
    return make


def test_a_training_loop_steps_through_one_specialised_function():
    rng = np.random.default_rng(1)
    x, y = cr.constant(rng.standard_normal((8, 4))), cr.constant(rng.standard_normal((8, 1)))
    params = _variables([(4, 16), (16,), (16, 1), (1,)])
    source = _check_training(params, None, None, x, y, make=_inline_mlp_training(6))
    step = source[source.index("_step_shaped("):]
    # the shapes are decided once: no helper looks at them at each step
    assert "unbroadcast(" not in step and "expand_reduced(" not in step
    assert "matmul_adjoint" not in step and "np.size(" not in step
    assert ".sum(axis=0)" in step and ".T @ " in step
    assert "np.add.reduce(" in step  # np.mean of a float64 array: its own sum and division


@pytest.mark.parametrize("case", ["keepdims-bias", "scalar-bias", "float32", "sum-loss",
                                  "helper-function", "batch-of-one"])
def test_specialised_steps_match_the_eager_tape_bit_for_bit(case):
    rng = np.random.default_rng(2)
    batch = 1 if case == "batch-of-one" else 8
    dtype = np.float32 if case == "float32" else np.float64
    x = cr.constant(rng.standard_normal((batch, 3)).astype(dtype))
    y = cr.constant(rng.standard_normal((batch, 1)).astype(dtype))
    shapes = [(3, 5), (5,), (5, 1), (1,)]
    if case == "keepdims-bias":
        shapes = [(3, 5), (1, 5), (5, 1), (1, 1)]
    if case == "scalar-bias":
        shapes = [(3, 5), (5,), (5, 1), ()]
    params = _variables(shapes, dtype)
    model = _mlp
    loss_of = mse
    if case == "sum-loss":
        def loss_of(out, y):
            return cr.reduce_sum(cr.square(out - y)) * 0.5
    if case == "helper-function":
        def model(x, w1, b1, w2, b2):
            return layer(cr.tanh(layer(x, w1, b1)), w2, b2)
    source = _check_training(params, model, loss_of, x, y)
    if case == "float32":
        assert "np.add.reduce(" not in source  # kept as np.mean: only float64 is rewritten
    if case in ("keepdims-bias", "float32", "sum-loss", "batch-of-one", "helper-function"):
        assert "_step_shaped(" in source
    if case == "helper-function":
        # each call site of a called function gets its own specialised copy
        assert "layer_bwd_shaped(" in source and "layer_bwd_1_shaped(" in source
        assert "mse_bwd_shaped(" in source


def layer(x, w, b):
    return cr.matmul(x, w) + b


def test_other_optimizers_and_their_updates_stay_bit_for_bit():
    rng = np.random.default_rng(3)
    x, y = cr.constant(rng.standard_normal((6, 3))), cr.constant(rng.standard_normal((6, 1)))
    params = _variables([(3, 4), (4,), (4, 1), (1,)])
    for factory in (lambda: cr.optimizers.Adam(0.01),
                    lambda: cr.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                    lambda: cr.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                    lambda: cr.optimizers.Adagrad(0.1)):
        _check_training(params, _mlp, mse, x, y, optimizer_factory=factory)


def test_a_kept_gradient_plan_runs_a_specialised_pullback():
    rng = np.random.default_rng(4)
    x, y = cr.constant(rng.standard_normal((8, 4))), cr.constant(rng.standard_normal((8, 1)))
    params = _variables([(4, 16), (16,), (16, 1), (1,)])

    w1, b1, w2, b2 = params

    def step(x, y):
        with cr.GradientTape() as tape:
            hidden = cr.tanh(cr.matmul(x, w1) + b1)
            out = cr.matmul(hidden, w2) + b2
            loss = cr.reduce_mean(cr.square(out - y))
        grads = tape.gradient(loss, params)
        return loss, grads

    staged = cr.function(step)
    for _ in range(3):
        e_loss, e_grads = step(x, y)
        s_loss, s_grads = staged(x, y)
        _same(e_loss.numpy(), s_loss.numpy())
        for ge, gs in zip(e_grads, s_grads):
            _same(ge.numpy(), gs.numpy())
    source = cr.source(staged)
    shaped_bwd = source[source.index("_bwd_shaped("):]
    assert "unbroadcast(" not in shaped_bwd and "matmul_adjoint" not in shaped_bwd
    assert "[0]" in shaped_bwd  # grad_item of the seed, decided


def test_blocks_whose_shapes_depend_on_data_are_not_specialised():
    rng = np.random.default_rng(5)
    x, y = cr.constant(rng.standard_normal((8, 4))), cr.constant(rng.standard_normal((8, 1)))
    params = _variables([(4, 6), (6,), (6, 1), (1,)])

    def model(x, w1, b1, w2, b2):
        hidden = np.tanh(x @ w1 + b1)
        positive = hidden[hidden > 0.0]  # as many elements as are positive: data decides
        return hidden @ w2 + b2 + np.sum(positive)

    source = _check_training(params, model, mse, x, y)
    assert "_shaped(" not in source


@pytest.mark.parametrize("body", [
    "def f(x):\n    return np.sum(x[x > 0])\n",
    "def f(x):\n    return np.sum(np.nonzero(x)[0] * 1.0) + np.sum(x)\n",
    "def f(x):\n    return np.sum(x[:int(x[0] > 0) + 1])\n",
    "def f(x):\n    if x[0] > 0:\n        return np.sum(x)\n    return np.sum(x * x)\n",
    "def f(x):\n    return (x > 0) and np.sum(x)\n",
    "def f(x):\n    return np.sum(x * np.random.normal(size=3))\n",  # drawn twice
])
def test_shape_determined_refuses_what_data_can_change(body):
    request = _request(body)
    assert not shaped.shape_determined(request)


def test_shape_determined_accepts_arithmetic_ufuncs_reductions_and_constant_indices():
    body = ("def f(x, w):\n    h = np.tanh(x @ w)\n    return np.mean(h[0, 1:] ** 2) + "
            "np.sum(h.T, axis=0)[0]\n")
    assert shaped.shape_determined(_request(body))


def _request(body):
    import linecache

    from chainrule.transform.generate import Request, prepare
    from chainrule.transform.parse import parse_function

    filename = f"<test_shaped {abs(hash(body))}>"
    linecache.cache[filename] = (len(body), None, body.splitlines(keepends=True), filename)
    namespace = {"np": np}
    exec(compile(body, filename, "exec"), namespace)  # noqa: S102 - a test program
    prep = prepare(parse_function(namespace["f"]), "f")
    request = Request()
    request.build_pair(prep, list(prep.params[:1]), "f_fwd", "f_bwd")
    request.compile()
    return request


def test_a_rewrite_that_disagrees_on_its_first_run_is_dropped(monkeypatch):
    monkeypatch.setattr(shaped, "_same_result", lambda a, b: False)
    rng = np.random.default_rng(6)
    x, y = cr.constant(rng.standard_normal((8, 4))), cr.constant(rng.standard_normal((8, 1)))
    params = _variables([(4, 16), (16,), (16, 1), (1,)])
    source = _check_training(params, _mlp, mse, x, y)
    assert "_shaped(" not in source


def test_an_overridden_update_never_aliases_its_variable():
    class Echo(cr.optimizers.SGD):
        def _update(self, var, value, grad, lr):
            return grad  # the gradient itself: the Variable must copy it

    v = cr.Variable(np.zeros(3))
    g = np.array([1.0, 2.0, 3.0])
    Echo(0.1).apply_gradients([(cr.constant(g), v)])
    g[0] = 99.0
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0, 3.0])


def test_an_unconnected_variable_takes_the_general_path_with_the_same_results():
    rng = np.random.default_rng(7)
    x, y = cr.constant(rng.standard_normal((8, 4))), cr.constant(rng.standard_normal((8, 1)))
    params = _variables([(4, 16), (16,), (16, 1), (1,)]) + [cr.Variable(np.ones(2), name="u")]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = _check_training(params, _mlp, mse, x, y)
    assert "_step_shaped(" not in source  # the unconnected source takes the general path


def test_numpy_warnings_are_those_of_the_eager_loop():
    # log of a negative number warns at every step; specialising the step checks it by
    # running it twice, and the check itself must not warn again
    def make(params):
        optimizer = cr.optimizers.SGD(0.0)
        (w,) = params

        def train(x):
            for _ in range(4):
                with cr.GradientTape() as tape:
                    loss = cr.reduce_sum(cr.log(cr.matmul(x, w) - 10.0))
                grads = tape.gradient(loss, params)
                optimizer.apply_gradients(zip(grads, params))
            return loss
        return train

    x = cr.constant(np.ones((2, 3)))
    params = _variables([(3, 2)])

    def count(fn):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(invalid="warn"):
                fn(x)
        return len([w for w in caught if issubclass(w.category, RuntimeWarning)])

    eager = count(make(_copies(params)))
    staged = cr.function(make(_copies(params)))
    assert eager == 4 and count(staged) == eager
    assert "_step_shaped(" in cr.source(staged)


def test_a_block_reading_a_list_of_variables_steps_through_a_specialised_function():
    # the block reads the list itself (a functional model of its parameters): the list holds
    # the same Variables at every step, so the step is kept and specialised
    def forward(x, params):
        w1, b1, w2, b2 = params
        return cr.matmul(cr.tanh(cr.matmul(x, w1) + b1), w2) + b2

    def make(params):
        optimizer = cr.optimizers.SGD(0.05)

        def train(x, y):
            for _ in range(6):
                with cr.GradientTape() as tape:
                    loss = cr.reduce_mean(cr.square(forward(x, params) - y))
                grads = tape.gradient(loss, params)
                optimizer.apply_gradients(zip(grads, params))
            return loss, grads
        return train

    rng = np.random.default_rng(8)
    x, y = cr.constant(rng.standard_normal((8, 4))), cr.constant(rng.standard_normal((8, 1)))
    params = _variables([(4, 16), (16,), (16, 1), (1,)])
    source = _check_training(params, None, None, x, y, make=make)
    assert "_step_shaped(" in source and "forward_bwd_shaped(" in source


def test_a_list_input_whose_items_change_is_looked_at_again():
    w = cr.Variable(np.array([1.0, 2.0]), name="w")
    v = cr.Variable(np.array([3.0, 4.0, 5.0]), name="v")

    @cr.function
    def step(params):
        with cr.GradientTape() as tape:
            loss = cr.reduce_sum(cr.square(params[0]))
        grads = tape.gradient(loss, params)
        return loss, grads

    params = [w]
    for _ in range(3):
        loss, (g,) = step(params)
        np.testing.assert_array_equal(g.numpy(), 2 * w.numpy())
    params[0] = v  # the same list, another Variable in it (another shape)
    loss, (g,) = step(params)
    np.testing.assert_array_equal(g.numpy(), 2 * v.numpy())
    assert loss.numpy() == 50.0
