"""Neural-network building blocks that work on Tensors, Variables and NumPy arrays.

Sections (each self-contained; later sections may use earlier ones):

* **Activations** — ``relu``, ``softmax``, ``log_softmax``: primitives of their own, with
  VJP/JVP rules registered in the shared rule library, so both the GradientTape and the
  source transformer differentiate them, and their rule bodies are written with NumPy calls
  that also run on Tensors (higher-order derivatives on nested tapes).
* **More activations** — ``sigmoid``, ``tanh`` (the TF-named ops), ``linear``, and
  :func:`get_activation`, which maps Keras's activation names to these functions.
* **Layers and models** — :class:`Layer`, :class:`Model` (alias :class:`Module`),
  :class:`Dense` and :class:`Sequential`, shaped like ``tf.keras``; weights are
  :class:`chainrule.Variable` objects made by :mod:`chainrule.initializers` (re-exported as
  ``nn.initializers``), so a GradientTape watches them and the optimizers of
  :mod:`chainrule.optimizers` update them in place.

Guarantees: every function returns a :class:`chainrule.Tensor` (recorded on the recording
tapes when an input is tracked); ``softmax`` and ``log_softmax`` are computed with the
maximum subtracted, so large logits never overflow. The layer guarantees are stated in the
docstring of :class:`Layer`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import initializers
from .rules.registry import defjvp, defvjp
from .tape import ops as _ops
from .tape.record import apply
from .tape.tensor import Tensor, _TensorLike, convert_to_tensor
from .tape.variable import Variable

__all__ = ["relu", "softmax", "log_softmax", "relu_value", "softmax_value", "log_softmax_value",
           # more activations
           "sigmoid", "tanh", "linear", "get_activation",
           # layers and models
           "initializers", "Layer", "Model", "Module", "Dense", "Sequential"]


# =============================================================================== activations

def relu_value(x: Any) -> Any:
    """The primitive behind :func:`relu`: ``max(x, 0)`` elementwise (gradient 0 at 0, as TF)."""
    return np.maximum(x, 0)


defvjp(relu_value, lambda g, ans, x: g * (x > 0), name="chainrule.nn.relu")
defjvp(relu_value, lambda g, ans, x: g * (x > 0), name="chainrule.nn.relu")


def softmax_value(logits: Any, axis: int = -1) -> Any:
    """The primitive behind :func:`softmax`: ``exp(x) / sum(exp(x))`` along ``axis``."""
    e = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


defvjp(softmax_value,
       lambda g, ans, logits, axis=-1: ans * (g - np.sum(g * ans, axis=axis, keepdims=True)),
       None, name="chainrule.nn.softmax")
defjvp(softmax_value,
       lambda g, ans, logits, axis=-1: ans * (g - np.sum(g * ans, axis=axis, keepdims=True)),
       None, name="chainrule.nn.softmax")


def log_softmax_value(logits: Any, axis: int = -1) -> Any:
    """The primitive behind :func:`log_softmax`: ``x - log(sum(exp(x)))`` along ``axis``."""
    z = logits - np.max(logits, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


defvjp(log_softmax_value,
       lambda g, ans, logits, axis=-1: g - np.exp(ans) * np.sum(g, axis=axis, keepdims=True),
       None, name="chainrule.nn.log_softmax")
defjvp(log_softmax_value,
       lambda g, ans, logits, axis=-1: g - np.sum(np.exp(ans) * g, axis=axis, keepdims=True),
       None, name="chainrule.nn.log_softmax")


def relu(features: Any) -> Tensor:
    """Rectified linear unit ``max(features, 0)``."""
    return apply(relu_value, (features,))


def softmax(logits: Any, axis: int = -1) -> Tensor:
    """Softmax along ``axis`` (the last by default)."""
    return apply(softmax_value, (logits,), {"axis": axis})


def log_softmax(logits: Any, axis: int = -1) -> Tensor:
    """Log-softmax along ``axis`` (the last by default)."""
    return apply(log_softmax_value, (logits,), {"axis": axis})


# =============================================================================== more activations

sigmoid = _ops.sigmoid
tanh = _ops.tanh


def linear(x: Any) -> Tensor:
    """The identity activation (Keras's ``"linear"``): ``x`` as a Tensor."""
    return convert_to_tensor(x)


_ACTIVATIONS: dict[str, Callable[..., Tensor]] = {
    "linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax,
}


def get_activation(identifier: str | Callable[..., Any] | None) -> Callable[..., Any]:
    """An activation function from ``None`` (linear), one of Keras's names (``"relu"``,
    ``"sigmoid"``, ``"tanh"``, ``"softmax"``, ``"log_softmax"``, ``"linear"``) or a
    callable (returned as is)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _ACTIVATIONS[identifier]
        except KeyError:
            raise ValueError(f"Unknown activation {identifier!r}; known names: "
                             f"{', '.join(sorted(_ACTIVATIONS))}") from None
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret activation {identifier!r}: give a name or a callable")


# =============================================================================== layers and models

_NAME_COUNTS: dict[str, int] = {}


def _unique_name(cls_name: str) -> str:
    """Keras-style default names: ``dense``, ``dense_1``, ``dense_2``... per class name."""
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls_name).lower()
    n = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _input_shape(inputs: Any) -> tuple[Any, ...] | None:
    shape = getattr(inputs, "shape", None)
    if shape is not None:
        return tuple(shape)
    if isinstance(inputs, (list, tuple, int, float)):
        try:
            return np.shape(inputs)
        except ValueError:  # ragged structure: no single shape
            return None
    return None


def _scan(values: Iterable[Any], variables: list[Variable], layers: list[Layer]) -> None:
    """The Variables and Layers among ``values``, looking inside lists, tuples and dicts."""
    for v in values:
        if isinstance(v, Variable):
            variables.append(v)
        elif isinstance(v, Layer):
            layers.append(v)
        elif isinstance(v, (list, tuple)):
            _scan(v, variables, layers)
        elif isinstance(v, dict):
            _scan(v.values(), variables, layers)


class Layer:
    """A callable holding Variables: the base of :class:`Dense`, :class:`Model` and your own.

    Subclass it, create weights in ``__init__`` or in ``build(input_shape)`` (called once,
    on the first call, with the shape of the first input) using :meth:`add_weight` or by
    assigning :class:`chainrule.Variable` objects to attributes, and implement
    ``call(inputs, ...)``; ``layer(inputs, ...)`` builds if needed and runs ``call``.

    Guarantees:

    * Tracking: :attr:`variables` holds every Variable reachable from the layer's attributes
      (directly, or inside lists, tuples and dicts, and through sub-layers, recursively),
      each once. The order is stable: a layer's own Variables first (weights made by
      :meth:`add_weight`, in creation order, then Variables assigned to attributes, in
      assignment order), then each sub-layer's, in the order the sub-layers were assigned.
      Tracking reads the attributes when asked, so layers appended to a list attribute
      after construction are found too.
    * :attr:`trainable_variables` is the same list without the Variables created with
      ``trainable=False`` and without those of layers whose ``trainable`` is False (which
      freezes their sub-layers too); :attr:`non_trainable_variables` is the rest.
    * ``dtype``: given, or the floating dtype of the first input (float64 for integer or
      non-array inputs); weights are created in it.
    """

    _name: str | None = None
    _dtype: np.dtype | None = None
    built: bool = False
    trainable: bool = True

    def __init__(self, name: str | None = None, dtype: Any = None,
                 trainable: bool = True) -> None:
        self._added_weights: list[Variable] = []
        self._name = name if name is not None else _unique_name(type(self).__name__)
        self._dtype = None if dtype is None else np.dtype(dtype)
        self.built = False
        self.trainable = bool(trainable)

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        if self._name is None:  # a subclass that did not call super().__init__()
            self._name = _unique_name(type(self).__name__)
        return self._name

    @property
    def dtype(self) -> np.dtype | None:
        """The dtype weights are created in (None until given or set by the first call)."""
        return self._dtype

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"

    # ------------------------------------------------------------------ building and calling
    def build(self, input_shape: tuple[Any, ...] | None) -> None:
        """Create the weights that depend on the input shape; the base does nothing."""
        del input_shape

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The computation of the layer; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.built:
            if self._dtype is None:
                dtype = getattr(inputs, "dtype", None)
                kind = getattr(dtype, "kind", "")
                self._dtype = np.dtype(dtype) if kind == "f" else np.dtype(np.float64)
            self.build(_input_shape(inputs))
            self.built = True
        return self.call(inputs, *args, **kwargs)

    def add_weight(self, name: str, shape: Any, initializer: Any = "glorot_uniform",
                   dtype: Any = None, trainable: bool = True) -> Variable:
        """A new Variable named ``"<layer name>/<name>"``, initialised by ``initializer``
        (a name, an Initializer or a ``(shape, dtype)`` callable), tracked by this layer."""
        dtype = np.dtype(dtype if dtype is not None else (self._dtype or np.float64))
        init = initializers.get(initializer)
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(shape)
        var = Variable(init(shape, dtype), trainable=trainable, name=f"{self.name}/{name}",
                       dtype=dtype)
        if "_added_weights" not in self.__dict__:
            self._added_weights = []
        self._added_weights.append(var)
        return var

    # ------------------------------------------------------------------ tracking
    def _tracked(self) -> list[tuple[Variable, bool]]:
        """Every reachable Variable once, with whether it is trainable here."""
        out: list[tuple[Variable, bool]] = []
        seen_vars: set[int] = set()
        seen_layers = {id(self)}

        def visit(layer: Layer, trainable: bool) -> None:
            own: list[Variable] = []
            subs: list[Layer] = []
            _scan(vars(layer).values(), own, subs)
            for v in own:
                if id(v) not in seen_vars:
                    seen_vars.add(id(v))
                    out.append((v, trainable and v.trainable))
            for sub in subs:
                if id(sub) not in seen_layers:
                    seen_layers.add(id(sub))
                    visit(sub, trainable and sub.trainable)

        visit(self, self.trainable)
        return out

    @property
    def variables(self) -> list[Variable]:
        """All Variables of the layer and its sub-layers (order: see the class docstring)."""
        return [v for v, _ in self._tracked()]

    @property
    def trainable_variables(self) -> list[Variable]:
        """The Variables an optimizer should update."""
        return [v for v, t in self._tracked() if t]

    @property
    def non_trainable_variables(self) -> list[Variable]:
        """The Variables that are not trainable here."""
        return [v for v, t in self._tracked() if not t]

    # Keras's other names for the same lists.
    weights = variables
    trainable_weights = trainable_variables
    non_trainable_weights = non_trainable_variables

    @property
    def submodules(self) -> list[Layer]:
        """Every layer reachable from this one (not itself), depth first, each once."""
        out: list[Layer] = []
        seen = {id(self)}

        def visit(layer: Layer) -> None:
            subs: list[Layer] = []
            _scan(vars(layer).values(), [], subs)
            for sub in subs:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    out.append(sub)
                    visit(sub)

        visit(self)
        return out

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the values of :attr:`variables`, in the same order."""
        return [v.numpy() if v.ndim else np.asarray(v.numpy()) for v in self.variables]

    def set_weights(self, weights: Iterable[Any]) -> None:
        """Assign ``weights`` (values in the order of :attr:`variables`) in place."""
        variables = self.variables
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(f"Layer '{self.name}' has {len(variables)} variables, but "
                             f"set_weights got {len(weights)} values")
        for var, w in zip(variables, weights, strict=True):
            if np.shape(w) != var.shape:
                raise ValueError(f"Variable '{var.name}' has shape {var.shape}, but the "
                                 f"value given has shape {np.shape(w)}")
        for var, w in zip(variables, weights, strict=True):
            var.assign(w)

    def count_params(self) -> int:
        """The number of scalars in :attr:`variables`."""
        return int(sum(v.size for v in self.variables))


class Model(Layer):
    """A layer made of layers (``tf.keras.Model`` subclassing; also ``nn.Module``).

    Example::

        class SimpleNet(cr.nn.Model):
            def __init__(self):
                super().__init__()
                self.fc1 = cr.nn.Dense(units=3)
                self.fc2 = cr.nn.Dense(units=1)

            def call(self, x):
                return self.fc2(self.fc1(x))

        model = SimpleNet()
        with cr.GradientTape() as tape:
            loss = cr.reduce_mean(cr.losses.mse(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
    """

    @property
    def layers(self) -> list[Layer]:
        """The layers assigned to this model's attributes (directly or in containers)."""
        subs: list[Layer] = []
        _scan(vars(self).values(), [], subs)
        out: list[Layer] = []
        for sub in subs:
            if sub is not self and all(sub is not o for o in out):
                out.append(sub)
        return out

    def predict(self, x: Any, batch_size: int | None = None) -> np.ndarray:
        """``self(x)`` as a NumPy array, computed ``batch_size`` rows at a time (all at once
        when None)."""
        if batch_size is None:
            return np.asarray(self(x))
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        parts = [np.asarray(self(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts, axis=0)


Module = Model


class Dense(Layer):
    """A densely connected layer, ``activation(inputs @ kernel + bias)`` (as Keras's Dense).

    The kernel has shape ``(input_dim, units)`` and is created on the first call from the
    last dimension of the input; later inputs must have the same last dimension. Inputs of
    another dtype are cast to the layer's (as Keras's autocasting). Inputs of any rank >= 1
    are accepted; the product contracts their last axis.
    """

    def __init__(self, units: int, activation: str | Callable[..., Any] | None = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", name: str | None = None, dtype: Any = None,
                 trainable: bool = True) -> None:
        super().__init__(name=name, dtype=dtype, trainable=trainable)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units!r}")
        self.units = int(units)
        self.activation = get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel: Variable | None = None
        self.bias: Variable | None = None

    def build(self, input_shape: tuple[Any, ...] | None) -> None:
        if not input_shape or input_shape[-1] is None:
            raise ValueError(f"Dense layer '{self.name}' needs an input with a known last "
                             f"dimension (rank >= 1); got shape {input_shape}")
        self.kernel = self.add_weight("kernel", (int(input_shape[-1]), self.units),
                                      self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)

    def call(self, inputs: Any) -> Tensor:
        kernel = self.kernel
        assert kernel is not None  # built by __call__
        x = self._cast(inputs)
        shape = np.shape(x) if not isinstance(x, _TensorLike) else x.shape
        if len(shape) == 0 or shape[-1] != kernel.shape[0]:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {kernel.shape[0]}, but received "
                f"input with shape {tuple(shape)}")
        y = _ops.matmul(x, kernel)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def _cast(self, x: Any) -> Any:
        dtype = self._dtype
        if isinstance(x, _TensorLike):
            return x if x.dtype == dtype else _ops.cast(x, dtype)
        a = np.asarray(x)
        return a if a.dtype == dtype else a.astype(dtype)


class Sequential(Model):
    """A plain stack of layers, each called on the output of the previous one."""

    def __init__(self, layers: Iterable[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self._layers: list[Layer] = []
        for layer in layers or ():
            self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append ``layer`` to the stack."""
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a chainrule.nn.Layer, got "
                            f"{type(layer).__name__}")
        self._layers.append(layer)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise IndexError("pop from an empty Sequential model")
        return self._layers.pop()

    def call(self, inputs: Any) -> Any:
        if not self._layers:
            raise ValueError(f"Sequential model '{self.name}' has no layers; add some first")
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return x
