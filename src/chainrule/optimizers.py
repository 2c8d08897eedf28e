"""Optimizers that update :class:`chainrule.Variable` objects in place (``tf.keras.optimizers``).

``SGD``, ``Adam``, ``AdamW``, ``RMSprop`` and ``Adagrad``, with Keras's arguments, defaults
and update rules (the formulas are in each class's docstring). Typical use::

    opt = chainrule.optimizers.Adam(learning_rate=0.01)
    with chainrule.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))

Guarantees:

* :meth:`Optimizer.apply_gradients` takes any iterable of ``(gradient, variable)`` pairs (a
  ``zip`` too). Pairs whose gradient is ``None`` are skipped with a warning naming their
  variables; if every gradient is ``None`` (or there are no pairs) it raises ``ValueError``
  and changes nothing. Gradients may be Tensors, NumPy arrays or numbers, and must have
  their variable's shape.
* Updates are computed in NumPy, in each variable's dtype (float32 variables stay float32),
  written with ``Variable.assign`` (in place, never recorded on a tape), in this order per
  step, as Keras 3: gradient clipping (``clipnorm``, ``global_clipnorm`` or ``clipvalue``),
  then decoupled weight decay (``weight_decay``: ``w -= w * weight_decay * lr``), then the
  optimizer's own rule; finally :attr:`~Optimizer.iterations` grows by one.
* ``learning_rate`` is a number or a schedule: a callable taking the step (the number of
  steps applied so far, an ``int``, 0 for the first) and returning the rate.
  :attr:`~Optimizer.learning_rate` reads the rate the next step will use.
* Per-variable state (moments, accumulators) is created on the first step that updates the
  variable, and kept as long as the optimizer lives.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .tape.tape import GradientTape
from .tape.tensor import Reference, _TensorLike
from .tape.variable import Variable

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]

LearningRate = float | Callable[[int], Any]


class Optimizer:
    """Base class: the bookkeeping shared by every optimizer.

    Subclasses implement :meth:`_update`, which returns the new value of one variable from
    its current value, its gradient and the learning rate, and keeps per-variable state in
    :meth:`_slot` arrays.
    """

    _slot_names: tuple[str, ...] = ()

    def __init__(self, learning_rate: LearningRate, name: str,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None) -> None:
        given = [k for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"Only one of clipnorm, clipvalue and global_clipnorm can be set; "
                             f"got {', '.join(given)}")
        for key, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm), ("weight_decay", weight_decay)):
            if value is not None and not value >= 0:
                raise ValueError(f"{key} must be a non-negative number, got {value!r}")
        self.name = name
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self._iterations = Variable(0, trainable=False, name="iteration", dtype=np.int64)
        self._slots: dict[Reference, dict[str, np.ndarray]] = {}
        self._learning_rate: LearningRate = 0.0
        self.learning_rate = learning_rate  # type: ignore[assignment]  # validates

    # ------------------------------------------------------------------ state
    @property
    def iterations(self) -> Variable:
        """The number of steps applied (a non-trainable int64 Variable, as Keras)."""
        return self._iterations

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (a schedule is evaluated at the current step)."""
        lr = self._learning_rate
        if callable(lr):
            lr = lr(int(self._iterations._value))
        if isinstance(lr, _TensorLike):
            lr = lr._value
        return float(lr)

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if isinstance(value, _TensorLike):
            value = value._value
        if not callable(value):
            try:
                value = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise TypeError(f"learning_rate must be a number or a callable of the step, "
                                f"got {value!r}") from None
        self._learning_rate = value

    def _slot(self, var: Variable, name: str, init: float = 0.0) -> np.ndarray:
        """The state array ``name`` of ``var`` (created filled with ``init`` on first use)."""
        slots = self._slots.setdefault(var.ref(), {})
        slot = slots.get(name)
        if slot is None:
            slot = slots[name] = np.full(var.shape, init, dtype=var.dtype)
        return slot

    def _set_slot(self, var: Variable, name: str, value: Any) -> None:
        self._slots[var.ref()][name] = np.asarray(value, dtype=var.dtype)

    def get_slot(self, var: Variable, name: str) -> np.ndarray:
        """A copy of the state array ``name`` of ``var`` (``KeyError`` if it has none yet)."""
        return self._slots[var.ref()][name].copy()

    def get_slot_names(self) -> list[str]:
        """The names of the per-variable state arrays this optimizer may keep."""
        return list(self._slot_names)

    # ------------------------------------------------------------------ steps
    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Variable]]) -> Variable:
        """Apply one step to the variables of ``grads_and_vars``; returns :attr:`iterations`."""
        pairs = []
        for item in grads_and_vars:
            try:
                grad, var = item
            except (TypeError, ValueError):
                raise TypeError("apply_gradients expects (gradient, variable) pairs, e.g. "
                                f"zip(grads, variables); got the item {item!r}") from None
            pairs.append((grad, var))
        missing = [var for grad, var in pairs if grad is None]
        pairs = [(g, v) for g, v in pairs if g is not None]
        if not pairs:
            names = [_name(v) for v in missing]
            raise ValueError(f"No gradients provided for any variable: {names}. Check that the "
                             "loss is computed from the variables inside the GradientTape")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {[_name(v) for v in missing]} "
                          "when minimizing the loss; they are left unchanged", UserWarning,
                          stacklevel=2)
        grads, variables = [], []
        for grad, var in pairs:
            if not isinstance(var, Variable):
                raise TypeError(f"{type(self).__name__} updates chainrule.Variable objects; got "
                                f"a {type(var).__name__} paired with a gradient")
            if var.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__} can only update floating-point "
                                f"variables; '{var.name}' has dtype {var.dtype.name}")
            g = np.asarray(grad._value if isinstance(grad, _TensorLike) else grad,
                           dtype=var.dtype)
            if g.shape != var.shape:
                raise ValueError(f"Gradient for variable '{var.name}' has shape {g.shape}, but "
                                 f"the variable has shape {var.shape}")
            grads.append(g)
            variables.append(var)
        self._apply_checked(grads, variables)
        return self._iterations

    def _apply_checked(self, grads: list[np.ndarray], variables: list[Variable]) -> None:
        """One step of :meth:`apply_gradients` once its pairs are checked: ``grads`` are
        NumPy values of their variable's shape and dtype, ``variables`` floating-point
        Variables. (Staged functions call it directly when they can vouch for that.)"""
        grads = self._clip(grads)
        lr = self._learning_rate
        if type(lr) is not float:  # a schedule (a float is stored as one by the setter)
            lr = self.learning_rate
        if self.weight_decay:
            for var in variables:
                value = var._value
                var.assign(value - value * (self.weight_decay * lr))
        fresh = type(self)._update in _FRESH_UPDATES
        for g, var in zip(grads, variables, strict=True):
            current = var._value
            new = self._update(var, current, g, lr)
            if fresh and type(new) is np.ndarray and new.dtype == current.dtype and \
                    new.shape == current.shape:
                # a new array that nothing else holds (chainrule's own updates compute one):
                # it becomes the Variable's buffer, as ``assign`` would copy it into one
                var._value = new
                var._shared = False
            else:
                var.assign(new)
        steps = self._iterations
        if steps._shared:  # someone holds the current buffer: assign writes a new one
            steps.assign_add(1)
        else:  # in place, through the 0-d array's item (a ufunc call costs 7x more)
            count = steps._value
            count[()] = count[()] + 1

    def minimize(self, loss: Any, var_list: Any, tape: GradientTape | None = None) -> Variable:
        """Compute the gradients of ``loss`` and apply them (``tf.keras`` 2's ``minimize``).

        ``loss`` is a zero-argument callable returning the loss (computed on a new tape that
        watches ``var_list``), or a loss tensor recorded by ``tape`` (required then).
        ``var_list`` is a list of Variables, or a callable returning one (called after the
        loss, so variables a model creates on its first call are included).
        """
        if callable(loss) and not isinstance(loss, _TensorLike):
            tape = GradientTape()
            with tape:
                if not callable(var_list):
                    tape.watch(list(var_list))
                loss_value = loss()
        else:
            if tape is None:
                raise ValueError("`tape` is required when a `Tensor` loss is passed; pass a "
                                 "zero-argument callable to compute the loss on a new tape")
            loss_value = loss
        if callable(var_list):
            var_list = var_list()
        var_list = list(var_list)
        grads = tape.gradient(loss_value, var_list)
        return self.apply_gradients(zip(grads, var_list, strict=True))

    def _clip(self, grads: list[np.ndarray]) -> list[np.ndarray]:
        if self.clipnorm:
            out = []
            for g in grads:
                norm = float(np.sqrt(np.sum(np.square(g))))
                out.append(g * (self.clipnorm / max(norm, self.clipnorm)))
            return out
        if self.global_clipnorm:
            norm = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads)))
            scale = self.global_clipnorm / max(norm, self.global_clipnorm)
            return [g * scale for g in grads]
        if self.clipvalue:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _update(self, var: Variable, value: np.ndarray, grad: np.ndarray,
                lr: float) -> np.ndarray:
        """The new value of ``var`` (current ``value``) after one step with ``grad``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} learning_rate={self.learning_rate:g} "
                f"iterations={int(self._iterations._value)}>")


def _name(var: Any) -> str:
    return getattr(var, "name", None) or type(var).__name__


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum (``tf.keras.optimizers.SGD``).

    ``momentum == 0``: ``w = w - lr * g``. Otherwise, with ``velocity`` starting at 0::

        velocity = momentum * velocity - lr * g
        w = w + velocity                              # nesterov=False
        w = w + momentum * velocity - lr * g          # nesterov=True
    """

    _slot_names = ("momentum",)

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, name: str = "SGD", **kwargs: Any) -> None:
        super().__init__(learning_rate, name, **kwargs)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must be a float between [0, 1]; got {momentum!r}")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _update(self, var: Variable, value: np.ndarray, grad: np.ndarray,
                lr: float) -> np.ndarray:
        if self.momentum == 0.0:
            return value - lr * grad
        velocity = self.momentum * self._slot(var, "momentum") - lr * grad
        self._set_slot(var, "momentum", velocity)
        if self.nesterov:
            return value + (self.momentum * velocity - lr * grad)
        return value + velocity


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), as ``tf.keras.optimizers.Adam``. With ``t`` the step
    counted from 1 and ``m``, ``v`` (and ``v_hat``) starting at 0::

        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        v_hat = maximum(v_hat, v); v = v_hat          # amsgrad=True only
        w = w - alpha * m / (sqrt(v) + epsilon)
    """

    _slot_names = ("m", "v", "v_hat")

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 name: str = "Adam", **kwargs: Any) -> None:
        super().__init__(learning_rate, name, **kwargs)
        for key, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"`{key}` must be in [0, 1); got {value!r}")
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _update(self, var: Variable, value: np.ndarray, grad: np.ndarray,
                lr: float) -> np.ndarray:
        t = int(self._iterations._value) + 1
        alpha = lr * np.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        m = self._slot(var, "m")
        v = self._slot(var, "v")
        m = m + (grad - m) * (1.0 - self.beta_1)
        v = v + (np.square(grad) - v) * (1.0 - self.beta_2)
        self._set_slot(var, "m", m)
        self._set_slot(var, "v", v)
        if self.amsgrad:
            v = np.maximum(self._slot(var, "v_hat"), v)
            self._set_slot(var, "v_hat", v)
        return value - float(alpha) * m / (np.sqrt(v) + self.epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as
    ``tf.keras.optimizers.AdamW``: each step first shrinks every variable,
    ``w = w - w * weight_decay * lr``, then applies the :class:`Adam` rule."""

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, name: str = "AdamW", **kwargs: Any) -> None:
        if weight_decay is None:
            raise ValueError("AdamW needs a weight_decay (a number >= 0); use Adam for none")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, name,
                         weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012), as ``tf.keras.optimizers.RMSprop``. With every state array
    starting at 0::

        velocity = rho * velocity + (1 - rho) * g**2
        average_grad = rho * average_grad + (1 - rho) * g       # centered=True only
        denominator = velocity - average_grad**2 + epsilon      # centered=True
        denominator = velocity + epsilon                        # centered=False
        increment = lr * g / sqrt(denominator)
        momentum_buf = momentum * momentum_buf + increment; w = w - momentum_buf  # momentum > 0
        w = w - increment                                                        # momentum == 0
    """

    _slot_names = ("velocity", "average_grad", "momentum")

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 name: str = "RMSprop", **kwargs: Any) -> None:
        super().__init__(learning_rate, name, **kwargs)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"`rho` must be in [0, 1); got {rho!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must be in [0, 1]; got {momentum!r}")
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _update(self, var: Variable, value: np.ndarray, grad: np.ndarray,
                lr: float) -> np.ndarray:
        rho = self.rho
        velocity = rho * self._slot(var, "velocity") + (1.0 - rho) * np.square(grad)
        self._set_slot(var, "velocity", velocity)
        if self.centered:
            average = rho * self._slot(var, "average_grad") + (1.0 - rho) * grad
            self._set_slot(var, "average_grad", average)
            denominator = velocity - np.square(average) + self.epsilon
        else:
            denominator = velocity + self.epsilon
        increment = lr * grad / np.sqrt(denominator)
        if self.momentum > 0.0:
            buf = self.momentum * self._slot(var, "momentum") + increment
            self._set_slot(var, "momentum", buf)
            return value - buf
        return value - increment


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``tf.keras.optimizers.Adagrad``. With
    ``accumulator`` starting at ``initial_accumulator_value``::

        accumulator = accumulator + g**2
        w = w - lr * g / sqrt(accumulator + epsilon)
    """

    _slot_names = ("accumulator",)

    def __init__(self, learning_rate: LearningRate = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 name: str = "Adagrad", **kwargs: Any) -> None:
        super().__init__(learning_rate, name, **kwargs)
        if not initial_accumulator_value >= 0.0:
            raise ValueError("`initial_accumulator_value` must be non-negative; got "
                             f"{initial_accumulator_value!r}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _update(self, var: Variable, value: np.ndarray, grad: np.ndarray,
                lr: float) -> np.ndarray:
        acc = self._slot(var, "accumulator", self.initial_accumulator_value) + np.square(grad)
        self._set_slot(var, "accumulator", acc)
        return value - lr * grad / np.sqrt(acc + self.epsilon)


# ``_update`` methods known to return a newly computed array (never a slot, the gradient or
# the current value itself): their result can become the Variable's buffer without a copy.
_FRESH_UPDATES = {SGD._update, Adam._update, RMSprop._update, Adagrad._update}
