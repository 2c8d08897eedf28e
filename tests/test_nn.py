"""chainrule.nn layers and models and chainrule.initializers: lazy building, variable
tracking (order, duplicates, trainability), gradients through Dense/Model against central
finite differences in float64, and reproducible initialisation."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import initializers, nn
from tests.util import numeric_grad

RNG = np.random.default_rng(5)


# =============================================================================== Dense

def test_dense_is_built_lazily_from_the_last_dimension():
    layer = nn.Dense(3)
    assert not layer.built and layer.kernel is None and layer.variables == []
    y = layer(np.ones((4, 5)))
    assert layer.built
    assert layer.kernel.shape == (5, 3) and layer.bias.shape == (3,)
    assert isinstance(y, cr.Tensor) and y.shape == (4, 3)
    assert layer.variables == [layer.kernel, layer.bias]
    assert all(isinstance(v, cr.Variable) for v in layer.variables)
    np.testing.assert_allclose(layer.bias.numpy(), 0.0)  # zeros, as Keras
    assert layer(np.ones((2, 7, 5))).shape == (2, 7, 3)  # any leading axes
    assert layer(np.ones(5)).shape == (3,)


def test_dense_computes_activation_of_x_kernel_plus_bias():
    x = RNG.standard_normal((4, 2))
    layer = nn.Dense(3, activation="tanh", bias_initializer=initializers.Constant(0.5))
    y = layer(x)
    np.testing.assert_allclose(y.numpy(), np.tanh(x @ layer.kernel.numpy() + 0.5))
    no_bias = nn.Dense(2, use_bias=False, activation=nn.relu)
    out = no_bias(x)
    assert no_bias.bias is None and no_bias.variables == [no_bias.kernel]
    np.testing.assert_allclose(out.numpy(), np.maximum(x @ no_bias.kernel.numpy(), 0))
    for name, fn in [("relu", lambda a: np.maximum(a, 0)), ("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
                     ("softmax", lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
                     ("linear", lambda a: a), (None, lambda a: a)]:
        layer = nn.Dense(3, activation=name)
        np.testing.assert_allclose(layer(x).numpy(), fn(x @ layer.kernel.numpy()), rtol=1e-12)


def test_dense_dtypes():
    f32 = nn.Dense(2)
    assert f32(np.ones((1, 3), dtype=np.float32)).dtype == np.float32
    assert f32.kernel.dtype == np.float32 and f32.dtype == np.float32
    assert f32(np.ones((1, 3))).dtype == np.float32  # later inputs are cast to the layer's
    ints = nn.Dense(2)
    assert ints([[1, 2, 3]]).dtype == np.float64 and ints.kernel.dtype == np.float64
    given = nn.Dense(2, dtype="float32")
    assert given(np.ones((1, 3))).dtype == np.float32


def test_dense_errors():
    layer = nn.Dense(2)
    layer(np.ones((1, 3)))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        layer(np.ones((1, 4)))
    with pytest.raises(ValueError, match="known last dimension"):
        nn.Dense(2)(np.float64(1.0))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="invalid value for `units`"):
            nn.Dense(bad)
    with pytest.raises(ValueError, match="Unknown activation"):
        nn.Dense(2, activation="swishy")
    with pytest.raises(ValueError, match="Unknown initializer"):
        nn.Dense(2, kernel_initializer="glorot_unicorn")


def test_default_names_are_unique_and_name_the_variables():
    a, b = nn.Dense(1), nn.Dense(1, name="out")
    a(np.ones((1, 2)))
    b(np.ones((1, 2)))
    assert a.name.startswith("dense") and b.name == "out"
    assert a.kernel.name == f"{a.name}/kernel" and b.bias.name == "out/bias"
    assert nn.Dense(1).name != nn.Dense(1).name

    class MyFancyNet(nn.Model):
        def call(self, x):
            return x

    assert MyFancyNet().name.startswith("my_fancy_net")


# =============================================================================== gradients

def _loss_of(model, x, y):
    return cr.reduce_mean(cr.losses.mse(y, model(x)))


def _check_model_gradients(model, x, y, with_input=True):
    x_t = cr.constant(x)
    with cr.GradientTape() as tape:
        tape.watch(x_t)
        loss = _loss_of(model, x_t, y)
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables + [x_t])
    for var, g in zip(variables, grads, strict=False):
        def f(value, var=var):
            saved = var.numpy()
            var.assign(value)
            try:
                return float(_loss_of(model, x, y))
            finally:
                var.assign(saved)

        want = numeric_grad(f, [var.numpy()], 0)
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-6, atol=1e-9, err_msg=var.name)
    if with_input:
        want = numeric_grad(lambda v: float(_loss_of(model, v, y)), [x], 0)
        np.testing.assert_allclose(grads[-1].numpy(), want, rtol=1e-6, atol=1e-9)


def test_dense_gradients_match_finite_differences():
    cr.nn.initializers.set_seed(2)
    x = RNG.standard_normal((6, 4))
    y = RNG.standard_normal((6, 3))
    for activation in [None, "tanh", "sigmoid", "softmax"]:
        layer = nn.Dense(3, activation=activation)
        layer(x)
        layer.bias.assign(RNG.standard_normal(3))
        _check_model_gradients(layer, x, y)


def test_model_gradients_match_finite_differences():
    class Net(nn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = [nn.Dense(5, activation="tanh"), nn.Dense(4, activation="sigmoid")]
            self.scale = cr.Variable(1.5)
            self.head = nn.Sequential([nn.Dense(2)])

        def call(self, x):
            for layer in self.hidden:
                x = layer(x)
            return self.head(x) * self.scale

    cr.nn.initializers.set_seed(3)
    model = Net()
    x = RNG.standard_normal((7, 3))
    y = RNG.standard_normal((7, 2))
    model(x)
    assert len(model.trainable_variables) == 7
    _check_model_gradients(model, x, y)


def test_second_derivatives_through_a_dense_network():
    # Hessian-vector product of the loss with respect to the input, by nested tapes,
    # against finite differences of the tape gradient.
    cr.nn.initializers.set_seed(4)
    model = nn.Sequential([nn.Dense(4, activation="tanh"), nn.Dense(1)])
    x0 = RNG.standard_normal((3, 2))
    y = RNG.standard_normal((3, 1))
    u = RNG.standard_normal((3, 2))

    def grad_at(v):
        t = cr.constant(v)
        with cr.GradientTape() as tape:
            tape.watch(t)
            loss = _loss_of(model, t, y)
        return tape.gradient(loss, t).numpy()

    x = cr.constant(x0)
    with cr.GradientTape() as outer:
        outer.watch(x)
        with cr.GradientTape() as inner:
            inner.watch(x)
            loss = _loss_of(model, x, y)
        g = inner.gradient(loss, x)
        gu = cr.reduce_sum(g * u)
    hvp = outer.gradient(gu, x).numpy()
    eps = 1e-5
    numeric = (grad_at(x0 + eps * u) - grad_at(x0 - eps * u)) / (2 * eps)
    np.testing.assert_allclose(hvp, numeric, rtol=1e-5, atol=1e-8)


# =============================================================================== tracking

class Block(nn.Model):
    def __init__(self, units):
        super().__init__()
        self.a = nn.Dense(units)
        self.b = nn.Dense(units)

    def call(self, x):
        return self.b(self.a(x))


def test_variables_are_collected_in_a_stable_documented_order_without_duplicates():
    class Net(nn.Model):
        def __init__(self):
            super().__init__()
            self.first = nn.Dense(2)
            self.own = cr.Variable(1.0, name="own")
            self.blocks = [Block(2), Block(2)]
            self.table = {"x": nn.Dense(2), "shared": None}
            self.table["shared"] = self.first  # the same layer twice
            self.again = self.own  # the same variable twice
            self.frozen = cr.Variable(0.0, trainable=False, name="frozen")

        def call(self, x):
            x = self.first(x) * self.own
            for block in self.blocks:
                x = block(x)
            return self.table["x"](x) + self.frozen

    model = Net()
    model(np.ones((1, 3)))
    names = [v.name for v in model.variables]
    first, b0, b1, tx = model.first, model.blocks[0], model.blocks[1], model.table["x"]
    want = ["own", "frozen"]
    for layer in [first, b0.a, b0.b, b1.a, b1.b, tx]:
        want += [f"{layer.name}/kernel", f"{layer.name}/bias"]
    assert names == want
    assert len({id(v) for v in model.variables}) == len(names)
    assert [v.name for v in model.trainable_variables] == [n for n in want if n != "frozen"]
    assert [v.name for v in model.non_trainable_variables] == ["frozen"]
    assert [v.name for v in model.variables] == names  # stable across calls
    assert model.layers == [first, b0, b1, tx]
    assert model.submodules == [first, b0, b0.a, b0.b, b1, b1.a, b1.b, tx]
    assert model.weights == model.variables
    assert model.trainable_weights == model.trainable_variables
    assert model.count_params() == 1 + 1 + (3 * 2 + 2) + 5 * (2 * 2 + 2)


def test_frozen_layers_and_layers_added_later():
    model = Block(2)
    model.extra = []
    model(np.ones((1, 2)))
    model.extra.append(nn.Dense(1))
    model.extra[0](np.ones((1, 2)))
    assert len(model.variables) == 6
    model.a.trainable = False
    assert model.trainable_variables == [model.b.kernel, model.b.bias, model.extra[0].kernel,
                                         model.extra[0].bias]
    assert model.non_trainable_variables == [model.a.kernel, model.a.bias]
    model.trainable = False
    assert model.trainable_variables == [] and len(model.non_trainable_variables) == 6


def test_add_weight_and_a_custom_layer_with_build():
    class Scale(nn.Layer):
        def build(self, input_shape):
            self.w = self.add_weight("w", input_shape[-1:], initializer="ones")
            self.add_weight("counter", (), initializer="zeros", trainable=False)

        def call(self, x):
            return x * self.w

    layer = Scale()
    x = cr.constant([[1.0, 2.0]])
    with cr.GradientTape() as tape:
        tape.watch(x)
        y = cr.reduce_sum(layer(x) ** 2)
    assert [v.name.split("/")[1] for v in layer.variables] == ["w", "counter"]
    assert layer.trainable_variables == [layer.w]
    np.testing.assert_allclose(tape.gradient(y, layer.w).numpy(), [2.0, 8.0])


def test_module_is_model_and_a_model_without_super_init_still_works():
    assert nn.Module is nn.Model

    class NoInit(nn.Module):
        def __init__(self):  # forgets super().__init__()
            self.d = nn.Dense(1)

        def call(self, x):
            return self.d(x)

    m = NoInit()
    assert m(np.ones((2, 3))).shape == (2, 1)
    assert len(m.trainable_variables) == 2 and m.name.startswith("no_init")

    class Bare(nn.Layer):
        pass

    with pytest.raises(NotImplementedError, match="must implement call"):
        Bare()(np.ones(2))


def test_sequential():
    model = nn.Sequential([nn.Dense(4, activation="relu"), nn.Dense(2)])
    assert model(np.ones((3, 5))).shape == (3, 2)
    assert [v.shape for v in model.trainable_variables] == [(5, 4), (4,), (4, 2), (2,)]
    model.add(nn.Dense(1))
    assert model(np.ones((3, 5))).shape == (3, 1)
    assert len(model.layers) == 3
    last = model.pop()
    assert isinstance(last, nn.Dense) and len(model.layers) == 2
    with pytest.raises(TypeError, match="expects a chainrule.nn.Layer"):
        model.add(lambda x: x)
    with pytest.raises(ValueError, match="has no layers"):
        nn.Sequential()(np.ones(2))
    with pytest.raises(IndexError):
        nn.Sequential().pop()


def test_get_set_weights_and_predict():
    model = nn.Sequential([nn.Dense(3, activation="tanh"), nn.Dense(2)])
    x = RNG.standard_normal((10, 4))
    y = model(x).numpy()
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(4, 3), (3,), (3, 2), (2,)]
    np.testing.assert_allclose(model.predict(x), y)
    np.testing.assert_allclose(model.predict(x, batch_size=3), y)
    model.set_weights([np.zeros_like(w) for w in weights])
    np.testing.assert_allclose(model.predict(x), 0.0)
    model.set_weights(weights)
    np.testing.assert_allclose(model.predict(x), y)
    with pytest.raises(ValueError, match="has 4 variables, but set_weights got 1"):
        model.set_weights(weights[:1])
    with pytest.raises(ValueError, match="has shape"):
        model.set_weights([w.T for w in weights])
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(x, batch_size=0)


def test_training_a_model_lowers_the_loss():
    cr.nn.initializers.set_seed(0)
    x = RNG.uniform(-1, 1, (64, 2))
    y = (x[:, :1] * x[:, 1:] > 0).astype(float)  # XOR of the signs
    model = nn.Sequential([nn.Dense(16, activation="tanh"), nn.Dense(1)])
    opt = cr.optimizers.Adam(0.05)
    loss_fn = cr.losses.BinaryCrossentropy(from_logits=True)
    first = None
    for _ in range(150):
        with cr.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        first = float(loss) if first is None else first
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                model.trainable_variables))
    assert float(loss) < first / 3
    accuracy = np.mean((model.predict(x) > 0) == (y > 0.5))
    assert accuracy > 0.9


# =============================================================================== activations

def test_activations():
    assert nn.sigmoid is cr.sigmoid and nn.tanh is cr.tanh
    assert nn.get_activation(None) is nn.linear
    assert nn.get_activation("softmax") is nn.softmax
    fn = lambda x: x  # noqa: E731
    assert nn.get_activation(fn) is fn
    with pytest.raises(TypeError, match="Could not interpret activation"):
        nn.get_activation(3)
    v = cr.Variable([1.0, -2.0])
    with cr.GradientTape() as tape:
        y = cr.reduce_sum(nn.linear(v) * 2.0)
    assert tape.gradient(y, v).numpy().tolist() == [2.0, 2.0]


# =============================================================================== initializers

def test_set_seed_makes_layers_reproducible():
    def build():
        initializers.set_seed(42)
        model = nn.Sequential([nn.Dense(4), nn.Dense(2, kernel_initializer="he_normal")])
        model(np.ones((1, 3)))
        return model.get_weights()

    for a, b in zip(build(), build(), strict=True):
        np.testing.assert_array_equal(a, b)
    initializers.set_seed(43)
    other = nn.Dense(4)
    other(np.ones((1, 3)))
    assert not np.array_equal(other.kernel.numpy(), build()[0])
    assert nn.initializers is initializers and cr.initializers is initializers


def test_seeded_initializers_repeat_and_unseeded_ones_do_not():
    init = initializers.GlorotUniform(seed=7)
    np.testing.assert_array_equal(init((3, 4)), init((3, 4)))
    free = initializers.GlorotUniform()
    assert not np.array_equal(free((3, 4)), free((3, 4)))


def test_initializer_distributions():
    shape = (200, 300)
    limit = np.sqrt(6 / 500)
    w = initializers.GlorotUniform(seed=0)(shape)
    assert w.shape == shape and w.dtype == np.float64
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    assert np.std(w) == pytest.approx(np.sqrt(2 / 500), rel=0.02)
    for init, std in [(initializers.GlorotNormal(seed=0), np.sqrt(2 / 500)),
                      (initializers.HeNormal(seed=0), np.sqrt(2 / 200)),
                      (initializers.LecunNormal(seed=0), np.sqrt(1 / 200)),
                      (initializers.HeUniform(seed=0), np.sqrt(2 / 200))]:
        w = init(shape)
        assert np.std(w) == pytest.approx(std, rel=0.03), type(init).__name__
    w = initializers.TruncatedNormal(stddev=0.1, seed=0)(shape)
    assert np.abs(w).max() <= 0.2
    w = initializers.RandomNormal(mean=1.0, stddev=0.1, seed=0)(shape)
    assert np.mean(w) == pytest.approx(1.0, abs=0.01)
    w = initializers.RandomUniform(0.0, 2.0, seed=0)(shape)
    assert w.min() >= 0.0 and w.max() < 2.0
    assert initializers.Zeros()((2,)).tolist() == [0.0, 0.0]
    assert initializers.Ones()(2, "float32").dtype == np.float32
    assert initializers.Constant(3.0)((1, 2)).tolist() == [[3.0, 3.0]]
    assert initializers.compute_fans((3, 3, 4, 8)) == (36.0, 72.0)
    assert initializers.compute_fans((5,)) == (5.0, 5.0)


def test_initializer_lookup():
    assert isinstance(initializers.get("glorot_uniform"), initializers.GlorotUniform)
    assert isinstance(initializers.get("HeNormal"), initializers.HeNormal)
    assert isinstance(initializers.get(initializers.Zeros), initializers.Zeros)
    custom = lambda shape, dtype: np.full(shape, 2.0, dtype)  # noqa: E731
    assert initializers.get(custom) is custom
    layer = nn.Dense(2, kernel_initializer=custom)
    layer(np.ones((1, 2)))
    assert layer.kernel.numpy().tolist() == [[2.0, 2.0], [2.0, 2.0]]
    with pytest.raises(TypeError, match="Could not interpret initializer"):
        initializers.get(3)
    with pytest.raises(TypeError, match="floating dtype"):
        initializers.Ones()((2,), np.int32)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sideways")
