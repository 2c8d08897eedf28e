"""chainrule: automatic differentiation for NumPy code.

Two engines share one rule library: a source transformer that generates readable
derivative code (:func:`grad`, :func:`value_and_grad`, :func:`vjp`, ...) and an eager
:class:`GradientTape` with TensorFlow 2's API.
"""

from .api import elementwise_grad, grad, source, value_and_grad, vjp
from .errors import MissingRuleError, TransformError, UnconnectedGradientError
from .rules import defattr, defjvp, defmethod, defvjp, nondifferentiable
from .testing import check_grads

__version__ = "0.1.0"

__all__ = [
    "MissingRuleError",
    "TransformError",
    "UnconnectedGradientError",
    "check_grads",
    "elementwise_grad",
    "grad",
    "source",
    "value_and_grad",
    "vjp",
    "defattr",
    "defjvp",
    "defmethod",
    "defvjp",
    "nondifferentiable",
]
