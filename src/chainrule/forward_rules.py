"""Derivative rules of the Jacobian helpers of :mod:`chainrule.runtime` (``basis``,
``jacobian_columns``, ``jacobian_rows``, ``by_output``, ...), which the drivers of
``jacfwd``, ``jacrev``, ``hessian`` and forward-mode ``grad`` call.

Guarantees: registered when chainrule is imported; ``basis``, ``element_count``,
``output_basis``, ``output_count`` and ``zero_tangent`` are non-differentiable (they make
constants); every other helper is linear in its first argument, so its JVP is the helper
applied to the tangent and its VJP is the matching ``*_adjoint`` (or inverse) helper. The
drivers can therefore be differentiated again, in either mode, to any depth. Rules use only
:mod:`chainrule.runtime` helpers, so they inline like the rest of the library's.
"""

from .rules.registry import defjvp, defvjp, nondifferentiable
from .runtime import (
    basis,
    by_argument,
    by_output,
    element_count,
    jacobian_columns,
    jacobian_columns_adjoint,
    jacobian_rows,
    jacobian_rows_adjoint,
    output_basis,
    output_count,
    zero_tangent,
)

__all__: list[str] = []

nondifferentiable(basis, element_count, output_basis, output_count, zero_tangent)
defjvp(jacobian_columns, lambda g, ans, cols, out, x: jacobian_columns(g, out, x), None, None)
defvjp(jacobian_columns, lambda g, ans, cols, out, x: jacobian_columns_adjoint(g, out, x),
       None, None)
defjvp(jacobian_columns_adjoint,
       lambda ct, ans, g, out, x: jacobian_columns_adjoint(ct, out, x), None, None)
defvjp(jacobian_columns_adjoint, lambda ct, ans, g, out, x: jacobian_columns(ct, out, x),
       None, None)
defjvp(jacobian_rows, lambda g, ans, rows, out, x: jacobian_rows(g, out, x), None, None)
defvjp(jacobian_rows, lambda g, ans, rows, out, x: jacobian_rows_adjoint(g, out, x),
       None, None)
defjvp(jacobian_rows_adjoint, lambda ct, ans, g, out, x: jacobian_rows_adjoint(ct, out, x),
       None, None)
defvjp(jacobian_rows_adjoint, lambda ct, ans, g, out, x: jacobian_rows(ct, out, x), None, None)
defjvp(by_output, lambda g, ans, jacs, out: by_output(g, out), None)
defvjp(by_output, lambda g, ans, jacs, out: by_argument(g, out), None)
defjvp(by_argument, lambda g, ans, jacs, out: by_argument(g, out), None)
defvjp(by_argument, lambda g, ans, jacs, out: by_output(g, out), None)
