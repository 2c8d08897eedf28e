"""``check_grads``: compare derivatives with central finite differences in float64.

Guarantees: the check is an inner-product test in a random direction (``<v, J u>`` from the
engine against ``<v, (f(x + eps u) - f(x - eps u)) / 2 eps>``), so it exercises every
argument at once; a mismatch raises :class:`AssertionError` showing both numbers. NaN is
never hidden: a NaN on either side fails the check.
"""

from __future__ import annotations

import itertools
import linecache
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["check_grads", "numeric_jvp"]

_MODES = ("rev", "fwd", "tape")


def _differentiable(x: Any) -> bool:
    if isinstance(x, (bool, int, np.integer, np.bool_)):
        return False
    if isinstance(x, np.ndarray) and x.dtype.kind in "biu":
        return False
    return True


def _as_float(x: Any) -> Any:
    if not _differentiable(x):
        return x
    if isinstance(x, float):
        return x
    return np.asarray(x, dtype=np.float64)


def _add(x: Any, eps: float, u: Any) -> Any:
    if u is None:
        return x
    if isinstance(x, float):
        return x + eps * float(u)
    return x + eps * u


def _flat_out(y: Any) -> np.ndarray:
    if isinstance(y, (tuple, list)):
        if not y:
            return np.zeros(0)
        return np.concatenate([np.ravel(np.asarray(e, dtype=np.float64)) for e in y])
    return np.ravel(np.asarray(_plain(y), dtype=np.float64))


def _plain(y: Any) -> Any:
    numpy = getattr(y, "numpy", None)
    return numpy() if callable(numpy) else y


def numeric_jvp(f: Callable[..., Any], args: Sequence[Any], tangents: Sequence[Any],
                eps: float = 1e-6) -> np.ndarray:
    """Central finite difference of ``f`` at ``args`` in direction ``tangents`` (flattened)."""
    plus = f(*[_add(a, eps, u) for a, u in zip(args, tangents)])
    minus = f(*[_add(a, -eps, u) for a, u in zip(args, tangents)])
    return (_flat_out(plus) - _flat_out(minus)) / (2 * eps)


def _random_like(x: Any, rng: np.random.Generator) -> Any:
    if not _differentiable(x):
        return None
    if isinstance(x, float):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x))


def _structure_like(y: Any, rng: np.random.Generator) -> Any:
    if isinstance(y, tuple):
        return tuple(_structure_like(e, rng) for e in y)
    if isinstance(y, list):
        return [_structure_like(e, rng) for e in y]
    y = _plain(y)
    if np.ndim(y) == 0:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(y))


def _inner(a: Any, b: Any) -> float:
    if isinstance(a, (tuple, list)):
        return float(sum(_inner(p, q) for p, q in zip(a, b)))
    if a is None or b is None:
        return 0.0
    return float(np.sum(np.asarray(_plain(a), dtype=np.float64) * np.asarray(_plain(b))))


def _compare(what: str, exact: Any, numeric: Any, rtol: float, atol: float) -> None:
    exact_a = np.asarray(exact, dtype=np.float64)
    numeric_a = np.asarray(numeric, dtype=np.float64)
    if exact_a.shape != numeric_a.shape or not np.allclose(
        exact_a, numeric_a, rtol=rtol, atol=atol, equal_nan=False
    ):
        raise AssertionError(
            f"{what} does not match central finite differences:\n"
            f"  exact:   {exact_a!r}\n  numeric: {numeric_a!r}\n"
            f"  (rtol={rtol}, atol={atol})"
        )


def check_grads(
    f: Callable[..., Any],
    args: Sequence[Any],
    order: int = 1,
    modes: Sequence[str] = ("rev", "fwd"),
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int = 0,
) -> None:
    """Check ``f``'s derivatives at ``args`` against central finite differences in float64.

    ``modes``: ``"rev"`` (source-transformed :func:`chainrule.vjp`), ``"fwd"``
    (:func:`chainrule.jvp`), ``"tape"`` (:class:`chainrule.GradientTape`). ``order=2``
    also checks the derivative of the derivative, and so on. Raises ``AssertionError``
    showing both values on a mismatch.
    """
    for mode in modes:
        if mode not in _MODES:
            raise ValueError(f"check_grads: unknown mode {mode!r}; use one of {_MODES}")
    args = tuple(_as_float(a) for a in args)
    rng = np.random.default_rng(seed)
    tangents = tuple(_random_like(a, rng) for a in args)
    y = f(*args)
    cot = _structure_like(y, rng)
    numeric = numeric_jvp(f, args, tangents, eps)
    for mode in modes:
        if mode == "rev":
            from .api import vjp

            out, pullback = vjp(f, *args)
            _compare("value returned by vjp", _flat_out(out), _flat_out(y), 1e-12, 1e-12)
            cts = pullback(cot)
            exact = _inner(cts, tangents)
            _compare(f"reverse mode <v, J u> of {_name(f)}", exact,
                     float(np.dot(_flat_out(cot), numeric)), rtol, atol)
            if order > 1:
                from .api import _pair

                pair = _pair(f, len(args))
                rev_fn = _generated_wrapper(
                    f"vjp_of_{_name(f)}", len(args),
                    "bwd(cotangent, fwd({args})[1])",
                    {"fwd": pair.fwd, "bwd": pair.bwd, "cotangent": cot})
                # up to third order in reverse mode; beyond, forward over reverse (each
                # reverse pass roughly doubles the generated code)
                inner = ("rev",) if order <= 3 else ("fwd",)
                check_grads(rev_fn, args, order - 1, inner, eps, rtol, atol, seed + 1)
        elif mode == "fwd":
            from .api import jvp

            out, tan = jvp(f, args, tangents)
            _compare("value returned by jvp", _flat_out(out), _flat_out(y), 1e-12, 1e-12)
            _compare(f"forward mode J u of {_name(f)}", _flat_out(tan), numeric, rtol, atol)
            if order > 1:
                from .forward_api import make_jvp

                nums = tuple(i for i, t in enumerate(tangents) if t is not None)
                jvp_fn = make_jvp(f, nums)
                keywords = ", ".join(f"{n}=tangent{i}" for i, n in
                                     zip(nums, jvp_fn.__chainrule_tangents__))
                fwd_fn = _generated_wrapper(
                    f"jvp_of_{_name(f)}", len(args), f"jvp_fn({{args}}, {keywords})[1]",
                    {"jvp_fn": jvp_fn, **{f"tangent{i}": tangents[i] for i in nums}})
                check_grads(fwd_fn, args, order - 1, ("fwd",), eps, rtol, atol, seed + 1)
        else:
            from .tape import tape_vjp

            out, cts = tape_vjp(f, args, cot)
            exact = _inner(cts, tangents)
            _compare(f"GradientTape <v, J u> of {_name(f)}", exact,
                     float(np.dot(_flat_out(cot), numeric)), rtol, atol)


def _name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", repr(f))


_WRAPPERS = itertools.count(1)


def _generated_wrapper(name: str, nargs: int, body: str, namespace: dict[str, Any]
                       ) -> Callable[..., Any]:
    """A function ``name(a0, a1, ...)`` returning ``body``, with source in linecache, so that
    the source transformer can differentiate it (the derivative of a derivative)."""
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    params = ", ".join(f"a{i}" for i in range(nargs))
    src = f"def {name}({params}):\n    return {body.format(args=params)}\n"
    filename = f"<chainrule check_grads {name} #{next(_WRAPPERS)}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(keepends=True), filename)
    ns = dict(namespace)
    exec(compile(src, filename, "exec"), ns)  # noqa: S102 - source registered in linecache
    return ns[name]
