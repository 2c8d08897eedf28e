"""Beyond TF: ``unconnected_gradients="raise"`` says why, and ``to_dot`` draws the record."""

import re

import numpy as np
import pytest

import chainrule as cr


def why(tape, target, source):
    with pytest.raises(cr.UnconnectedGradientError) as info:
        tape.gradient(target, source, unconnected_gradients="raise")
    return str(info.value)


def test_error_is_a_value_error_subclass():
    assert issubclass(cr.UnconnectedGradientError, ValueError)


def test_never_watched():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        y = x * x
    assert "never watched: call tape.watch(x)" in why(tape, y, x)


def test_non_trainable_variable():
    v = cr.Variable(1.0, trainable=False, name="frozen")
    with cr.GradientTape() as tape:
        y = v * 2
    message = why(tape, y, v)
    assert "Variable 'frozen'" in message and "non-trainable Variable" in message


def test_variable_not_watched_with_watch_accessed_variables_false():
    v = cr.Variable(1.0)
    with cr.GradientTape(watch_accessed_variables=False) as tape:
        y = v * 2
    assert "watch_accessed_variables=False" in why(tape, y, v)


def test_variable_never_read():
    v, w = cr.Variable(1.0), cr.Variable(2.0)
    with cr.GradientTape() as tape:
        y = w * 2
    assert "never read by an operation while this tape was recording" in why(tape, y, v)


def test_integer_dtype():
    i = cr.constant(3)
    with cr.GradientTape() as tape:
        y = i * 2.0
    with pytest.warns(UserWarning):
        assert "int64 dtype; only floating-point values carry gradients" in why(tape, y, i)


def test_recorded_inside_stop_recording_names_the_operation_and_line():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        with tape.stop_recording():
            y = np.sin(x) * 2
        z = y * 3
    message = why(tape, z, y)
    assert "computed by operator.mul at" in message and "inside tape.stop_recording()" in message
    assert re.search(r"test_tape_explain\.py:\d+", message)


@pytest.mark.parametrize("leave, how", [
    (lambda x: float(x * 2), "float()"),
    (lambda x: np.sin(x).numpy(), ".numpy()"),
    (lambda x: np.asarray(x * 5), "np.asarray()"),
])
def test_passed_through_numpy_or_a_python_float(leave, how):
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.constant(leave(x)) * 3
    message = why(tape, y, x)
    assert f"a value computed from it left the tape through {how} at" in message
    assert re.search(r"test_tape_explain\.py:\d+", message)


def test_every_exit_is_listed():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        a = float(x)
        b = (x * 2).numpy()
        y = cr.constant(a + b)
    message = why(tape, y, x)
    assert "through float() at" in message and ", .numpy() at" in message


def test_plain_numpy_target():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        _ = x * 2
    assert "the target is a plain numpy.ndarray" in why(tape, np.ones(2), x)


def test_on_another_tape():
    x = cr.constant(2.0)
    with cr.GradientTape() as other:
        other.watch(x)
        with cr.GradientTape() as tape:
            y = x * 2
    message = why(tape, y, x)
    assert "not on this tape at all" in message and "another GradientTape" in message
    other.gradient(y, x)


def test_released_or_reset_tape():
    x = cr.constant(2.0)
    with cr.GradientTape() as first:
        first.watch(x)
        y = x * 2
    first.gradient(y, x)
    del first
    with cr.GradientTape() as tape:
        z = y * 2
    assert "recorded on a tape that has been reset or released" in why(tape, z, y)


def test_watched_but_the_target_does_not_depend_on_it():
    x, u = cr.constant(2.0), cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch([x, u])
        y = x * 2
    assert "does not depend on it through any recorded operation" in why(tape, y, u)


def test_raise_only_for_unconnected_sources():
    x, u = cr.constant(2.0), cr.constant(1.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch([x, u])
        y = x * u
    assert [g.numpy() for g in tape.gradient(y, [x, u], unconnected_gradients="raise")] == [
        1.0, 2.0]


# ================================================================================= to_dot

def record():
    x = cr.constant([1.0, 2.0])
    w = cr.Variable([[0.5], [1.5]], name="w")
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = np.sum(np.tanh(x @ w) * 2.0)
    return tape, y


def test_to_dot_shows_operations_shapes_and_watched_inputs():
    tape, _ = record()
    dot = tape.to_dot()
    assert dot.startswith("digraph tape {") and dot.rstrip().endswith("}")
    assert '"Tensor\\n(2,) float64\\nwatched"' in dot
    assert "Variable 'w'\\n(2, 1) float64\\nwatched" in dot
    for op in ("operator.matmul\\n(1,) float64", "numpy.tanh\\n(1,) float64",
               "operator.mul\\n(1,) float64", "numpy.sum\\n() float64"):
        assert op in dot
    assert "const 2.0" in dot and "style=dashed" in dot
    assert "w0 -> op0" in dot and "w1 -> op0" in dot and "op0 -> op1" in dot


def test_to_dot_is_deterministic_and_needs_a_record():
    assert record()[0].to_dot() == record()[0].to_dot()
    x = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="holds no record"):
        tape.to_dot()
    assert "recorded operations" in repr(cr.GradientTape())
