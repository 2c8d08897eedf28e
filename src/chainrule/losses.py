"""Loss functions for training on the GradientTape (``tf.keras.losses`` over NumPy).

Two forms, as in Keras:

* functions ``loss(y_true, y_pred, ...)`` returning the loss of each sample (the mean, or
  for cross-entropies the sum, over the last axis): :func:`mean_squared_error` (``mse``),
  :func:`mean_absolute_error` (``mae``), :func:`binary_crossentropy`,
  :func:`categorical_crossentropy`, :func:`sparse_categorical_crossentropy`;
* classes (:class:`MeanSquaredError`, ...) whose call reduces those per-sample losses to
  one number (``reduction="sum_over_batch_size"``, the mean, by default), optionally
  weighted by ``sample_weight``.

Guarantees:

* Every loss takes Tensors, Variables, NumPy arrays or lists, returns a
  :class:`chainrule.Tensor`, and is recorded on recording tapes, so ``tape.gradient`` of a
  loss reaches the model's variables. ``y_true`` is cast to ``y_pred``'s dtype (float64 if
  ``y_pred`` is not floating). When the ranks differ by one and the larger has a last axis
  of 1, the two are brought to the same rank first, as Keras does (so ``y_true`` of shape
  ``(n,)`` against ``y_pred`` of shape ``(n, 1)`` compares sample by sample, never
  ``(n, n)`` by broadcasting).
* Numerically stable, as Keras documents: with ``from_logits=True`` the cross-entropies are
  computed from the logits by log-sum-exp (``logaddexp`` for the binary case,
  ``log_softmax`` for the categorical ones), never overflowing and with exact gradients;
  with probabilities, ``y_pred`` is clipped to ``[1e-7, 1 - 1e-7]`` before the logarithm
  (categorical ones first divide by their sum along ``axis``), so the loss is finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .nn import log_softmax
from .tape import ops as _ops
from .tape.tensor import Tensor, _TensorLike, convert_to_tensor

__all__ = [
    "mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "EPSILON",
]

EPSILON = 1e-7
"""The clipping margin of probability inputs (Keras's ``backend.epsilon()``)."""


# =============================================================================== helpers

def _float_pred(y_pred: Any) -> Any:
    """``y_pred`` as something with ``shape``/``dtype``, floating (Variables stay Variables so
    that reading them is recorded)."""
    if not isinstance(y_pred, _TensorLike):
        y_pred = convert_to_tensor(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = _ops.cast(y_pred, np.float64)
    return y_pred


def _same_rank(a: Any, b: Any) -> tuple[Any, Any]:
    """Keras's ``squeeze_or_expand_to_same_rank``: when the ranks differ by one and the
    larger has a last axis of 1, expand a rank-1 smaller one, else squeeze the larger."""
    ra, rb = a.ndim, b.ndim
    if ra == rb + 1 and a.shape[-1] == 1:
        return (a, b[..., None]) if rb == 1 else (a[..., 0], b)
    if rb == ra + 1 and b.shape[-1] == 1:
        return (a[..., None], b) if ra == 1 else (a, b[..., 0])
    return a, b


def _prepare(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    y_pred = _float_pred(y_pred)
    y_true = _ops.cast(y_true, y_pred.dtype)
    return _same_rank(y_true, y_pred)


def _mean(x: Any, axis: int) -> Tensor:
    return _ops.reduce_mean(x, axis=axis) if x.ndim else convert_to_tensor(x)


def _sum(x: Any, axis: int) -> Tensor:
    return _ops.reduce_sum(x, axis=axis) if x.ndim else convert_to_tensor(x)


# =============================================================================== functions

def mean_squared_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(square(y_true - y_pred), axis=-1)``: one value per sample."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return _mean(_ops.square(y_pred - y_true), -1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Tensor:
    """``mean(abs(y_true - y_pred), axis=-1)``: one value per sample."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return _mean(_ops.abs(y_pred - y_true), -1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Binary cross-entropy of labels ``y_true`` in [0, 1] (0 or 1, or soft) against
    probabilities ``y_pred`` (or logits, ``from_logits=True``), averaged along ``axis``.

    Logits: ``logaddexp(0, x) - x * y`` (``log(1 + exp(x)) - x * y`` without overflow).
    Probabilities: ``-(y * log(p) + (1 - y) * log(1 - p))`` with ``p`` clipped to
    ``[EPSILON, 1 - EPSILON]``. ``label_smoothing`` moves labels towards 0.5:
    ``y * (1 - label_smoothing) + 0.5 * label_smoothing``.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        per_entry = np.logaddexp(0.0, y_pred) - y_pred * y_true
    else:
        p = _ops.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
        per_entry = -(y_true * _ops.log(p) + (1.0 - y_true) * _ops.log(1.0 - p))
    return _mean(per_entry, axis)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Tensor:
    """Cross-entropy of one-hot (or soft) labels ``y_true`` against class probabilities
    ``y_pred`` (or logits, ``from_logits=True``) along ``axis``: one value per sample.

    Logits: ``-sum(y * log_softmax(x))``. Probabilities: ``p = y_pred / sum(y_pred)``
    clipped to ``[EPSILON, 1 - EPSILON]``, then ``-sum(y * log(p))``. ``label_smoothing``:
    ``y * (1 - label_smoothing) + label_smoothing / num_classes``.
    """
    y_pred = _float_pred(y_pred)
    y_true = _ops.cast(y_true, y_pred.dtype)
    if y_true.shape != y_pred.shape:
        raise ValueError("Arguments `target` and `output` must have the same shape. "
                         f"Received: target.shape={y_true.shape}, output.shape={y_pred.shape}")
    if label_smoothing:
        n = y_pred.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n
    if from_logits:
        log_p = log_softmax(y_pred, axis=axis)
    else:
        p = y_pred / _ops.reduce_sum(y_pred, axis=axis, keepdims=True)
        log_p = _ops.log(_ops.clip_by_value(p, EPSILON, 1.0 - EPSILON))
    return -_sum(y_true * log_p, axis)


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    axis: int = -1) -> Tensor:
    """:func:`categorical_crossentropy` with integer class labels: ``y_true`` has the shape
    of ``y_pred`` without its last axis (or with a last axis of 1). Labels outside
    ``[0, num_classes)`` are a ``ValueError``. Only ``axis=-1`` is supported (as Keras)."""
    if axis != -1:
        raise ValueError(f"sparse_categorical_crossentropy supports axis=-1 only, got {axis}")
    y_pred = _float_pred(y_pred)
    labels = np.asarray(y_true._value if isinstance(y_true, _TensorLike) else y_true)
    if labels.ndim == y_pred.ndim and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(f"Labels of shape {labels.shape} do not match predictions of shape "
                         f"{y_pred.shape}: expected labels of shape {y_pred.shape[:-1]}")
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            raise ValueError("sparse_categorical_crossentropy expects integer class labels")
        labels = labels.astype(np.int64)
    elif labels.dtype.kind not in "iu":
        raise TypeError(f"Labels must be integers, got dtype {labels.dtype}")
    n = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= n):
        raise ValueError(f"Received a label value outside the valid range of [0, {n}): "
                         f"min {labels.min()}, max {labels.max()}")
    one_hot = (labels[..., None] == np.arange(n)).astype(y_pred.dtype)
    if from_logits:
        log_p = log_softmax(y_pred, axis=-1)
    else:
        p = y_pred / _ops.reduce_sum(y_pred, axis=-1, keepdims=True)
        log_p = _ops.log(_ops.clip_by_value(p, EPSILON, 1.0 - EPSILON))
    return -_ops.reduce_sum(one_hot * log_p, axis=-1)


# =============================================================================== classes

_REDUCTIONS = ("sum_over_batch_size", "sum", "none")


class Loss:
    """A loss with a reduction (``tf.keras.losses.Loss``).

    ``loss(y_true, y_pred, sample_weight=None)`` computes the per-sample losses with
    :meth:`call`, multiplies them by ``sample_weight`` when given (broadcast, e.g. one weight
    per sample), then reduces: ``"sum_over_batch_size"`` (the default) divides the sum by the
    number of per-sample values, ``"sum"`` sums, ``"none"`` (or None) returns them as is.
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None) -> None:
        reduction = "none" if reduction is None else reduction
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid reduction {reduction!r}; expected one of "
                             f"{', '.join(_REDUCTIONS)} or None")
        self.reduction = reduction
        self.name = name or type(self).__name__

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        """The per-sample losses; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Tensor:
        losses = self.call(y_true, y_pred)
        if sample_weight is not None:
            weight = _ops.cast(sample_weight, losses.dtype)
            losses, weight = _same_rank(losses, weight)
            losses = losses * weight
        if self.reduction == "none":
            return losses
        total = _ops.reduce_sum(losses)
        if self.reduction == "sum":
            return total
        return total / max(int(np.size(losses)), 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class MeanSquaredError(Loss):
    """:func:`mean_squared_error`, reduced."""

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return mean_squared_error(y_true, y_pred)


class MeanAbsoluteError(Loss):
    """:func:`mean_absolute_error`, reduced."""

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return mean_absolute_error(y_true, y_pred)


class BinaryCrossentropy(Loss):
    """:func:`binary_crossentropy`, reduced."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None) -> None:
        super().__init__(reduction, name)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing,
                                   self.axis)


class CategoricalCrossentropy(Loss):
    """:func:`categorical_crossentropy`, reduced."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None) -> None:
        super().__init__(reduction, name)
        self.from_logits, self.label_smoothing, self.axis = from_logits, label_smoothing, axis

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return categorical_crossentropy(y_true, y_pred, self.from_logits,
                                        self.label_smoothing, self.axis)


class SparseCategoricalCrossentropy(Loss):
    """:func:`sparse_categorical_crossentropy`, reduced."""

    def __init__(self, from_logits: bool = False, reduction: str | None = "sum_over_batch_size",
                 name: str | None = None) -> None:
        super().__init__(reduction, name)
        self.from_logits = from_logits

    def call(self, y_true: Any, y_pred: Any) -> Tensor:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)
