"""chainrule.optimizers: a few steps of every optimizer against NumPy updates written from
Keras's documented formulas, Keras's own docstring numbers, and apply_gradients/minimize
bookkeeping (None gradients, zips, schedules, iterations, dtypes, errors)."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import optimizers

RNG = np.random.default_rng(3)
W0 = RNG.standard_normal((3, 2))
GRADS = [RNG.standard_normal((3, 2)) for _ in range(4)]


def run(opt, w0=W0, grads=GRADS):
    """Values of a Variable starting at ``w0`` after each step of ``opt`` with ``grads``."""
    var = cr.Variable(w0)
    values = []
    for g in grads:
        opt.apply_gradients([(cr.constant(g), var)])
        values.append(var.numpy())
    return values


# ================================================================ NumPy references (Keras)

def ref_sgd(lr, momentum=0.0, nesterov=False, w=W0, grads=GRADS):
    w, velocity, out = w.copy(), np.zeros_like(w), []
    for g in grads:
        if momentum == 0:
            w = w - lr * g
        else:
            velocity = momentum * velocity - lr * g
            w = w + momentum * velocity - lr * g if nesterov else w + velocity
        out.append(w)
    return out


def ref_adam(lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=None, w=W0, grads=GRADS):
    w, m, v, vhat, out = w.copy(), np.zeros_like(w), np.zeros_like(w), np.zeros_like(w), []
    for t, g in enumerate(grads, start=1):
        if wd is not None:
            w = w - w * wd * lr
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        if amsgrad:
            vhat = np.maximum(vhat, v)
            denom = np.sqrt(vhat)
        else:
            denom = np.sqrt(v)
        # Keras folds the bias corrections into the step size: epsilon is "epsilon hat".
        w = w - lr * m_hat * np.sqrt(1 - b2**t) / (denom + eps)
        out.append(w)
    return out


def ref_rmsprop(lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False, w=W0, grads=GRADS):
    w, vel, avg, buf, out = (w.copy(), np.zeros_like(w), np.zeros_like(w), np.zeros_like(w),
                             [])
    for g in grads:
        vel = rho * vel + (1 - rho) * g * g
        if centered:
            avg = rho * avg + (1 - rho) * g
            inc = lr * g / np.sqrt(vel - avg * avg + eps)
        else:
            inc = lr * g / np.sqrt(vel + eps)
        if momentum > 0:
            buf = momentum * buf + inc
            w = w - buf
        else:
            w = w - inc
        out.append(w)
    return out


def ref_adagrad(lr, init=0.1, eps=1e-7, w=W0, grads=GRADS):
    w, acc, out = w.copy(), np.full_like(w, init), []
    for g in grads:
        acc = acc + g * g
        w = w - lr * g / np.sqrt(acc + eps)
        out.append(w)
    return out


CASES = [
    ("SGD", lambda: optimizers.SGD(0.1), lambda: ref_sgd(0.1)),
    ("SGD momentum", lambda: optimizers.SGD(0.1, momentum=0.9),
     lambda: ref_sgd(0.1, 0.9)),
    ("SGD nesterov", lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
     lambda: ref_sgd(0.1, 0.9, nesterov=True)),
    ("Adam", lambda: optimizers.Adam(0.01), lambda: ref_adam(0.01)),
    ("Adam betas", lambda: optimizers.Adam(0.05, beta_1=0.5, beta_2=0.9, epsilon=1e-3),
     lambda: ref_adam(0.05, 0.5, 0.9, 1e-3)),
    ("Adam amsgrad", lambda: optimizers.Adam(0.01, amsgrad=True),
     lambda: ref_adam(0.01, amsgrad=True)),
    ("AdamW", lambda: optimizers.AdamW(0.01, weight_decay=0.1),
     lambda: ref_adam(0.01, wd=0.1)),
    ("AdamW amsgrad", lambda: optimizers.AdamW(0.01, weight_decay=0.1, amsgrad=True),
     lambda: ref_adam(0.01, amsgrad=True, wd=0.1)),
    ("RMSprop", lambda: optimizers.RMSprop(0.01), lambda: ref_rmsprop(0.01)),
    ("RMSprop momentum", lambda: optimizers.RMSprop(0.01, momentum=0.5),
     lambda: ref_rmsprop(0.01, momentum=0.5)),
    ("RMSprop centered", lambda: optimizers.RMSprop(0.01, rho=0.8, centered=True),
     lambda: ref_rmsprop(0.01, rho=0.8, centered=True)),
    ("Adagrad", lambda: optimizers.Adagrad(0.1), lambda: ref_adagrad(0.1)),
    ("Adagrad accumulator", lambda: optimizers.Adagrad(0.1, initial_accumulator_value=1.0),
     lambda: ref_adagrad(0.1, init=1.0)),
]


@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
def test_steps_match_the_published_update_rules(name, make, reference):
    got = run(make())
    for step, (g, want) in enumerate(zip(got, reference(), strict=True)):
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-15,
                                   err_msg=f"{name}, step {step + 1}")


def test_default_hyperparameters_are_keras_defaults():
    sgd = optimizers.SGD()
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.01, 0.0, False)
    adam = optimizers.Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (
        0.001, 0.9, 0.999, 1e-7, False)
    adamw = optimizers.AdamW()
    assert (adamw.learning_rate, adamw.weight_decay) == (0.001, 0.004)
    rms = optimizers.RMSprop()
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == (
        0.001, 0.9, 0.0, 1e-7, False)
    ada = optimizers.Adagrad()
    assert (ada.learning_rate, ada.initial_accumulator_value, ada.epsilon) == (0.001, 0.1, 1e-7)


# ====================================================== numbers from the Keras docstrings

def test_sgd_docstring_numbers():
    # w = 1, loss = w**2 / 2 (gradient w): 0.9 after one step; with momentum 0.9 the
    # steps are 0.1 and then 0.18 long.
    var = cr.Variable(1.0)
    opt = optimizers.SGD(learning_rate=0.1)
    assert opt.minimize(lambda: (var**2) / 2.0, [var]).numpy() == 1
    assert var.numpy() == pytest.approx(0.9)

    var = cr.Variable(1.0)
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    opt.minimize(lambda: (var**2) / 2.0, [var])
    assert var.numpy() == pytest.approx(0.9)
    opt.minimize(lambda: (var**2) / 2.0, [var])
    assert var.numpy() == pytest.approx(0.9 - 0.18)


def test_nesterov_by_hand():
    # w = 1, g = 1 each step, lr 0.1, momentum 0.9:
    # v1 = -0.1, w1 = 1 + 0.9 * -0.1 - 0.1 = 0.81; v2 = -0.19, w2 = 0.81 - 0.171 - 0.1.
    var = cr.Variable(1.0)
    opt = optimizers.SGD(0.1, momentum=0.9, nesterov=True)
    opt.apply_gradients([(1.0, var)])
    assert var.numpy() == pytest.approx(0.81)
    opt.apply_gradients([(1.0, var)])
    assert var.numpy() == pytest.approx(0.539)


def test_adam_and_rmsprop_docstring_numbers():
    var = cr.Variable(10.0)
    opt = optimizers.Adam(learning_rate=0.1)
    opt.minimize(lambda: (var**2) / 2.0, [var])
    assert var.numpy() == pytest.approx(9.9, abs=1e-6)  # the first Adam step is ~lr long

    var = cr.Variable(10.0)
    opt = optimizers.RMSprop(learning_rate=0.1)
    opt.minimize(lambda: (var**2) / 2.0, [var])
    assert var.numpy() == pytest.approx(9.683772, abs=1e-6)


def test_adamw_decay_is_decoupled_from_the_gradient():
    # With a zero gradient Adam does not move, and AdamW only shrinks: w (1 - wd * lr).
    var = cr.Variable([2.0, -4.0])
    opt = optimizers.AdamW(learning_rate=0.1, weight_decay=0.5)
    opt.apply_gradients([(np.zeros(2), var)])
    np.testing.assert_allclose(var.numpy(), [2.0 * 0.95, -4.0 * 0.95])
    var = cr.Variable([2.0, -4.0])
    optimizers.Adam(0.1).apply_gradients([(np.zeros(2), var)])
    np.testing.assert_allclose(var.numpy(), [2.0, -4.0])


def test_weight_decay_works_for_every_optimizer():
    var = cr.Variable([1.0])
    optimizers.SGD(0.1, weight_decay=0.5).apply_gradients([([1.0], var)])
    np.testing.assert_allclose(var.numpy(), [1.0 - 0.05 - 0.1])


# ======================================================================== apply_gradients

def test_apply_gradients_accepts_a_zip_and_a_generator_and_returns_iterations():
    a, b = cr.Variable([1.0, 2.0]), cr.Variable(3.0)
    opt = optimizers.SGD(0.5)
    it = opt.apply_gradients(zip([cr.constant([1.0, 1.0]), np.float64(2.0)], [a, b]))
    assert it is opt.iterations and it.numpy() == 1 and it.dtype == np.int64
    assert not opt.iterations.trainable
    opt.apply_gradients((g, v) for g, v in [([2.0, 0.0], a), (0.0, b)])
    np.testing.assert_allclose(a.numpy(), [-0.5, 1.5])
    assert b.numpy() == 2.0
    assert int(opt.iterations) == 2


def test_apply_gradients_updates_variables_in_place():
    var = cr.Variable([1.0, 2.0])
    before = var.value()
    held = [var]
    optimizers.SGD(1.0).apply_gradients([([1.0, 1.0], var)])
    assert held[0] is var
    assert var.numpy().tolist() == [0.0, 1.0]
    assert before.numpy().tolist() == [1.0, 2.0]  # values read before keep their value


def test_none_gradients_are_skipped_with_a_warning_naming_the_variables():
    a = cr.Variable(1.0, name="used")
    b = cr.Variable(1.0, name="unused")
    with cr.GradientTape() as tape:
        loss = a * 3.0
    grads = tape.gradient(loss, [a, b])
    opt = optimizers.SGD(0.1)
    with pytest.warns(UserWarning, match=r"Gradients do not exist for variables \['unused'\]"):
        opt.apply_gradients(zip(grads, [a, b]))
    assert a.numpy() == pytest.approx(0.7)
    assert b.numpy() == 1.0


def test_all_none_gradients_raise_value_error_and_change_nothing():
    a = cr.Variable(1.0, name="a")
    opt = optimizers.Adam()
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \['a'\]"):
        opt.apply_gradients([(None, a)])
    with pytest.raises(ValueError, match="No gradients provided"):
        opt.apply_gradients([])
    assert a.numpy() == 1.0 and opt.iterations.numpy() == 0


def test_apply_gradients_errors():
    opt = optimizers.SGD()
    with pytest.raises(TypeError, match="updates chainrule.Variable objects"):
        opt.apply_gradients([(1.0, cr.constant(1.0))])
    with pytest.raises(ValueError, match="has shape \\(3,\\), but the variable has shape"):
        opt.apply_gradients([(np.ones(3), cr.Variable(np.ones(2)))])
    with pytest.raises(TypeError, match="floating-point"):
        opt.apply_gradients([(1, cr.Variable(1))])
    with pytest.raises(TypeError, match="pairs"):
        opt.apply_gradients([cr.Variable(1.0)])


def test_float32_variables_stay_float32():
    var = cr.Variable([1.0, 2.0], dtype=np.float32)
    for opt in [optimizers.SGD(0.1, momentum=0.9), optimizers.Adam(0.1),
                optimizers.AdamW(0.1), optimizers.RMSprop(0.1, centered=True, momentum=0.5),
                optimizers.Adagrad(0.1)]:
        with cr.GradientTape() as tape:
            loss = cr.reduce_sum(var * var)
        opt.apply_gradients(zip(tape.gradient(loss, [var]), [var]))
        assert var.dtype == np.float32
        for name in opt.get_slot_names():
            try:
                assert opt.get_slot(var, name).dtype == np.float32
            except KeyError:  # a state this configuration does not use
                pass


def test_slots_are_kept_per_variable():
    a, b = cr.Variable(1.0), cr.Variable(1.0)
    opt = optimizers.SGD(0.1, momentum=0.9)
    opt.apply_gradients([(1.0, a)])
    opt.apply_gradients([(1.0, a), (1.0, b)])
    assert opt.get_slot(a, "momentum") == pytest.approx(-0.19)
    assert opt.get_slot(b, "momentum") == pytest.approx(-0.1)
    assert opt.get_slot_names() == ["momentum"]


# ========================================================================== learning rates

def test_learning_rate_schedule_is_called_with_the_step():
    steps = []

    def schedule(step):
        steps.append(step)
        return 0.1 * 0.5**step

    var = cr.Variable(0.0)
    opt = optimizers.SGD(schedule)
    for _ in range(3):
        opt.apply_gradients([(-1.0, var)])
    assert var.numpy() == pytest.approx(0.1 + 0.05 + 0.025)
    assert steps == [0, 1, 2]
    assert opt.learning_rate == pytest.approx(0.0125)  # the rate of the next step


def test_schedule_drives_adam_and_weight_decay():
    lrs = [0.1, 0.01, 0.001]
    var = cr.Variable(W0)
    opt = optimizers.AdamW(lambda step: lrs[step], weight_decay=0.2)
    want, w, m, v = [], W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for t, g in enumerate(GRADS[:3], start=1):
        lr = lrs[t - 1]
        w = w - w * 0.2 * lr
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - lr * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
        want.append(w)
        opt.apply_gradients([(g, var)])
        np.testing.assert_allclose(var.numpy(), w, rtol=1e-12)


def test_learning_rate_can_be_set_and_read():
    opt = optimizers.SGD(0.1)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    opt.learning_rate = cr.constant(0.25)
    assert opt.learning_rate == 0.25
    with pytest.raises(TypeError, match="learning_rate must be a number or a callable"):
        opt.learning_rate = "fast"
    assert "learning_rate=0.25" in repr(opt)


# ============================================================================== minimize

def test_minimize_with_a_callable_loss_and_a_list():
    x = cr.Variable(0.0, dtype=np.float32)
    opt = optimizers.SGD(0.01)
    for _ in range(1000):
        opt.minimize(lambda: cr.pow(x, 2) - 2.0 * x + 1.0, [x])
    assert x.numpy() == pytest.approx(1.0, abs=1e-5)
    assert opt.iterations.numpy() == 1000


def test_minimize_watches_non_trainable_variables_in_the_list():
    x = cr.Variable(2.0, trainable=False)
    optimizers.SGD(0.25).minimize(lambda: x * x, [x])
    assert x.numpy() == 1.0


def test_minimize_with_a_callable_var_list_called_after_the_loss():
    model = cr.nn.Dense(1, kernel_initializer="ones")
    x = np.array([[1.0, 2.0]])
    opt = optimizers.SGD(0.1)
    opt.minimize(lambda: cr.reduce_sum(model(x)), lambda: model.trainable_variables)
    np.testing.assert_allclose(model.kernel.numpy(), [[0.9], [0.8]])
    np.testing.assert_allclose(model.bias.numpy(), [-0.1])


def test_minimize_with_a_tensor_loss_needs_the_tape():
    x = cr.Variable(3.0)
    with cr.GradientTape() as tape:
        loss = x * x
    opt = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="`tape` is required"):
        opt.minimize(loss, [x])
    opt.minimize(loss, [x], tape=tape)
    assert x.numpy() == pytest.approx(2.4)


# ============================================================================== clipping

def test_gradient_clipping():
    var = cr.Variable([0.0, 0.0])
    optimizers.SGD(1.0, clipnorm=1.0).apply_gradients([([3.0, 4.0], var)])
    np.testing.assert_allclose(var.numpy(), [-0.6, -0.8])

    var = cr.Variable([0.0, 0.0])
    optimizers.SGD(1.0, clipvalue=0.5).apply_gradients([([3.0, -0.25], var)])
    np.testing.assert_allclose(var.numpy(), [-0.5, 0.25])

    a, b = cr.Variable([0.0]), cr.Variable([0.0])
    optimizers.SGD(1.0, global_clipnorm=1.0).apply_gradients([([3.0], a), ([4.0], b)])
    np.testing.assert_allclose([a.numpy()[0], b.numpy()[0]], [-0.6, -0.8])

    var = cr.Variable([0.0])
    optimizers.SGD(1.0, clipnorm=10.0).apply_gradients([([3.0], var)])  # below the norm
    np.testing.assert_allclose(var.numpy(), [-3.0])


def test_invalid_hyperparameters_raise():
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="rho"):
        optimizers.RMSprop(rho=-0.1)
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        optimizers.Adagrad(initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match="Only one of"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="clipnorm must be a non-negative"):
        optimizers.Adam(clipnorm=-1.0)


def test_optimizers_are_exported():
    assert cr.optimizers is optimizers
    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Optimizer"]:
        assert issubclass(getattr(cr.optimizers, name), optimizers.Optimizer)


def test_training_a_model_end_to_end_reaches_a_low_loss():
    cr.nn.initializers.set_seed(1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    model = cr.nn.Dense(1)
    for opt in [optimizers.SGD(0.1, momentum=0.5), optimizers.Adam(0.05),
                optimizers.RMSprop(0.01), optimizers.Adagrad(0.5), optimizers.AdamW(0.05)]:
        model = cr.nn.Dense(1)
        for _ in range(200):
            with cr.GradientTape() as tape:
                loss = cr.losses.MeanSquaredError()(y, model(x))
            opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                    model.trainable_variables))
        assert float(loss) < 1e-2, type(opt).__name__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on the ordinary path
        opt = optimizers.Adam()
        with cr.GradientTape() as tape:
            loss = cr.reduce_sum(model(x))
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
