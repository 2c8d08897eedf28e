"""The few functions staged code calls that the rule registry must know about.

* :func:`watch_point` marks where a value starts being watched by a staged tape (a
  ``tape.watch(x)`` after ``x`` was used, or a gradient with respect to an intermediate
  value): ``watch_point(x, probe) = x + probe`` with ``probe = 0`` at run time, so the value
  is unchanged and the gradient with respect to ``probe`` is the gradient with respect to
  ``x`` from that point on. Its VJP gives ``probe`` the full cotangent of ``x`` (no
  unbroadcasting), which is exact for a ``probe`` of ``x``'s shape and what staged code
  needs for the scalar placeholder it passes.
* :func:`stop_gradient_value` is what every way of leaving the eager tape becomes in staged
  code (``.numpy()``, ``float()``, ``math.*``, ``np.asarray``, ``chainrule.stop_gradient``, a
  cast to an integer dtype): the value as NumPy, registered non-differentiable.
* :func:`passthrough` returns its argument and is non-differentiable: the outputs of a tape
  block that no gradient takes as a target leave the extracted function through it, so no
  derivative code is generated for them.
* :func:`axis_arg` converts a TensorFlow ``axis`` argument (an int, a list, a Tensor) to
  what NumPy takes; it is non-differentiable.
* :func:`select_gradient` is the ``None``/zeros choice of an inner tape's gradient inside an
  enclosing staged tape: an ordinary Python function, differentiated through.

Guarantees: the rules are registered when :mod:`chainrule.staging` is imported (always, with
``import chainrule``), written with NumPy calls only, and covered by rows of
``tests/rule_cases.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rules.registry import defjvp, defvjp, nondifferentiable

__all__ = ["watch_point", "stop_gradient_value", "axis_arg", "passthrough",
           "select_gradient"]


def watch_point(x: Any, probe: Any) -> Any:
    """``x + probe`` (``probe`` is 0 in staged code): the gradient with respect to ``probe``
    is the gradient with respect to ``x`` from here on."""
    return x + probe


defvjp(watch_point, lambda g, ans, x, probe: g, lambda g, ans, x, probe: g,
       broadcasts=False, name="chainrule.staging.watch_point")
defjvp(watch_point, lambda g, ans, x, probe: g, lambda g, ans, x, probe: g,
       broadcasts=False, name="chainrule.staging.watch_point")


def stop_gradient_value(x: Any) -> Any:
    """``x`` as an untracked NumPy value (a scalar for 0-d values); lists become arrays."""
    numpy_method = getattr(x, "numpy", None)
    if numpy_method is not None and not isinstance(x, np.ndarray):
        return numpy_method()
    value = np.array(x)
    return value[()] if value.ndim == 0 else value


def axis_arg(axis: Any) -> Any:
    """A TensorFlow ``axis`` argument as NumPy takes it: ``None``, an int or a tuple."""
    if axis is None:
        return None
    if isinstance(axis, (list, tuple, np.ndarray)):
        return tuple(int(a) for a in np.ravel(axis))
    return int(axis)


def passthrough(x: Any) -> Any:
    """``x`` itself, as a value no derivative goes through."""
    return x


nondifferentiable(stop_gradient_value, name="chainrule.staging.stop_gradient_value")
nondifferentiable(passthrough, name="chainrule.staging.passthrough")
nondifferentiable(axis_arg, name="chainrule.staging.axis_arg")


def select_gradient(g: Any, connected: Any, fallback: Any) -> Any:
    """``g`` when the source was connected to the target, else ``fallback``."""
    if connected:
        return g
    return fallback
