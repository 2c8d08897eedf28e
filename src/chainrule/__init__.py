"""chainrule: automatic differentiation for NumPy code.

Two engines share one rule library: a source transformer that generates readable
derivative code (:func:`grad`, :func:`value_and_grad`, :func:`vjp`, ...) and an eager
:class:`GradientTape` with TensorFlow 2's API. :func:`function` stages tape code into the
first engine's generated code (TensorFlow's ``tf.function``).
"""

from .api import (
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    make_jvp,
    source,
    value_and_grad,
    vjp,
)
from .errors import MissingRuleError, TransformError, UnconnectedGradientError
from .rules import defattr, defjvp, defmethod, defvjp, nondifferentiable
from .testing import check_grads

# --- eager tape ---
# isort: split
from . import initializers, losses, nn, optimizers
from .tape import (
    GradientTape,
    Reference,
    Tensor,
    UnconnectedGradients,
    Variable,
    abs,
    add,
    cast,
    clip_by_value,
    complex64,
    complex128,
    concat,
    constant,
    convert_to_tensor,
    cos,
    custom_gradient,
    divide,
    exp,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    linspace,
    log,
    matmul,
    maximum,
    minimum,
    multiply,
    negative,
    ones,
    ones_like,
    pow,
    range,
    reduce_max,
    reduce_mean,
    reduce_min,
    reduce_prod,
    reduce_sum,
    reshape,
    sigmoid,
    sin,
    sqrt,
    square,
    stack,
    stop_gradient,
    subtract,
    tan,
    tanh,
    transpose,
    uint8,
    where,
    zeros,
    zeros_like,
)

# --- end eager tape ---

# --- @chainrule.function (tape code staged into generated adjoint source) ---
# isort: split
from .staging import function

# --- teaching and inspection ---
# isort: split
from .display import render, side_by_side

# isort: split
from .rules.registry import end_builtin_rules as _end_builtin_rules

_end_builtin_rules()  # rules registered from here on are the user's

__version__ = "0.1.0"

__all__ = [
    "MissingRuleError",
    "TransformError",
    "UnconnectedGradientError",
    "check_grads",
    "elementwise_grad",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "make_jvp",
    "source",
    "value_and_grad",
    "vjp",
    "defattr",
    "defjvp",
    "defmethod",
    "defvjp",
    "nondifferentiable",
    # --- eager tape ---
    "initializers",
    "losses",
    "nn",
    "optimizers",
    "GradientTape",
    "Tensor",
    "Variable",
    "Reference",
    "UnconnectedGradients",
    "constant",
    "convert_to_tensor",
    "custom_gradient",
    "abs",
    "add",
    "cast",
    "clip_by_value",
    "concat",
    "cos",
    "divide",
    "exp",
    "linspace",
    "log",
    "matmul",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "ones",
    "ones_like",
    "pow",
    "range",
    "reduce_max",
    "reduce_mean",
    "reduce_min",
    "reduce_prod",
    "reduce_sum",
    "reshape",
    "sigmoid",
    "sin",
    "sqrt",
    "square",
    "stack",
    "stop_gradient",
    "subtract",
    "tan",
    "tanh",
    "transpose",
    "where",
    "zeros",
    "zeros_like",
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "complex64",
    "complex128",
    # --- end eager tape ---
    "function",
    # --- teaching and inspection ---
    "render",
    "side_by_side",
]
