"""Neural-network building blocks that work on Tensors, Variables and NumPy arrays.

Sections (each self-contained; later sections may use earlier ones):

* **Activations** — ``relu``, ``softmax``, ``log_softmax``: primitives of their own, with
  VJP/JVP rules registered in the shared rule library, so both the GradientTape and the
  source transformer differentiate them, and their rule bodies are written with NumPy calls
  that also run on Tensors (higher-order derivatives on nested tapes).

Guarantees: every function returns a :class:`chainrule.Tensor` (recorded on the recording
tapes when an input is tracked); ``softmax`` and ``log_softmax`` are computed with the
maximum subtracted, so large logits never overflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .rules.registry import defjvp, defvjp
from .tape.record import apply
from .tape.tensor import Tensor

__all__ = ["relu", "softmax", "log_softmax", "relu_value", "softmax_value", "log_softmax_value"]


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
