"""Rules for Python's operators and builtins: ``+ - * / ** @``, unary ``-``/``+``, ``abs``,
``pow``, indexing, ``sum``, ``max``/``min`` of two numbers, ``float``.

The transformer maps each operator of the user's code to the matching :mod:`operator`
function and looks its rules up here; the tape's ``Tensor`` dunder methods record the same
functions. Comparisons, ``//``, ``len`` and friends are non-differentiable.
"""

import builtins
import operator

import numpy as np

from ..runtime import (
    getitem_adjoint,
    matmul_adjoint_x,
    matmul_adjoint_y,
    sum_adjoint,
)
from .registry import defjvp, defvjp, nondifferentiable

_b = dict(broadcasts=True)

defvjp(operator.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g, **_b)
defjvp(operator.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g, **_b)
defvjp(operator.sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g, **_b)
defjvp(operator.sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g, **_b)
defvjp(operator.mul, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x, **_b)
defjvp(operator.mul, lambda g, ans, x, y: g * y, lambda g, ans, x, y: x * g, **_b)
defvjp(operator.truediv, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y, **_b)
defjvp(operator.truediv, lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y, **_b)
defvjp(
    operator.pow,
    lambda g, ans, x, y: g * y * x ** (y - 1),
    lambda g, ans, x, y: g * ans * np.log(x),
    **_b,
)
defjvp(
    operator.pow,
    lambda g, ans, x, y: g * y * x ** (y - 1),
    lambda g, ans, x, y: g * ans * np.log(x),
    **_b,
)
defvjp(builtins.pow, lambda g, ans, x, y: g * y * x ** (y - 1),
       lambda g, ans, x, y: g * ans * np.log(x), **_b)
defjvp(builtins.pow, lambda g, ans, x, y: g * y * x ** (y - 1),
       lambda g, ans, x, y: g * ans * np.log(x), **_b)
defvjp(operator.mod, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.floor_divide(x, y),
       **_b)
defjvp(operator.mod, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.floor_divide(x, y),
       **_b)
defvjp(operator.matmul, lambda g, ans, x, y: matmul_adjoint_x(g, x, y),
       lambda g, ans, x, y: matmul_adjoint_y(g, x, y))
defjvp(operator.matmul, lambda g, ans, x, y: g @ y, lambda g, ans, x, y: x @ g)
defvjp(operator.neg, lambda g, ans, x: -g)
defjvp(operator.neg, lambda g, ans, x: -g)
defvjp(operator.pos, lambda g, ans, x: g)
defjvp(operator.pos, lambda g, ans, x: g)
defvjp(operator.abs, lambda g, ans, x: g * np.sign(x))
defjvp(operator.abs, lambda g, ans, x: g * np.sign(x))
defvjp(builtins.abs, lambda g, ans, x: g * np.sign(x))
defjvp(builtins.abs, lambda g, ans, x: g * np.sign(x))
defvjp(builtins.float, lambda g, ans, x: g)
defjvp(builtins.float, lambda g, ans, x: g)
defvjp(builtins.max, lambda g, ans, x, y: g * (x >= y), lambda g, ans, x, y: g * (x < y))
defjvp(builtins.max, lambda g, ans, x, y: g * (x >= y), lambda g, ans, x, y: g * (x < y))
defvjp(builtins.min, lambda g, ans, x, y: g * (x <= y), lambda g, ans, x, y: g * (x > y))
defjvp(builtins.min, lambda g, ans, x, y: g * (x <= y), lambda g, ans, x, y: g * (x > y))
defvjp(operator.getitem, lambda g, ans, x, index: getitem_adjoint(g, x, index), None)
defjvp(operator.getitem, lambda g, ans, x, index: g[index], None)
defvjp(builtins.sum, lambda g, ans, x: sum_adjoint(g, x))
defjvp(builtins.sum, lambda g, ans, x: sum(g))

nondifferentiable(
    operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne,
    operator.not_, operator.truth, operator.floordiv, operator.and_, operator.or_,
    operator.xor, operator.invert, operator.is_, operator.is_not, operator.contains,
    builtins.len, builtins.int, builtins.bool, builtins.round, builtins.range,
    builtins.isinstance, builtins.print, builtins.type,
)
