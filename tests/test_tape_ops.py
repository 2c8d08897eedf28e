"""The TF-named ops and chainrule.nn: values as NumPy (and TF) define them, derivatives against
central finite differences on the tape, second derivatives through nested tapes."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import numeric_jvp

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((3, 4))
P = RNG.uniform(0.5, 2.0, (3, 4))
M = RNG.standard_normal((4, 2))

# (name, function of tensors, NumPy reference, arguments)
DIFFERENTIABLE = [
    ("square", cr.square, np.square, (A,)),
    ("pow", cr.pow, np.power, (P, B)),
    ("multiply", cr.multiply, np.multiply, (A, B)),
    ("add", cr.add, np.add, (A, B[0])),
    ("subtract", cr.subtract, np.subtract, (A, B)),
    ("divide", cr.divide, np.divide, (A, P)),
    ("negative", cr.negative, np.negative, (A,)),
    ("abs", cr.abs, np.abs, (A,)),
    ("sqrt", cr.sqrt, np.sqrt, (P,)),
    ("exp", cr.exp, np.exp, (A,)),
    ("log", cr.log, np.log, (P,)),
    ("sin", cr.sin, np.sin, (A,)),
    ("cos", cr.cos, np.cos, (A,)),
    ("tan", cr.tan, np.tan, (A / 3,)),
    ("tanh", cr.tanh, np.tanh, (A,)),
    ("sigmoid", cr.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (A,)),
    ("maximum", cr.maximum, np.maximum, (A, B)),
    ("minimum", cr.minimum, np.minimum, (A, B)),
    ("where", lambda x, y: cr.where(A > 0, x, y), lambda x, y: np.where(A > 0, x, y), (A, B)),
    ("matmul", cr.matmul, np.matmul, (A, M)),
    ("matmul transposes", lambda x, y: cr.matmul(x, y, transpose_a=True, transpose_b=True),
     lambda x, y: x.T @ y.T, (A, M.T[:, :3])),
    ("reduce_sum", cr.reduce_sum, np.sum, (A,)),
    ("reduce_sum axis keepdims", lambda x: cr.reduce_sum(x, axis=[0], keepdims=True),
     lambda x: np.sum(x, axis=0, keepdims=True), (A,)),
    ("reduce_mean", lambda x: cr.reduce_mean(x, axis=1), lambda x: np.mean(x, 1), (A,)),
    ("reduce_max", lambda x: cr.reduce_max(x, axis=0), lambda x: np.max(x, 0), (A,)),
    ("reduce_min", cr.reduce_min, np.min, (A,)),
    ("reduce_prod", lambda x: cr.reduce_prod(x, axis=-1), lambda x: np.prod(x, -1), (P,)),
    ("reshape", lambda x: cr.reshape(x, [2, -1]), lambda x: np.reshape(x, (2, -1)), (A,)),
    ("transpose", cr.transpose, np.transpose, (A,)),
    ("transpose perm", lambda x: cr.transpose(x[None], perm=[2, 0, 1]),
     lambda x: np.transpose(x[None], (2, 0, 1)), (A,)),
    ("concat", lambda x, y: cr.concat([x, y], axis=1), lambda x, y: np.concatenate([x, y], 1),
     (A, B)),
    ("stack", lambda x, y: cr.stack([x, y], axis=-1), lambda x, y: np.stack([x, y], -1), (A, B)),
    ("cast", lambda x: cr.cast(x, "float64"), lambda x: x.astype(np.float64), (A,)),
    ("clip_by_value", lambda x: cr.clip_by_value(x, -0.5, 0.5),
     lambda x: np.clip(x, -0.5, 0.5), (A,)),
    ("relu", cr.nn.relu, lambda x: np.maximum(x, 0), (A,)),
    ("softmax", cr.nn.softmax, lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), (A,)),
    ("softmax axis 0", lambda x: cr.nn.softmax(x, axis=0),
     lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True), (A,)),
    ("log_softmax", cr.nn.log_softmax,
     lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)), (A,)),
]


@pytest.mark.parametrize("name, op, reference, args", DIFFERENTIABLE,
                         ids=[d[0] for d in DIFFERENTIABLE])
def test_value_and_gradient(name, op, reference, args):
    out = op(*[cr.constant(a) for a in args])
    assert isinstance(out, cr.Tensor)
    np.testing.assert_allclose(out.numpy(), reference(*args), rtol=1e-12)
    cr.check_grads(op, args, modes=("tape",))


SMOOTH = ["square", "pow", "multiply", "divide", "sqrt", "exp", "log", "sin", "cos", "tan",
          "tanh", "sigmoid", "matmul", "reduce_mean", "reduce_prod", "softmax", "log_softmax",
          "concat", "stack"]


@pytest.mark.parametrize("name", SMOOTH)
def test_second_derivative_through_nested_tapes(name):
    _, op, _, args = next(d for d in DIFFERENTIABLE if d[0] == name)
    rng = np.random.default_rng(0)
    v = rng.standard_normal(np.shape(op(*args)))
    us = [rng.standard_normal(np.shape(a)) for a in args]

    def first_order(*values):
        xs = [cr.constant(a) for a in values]
        with cr.GradientTape() as tape:
            tape.watch(xs)
            y = op(*xs)
        grads = tape.gradient(y, xs, output_gradients=v)
        return sum(np.sum(g.numpy() * u) for g, u in zip(grads, us, strict=True))

    xs = [cr.constant(a) for a in args]
    with cr.GradientTape() as outer:
        outer.watch(xs)
        with cr.GradientTape() as inner:
            inner.watch(xs)
            y = op(*xs)
        grads = inner.gradient(y, xs, output_gradients=v)
        s = sum(cr.reduce_sum(g * u) for g, u in zip(grads, us, strict=True))
    second = outer.gradient(s, xs, unconnected_gradients="zero")  # 0 for linear ops
    ws = [rng.standard_normal(np.shape(a)) for a in args]
    exact = sum(np.sum(g.numpy() * w) for g, w in zip(second, ws, strict=True))
    numeric = numeric_jvp(first_order, args, ws)[0]
    assert exact == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def test_relu_gradient_is_zero_at_zero_as_tensorflow():
    x = cr.constant([-1.0, 0.0, 2.0])
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.nn.relu(x)
    assert tape.gradient(y, x).numpy().tolist() == [0.0, 0.0, 1.0]


def test_softmax_and_sigmoid_never_overflow():
    big = cr.constant([1000.0, 0.0, -1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert cr.nn.softmax(big).numpy().tolist() == [1.0, 0.0, 0.0]
        assert cr.nn.log_softmax(big).numpy()[0] == 0.0
        assert cr.sigmoid(big).numpy().tolist() == [1.0, 0.5, 0.0]


def test_ops_accept_arrays_lists_numbers_and_variables_and_return_tensors():
    v = cr.Variable([1.0, 2.0])
    assert cr.add([1.0, 2.0], 1.0).numpy().tolist() == [2.0, 3.0]
    assert cr.multiply(v, np.array([2.0, 3.0])).numpy().tolist() == [2.0, 6.0]
    assert isinstance(cr.square(3.0), cr.Tensor) and cr.square(3.0).numpy() == 9.0
    assert cr.reduce_sum([[1, 2], [3, 4]], axis=1).numpy().tolist() == [3, 7]
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(cr.stack([v, v * 2]))
    assert tape.gradient(y, v).numpy().tolist() == [3.0, 3.0]


def test_creation_ops_are_untracked():
    x = cr.constant([1.0, 2.0])
    with cr.GradientTape() as tape:
        tape.watch(x)
        made = [cr.ones_like(x), cr.zeros_like(x), cr.ones((2,)), cr.zeros(2),
                cr.stop_gradient(x), cr.range(3), cr.linspace(0.0, 1.0, 3)]
    assert all(t._id == 0 for t in made)
    assert cr.ones((2, 3)).dtype == np.float64 and cr.zeros((2,), dtype=np.int32).dtype == np.int32
    assert cr.ones_like(x, dtype=np.float32).dtype == np.float32
    assert cr.range(5).numpy().tolist() == [0, 1, 2, 3, 4]
    assert cr.range(1, 10, 3).numpy().tolist() == [1, 4, 7]
    assert cr.range(0.0, 1.0, 0.5).dtype == np.float64
    assert cr.linspace(0.0, 1.0, 5).numpy().tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert cr.where(cr.constant([[True, False], [False, True]])).numpy().tolist() == [
        [0, 0], [1, 1]]
    with pytest.raises(ValueError, match="give both x and y"):
        cr.where(x > 1, x)


def test_stop_gradient_blocks_the_gradient():
    x = cr.constant(3.0)
    v = cr.Variable(2.0)
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.stop_gradient(x * x) * x + cr.stop_gradient(v) * v
    gx, gv = tape.gradient(y, [x, v])
    assert (gx.numpy(), gv.numpy()) == (9.0, 2.0)


def test_cast_changes_dtype_and_casts_the_gradient_back():
    x = cr.constant([1.0, 2.0])
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.cast(x, cr.float32) * 3
    g = tape.gradient(y, x)
    assert y.dtype == np.float32 and g.dtype == np.float64 and g.numpy().tolist() == [3.0, 3.0]
    assert cr.cast([1.7, -1.2], cr.int32).numpy().tolist() == [1, -1]
    assert cr.cast(2, "float32").dtype == np.float32
    assert cr.float32 is np.float32 and cr.int64 is np.int64
