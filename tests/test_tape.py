"""GradientTape, Tensor and Variable: TensorFlow 2's behaviour over NumPy, exact error types."""

import threading
import warnings
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.rules.registry import Primitive, Rule
from chainrule.tape.record import apply
from tests.util import numeric_grad

# =============================================================================== values

def test_python_floats_become_float64_and_repr_is_tf_like():
    x = cr.constant(6.0)
    assert x.dtype == np.float64
    assert x.shape == ()
    assert x.ndim == 0
    assert repr(x) == "Tensor(6.0, shape=(), dtype=float64)"
    assert str(cr.constant([1.0, 2.0])) == "Tensor([1. 2.], shape=(2,), dtype=float64)"
    assert repr(cr.ones((2, 2))) == (
        "Tensor(\n[[1. 1.]\n [1. 1.]], shape=(2, 2), dtype=float64)")
    assert repr(cr.constant(3)) == "Tensor(3, shape=(), dtype=int64)"


def test_dtype_is_honoured_and_float32_works_end_to_end():
    x = cr.constant([1.0, 2.0], dtype=np.float32)
    w = cr.Variable([0.5, -1.0], dtype="float32")
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.reduce_sum(cr.tanh(x * w) ** 2 / 2.0 + 1.0)
    gx, gw = tape.gradient(y, [x, w])
    assert y.dtype == np.float32
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    t = np.tanh(np.array([0.5, -2.0]))
    np.testing.assert_allclose(gx.numpy(), t * (1 - t**2) * [0.5, -1.0], rtol=1e-6)


def test_constant_copies_and_accepts_shape():
    a = np.array([1.0, 2.0])
    x = cr.constant(a)
    a[0] = 99.0
    assert x.numpy()[0] == 1.0
    assert cr.constant(0.0, shape=(2, 3)).numpy().tolist() == [[0.0] * 3] * 2
    assert cr.constant([1.0, 2.0, 3.0, 4.0], shape=(2, 2)).shape == (2, 2)
    assert cr.Tensor(2.0).numpy() == 2.0


def test_numpy_returns_a_copy_or_a_numpy_scalar():
    x = cr.constant([1.0, 2.0])
    a = x.numpy()
    a[0] = 5.0
    assert x.numpy()[0] == 1.0
    assert type(cr.constant(3.0).numpy()) is np.float64


def test_tensors_are_immutable():
    x = cr.constant([1.0, 2.0])
    with pytest.raises(TypeError, match="does not support item assignment"):
        x[0] = 3.0
    view = np.asarray(x)
    with pytest.raises(ValueError):
        view[0] = 3.0
    assert np.array(x, copy=True).flags.writeable


def test_arithmetic_operators_match_numpy():
    a, b = np.array([1.5, -2.0, 3.0]), np.array([0.5, 4.0, -1.0])
    x, y = cr.constant(a), cr.constant(b)
    cases = [
        (x + y, a + b), (x - y, a - b), (x * y, a * b), (x / y, a / b), (abs(x) ** y, abs(a) ** b),
        (x % y, a % b), (x // y, a // b), (-x, -a), (+x, +a), (abs(x), abs(a)),
        (2.0 + x, 2.0 + a), (2.0 - x, 2.0 - a), (2.0 * x, 2.0 * a), (2.0 / x, 2.0 / a),
        (2.0 ** x, 2.0**a), (7.0 % x, 7.0 % a), (7.0 // x, 7.0 // a),
        (a + x, a + a), (a * y, a * b), (np.float64(2.0) * x, 2.0 * a),
    ]
    for got, want in cases:
        assert isinstance(got, cr.Tensor)
        np.testing.assert_allclose(got.numpy(), want)
    m = cr.constant(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose((m @ m.T).numpy(), np.arange(6.0).reshape(2, 3) @
                               np.arange(6.0).reshape(3, 2, order="F"))


def test_comparisons_are_elementwise_untracked_and_tensors_unhashable():
    x = cr.constant([1.0, 2.0, 3.0])
    with cr.GradientTape() as tape:
        tape.watch(x)
        results = [x < 2, x <= 2, x > 2, x >= 2, x == 2, x != 2, ~(x > 2), (x > 1) & (x < 3),
                   (x > 2) | (x < 2), (x > 1) ^ (x > 2)]
    for r in results:
        assert r.dtype == np.bool_ and r._id == 0
    assert (x == 2).numpy().tolist() == [False, True, False]
    with pytest.raises(TypeError):
        hash(x)
    table = {x.ref(): "x"}
    assert table[x.ref()] == "x" and x.ref().deref() is x


def test_indexing_iteration_and_python_conversions():
    x = cr.constant(np.arange(12.0).reshape(3, 4))
    assert x[1, 2].numpy() == 6.0
    assert x[1][2].numpy() == 6.0
    assert x[:, 1:3].shape == (3, 2)
    assert x[cr.constant([0, 2])].shape == (2, 4)
    assert x[x > 9].numpy().tolist() == [10.0, 11.0]
    assert len(x) == 3 and [row.shape for row in x] == [(4,)] * 3
    with pytest.raises(TypeError, match="Scalar tensor has no `len\\(\\)`"):
        len(cr.constant(1.0))
    with pytest.raises(TypeError, match="Cannot iterate over a scalar tensor"):
        iter(cr.constant(1.0))
    assert float(cr.constant(2.5)) == 2.5 and int(cr.constant(3)) == 3
    assert bool(cr.constant(1.0)) and list(range(cr.constant(3))) == [0, 1, 2]
    assert f"{cr.constant(2.0):.3f}" == "2.000"


def test_numpy_methods_and_attributes_record():
    a = np.arange(6.0).reshape(2, 3) + 1
    x = cr.constant(a)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = (x.T.reshape(3, 2).sum(axis=0) * x.mean()).prod()
    g = tape.gradient(y, x)

    def f(v):
        return np.prod(v.T.reshape(3, 2).sum(axis=0) * v.mean())

    np.testing.assert_allclose(g.numpy(), numeric_grad(f, [a], 0), rtol=1e-6)


def test_convert_to_tensor():
    x = cr.constant(1.0)
    assert cr.convert_to_tensor(x) is x
    assert cr.constant(x) is x
    assert cr.convert_to_tensor([1, 2]).dtype == np.int64
    with pytest.raises(ValueError, match="requested dtype float32"):
        cr.convert_to_tensor(x, dtype=np.float32)
    with pytest.raises(TypeError):
        cr.constant(x, dtype=np.float32)
    v = cr.Variable(2.0)
    with cr.GradientTape() as tape:
        t = cr.convert_to_tensor(v)
        y = t * t
    assert isinstance(t, cr.Tensor)
    assert tape.gradient(y, v).numpy() == 4.0


# ============================================================================ variables

def test_variable_basics():
    v = cr.Variable([1.0, 2.0], name="w")
    assert v.name == "w" and v.trainable and v.shape == (2,) and v.dtype == np.float64
    assert repr(v) == "<Variable 'w' shape=(2,) dtype=float64, numpy=[1. 2.]>"
    assert cr.Variable(1.0).name == "Variable"
    assert cr.Variable(lambda: np.zeros(3)).shape == (3,)
    assert cr.Variable(cr.constant(1.5), dtype=np.float32).dtype == np.float32
    assert isinstance(v.value(), cr.Tensor) and v.read_value().numpy().tolist() == [1.0, 2.0]
    assert (v * 2).numpy().tolist() == [2.0, 4.0] and (v + v)[1].numpy() == 4.0
    with pytest.raises(TypeError):
        hash(v)


def test_assignments_are_in_place_with_fixed_shape_and_dtype():
    v = cr.Variable([1.0, 2.0], dtype=np.float32)
    assert v.assign([3.0, 4.0]) is v
    assert v.numpy().tolist() == [3.0, 4.0]
    v.assign_add(cr.constant([1.0, 1.0]))
    v.assign_sub(np.array([0.5, 0.5]))
    assert v.numpy().tolist() == [3.5, 4.5] and v.dtype == np.float32
    with pytest.raises(ValueError, match="Shape mismatch"):
        v.assign([1.0, 2.0, 3.0])
    i = cr.Variable(1)
    with pytest.raises(TypeError, match="Cannot assign a value of dtype float64"):
        i.assign(1.5)
    a = v.numpy()
    a[0] = 100.0
    assert v.numpy()[0] == 3.5


def test_values_read_before_an_assignment_keep_their_value():
    v = cr.Variable(3.0)
    snapshot = v.value()
    with cr.GradientTape() as tape:
        y = v * v
        v.assign(5.0)
        z = y + v  # reads the new value
    assert snapshot.numpy() == 3.0 and y.numpy() == 9.0 and z.numpy() == 14.0
    assert tape.gradient(y, v).numpy() == 6.0  # d(v*v)/dv at the value read: 3
    assert tape.watched_variables() == (v,)


def test_assignments_are_not_differentiated_through():
    x = cr.constant(2.0)
    v = cr.Variable(0.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        v.assign(x * 3)
        y = v * 1.0
    assert tape.gradient(y, x) is None


def test_trainable_variables_are_watched_and_non_trainable_ones_are_not():
    w = cr.Variable(2.0)
    frozen = cr.Variable(3.0, trainable=False)
    with cr.GradientTape(persistent=True) as tape:
        y = w * frozen
    assert tape.watched_variables() == (w,)
    assert tape.gradient(y, w).numpy() == 3.0
    assert tape.gradient(y, frozen) is None
    with cr.GradientTape() as tape:
        tape.watch(frozen)
        y = w * frozen
    assert tape.gradient(y, frozen).numpy() == 2.0


def test_watch_accessed_variables_false():
    a, b = cr.Variable(2.0), cr.Variable(3.0)
    with cr.GradientTape(watch_accessed_variables=False, persistent=True) as tape:
        tape.watch(a)
        y = a * b
    assert tape.watched_variables() == (a,)
    assert tape.gradient(y, a).numpy() == 3.0
    assert tape.gradient(y, b) is None


def test_integer_variables_carry_no_gradient():
    n = cr.Variable(3)
    with cr.GradientTape() as tape:
        y = n * 2.0
    with pytest.warns(UserWarning, match="must be floating"):
        assert tape.gradient(y, n) is None


# ====================================================================== numpy interop

def test_numpy_functions_on_tensors_record_through_the_rule_library():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 3)) + 3 * np.eye(3), rng.standard_normal(3)
    x, w = cr.constant(a), cr.constant(b)
    with cr.GradientTape() as tape:
        tape.watch([x, w])
        y = np.sum(np.sin(x) * w) + np.sum(np.linalg.inv(x) @ w)
    gx, gw = tape.gradient(y, [x, w])

    def f(p, q):
        return np.sum(np.sin(p) * q) + np.sum(np.linalg.inv(p) @ q)

    np.testing.assert_allclose(gx.numpy(), numeric_grad(f, [a, b], 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw.numpy(), numeric_grad(f, [a, b], 1), rtol=1e-6, atol=1e-8)


def test_a_plain_numpy_function_works_on_tensors_unchanged():
    def loss(w, x, y):
        h = np.tanh(x @ w[0] + w[1])
        p = np.exp(h - np.max(h, axis=1, keepdims=True))
        p = p / p.sum(axis=1, keepdims=True)
        return -np.mean(np.log(p[np.arange(len(y)), y]))

    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])
    w0, w1 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    params = [cr.Variable(w0), cr.Variable(w1)]
    with cr.GradientTape() as tape:
        value = loss(params, x, y)
    g0, g1 = tape.gradient(value, params)
    assert value.numpy() == pytest.approx(loss([w0, w1], x, y))
    np.testing.assert_allclose(
        g0.numpy(), numeric_grad(lambda a: loss([a, w1], x, y), [w0], 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        g1.numpy(), numeric_grad(lambda b: loss([w0, b], x, y), [w1], 0), rtol=1e-6, atol=1e-9)


def test_sequence_and_multi_output_functions():
    a = np.arange(6.0).reshape(2, 3) + 1
    x, y = cr.constant(a), cr.constant(2 * a)
    with cr.GradientTape() as tape:
        tape.watch([x, y])
        s = np.stack([x, y], axis=0)
        parts = np.split(np.concatenate((x, y), axis=1), 3, axis=1)
        total = np.sum(s**2) + np.sum(parts[0] * parts[2])
    gx, gy = tape.gradient(total, [x, y])
    b = 2 * a  # total = sum(x**2) + sum(y**2) + x[:, :2] . y[:, 1:]
    np.testing.assert_allclose(gx.numpy(), 2 * a + np.pad(b[:, 1:], ((0, 0), (0, 1))))
    np.testing.assert_allclose(gy.numpy(), 2 * b + np.pad(a[:, :2], ((0, 0), (1, 0))))
    w = cr.constant(np.array([[2.0, 1.0], [1.0, 3.0]]))
    with cr.GradientTape() as tape:
        tape.watch(w)
        vals, vecs = np.linalg.eigh(w)
        top = vals[1]
    assert isinstance(vecs, cr.Tensor)
    g = tape.gradient(top, w).numpy()
    v1 = np.linalg.eigh(w.numpy())[1][:, 1]
    sym = np.array([[0.3, -1.2], [-1.2, 0.7]])  # d(top) along a symmetric direction
    assert np.sum(g * sym) == pytest.approx(v1 @ sym @ v1)


def test_tensor_keyword_arguments_are_differentiated_positionally():
    x, lo = cr.constant(np.array([-2.0, 0.0, 2.0])), cr.constant(-1.0)
    with cr.GradientTape() as tape:
        tape.watch([x, lo])
        y = np.sum(np.clip(x, a_min=lo, a_max=1.0))
    gx, glo = tape.gradient(y, [x, lo])
    assert gx.numpy().tolist() == [0.0, 1.0, 0.0] and glo.numpy() == 1.0


def test_function_without_a_rule_raises_when_watched_and_runs_otherwise():
    x = cr.constant([3.0, 1.0, 2.0])
    assert np.median(x).numpy() == 2.0  # no tape: computed plainly
    with cr.GradientTape() as tape:
        assert np.median(x).numpy() == 2.0  # not watched
        tape.watch(x)
        with pytest.raises(cr.MissingRuleError, match="numpy.median"):
            np.median(x)
        with pytest.raises(cr.MissingRuleError, match="add.reduce"):
            np.add.reduce(x)
        assert np.shape(x) == (3,) and np.ndim(x) == 1  # structural results never raise
    with pytest.raises(TypeError, match="immutable"):
        np.add(x, 1.0, out=x)
    with cr.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(cr.MissingRuleError, match="add.at"):
            np.add.at(np.zeros(3), [0, 1], x[:2])
        with pytest.raises(cr.MissingRuleError, match="numpy.add"):
            np.add(x, 1.0, out=np.zeros(3))


def test_non_differentiable_primitives_return_untracked_tensors():
    x = cr.constant([0.5, 2.5, 1.5])
    with cr.GradientTape() as tape:
        tape.watch(x)
        i = np.argmax(x)
        f = np.floor(x)
        y = x[i] * 2 + f.sum()
    assert i.dtype == np.int64 and i._id == 0 and f._id == 0
    assert tape.gradient(y, x).numpy().tolist() == [0.0, 2.0, 0.0]


def test_missing_vjp_rule_raises_missing_rule_error():
    def double(a):
        return 2 * a

    prim = Primitive(fn=double, name="tests.double")
    x = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = apply(double, (x,), None, prim)
    with pytest.raises(cr.MissingRuleError, match="argument 0 of tests.double"):
        tape.gradient(y, x)
    prim.vjps[0] = Rule(fn=lambda g, ans, a: 2 * g, kind="vjp", argnum=0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = apply(double, (x,), None, prim)
    assert tape.gradient(y, x).numpy() == 2.0


# ============================================================================= the tape

def test_watch_accepts_structures_and_rejects_non_tensors():
    a, b, c = cr.constant(1.0), cr.constant(2.0), cr.constant(3.0)
    with cr.GradientTape() as tape:
        tape.watch({"p": [a, (b,)], "q": c})
        y = a * b * c
    assert [g.numpy() for g in tape.gradient(y, [a, b, c])] == [6.0, 3.0, 2.0]
    with cr.GradientTape() as tape:
        with pytest.raises(ValueError, match="not a chainrule Tensor"):
            tape.watch(np.ones(2))
        with pytest.raises(ValueError):
            tape.watch(1.0)


def test_gradient_sums_non_scalar_targets_and_lists_of_targets():
    x = cr.constant([1.0, 2.0])
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = 3 * x
    assert tape.gradient(y, x).numpy().tolist() == [2.0, 4.0]
    assert tape.gradient([y, z], x).numpy().tolist() == [5.0, 7.0]
    assert tape.gradient((y, [z, y]), x).numpy().tolist() == [7.0, 11.0]


def test_gradient_returns_the_structure_of_sources():
    a, b, c = cr.constant(1.0), cr.constant(2.0), cr.Variable(3.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch([a, b])
        y = a * b * c
    assert isinstance(tape.gradient(y, a), cr.Tensor)
    grads = tape.gradient(y, {"x": a, "rest": [b, (c,)]})
    assert list(grads) == ["x", "rest"]
    assert grads["x"].numpy() == 6.0
    assert grads["rest"][0].numpy() == 3.0 and isinstance(grads["rest"][1], tuple)
    assert grads["rest"][1][0].numpy() == 2.0
    assert [g.numpy() for g in tape.gradient(y, (a, b))] == [6.0, 3.0]


def test_output_gradients_seed_the_backward_pass():
    x = cr.constant([1.0, 2.0])
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = x * 10
    g = tape.gradient(y, x, output_gradients=cr.constant([1.0, -1.0]))
    assert g.numpy().tolist() == [2.0, -4.0]
    g = tape.gradient([y, z], x, output_gradients=[np.array([1.0, 0.0]), None])
    assert g.numpy().tolist() == [12.0, 10.0]
    with pytest.raises(ValueError, match="output_gradients"):
        tape.gradient([y, z], x, output_gradients=[np.ones(2)])


def test_unconnected_gradients_policies():
    x, u = cr.constant(1.0), cr.constant([[1.0, 2.0]], dtype=np.float32)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch([x, u])
        y = x * 2
    assert tape.gradient(y, u) is None
    assert tape.gradient(y, u, unconnected_gradients="none") is None
    assert tape.gradient(y, u, unconnected_gradients=cr.UnconnectedGradients.NONE) is None
    for policy in ("zero", cr.UnconnectedGradients.ZERO):
        z = tape.gradient(y, u, unconnected_gradients=policy)
        assert z.numpy().tolist() == [[0.0, 0.0]] and z.dtype == np.float32
    with pytest.raises(cr.UnconnectedGradientError):
        tape.gradient(y, u, unconnected_gradients="raise")
    for bad in ("zeros", "None", 0, None):
        with pytest.raises(ValueError, match="Unknown value for unconnected_gradients"):
            tape.gradient(y, x, unconnected_gradients=bad)


def test_sources_must_be_tensors():
    x = cr.constant(1.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * 2
    with pytest.raises(TypeError, match="sources must be chainrule Tensors"):
        tape.gradient(y, np.float64(1.0))
    assert tape.gradient(y, x).numpy() == 2.0  # a rejected call does not use up the tape


def test_non_persistent_tape_computes_one_set_of_gradients():
    x = cr.constant(3.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x).numpy() == 6.0
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used"):
        tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="non-persistent GradientTape can only be used"):
        tape.jacobian(y, x)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    tape.jacobian(y, x)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(y, x)
    with pytest.raises(RuntimeError, match="recorded nothing"):
        cr.GradientTape().gradient(y, x)


def test_persistent_tape_allows_many_calls():
    x = cr.constant(3.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
    for _ in range(3):
        assert tape.gradient(y, x).numpy() == 6.0
        assert tape.jacobian(y, x).numpy() == 6.0


def test_reentering_an_active_tape_is_a_value_error_and_exited_tapes_resume():
    tape = cr.GradientTape(persistent=True)
    x = cr.constant(2.0)
    with tape:
        tape.watch(x)
        with pytest.raises(ValueError, match="Tape is still recording"):
            tape.__enter__()
        y = x * x
    with tape:  # as TF: recording resumes on the same tape
        z = y * x
    assert tape.gradient(z, x).numpy() == 12.0


def test_gradient_inside_the_context_of_a_non_persistent_tape_stops_recording():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        assert tape.gradient(y, x).numpy() == 4.0
        z = x * 3
    assert z._id == 0


def test_persistent_tape_records_its_own_backward_pass_inside_its_context():
    x = cr.constant(2.0)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x**3
        dy = tape.gradient(y, x)
    assert dy.numpy() == 12.0
    assert tape.gradient(dy, x).numpy() == 12.0  # 6 x


def test_jacobian_shapes_and_values():
    a = np.array([0.5, -1.0, 2.0, 0.3])
    x = cr.constant(a)
    m = cr.constant(np.arange(12.0).reshape(3, 4))
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = np.reshape(m @ np.sin(x), (1, 3))
        s = np.sum(x * x)
    j = tape.jacobian(y, x)
    assert j.shape == (1, 3, 4)
    np.testing.assert_allclose(j.numpy()[0], np.arange(12.0).reshape(3, 4) * np.cos(a))
    assert tape.jacobian(s, x).numpy().tolist() == (2 * a).tolist()
    assert tape.jacobian(y, m) is None
    z = tape.jacobian(y, m, unconnected_gradients="zero")
    assert z.shape == (1, 3, 3, 4) and not z.numpy().any()
    grads = tape.jacobian(y, {"x": x, "m": [m]})
    assert grads["x"].shape == (1, 3, 4) and grads["m"] == [None]


def test_batch_jacobian():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 3))
    w = rng.standard_normal((3, 2))
    x = cr.constant(a)
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = np.tanh(x @ w)
    bj = tape.batch_jacobian(y, x)
    assert bj.shape == (5, 2, 3)
    t = np.tanh(a @ w)
    for b in range(5):
        np.testing.assert_allclose(bj.numpy()[b], (1 - t[b] ** 2)[:, None] * w.T)
    np.testing.assert_allclose(bj.numpy(), np.einsum("bibj->bij", tape.jacobian(y, x).numpy()))
    with pytest.raises(ValueError, match="Need first dimension of target shape"):
        tape.batch_jacobian(y[:4], x)
    with pytest.raises(ValueError, match="Need first dimension"):
        tape.batch_jacobian(np.sum(y, axis=1), x)


def test_stop_recording():
    x = cr.constant(2.0)
    with cr.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with cr.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x * x
            with tape.stop_recording():
                z = y * x  # not on `tape`, still on `outer`
            w = y + z
    assert tape.gradient(w, x).numpy() == 4.0
    assert outer.gradient(w, x).numpy() == 4.0 + 12.0
    with pytest.raises(RuntimeError, match="can only be used in a context"):
        with cr.GradientTape().stop_recording():
            pass


def test_gradient_inside_stop_recording():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            assert tape.gradient(y, x).numpy() == 4.0
        z = x * 3  # the released tape records nothing more
    assert z._id == 0
    from chainrule.tape.state import STATE

    assert STATE.ctx[:2] == ((), ())
    with cr.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        with tape.stop_recording():
            assert tape.gradient(y, x).numpy() == 4.0
            with pytest.raises(ValueError, match="Tape is not recording"):
                tape.reset()
        z = y * x
    assert tape.gradient(z, x).numpy() == 12.0


def test_reset_forgets_what_was_recorded():
    x = cr.constant(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        tape.reset()
        tape.watch(x)
        z = x * 5
    assert tape.gradient([y, z], x).numpy() == 5.0
    v = cr.Variable(1.0)
    with cr.GradientTape() as tape:
        w = v * 2
        tape.reset()
        assert tape.watched_variables() == ()
        w = v * 3
    assert tape.gradient(w, v).numpy() == 3.0


def test_watched_variables_in_watch_order_and_after_release():
    a, b, c = cr.Variable(1.0), cr.Variable(2.0), cr.Variable(3.0)
    with cr.GradientTape() as tape:
        tape.watch(c)
        y = b * a
    assert tape.watched_variables() == (c, b, a)
    tape.gradient(y, a)
    assert tape.watched_variables() == (c, b, a)


def test_nested_tapes_give_mixed_partials():
    a, x = cr.constant(3.0), cr.constant(2.0)
    with cr.GradientTape() as outer:
        outer.watch(a)
        with cr.GradientTape() as inner:
            inner.watch(x)
            y = a * x**2
        dy_dx = inner.gradient(y, x)  # 2 a x
    assert dy_dx.numpy() == 12.0
    assert outer.gradient(dy_dx, a).numpy() == 4.0  # 2 x


def test_third_order_and_hessian_vector_product():
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

    def grad_np(a):
        return np.exp(2 * a) * 2 * a[0] + np.array([np.sum(np.exp(2 * a)), 0.0])

    def hvp_np(a):
        h = np.zeros((2, 2))
        for i in range(2):
            e = np.zeros(2)
            e[i] = 1e-6
            h[:, i] = (grad_np(a + e) - grad_np(a - e)) / 2e-6
        return h @ v

    a0 = x.numpy()
    np.testing.assert_allclose(g.numpy(), grad_np(a0))
    np.testing.assert_allclose(hv.numpy(), hvp_np(a0), rtol=1e-6)
    num = np.array([(np.sum(hvp_np(a0 + e)) - np.sum(hvp_np(a0 - e))) / 2e-4
                    for e in np.eye(2) * 1e-4])
    np.testing.assert_allclose(third.numpy(), num, rtol=1e-4)


def test_hessian_as_the_jacobian_of_a_gradient_and_a_recorded_jacobian():
    a = np.array([1.0, 2.0])
    x = cr.constant(a)
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            y = x[0] ** 3 * x[1]
        g = inner.gradient(y, x)
    h = outer.jacobian(g, x)
    assert h.numpy().tolist() == [[6 * a[0] * a[1], 3 * a[0] ** 2], [3 * a[0] ** 2, 0.0]]
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            z = np.sin(x) * x[0]
        j = inner.jacobian(z, x)  # recorded on `outer`
        s = cr.reduce_sum(j)
    d = outer.gradient(s, x).numpy()
    # sum(J) = x0 cos(x0) + sin(x0) + sin(x1) + x0 cos(x1)
    want = [-np.sin(a[0]) * a[0] + 2 * np.cos(a[0]) + np.cos(a[1]),
            np.cos(a[1]) - np.sin(a[1]) * a[0]]
    np.testing.assert_allclose(d, want)


def test_integer_and_bool_sources_warn_and_give_none():
    i = cr.constant(3)
    b = cr.constant(True)
    with cr.GradientTape() as tape:
        with pytest.warns(UserWarning, match="watched tensor must be floating"):
            tape.watch([i, b])
        y = i * 2.0
    with pytest.warns(UserWarning, match="source tensor must be floating"):
        assert tape.gradient(y, [i, b]) == [None, None]


def test_casting_to_an_integer_stops_the_gradient():
    x = cr.constant(2.7)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.cast(cr.cast(x, cr.int32), cr.float64) * x
    assert tape.gradient(y, x).numpy() == 2.0
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.cast(x, cr.float32) * 2
    g = tape.gradient(y, x)
    assert g.numpy() == 2.0 and g.dtype == np.float64


def test_tapes_are_thread_local():
    x = cr.constant(1.0)
    results = {}
    barrier = threading.Barrier(2)

    def work(name, factor):
        with cr.GradientTape() as tape:
            tape.watch(x)
            barrier.wait()
            y = x * factor
            barrier.wait()
        results[name] = (tape.gradient(y, x).numpy(), len(tape._rec.nodes) if tape._rec else 0)

    threads = [threading.Thread(target=work, args=(n, f)) for n, f in (("a", 2.0), ("b", 5.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["a"][0] == 2.0 and results["b"][0] == 5.0

    with cr.GradientTape() as tape:
        tape.watch(x)
        other = []
        thread = threading.Thread(target=lambda: other.append(x * 2))
        thread.start()
        thread.join()
    assert other[0]._id == 0 and tape.gradient(other[0], x) is None


def test_results_do_not_keep_the_record_alive():
    x = cr.constant(np.ones(1000))
    kept = []
    for _ in range(3):
        tape = cr.GradientTape(persistent=True)
        with tape:
            tape.watch(x)
            y = np.sum(np.sin(x) * x)
        kept.append(y)
        record = weakref.ref(tape._rec)
        del tape
        assert record() is None  # freed at once (no reference cycles), although y lives on
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = np.sum(x * x)
    record = weakref.ref(tape._rec)
    tape.gradient(y, x)
    assert record() is None  # a non-persistent tape drops its record after gradient()


def test_no_recording_without_a_tape():
    x = cr.constant(1.0)
    y = np.sin(x) * 2 + x
    assert y._id == 0


# ======================================================================= custom_gradient

def test_custom_gradient_replaces_the_gradient():
    @cr.custom_gradient
    def log1pexp(x):
        e = cr.exp(x)

        def grad(dy):
            return dy * (1 - 1 / (1 + e))

        return cr.log(1 + e), grad

    x = cr.constant(100.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = log1pexp(x)
    assert y.numpy() == pytest.approx(100.0)
    assert tape.gradient(y, x).numpy() == 1.0  # the naive gradient would be NaN

    @cr.custom_gradient
    def clip_gradient(x, y):
        def grad(dy):
            return cr.clip_by_value(dy, -0.1, 0.1), None

        return x * y, grad

    a, b = cr.constant(3.0), cr.constant(4.0)
    with cr.GradientTape() as tape:
        tape.watch([a, b])
        z = clip_gradient(a, b)
    assert z.numpy() == 12.0
    assert [None if g is None else g.numpy() for g in tape.gradient(z, [a, b])] == [0.1, None]


def test_custom_gradient_with_variables():
    v = cr.Variable(2.0)

    @cr.custom_gradient
    def scaled(x):
        def grad(dy, variables):
            return dy * v, [dy * x * 10]

        return x * v, grad

    x = cr.constant(3.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = scaled(x)
    gx, gv = tape.gradient(y, [x, v])
    assert (gx.numpy(), gv.numpy()) == (2.0, 30.0)

    @cr.custom_gradient
    def no_variables_arg(x):
        return x * v, lambda dy: dy

    with pytest.raises(TypeError, match="keyword argument 'variables'"):
        no_variables_arg(x)


def test_custom_gradient_multiple_outputs_and_second_order():
    @cr.custom_gradient
    def sin_cos(x):
        def grad(d_sin, d_cos):
            return d_sin * cr.cos(x) - d_cos * cr.sin(x)

        return (cr.sin(x), cr.cos(x)), grad

    x = cr.constant(0.4)
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            s, c = sin_cos(x)
            y = s + 2 * c
        g = inner.gradient(y, x)
    assert g.numpy() == pytest.approx(np.cos(0.4) - 2 * np.sin(0.4))
    assert outer.gradient(g, x).numpy() == pytest.approx(-np.sin(0.4) - 2 * np.cos(0.4))
    with cr.GradientTape() as tape:
        tape.watch(x)
        s, _ = sin_cos(x)
    assert tape.gradient(s, x).numpy() == pytest.approx(np.cos(0.4))


# ============================================================================ check_grads

def test_tape_vjp_and_check_grads_tape_mode():
    def f(x, y):
        return np.sum(np.sin(x) * y), x * 2

    x, y = np.array([0.1, 0.2]), np.array([1.0, 3.0])
    out, cts = cr.tape.tape_vjp(f, (x, y), (1.0, np.array([1.0, -1.0])))
    assert out[0] == pytest.approx(np.sum(np.sin(x) * y))
    np.testing.assert_allclose(cts[0], np.cos(x) * y + [2.0, -2.0])
    np.testing.assert_allclose(cts[1], np.sin(x))
    cr.check_grads(lambda a, b: np.tanh(a * b) @ b, (x, y), modes=("tape",))
    cr.check_grads(lambda a: a**3, (1.5,), modes=("tape",))
    with pytest.raises(AssertionError, match="GradientTape"):
        cr.check_grads(lambda a: cr.stop_gradient(a) * a, (x,), modes=("tape",))


def test_warnings_are_not_raised_for_ordinary_use():
    x = cr.Variable([1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with cr.GradientTape() as tape:
            y = cr.reduce_sum(x * x)
        tape.gradient(y, x)


def test_the_tape_package_never_imports_the_source_transformer():
    import ast
    from pathlib import Path

    package = Path(cr.tape.__file__).parent
    for path in sorted(package.glob("*.py")) + [package.parent / "nn.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                assert "transform" not in name and name.split(".")[-1] != "api", (path, name)


def test_a_source_that_is_its_own_target_gets_the_seed_even_unread():
    # TF's guide ("Control flow"): `result = v0` inside the tape, never read, and
    # tape.gradient(result, [v0, v1]) is [1.0, None]
    v0, v1 = cr.Variable(2.0), cr.Variable(2.0)
    with cr.GradientTape(persistent=True) as tape:
        result = v0
    dv0, dv1 = tape.gradient(result, [v0, v1])
    assert dv0.numpy() == 1.0 and dv0.dtype == np.float64 and dv1 is None
    assert tape.gradient(result, v0, output_gradients=cr.constant(3.0)).numpy() == 3.0
    assert tape.gradient([result, result], v0).numpy() == 2.0
