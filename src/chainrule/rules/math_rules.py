"""Rules for Python's :mod:`math` module.

Guarantees:

* Every differentiable ``math`` function here has a VJP and a JVP rule, checked against
  central finite differences in float64 by ``tests/test_rules.py``.
* Rule bodies use ``math.*`` on the primal values: ``math`` functions take Python scalars,
  so their primal inputs are scalars, and ``math.cos`` on a float is an order of magnitude
  faster than ``np.cos`` (this is what makes scalar loops fast). A user's ``math.sin(t)`` on
  a :class:`chainrule.Tensor` leaves the tape (the tensor becomes a float); inside a recorded
  backward pass the tape records these rules' own ``math`` calls as primitives, so nested
  tapes still differentiate them.
* ``math.gamma`` and ``math.lgamma`` have no rules (their derivative needs the digamma
  function, which NumPy lacks); the integer-valued functions are non-differentiable.
"""

import math

import numpy as np

from .registry import defjvp, defvjp, nondifferentiable


def _both(fn, *rules):
    """Register the same rules for reverse and forward mode (scalar functions: ``g * f'``)."""
    defvjp(fn, *rules)
    defjvp(fn, *rules)


_both(math.sin, lambda g, ans, x: g * math.cos(x))
_both(math.cos, lambda g, ans, x: -g * math.sin(x))
_both(math.tan, lambda g, ans, x: g * (1 + ans**2))
_both(math.asin, lambda g, ans, x: g / math.sqrt(1 - x**2))
_both(math.acos, lambda g, ans, x: -g / math.sqrt(1 - x**2))
_both(math.atan, lambda g, ans, x: g / (1 + x**2))
_both(
    math.atan2,
    lambda g, ans, y, x: g * x / (x**2 + y**2),
    lambda g, ans, y, x: -g * y / (x**2 + y**2),
)
_both(math.sinh, lambda g, ans, x: g * math.cosh(x))
_both(math.cosh, lambda g, ans, x: g * math.sinh(x))
_both(math.tanh, lambda g, ans, x: g * (1 - ans**2))
_both(math.asinh, lambda g, ans, x: g / math.sqrt(x**2 + 1))
_both(math.acosh, lambda g, ans, x: g / math.sqrt(x**2 - 1))
_both(math.atanh, lambda g, ans, x: g / (1 - x**2))
_both(math.exp, lambda g, ans, x: g * ans)
_both(math.expm1, lambda g, ans, x: g * (ans + 1))
_both(  # math.log(x[, base]) = ln(x) / ln(base)
    math.log,
    lambda g, ans, x, base=math.e: g / (x * math.log(base)),
    lambda g, ans, x, base=math.e: -g * ans / (base * math.log(base)),
)
_both(math.log2, lambda g, ans, x: g / (x * math.log(2)))
_both(math.log10, lambda g, ans, x: g / (x * math.log(10)))
_both(math.log1p, lambda g, ans, x: g / (1 + x))
_both(math.sqrt, lambda g, ans, x: g / (2 * ans))
_both(
    math.pow,
    lambda g, ans, x, y: g * y * x ** (y - 1),
    lambda g, ans, x, y: g * ans * math.log(x),
)
_both(  # two-argument form
    math.hypot,
    lambda g, ans, x, y: g * x / ans,
    lambda g, ans, x, y: g * y / ans,
)
_both(math.fabs, lambda g, ans, x: g * np.sign(x))
_both(math.copysign, lambda g, ans, x, y: g * np.sign(x) * np.copysign(1.0, y), None)
_both(math.fmod, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.trunc(x / y))
_both(math.erf, lambda g, ans, x: g * 2 / math.sqrt(math.pi) * math.exp(-(x**2)))
_both(math.erfc, lambda g, ans, x: -g * 2 / math.sqrt(math.pi) * math.exp(-(x**2)))
if hasattr(math, "cbrt"):  # Python >= 3.11
    _both(math.cbrt, lambda g, ans, x: g / (3 * ans**2))
    _both(math.exp2, lambda g, ans, x: g * ans * math.log(2))
_both(math.degrees, lambda g, ans, x: g * (180 / math.pi))
_both(math.radians, lambda g, ans, x: g * (math.pi / 180))

nondifferentiable(
    math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite, math.isclose,
    math.factorial, math.comb, math.perm, math.gcd,
)
