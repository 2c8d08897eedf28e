"""chainrule.losses: values against NumPy written from Keras's formulas, gradients against
central finite differences in float64 on the tape, numerical stability, shapes, and the
reducing Loss classes."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import losses
from chainrule.testing import check_grads

RNG = np.random.default_rng(11)
N, K = 5, 4
REG_TRUE = RNG.standard_normal((N, K))
REG_PRED = RNG.standard_normal((N, K))
LOGITS = 3 * RNG.standard_normal((N, K))
BIN_TRUE = (RNG.uniform(size=(N, K)) > 0.5).astype(float)
PROBS = RNG.uniform(0.05, 0.95, (N, K))
LABELS = RNG.integers(0, K, N)
ONE_HOT = np.eye(K)[LABELS]
EPS = 1e-7


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_bce(y, p):
    p = np.clip(p, EPS, 1 - EPS)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p), axis=-1)


def np_cce(y, p):
    p = np.clip(p / p.sum(-1, keepdims=True), EPS, 1 - EPS)
    return -np.sum(y * np.log(p), axis=-1)


VALUES = [
    ("mse", lambda: losses.mean_squared_error(REG_TRUE, REG_PRED),
     np.mean((REG_TRUE - REG_PRED) ** 2, -1)),
    ("mse alias", lambda: losses.mse(REG_TRUE, REG_PRED), np.mean((REG_TRUE - REG_PRED) ** 2, -1)),
    ("mae", lambda: losses.mean_absolute_error(REG_TRUE, REG_PRED),
     np.mean(np.abs(REG_TRUE - REG_PRED), -1)),
    ("bce probs", lambda: losses.binary_crossentropy(BIN_TRUE, PROBS), np_bce(BIN_TRUE, PROBS)),
    ("bce logits", lambda: losses.binary_crossentropy(BIN_TRUE, LOGITS, from_logits=True),
     np_bce(BIN_TRUE, np_sigmoid(LOGITS))),
    ("bce label smoothing",
     lambda: losses.binary_crossentropy(BIN_TRUE, PROBS, label_smoothing=0.2),
     np_bce(BIN_TRUE * 0.8 + 0.1, PROBS)),
    ("cce probs", lambda: losses.categorical_crossentropy(ONE_HOT, PROBS), np_cce(ONE_HOT, PROBS)),
    ("cce logits", lambda: losses.categorical_crossentropy(ONE_HOT, LOGITS, from_logits=True),
     -np.sum(ONE_HOT * np.log(np_softmax(LOGITS)), -1)),
    ("cce label smoothing",
     lambda: losses.categorical_crossentropy(ONE_HOT, LOGITS, True, label_smoothing=0.1),
     -np.sum((ONE_HOT * 0.9 + 0.1 / K) * np.log(np_softmax(LOGITS)), -1)),
    ("cce axis 0", lambda: losses.categorical_crossentropy(ONE_HOT.T, LOGITS.T, True, axis=0),
     -np.sum(ONE_HOT * np.log(np_softmax(LOGITS)), -1)),
    ("sparse probs", lambda: losses.sparse_categorical_crossentropy(LABELS, PROBS),
     np_cce(ONE_HOT, PROBS)),
    ("sparse logits",
     lambda: losses.sparse_categorical_crossentropy(LABELS, LOGITS, from_logits=True),
     -np.log(np_softmax(LOGITS)[np.arange(N), LABELS])),
]


@pytest.mark.parametrize("name, compute, want", VALUES, ids=[v[0] for v in VALUES])
def test_values_match_keras_formulas(name, compute, want):
    got = compute()
    assert isinstance(got, cr.Tensor)
    assert got.shape == (N,)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


GRADIENTS = [
    ("mse", lambda p: losses.mse(REG_TRUE, p), REG_PRED),
    ("mae", lambda p: losses.mae(REG_TRUE, p), REG_PRED),
    ("bce probs", lambda p: losses.binary_crossentropy(BIN_TRUE, p), PROBS),
    ("bce logits", lambda p: losses.binary_crossentropy(BIN_TRUE, p, from_logits=True), LOGITS),
    ("cce probs", lambda p: losses.categorical_crossentropy(ONE_HOT, p), PROBS),
    ("cce logits", lambda p: losses.categorical_crossentropy(ONE_HOT, p, True), LOGITS),
    ("sparse probs", lambda p: losses.sparse_categorical_crossentropy(LABELS, p), PROBS),
    ("sparse logits", lambda p: losses.sparse_categorical_crossentropy(LABELS, p, True), LOGITS),
    ("reduced mse with weights",
     lambda p: losses.MeanSquaredError()(REG_TRUE, p, sample_weight=np.arange(N)), REG_PRED),
]


@pytest.mark.parametrize("name, loss, at", GRADIENTS, ids=[g[0] for g in GRADIENTS])
def test_gradients_match_finite_differences(name, loss, at):
    check_grads(loss, (at,), modes=("tape",))


def test_mse_gradient_with_respect_to_both_arguments():
    check_grads(lambda t, p: losses.mse(t, p), (REG_TRUE, REG_PRED), modes=("tape",))


def test_cross_entropy_from_logits_has_the_exact_gradient_at_zero():
    # d/dx [log(1 + e^x) - x y] = sigmoid(x) - y, also at x = 0 where max/abs forms break.
    x = cr.constant(np.zeros(3))
    y = np.array([0.0, 1.0, 0.25])
    with cr.GradientTape() as tape:
        tape.watch(x)
        loss = cr.reduce_sum(losses.binary_crossentropy(y[:, None], x[:, None], True))
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), 0.5 - y)


def test_logits_and_probabilities_agree():
    a = losses.binary_crossentropy(BIN_TRUE, LOGITS, from_logits=True).numpy()
    b = losses.binary_crossentropy(BIN_TRUE, cr.sigmoid(LOGITS)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6)
    a = losses.categorical_crossentropy(ONE_HOT, LOGITS, from_logits=True).numpy()
    b = losses.categorical_crossentropy(ONE_HOT, cr.nn.softmax(LOGITS)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_extreme_inputs_are_finite_and_never_overflow():
    big = np.array([[1000.0, -1000.0, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        bce = losses.binary_crossentropy([[0.0, 1.0, 1.0]], big, from_logits=True).numpy()
        np.testing.assert_allclose(bce, [(1000.0 + 1000.0 + np.log(2)) / 3])
        cce = losses.categorical_crossentropy([[0.0, 1.0, 0.0]], big, from_logits=True).numpy()
        np.testing.assert_allclose(cce, [2000.0])
        sparse = losses.sparse_categorical_crossentropy([0], big, from_logits=True).numpy()
        np.testing.assert_allclose(sparse, [0.0], atol=1e-300)
        # Probabilities 0 and 1 are clipped to [1e-7, 1 - 1e-7]: -log(1e-7) at worst.
        worst = -np.log(EPS)
        p = losses.binary_crossentropy([[1.0, 0.0]], [[0.0, 1.0]]).numpy()
        np.testing.assert_allclose(p, [worst], rtol=1e-6)
        p = losses.categorical_crossentropy([[1.0, 0.0]], [[0.0, 1.0]]).numpy()
        np.testing.assert_allclose(p, [worst], rtol=1e-6)
    x = cr.constant(big)
    with cr.GradientTape() as tape:
        tape.watch(x)
        loss = losses.categorical_crossentropy([[0.0, 1.0, 0.0]], x, from_logits=True)
    assert np.all(np.isfinite(tape.gradient(loss, x).numpy()))


def test_rank_mismatch_is_resolved_as_keras_not_broadcast():
    y_true = np.array([1.0, 2.0, 3.0])
    y_pred = np.array([[1.5], [2.0], [2.0]])
    got = losses.mse(y_true, y_pred)
    assert got.shape == (3,)
    np.testing.assert_allclose(got.numpy(), [0.25, 0.0, 1.0])
    assert losses.mse(y_pred, y_true).shape == (3,)
    # Higher ranks squeeze the trailing axis of 1 instead.
    assert losses.mse(np.zeros((2, 3, 1)), np.ones((2, 3))).shape == (2,)
    x = cr.constant(y_pred)
    with cr.GradientTape() as tape:
        tape.watch(x)
        loss = cr.reduce_mean(losses.mse(y_true, x))
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), [[1 / 3], [0.0], [-2 / 3]])


def test_sparse_labels_shapes_dtypes_and_range():
    col = LABELS[:, None]
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(col, LOGITS, True).numpy(),
                               losses.sparse_categorical_crossentropy(LABELS, LOGITS,
                                                                      True).numpy())
    as_float = losses.sparse_categorical_crossentropy(LABELS.astype(float), LOGITS, True)
    np.testing.assert_allclose(as_float.numpy(),
                               losses.sparse_categorical_crossentropy(LABELS, LOGITS,
                                                                      True).numpy())
    with pytest.raises(ValueError, match="outside the valid range"):
        losses.sparse_categorical_crossentropy([0, K], LOGITS[:2], True)
    with pytest.raises(ValueError, match="integer class labels"):
        losses.sparse_categorical_crossentropy([0.5, 1.0], LOGITS[:2], True)
    with pytest.raises(ValueError, match="do not match"):
        losses.sparse_categorical_crossentropy([0, 1, 2], LOGITS[:2], True)
    with pytest.raises(ValueError, match="axis=-1 only"):
        losses.sparse_categorical_crossentropy(LABELS, LOGITS, True, axis=0)
    with pytest.raises(ValueError, match="same shape"):
        losses.categorical_crossentropy(ONE_HOT[:, :2], LOGITS)


def test_dtypes_follow_y_pred():
    p32 = PROBS.astype(np.float32)
    assert losses.binary_crossentropy(BIN_TRUE, p32).dtype == np.float32
    assert losses.mse(REG_TRUE, REG_PRED.astype(np.float32)).dtype == np.float32
    assert losses.SparseCategoricalCrossentropy(True)(LABELS, p32).dtype == np.float32
    assert losses.mse([1, 2], [1, 3]).dtype == np.float64  # integer predictions: float64


def test_variables_as_predictions_are_differentiated():
    v = cr.Variable(REG_PRED)
    with cr.GradientTape() as tape:
        loss = losses.MeanSquaredError()(REG_TRUE, v)
    np.testing.assert_allclose(tape.gradient(loss, v).numpy(),
                               2 * (REG_PRED - REG_TRUE) / REG_PRED.size)


def test_loss_classes_reduce_and_weight():
    per = losses.mse(REG_TRUE, REG_PRED).numpy()
    assert losses.MeanSquaredError()(REG_TRUE, REG_PRED).numpy() == pytest.approx(per.mean())
    assert losses.MeanSquaredError(reduction="sum")(REG_TRUE, REG_PRED).numpy() == (
        pytest.approx(per.sum()))
    np.testing.assert_allclose(
        losses.MeanSquaredError(reduction=None)(REG_TRUE, REG_PRED).numpy(), per)
    np.testing.assert_allclose(
        losses.MeanSquaredError(reduction="none")(REG_TRUE, REG_PRED).numpy(), per)
    w = np.arange(N, dtype=float)
    assert losses.MeanSquaredError()(REG_TRUE, REG_PRED, sample_weight=w).numpy() == (
        pytest.approx(np.sum(per * w) / N))
    assert losses.MeanSquaredError()(REG_TRUE, REG_PRED, sample_weight=w[:, None]).numpy() == (
        pytest.approx(np.sum(per * w) / N))
    pairs = [
        (losses.MeanAbsoluteError(), losses.mae, (REG_TRUE, REG_PRED)),
        (losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
         lambda t, p: losses.binary_crossentropy(t, p, True, 0.1), (BIN_TRUE, LOGITS)),
        (losses.CategoricalCrossentropy(from_logits=True),
         lambda t, p: losses.categorical_crossentropy(t, p, True), (ONE_HOT, LOGITS)),
        (losses.SparseCategoricalCrossentropy(),
         losses.sparse_categorical_crossentropy, (LABELS, PROBS)),
    ]
    for cls_loss, fn, args in pairs:
        assert cls_loss(*args).numpy() == pytest.approx(fn(*args).numpy().mean())
    with pytest.raises(ValueError, match="Invalid reduction"):
        losses.MeanSquaredError(reduction="average")
    assert "MeanSquaredError" in repr(losses.MeanSquaredError())


def test_second_derivative_of_a_loss_through_nested_tapes():
    x = cr.constant(LOGITS[0])
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            loss = losses.categorical_crossentropy(ONE_HOT[0], x, from_logits=True)
        g = inner.gradient(loss, x)
    hessian = outer.jacobian(g, x).numpy()
    s = np_softmax(LOGITS[0])
    np.testing.assert_allclose(hessian, np.diag(s) - np.outer(s, s), atol=1e-12)
