"""``custom_gradient``: a function whose gradient the user supplies (``tf.custom_gradient``).

Guarantees:

* The decorated function returns ``(y, grad_fn)``; the caller gets ``y`` (a Tensor, or a
  tuple/list of them), recorded as ONE operation on every recording tape that tracks one of
  the arguments or a Variable read inside the function. The operations inside the function
  are not recorded.
* ``grad_fn(*dys)`` receives one Tensor cotangent per output (zeros for outputs that got none)
  and returns one gradient per positional argument (``None`` for no gradient). When the
  function read Variables, ``grad_fn(*dys, variables=[...])`` must return
  ``(argument_gradients, variable_gradients)``, as in TensorFlow.
* ``grad_fn`` runs once per backward pass. Inside an outer tape its operations are recorded
  like any rule body, so custom gradients can be differentiated again.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..rules.registry import Primitive, Rule, qualified_name
from .record import _record, _wrap_out
from .state import STATE, Recorder, new_id
from .tensor import _TensorLike, wrap
from .variable import Variable, watch_variable

__all__ = ["custom_gradient"]


def custom_gradient(f: Callable[..., Any] | None = None) -> Any:
    """Decorate ``f(*args) -> (y, grad_fn)`` so that tapes use ``grad_fn`` as its gradient.

    Example (a numerically stable gradient for ``log(1 + exp(x))``)::

        @chainrule.custom_gradient
        def log1pexp(x):
            e = chainrule.exp(x)
            def grad(dy):
                return dy * (1 - 1 / (1 + e))
            return chainrule.log(1 + e), grad
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        tapes, paused, reads = STATE.ctx
        seen: list[Any] = []
        STATE.ctx = ((), paused, seen)  # nothing inside f is recorded; Variable reads are seen
        try:
            result, grad_fn = f(*args, **kwargs)
        finally:
            STATE.ctx = (tapes, paused, reads)
        if reads is not None:
            reads.extend(seen)
        variables: list[Variable] = []
        for v in seen:
            if v.dtype.kind in "fc" and all(v is not w for w in variables):
                variables.append(v)
        if variables and not _accepts_variables(grad_fn):
            raise TypeError("If using @custom_gradient with a function that uses variables, "
                            "then grad_fn must accept a keyword argument 'variables'.")
        for rec in tapes:
            for v in variables:
                if v.trainable and rec.watch_accessed and v._id not in rec.ids:
                    watch_variable(rec, v)
        return _record_call(f, grad_fn, args, variables, result, tapes)

    return decorated


def _accepts_variables(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "variables" or p.kind is p.VAR_KEYWORD for p in params)


def _raw(x: Any) -> Any:
    if isinstance(x, Variable):
        x._shared = True  # the recorded value must survive later assignments
    if isinstance(x, _TensorLike):
        return x._value
    return np.asarray(x)[()] if isinstance(x, (float, int)) else x


def _record_call(f: Any, grad_fn: Any, args: tuple[Any, ...], variables: list[Variable],
                 result: Any, tapes: tuple[Recorder, ...]) -> Any:
    multi = isinstance(result, (tuple, list))
    out_vals = [_raw(o) for o in result] if multi else [_raw(result)]
    out = (list(out_vals) if type(result) is list else tuple(out_vals)) if multi else out_vals[0]
    inputs = tuple(args) + tuple(variables)
    uids = [(i, -1, a._id) for i, a in enumerate(inputs) if isinstance(a, _TensorLike) and a._id]
    floating = [getattr(v, "dtype", np.dtype(object)).kind in "fc" for v in out_vals]
    oid: Any = 0
    prim = None
    for rec in tapes:
        parents = tuple(u for u in uids if u[2] in rec.ids)
        if not parents or not any(floating):
            continue
        if not oid:
            oid = (tuple(new_id() if fl else 0 for fl in floating) if multi else new_id())
            prim = _primitive(f, grad_fn, len(args), len(inputs), variables, out, multi)
        _record(rec, (prim, tuple(_raw(a) for a in inputs), None, inputs, parents, out, oid),
                oid)
    return _wrap_out(out, oid)


def _primitive(f: Any, grad_fn: Any, nargs: int, ninputs: int, variables: list[Variable],
               out: Any, multi: bool) -> Primitive:
    """A one-off primitive (not registered) whose rules call ``grad_fn`` once per pass."""
    name = f"custom_gradient({qualified_name(f)})"
    prim = Primitive(fn=f, name=name)
    cache: list[Any] = []

    def all_grads(g: Any) -> list[Any]:
        if cache and cache[0] is g:
            return cache[1]
        dys = tuple(g) if multi else (g,)
        recorded = isinstance(dys[0], _TensorLike)
        dys = tuple(d if isinstance(d, _TensorLike) else wrap(d, 0) for d in dys)
        if variables:
            in_grads, var_grads = grad_fn(*dys, variables=list(variables))
            var_grads = list(var_grads)
        else:
            in_grads, var_grads = grad_fn(*dys), []
        in_grads = list(in_grads) if isinstance(in_grads, (list, tuple)) else [in_grads]
        if len(in_grads) != nargs or len(var_grads) != len(variables):
            raise ValueError(
                f"{name}: grad_fn returned {len(in_grads)} input gradients and "
                f"{len(var_grads)} variable gradients for {nargs} inputs and "
                f"{len(variables)} variables")
        grads = in_grads + var_grads
        if not recorded:
            grads = [x._value if isinstance(x, _TensorLike) else x for x in grads]
        cache[:] = [g, grads]
        return grads

    for i in range(ninputs):
        prim.vjps[i] = Rule(fn=lambda g, ans, *args, _i=i: all_grads(g)[_i], kind="vjp",
                            argnum=i)
    return prim
