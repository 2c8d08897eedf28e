"""``@chainrule.function``: the seed programs, tracing per input signature, the generated
source, errors with the eager advice, and what staged code does at run time."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.staging.tape import StagedTape

# ================================================================ the seed programs (001)

X = cr.Variable(0.0, name="x", dtype=cr.float32)
OPTIMIZER = cr.optimizers.SGD(learning_rate=0.01)


@cr.function
def f_with_a_tape(x):
    x = cr.cast(x, cr.float32)
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = a * cr.pow(x, 2) + b * x + c
    dy_dx = tape.gradient(y, x)
    return dy_dx, y


def test_a_tape_inside_a_function_gives_the_tutorial_numbers():
    assert [t.numpy() for t in f_with_a_tape(cr.constant(0.0))] == [-2.0, 1.0]
    assert [t.numpy() for t in f_with_a_tape(cr.constant(1.0))] == [0.0, 0.0]
    assert f_with_a_tape(cr.constant(0.0))[0].dtype == np.float32
    assert f_with_a_tape.experimental_get_tracing_count() == 1


@cr.function
def minimizef():
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    for _ in cr.range(1000):
        with cr.GradientTape() as tape:
            y = a * cr.pow(X, 2) + b * X + c
        dy_dx = tape.gradient(y, X)
        OPTIMIZER.apply_gradients(grads_and_vars=[(dy_dx, X)])
    y = a * cr.pow(X, 2) + b * X + c
    return y


def test_a_thousand_sgd_steps_with_apply_gradients_reach_the_minimum():
    X.assign(0.0)
    y = minimizef()
    assert X.numpy() == pytest.approx(1.0, abs=1e-4)
    assert y.numpy() == pytest.approx(0.0, abs=1e-4)
    staged_x = X.numpy()
    X.assign(0.0)
    y_eager = minimizef.python_function()
    assert X.numpy() == staged_x and y_eager.numpy() == y.numpy()  # bit for bit


@cr.function
def quadratic():
    a = cr.constant(1.0)
    b = cr.constant(-2.0)
    c = cr.constant(1.0)
    y = a * cr.pow(X, 2) + b * X + c
    return y


@cr.function
def train(epoch):
    for _ in cr.range(epoch):
        OPTIMIZER.minimize(quadratic, [X])
    return quadratic()


def test_a_thousand_steps_of_optimizer_minimize_reach_the_minimum():
    X.assign(0.0)
    y = train(1000)
    assert X.numpy() == pytest.approx(1.0, abs=1e-4)
    assert y.numpy() == pytest.approx(0.0, abs=1e-4)
    staged_x = X.numpy()
    X.assign(0.0)
    train.python_function(1000)
    assert X.numpy() == staged_x
    # the minimize call is a staged tape block: no GradientTape recorded anything
    text = cr.source(train)
    assert "apply_gradients(zip(grads, var_list))" in text and "def quadratic_fwd" in text


# ================================================================ tracing

@cr.function
def scaled_gradient(x, k):
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.reduce_sum(x * x) * k
    return tape.gradient(y, x)


def test_staged_code_is_cached_per_input_signature():
    fn = cr.function(scaled_gradient.python_function)
    a = cr.constant([1.0, 2.0])
    fn(a, 2)
    fn(cr.constant([3.0, 4.0]), 2)  # same shape and dtype, same Python scalar
    assert fn.experimental_get_tracing_count() == 1
    fn(cr.constant([1.0, 2.0, 3.0]), 2)  # another shape
    assert fn.experimental_get_tracing_count() == 2
    fn(cr.constant([1.0, 2.0], dtype=cr.float32), 2)  # another dtype
    assert fn.experimental_get_tracing_count() == 3
    fn(a, 3)  # another value of a Python scalar
    assert fn.experimental_get_tracing_count() == 4
    fn(a, 3)
    fn(a, k=3)  # passed by keyword: another signature, as tf.function
    assert fn.experimental_get_tracing_count() == 5
    assert fn(a, 3).numpy().tolist() == [6.0, 12.0]


def test_control_flow_steered_by_a_python_scalar_retraces():
    @cr.function
    def grad(x, y):
        with cr.GradientTape() as t:
            t.watch(x)
            out = 1.0
            for i in range(y):
                if i > 1 and i < 5:
                    out = cr.multiply(out, x)
        return t.gradient(out, x)

    x = cr.convert_to_tensor(2.0)
    assert [grad(x, n).numpy() for n in (6, 5, 4)] == [12.0, 12.0, 4.0]
    assert grad(x, 2) is None  # the loop never multiplied: unconnected, as eagerly
    assert grad.experimental_get_tracing_count() == 4


def test_decorator_forms_methods_and_concrete_functions():
    class Model:
        def __init__(self):
            self.w = cr.Variable([1.0, -2.0])

        @cr.function
        def step(self, x):
            with cr.GradientTape() as tape:
                y = cr.reduce_sum(self.w * x)
            return tape.gradient(y, self.w)

    m = Model()
    assert m.step(cr.constant([3.0, 4.0])).numpy().tolist() == [3.0, 4.0]

    @cr.function()
    def square(x):
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        return tape.gradient(y, x)

    concrete = square.get_concrete_function(cr.constant(3.0))
    assert concrete(cr.constant(3.0)).numpy() == 6.0
    assert square(cr.constant(5.0)).numpy() == 10.0
    assert square.experimental_get_tracing_count() == 1
    assert repr(square).startswith("<chainrule.function")


# ================================================================ the generated source

def test_source_shows_the_staged_code_with_grad_of_comments():
    with pytest.raises(TypeError, match="has not been called yet"):
        cr.source(cr.function(f_with_a_tape.python_function))
    f_with_a_tape(cr.constant(0.0))
    text = cr.source(f_with_a_tape)
    assert "def f(x):" not in text  # the function keeps its name
    assert "def f_with_a_tape(x):" in text
    assert "run_tape_block_" in text  # the block is a call into generated code
    assert "def tape_block_" in text and "_fwd(" in text and "_bwd(" in text
    assert "# grad of: y = a * x ** 2 + b * x + c" in text
    assert "GradientTape" not in text.split("def tape_block_")[1]


# ================================================================ errors

def test_unstageable_code_raises_at_the_first_call_with_file_line_and_advice():
    v = cr.Variable(1.0)

    @cr.function
    def assigns_in_the_block(x):
        with cr.GradientTape() as tape:
            y = v * x
            v.assign_add(1.0)
        return tape.gradient(y, v)

    with pytest.raises(cr.TransformError) as info:
        assigns_in_the_block(cr.constant(2.0))
    err = info.value
    assert err.filename == __file__
    assert err.lineno == assigns_in_the_block.python_function.__code__.co_firstlineno + 4
    assert err.construct == "Variable assignment"
    assert "remove the decorator" in str(err) and "python_function" in str(err)


def test_errors_are_raised_even_for_blocks_the_first_call_does_not_run():
    @cr.function
    def rarely(x, flag):
        if flag:
            with cr.GradientTape() as tape:
                tape.watch(x)
                try:
                    y = x * x
                except ValueError:
                    y = x
            return tape.gradient(y, x)
        return None

    with pytest.raises(cr.TransformError, match="'try'"):
        rarely(cr.constant(1.0), False)


def test_module_level_callable_objects_and_globals_statements_are_rejected():
    @cr.function
    def with_global():
        global X
        X = cr.Variable(1.0)
        return X

    with pytest.raises(cr.TransformError, match="'global' in a staged function"):
        with_global()


def test_misuse_of_a_staged_tape_raises_as_eagerly():
    @cr.function
    def twice(x):
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        first = tape.gradient(y, x)
        try:
            tape.gradient(y, x)
        except RuntimeError as exc:
            return first, str(exc), type(tape).__name__
        return first, "", ""

    first, message, kind = twice(cr.constant(3.0))
    assert first.numpy() == 6.0 and "non-persistent GradientTape" in message
    assert kind == StagedTape.__name__

    @cr.function
    def watch_a_float(x):
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = x * 2
        return tape.gradient(y, x)

    with pytest.raises(ValueError, match="Passed in object of type float"):
        watch_a_float(2.0)


# ================================================================ run-time behaviour

def test_called_under_an_eager_tape_the_function_runs_eagerly():
    @cr.function
    def inner_loss(w):
        return cr.reduce_sum(w * w)

    w = cr.Variable([1.0, 3.0])
    with cr.GradientTape() as tape:
        loss = inner_loss(w)
    assert tape.gradient(loss, w).numpy().tolist() == [2.0, 6.0]
    assert inner_loss.experimental_get_tracing_count() == 0


def test_variables_read_and_assigned_between_steps():
    w = cr.Variable(np.array([1.0, -1.0]))
    history = []

    @cr.function
    def steps(n):
        for _ in range(n):
            with cr.GradientTape() as tape:
                loss = cr.reduce_sum(w * w)
            g = tape.gradient(loss, w)
            w.assign_sub(0.25 * g)
            history.append(float(loss))
        return w.read_value()

    out = steps(3)
    np.testing.assert_allclose(out.numpy(), [0.125, -0.125])
    assert history == [2.0, 0.5, 0.125]


def helper_reading_a_global():
    return cr.reduce_sum(GLOBAL_W * GLOBAL_W) + cr.reduce_sum(GLOBAL_T)


GLOBAL_W = cr.Variable([1.0, 2.0])
GLOBAL_T = cr.constant([5.0])


def test_tensors_and_variables_a_called_function_reads_are_captured():
    @cr.function
    def step():
        with cr.GradientTape() as tape:
            tape.watch(GLOBAL_T)
            loss = helper_reading_a_global()
        return tape.gradient(loss, [GLOBAL_W, GLOBAL_T])

    gw, gt = step()
    assert gw.numpy().tolist() == [2.0, 4.0] and gt.numpy().tolist() == [1.0]
    GLOBAL_W.assign([3.0, 4.0])  # read again at the next call
    assert step()[0].numpy().tolist() == [6.0, 8.0]


def test_nothing_is_recorded_while_staged_code_runs():
    from chainrule.tape.state import STATE

    seen = []

    def spy(x):
        seen.append(STATE.ctx[0])
        return x

    @cr.function
    def step(x):
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        seen.append(STATE.ctx[0])
        return tape.gradient(spy(y), x)

    assert step(cr.constant(2.0)).numpy() == 4.0  # spy returns y itself: still the target
    assert seen == [(), ()]


def test_values_computed_in_a_block_are_untracked_tensors():
    @cr.function
    def block(x):
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = np.sin(x) * 2
            n = len(y)
        return y, n, tape

    y, n, tape = block(cr.constant([0.0, 1.0]))
    assert isinstance(y, cr.Tensor) and y._id == 0 and n == 2
    assert isinstance(tape, StagedTape)
    np.testing.assert_allclose(tape.gradient(y, []), [])


def test_warnings_are_those_of_the_eager_tape():
    @cr.function
    def int_source():
        n = cr.constant(3)
        with cr.GradientTape() as tape:
            tape.watch(n)
            y = n * 2.0
        return tape.gradient(y, n)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert int_source() is None
    messages = [str(w.message) for w in caught]
    assert any("watched tensor must be floating" in m for m in messages)
    assert any("source tensor must be floating" in m for m in messages)


def test_the_benchmark_workloads_compute_the_same_staged_and_eager():
    from benchmarks import staging

    staging.check()


# ================================================================ training loops

def test_a_training_loop_runs_as_one_call_and_steps_on_numpy_values(monkeypatch):
    from chainrule.staging import tape as staged_tape
    from tests import function_programs as programs

    fused = ["minimise_with_apply_gradients", "training_loop_with_adam",
             "training_loop_with_momentum_schedule_and_clipping",
             "training_loop_with_weight_decay_and_a_float32_variable",
             "training_loop_that_never_runs", "training_loop_with_an_unconnected_variable",
             "training_loop_with_an_overridden_apply_gradients"]
    args = {"training_loop_with_adam": (7,)}
    steps = []
    real_step = staged_tape._raw_step
    monkeypatch.setattr(staged_tape, "_raw_step",
                        lambda *a: steps.append(1) or real_step(*a))
    real_steps = staged_tape._specialised_steps

    def counted_steps(step, items, *rest):
        def counted():
            for item in items:
                steps.append(1)
                yield item
        return real_steps(step, counted(), *rest)

    monkeypatch.setattr(staged_tape, "_specialised_steps", counted_steps)
    for name in fused + ["training_loop_inside_try"]:
        staged = cr.function(getattr(programs, name))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            staged(*args.get(name, ()))
        source = cr.source(staged)
        assert ("fused_loop(" in source) == (name in fused), name
    # steps after the first ran on NumPy values where the optimizer and sources allow it:
    # 999 + 6 + 49 + 19 (the unconnected, overridden and never-run loops take none)
    assert len(steps) == 999 + 6 + 49 + 19


def test_a_training_loop_warns_at_every_step_as_eagerly():
    from tests.function_programs import training_loop_with_an_unconnected_variable as program

    def messages(fn):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn()
        return [str(w.message) for w in caught]

    eager = messages(program)
    assert len(eager) == 3 and all("'unused'" in m for m in eager)
    assert messages(cr.function(program)) == eager


def test_a_training_loop_rejects_what_apply_gradients_rejects():
    from tests.function_programs import (
        training_loop_whose_gradient_has_the_wrong_structure as program,
    )

    with pytest.raises(TypeError, match="updates chainrule.Variable objects") as eager:
        program()
    with pytest.raises(TypeError, match="updates chainrule.Variable objects") as staged:
        cr.function(program)()
    assert str(staged.value) == str(eager.value)


# ================================================================ training steps (fused_step)

def _step_model(seed):
    rng = np.random.default_rng(seed)
    x = cr.constant(rng.standard_normal((5, 3)))
    y = cr.constant(rng.standard_normal((5, 1)))
    params = [cr.Variable(rng.standard_normal((3, 4)) * 0.5, name="w1"),
              cr.Variable(np.zeros(4), name="b1"),
              cr.Variable(rng.standard_normal((4, 1)) * 0.5, name="w2"),
              cr.Variable(np.zeros(1), name="b2")]
    optimizer = cr.optimizers.SGD(learning_rate=0.1, momentum=0.5)
    w1, b1, w2, b2 = params

    def train_step(x, y):
        with cr.GradientTape() as tape:
            hidden = cr.tanh(cr.matmul(x, w1) + b1)
            loss = cr.reduce_mean(cr.square(cr.matmul(hidden, w2) + b2 - y))
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params))
        return loss, grads

    return x, y, params, optimizer, train_step


def test_a_training_step_per_call_runs_on_numpy_values_after_the_first(monkeypatch):
    from chainrule.staging import tape as staged_tape

    steps = []
    real_step = staged_tape._raw_step
    monkeypatch.setattr(staged_tape, "_raw_step", lambda *a: steps.append(1) or real_step(*a))
    x, y, eager_params, eager_opt, eager_step = _step_model(0)
    _, _, staged_params, staged_opt, python_step = _step_model(0)
    staged_step = cr.function(python_step)
    for _ in range(5):
        e_loss, e_grads = eager_step(x, y)
        s_loss, s_grads = staged_step(x, y)
        assert s_loss.numpy().tobytes() == e_loss.numpy().tobytes()
        for ge, gs in zip(e_grads, s_grads):
            assert gs.numpy().tobytes() == ge.numpy().tobytes()
        for pe, ps in zip(eager_params, staged_params):
            assert ps.numpy().tobytes() == pe.numpy().tobytes()
    assert int(staged_opt.iterations.numpy()) == int(eager_opt.iterations.numpy()) == 5
    source = cr.source(staged_step)
    assert "fused_step(" in source and "_step_shaped(" in source
    # the first call keeps the plan; every later call is one step on NumPy values
    assert len(steps) == 4
    assert staged_step.experimental_get_tracing_count() == 1


def test_a_training_step_inside_try_keeps_the_calls_as_written():
    from tests.function_programs import training_step_whose_update_raises_inside_try as program

    eager = program()
    staged = cr.function(program)
    result = staged()
    assert "fused_step(" not in cr.source(staged)
    assert result[0].numpy() == eager[0].numpy() and result[1] == eager[1] == 1


def test_the_last_calls_arguments_reuse_its_trace_only_while_they_cannot_change():
    calls = []

    @cr.function
    def total(a):
        calls.append(1)
        return cr.reduce_sum(a)

    t = cr.constant([1.0, 2.0])
    assert total(t).numpy() == 3.0 and total(t).numpy() == 3.0
    assert total.experimental_get_tracing_count() == 1
    array = np.zeros(4)
    assert total(array).numpy() == 0.0
    array.shape = (2, 2)  # an array can change shape in place: its signature is read again
    assert total(array).numpy() == 0.0
    assert total.experimental_get_tracing_count() == 3
