"""The table of derivative-rule test cases: one row per registered differentiable primitive
(often several), and one per ndarray method or attribute mapping.

Each row is plain data, so any engine can run it:

* ``fn``: the primitive (the function object the registry knows);
* ``make(rng) -> args``: builds the positional arguments, with values in the function's
  domain (``log`` on positive numbers, ``cholesky`` on SPD matrices, ``sort`` on distinct
  values, ...); call it with ``np.random.default_rng(case.seed)`` for reproducible values;
* ``kwargs``: keyword arguments passed unchanged;
* ``argnums``: the positions of the arguments to differentiate (float64 arrays, Python
  floats, or lists of those); empty for a non-differentiable method/attribute mapping;
* ``id``: a unique readable name;
* ``method`` / ``attr``: when set, ``getattr(args[0], method)(*args[1:], **kwargs)`` (or
  ``getattr(args[0], attr)``) is the user-facing spelling that maps to ``fn``.

``tests/test_rules.py`` checks every row's VJP and JVP rules against central finite
differences; the tape's tests run the same rows through ``GradientTape``.
"""

from __future__ import annotations

import builtins
import math
import operator
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from chainrule import runtime as rt
from chainrule.nn import log_softmax_value, relu_value, softmax_value
from chainrule.staging.primitives import watch_point
from chainrule.tape.ops import sigmoid_value
from chainrule.tape.variable import read_variable


class Case(NamedTuple):
    fn: Any
    make: Callable[[np.random.Generator], tuple]
    kwargs: dict
    argnums: tuple[int, ...]
    id: str
    method: str | None = None
    attr: str | None = None

    @property
    def seed(self) -> int:
        return zlib.crc32(self.id.encode())

    def args(self) -> tuple:
        """The row's arguments, always the same for the same row."""
        return self.make(np.random.default_rng(self.seed))


CASES: list[Case] = []


def _name(fn: Any) -> str:
    from chainrule.rules.registry import qualified_name

    return qualified_name(fn)


def case(fn: Any, make: Callable[[np.random.Generator], tuple], argnums: tuple[int, ...] = (0,),
         label: str = "", method: str | None = None, attr: str | None = None,
         **kwargs: Any) -> None:
    """Append a row; ``label`` tells rows of the same function apart."""
    prefix = f"x.{method}()" if method else f"x.{attr}" if attr else _name(fn)
    ident = f"{prefix}[{label}]" if label else prefix
    if any(c.id == ident for c in CASES):
        raise ValueError(f"duplicate case id {ident}")
    CASES.append(Case(fn, make, kwargs, tuple(argnums), ident, method, attr))


# --------------------------------------------------------------------------- value generators


def normal(r: np.random.Generator, *shape: int) -> np.ndarray:
    return r.standard_normal(shape)


def uniform(r: np.random.Generator, lo: float, hi: float, *shape: int) -> np.ndarray:
    return r.uniform(lo, hi, shape)


def positive(r: np.random.Generator, *shape: int) -> np.ndarray:
    return r.uniform(0.5, 2.0, shape)


def nonzero(r: np.random.Generator, *shape: int) -> np.ndarray:
    """Values at least 0.3 away from zero, of both signs."""
    return r.uniform(0.3, 2.0, shape) * r.choice([-1.0, 1.0], shape)


def distinct(r: np.random.Generator, *shape: int) -> np.ndarray:
    """Values at least 0.4 apart (sort, max, ... have a unique answer)."""
    n = int(np.prod(shape))
    return (r.permutation(n) + r.uniform(-0.3, 0.3, n)).reshape(shape) / 2


def cplx(r: np.random.Generator, *shape: int) -> np.ndarray:
    return r.standard_normal(shape) + 1j * r.standard_normal(shape)


def spd(r: np.random.Generator, n: int, *batch: int) -> np.ndarray:
    a = r.standard_normal((*batch, n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def well_conditioned(r: np.random.Generator, n: int, *batch: int) -> np.ndarray:
    return r.standard_normal((*batch, n, n)) + 3 * np.eye(n)


def symmetric_distinct(r: np.random.Generator, n: int, *batch: int) -> np.ndarray:
    """A symmetric matrix with eigenvalues 1, 2, ..., n (well separated)."""
    q, _ = np.linalg.qr(r.standard_normal((*batch, n, n)))
    return (q * np.arange(1.0, n + 1)) @ np.swapaxes(q, -1, -2)


def full_rank(r: np.random.Generator, m: int, n: int, *batch: int) -> np.ndarray:
    """A matrix with singular values spread over [1, 3] (distinct)."""
    k = min(m, n)
    u, _ = np.linalg.qr(r.standard_normal((*batch, m, k)))
    v, _ = np.linalg.qr(r.standard_normal((*batch, n, k)))
    return u @ (np.linspace(3.0, 1.0, k)[:, None] * np.swapaxes(v, -1, -2))


def modulus_pair(r: np.random.Generator, *shape: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x1, x2)`` with ``x1 / x2`` well away from integers (mod is smooth there)."""
    x2 = r.uniform(1.5, 2.5, shape) * r.choice([-1.0, 1.0], shape)
    x1 = x2 * (r.integers(-3, 4, shape) + r.uniform(0.2, 0.8, shape))
    return x1, x2


def away_from(r: np.random.Generator, points: list[float], *shape: int) -> np.ndarray:
    """Values near (within 0.05 of) the given points."""
    return r.choice(points, shape) + r.uniform(-0.05, 0.05, shape)


def scalar(r: np.random.Generator, lo: float = -1.0, hi: float = 1.0) -> float:
    return float(r.uniform(lo, hi))


# --------------------------------------------------------------------------- NumPy: elementwise

_UNARY_DOMAINS: list[tuple[Any, Callable[..., Any]]] = [
    (np.sin, normal), (np.cos, normal),
    (np.tan, lambda r, *s: uniform(r, -1.2, 1.2, *s)),
    (np.arcsin, lambda r, *s: uniform(r, -0.9, 0.9, *s)),
    (np.arccos, lambda r, *s: uniform(r, -0.9, 0.9, *s)),
    (np.arctan, normal), (np.sinh, normal), (np.cosh, normal), (np.tanh, normal),
    (np.arcsinh, normal),
    (np.arccosh, lambda r, *s: uniform(r, 1.2, 3.0, *s)),
    (np.arctanh, lambda r, *s: uniform(r, -0.9, 0.9, *s)),
    (np.exp, normal), (np.exp2, normal), (np.expm1, normal),
    (np.log, positive), (np.log2, positive), (np.log10, positive),
    (np.log1p, lambda r, *s: uniform(r, -0.5, 2.0, *s)),
    (np.sqrt, positive), (np.cbrt, nonzero), (np.square, normal), (np.reciprocal, nonzero),
    (np.sinc, normal), (np.deg2rad, normal), (np.radians, normal), (np.rad2deg, normal),
    (np.degrees, normal), (np.absolute, nonzero), (np.fabs, nonzero), (np.negative, normal),
    (np.positive, normal), (np.conjugate, normal), (np.real, normal), (np.imag, normal),
]
for _fn, _gen in _UNARY_DOMAINS:
    case(_fn, lambda r, g=_gen: (g(r, 3, 4),), label="3x4")
    case(_fn, lambda r, g=_gen: (float(g(r, 1)[0]),), label="python float")

case(np.sinc, lambda r: (np.array([0.0, 0.5, -1.5]),), label="at zero")
for _fn in (np.conjugate, np.real, np.imag):
    case(_fn, lambda r: (cplx(r, 3, 2),), label="complex")

_CLIP_VALUES = [-1.3, -0.9, -0.2, 0.1, 0.3, 1.1]
case(np.clip, lambda r: (away_from(r, _CLIP_VALUES, 3, 4), -0.5, 0.5), label="scalar bounds")
case(np.clip, lambda r: (away_from(r, _CLIP_VALUES, 3, 4), uniform(r, -0.55, -0.45, 4),
                         uniform(r, 0.45, 0.55, 3, 1)), argnums=(0, 1, 2), label="array bounds")
case(np.clip, lambda r: (away_from(r, _CLIP_VALUES, 5), None, 0.5), label="upper only")

_BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)),
                     ((2, 3, 4), (3, 1))]


def _pair(gen1: Callable[..., Any], gen2: Callable[..., Any], s1: tuple, s2: tuple) -> Callable:
    def make(r: np.random.Generator) -> tuple:
        a = gen1(r, *s1) if s1 else float(gen1(r, 1)[0])
        return a, gen2(r, *s2)

    return make


_BINARY_DOMAINS: list[tuple[Any, Callable[..., Any], Callable[..., Any]]] = [
    (np.add, normal, normal), (np.subtract, normal, normal), (np.multiply, normal, normal),
    (np.divide, normal, nonzero), (np.power, positive, normal),
    (np.float_power, positive, normal), (np.maximum, normal, normal),
    (np.minimum, normal, normal), (np.fmax, normal, normal), (np.fmin, normal, normal),
    (np.hypot, nonzero, nonzero), (np.arctan2, nonzero, nonzero),
    (np.logaddexp, normal, normal), (np.logaddexp2, normal, normal),
    (operator.add, normal, normal), (operator.sub, normal, normal),
    (operator.mul, normal, normal), (operator.truediv, normal, nonzero),
    (operator.pow, positive, normal), (builtins.pow, positive, normal),
]
for _fn, _g1, _g2 in _BINARY_DOMAINS:
    for _s1, _s2 in _BROADCAST_SHAPES:
        _label = f"{'x'.join(map(str, _s1)) or 'float'} with {'x'.join(map(str, _s2))}"
        case(_fn, _pair(_g1, _g2, _s1, _s2), argnums=(0, 1), label=_label)

for _fn in (np.remainder, np.fmod, operator.mod):
    case(_fn, lambda r: modulus_pair(r, 3, 4), argnums=(0, 1), label="3x4")
    case(_fn, lambda r: (modulus_pair(r, 3, 4)[0], 2.3), argnums=(0, 1), label="float divisor")
case(np.copysign, lambda r: (nonzero(r, 3, 4), nonzero(r, 4)), label="3x4 with 4")
case(np.power, lambda r: (normal(r, 3, 4), 3.0), label="integer exponent")
case(operator.pow, lambda r: (normal(r, 3), 2.0), label="square")
case(np.where, lambda r: (normal(r, 3, 4) > 0, normal(r, 3, 4), normal(r, 4)), argnums=(1, 2),
     label="3x4 with 4")
case(np.where, lambda r: (normal(r, 3, 1) > 0, normal(r, 1, 4), 0.5), argnums=(1, 2),
     label="broadcast with float")

# --------------------------------------------------------------------------- reductions

for _fn in (np.sum, np.mean, np.nansum):
    case(_fn, lambda r: (normal(r, 3, 4),), label="all")
    case(_fn, lambda r: (normal(r, 3, 4),), axis=0, label="axis=0")
    case(_fn, lambda r: (normal(r, 3, 4),), axis=-1, keepdims=True, label="axis=-1 keepdims")
    case(_fn, lambda r: (normal(r, 2, 3, 4),), axis=(0, 2), label="axis=(0, 2)")
    case(_fn, lambda r: (normal(r, 2, 3),), keepdims=True, label="all keepdims")
case(np.prod, lambda r: (nonzero(r, 3, 4),), label="all")
case(np.prod, lambda r: (nonzero(r, 3, 4),), axis=1, label="axis=1")
case(np.prod, lambda r: (nonzero(r, 2, 3, 4),), axis=(0, 2), keepdims=True,
     label="axis=(0, 2) keepdims")
for _fn in (np.var, np.std):
    case(_fn, lambda r: (normal(r, 3, 4),), label="all")
    case(_fn, lambda r: (normal(r, 3, 4),), axis=0, label="axis=0")
    case(_fn, lambda r: (normal(r, 3, 4),), axis=1, ddof=1, keepdims=True,
         label="axis=1 ddof=1 keepdims")
    case(_fn, lambda r: (normal(r, 2, 3, 4),), axis=(0, 2), label="axis=(0, 2)")
for _fn in (np.max, np.amax, np.min, np.amin):
    case(_fn, lambda r: (distinct(r, 3, 4),), label="all")
    case(_fn, lambda r: (distinct(r, 3, 4),), axis=0, label="axis=0")
    case(_fn, lambda r: (distinct(r, 3, 4),), axis=-1, keepdims=True, label="axis=-1 keepdims")
    case(_fn, lambda r: (distinct(r, 2, 3, 4),), axis=(0, 2), label="axis=(0, 2)")
case(np.cumsum, lambda r: (normal(r, 3, 4),), label="flattened")
case(np.cumsum, lambda r: (normal(r, 3, 4),), axis=0, label="axis=0")
case(np.cumsum, lambda r: (normal(r, 2, 3, 4),), axis=-1, label="axis=-1")
case(np.cumprod, lambda r: (nonzero(r, 3, 4),), label="flattened")
case(np.cumprod, lambda r: (nonzero(r, 3, 4),), axis=1, label="axis=1")
case(np.diff, lambda r: (normal(r, 3, 5),), label="n=1")
case(np.diff, lambda r: (normal(r, 5, 3),), n=2, axis=0, label="n=2 axis=0")
case(np.trace, lambda r: (normal(r, 3, 4),), label="2-d")
case(np.trace, lambda r: (normal(r, 4, 3),), offset=-1, label="offset=-1")
case(np.trace, lambda r: (normal(r, 2, 3, 3),), offset=1, axis1=1, axis2=2,
     label="3-d offset=1 axes (1, 2)")
case(np.average, lambda r: (normal(r, 3, 4),), label="no weights")
case(np.average, lambda r: (normal(r, 3, 4),), axis=1, keepdims=True, label="axis=1 keepdims")
case(np.average, lambda r: (normal(r, 3, 4), None, positive(r, 3, 4)), argnums=(0, 2),
     label="weights like a")
case(np.average, lambda r: (normal(r, 3, 4), 1, positive(r, 4)), argnums=(0, 2),
     label="1-d weights axis=1")
case(np.average, lambda r: (normal(r, 3, 4), 0, positive(r, 3, 4)), argnums=(0, 2),
     keepdims=True, label="weights axis=0 keepdims")

# --------------------------------------------------------------------------- products

_PRODUCT_SHAPES = {
    np.dot: [((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)),
             ((2, 3, 4), (4, 5)), ((2, 3, 4), (5, 4, 2)), ((), (3,)), ((2, 3), ())],
    np.matmul: [((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)),
                ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                ((4,), (2, 4, 3)), ((2, 3, 4), (4,))],
    operator.matmul: [((3, 4), (4, 5)), ((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)),
                      ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5))],
    np.inner: [((3, 4), (5, 4)), ((4,), (4,)), ((2, 3, 4), (4,)), ((), (3,))],
    np.outer: [((3,), (4,)), ((2, 3), (4,))],
    np.vdot: [((3, 4), (4, 3)), ((5,), (5,))],
    np.kron: [((2, 3), (4, 5)), ((3,), (2,)), ((2, 3), (4,)), ((2,), (2, 3, 2))],
}
for _fn, _shapes in _PRODUCT_SHAPES.items():
    for _s1, _s2 in _shapes:
        _label = f"{'x'.join(map(str, _s1)) or 'float'} by {'x'.join(map(str, _s2)) or 'float'}"
        case(_fn, _pair(normal, normal, _s1, _s2), argnums=(0, 1), label=_label)
case(np.tensordot, lambda r: (normal(r, 2, 3, 4), normal(r, 3, 4, 5)), argnums=(0, 1),
     label="axes=2")
case(np.tensordot, lambda r: (normal(r, 2, 3), normal(r, 3, 4)), argnums=(0, 1), axes=1,
     label="axes=1")
case(np.tensordot, lambda r: (normal(r, 3, 2, 4), normal(r, 2, 5, 3)), argnums=(0, 1),
     axes=([1, 0], [0, 2]), label="axes=([1, 0], [0, 2])")
case(np.tensordot, lambda r: (normal(r, 2, 3), normal(r, 4)), argnums=(0, 1), axes=0,
     label="axes=0")
case(np.cross, lambda r: (normal(r, 3), normal(r, 3)), argnums=(0, 1), label="3 by 3")
case(np.cross, lambda r: (normal(r, 5, 3), normal(r, 3)), argnums=(0, 1),
     label="5x3 by 3 broadcast")
case(np.cross, lambda r: (normal(r, 3, 4), normal(r, 4, 3)), argnums=(0, 1), axisa=0,
     label="axisa=0")
case(np.cross, lambda r: (normal(r, 3, 2), normal(r, 3, 2)), argnums=(0, 1), axis=0,
     label="axis=0")
_EINSUMS = [
    ("ij,jk->ik", (3, 4), (4, 5)), ("ij,jk", (3, 4), (4, 5)), ("i,i->", (4,), (4,)),
    ("ij->", (3, 4)), ("ij->j", (3, 4)), ("ii->i", (3, 3)), ("ii", (3, 3)),
    ("ij->ji", (3, 4)), ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("...ij,...jk->...ik", (2, 3, 4), (2, 4, 5)), ("i...,i->...", (3, 2, 2), (3,)),
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)), ("i,j,k,l->ijkl", (2,), (3,), (2,), (2,)),
    ("ij,kl->", (2, 3), (2, 2)), ("iij->j", (3, 3, 2)),
]
for _spec, *_shapes in _EINSUMS:
    case(np.einsum, lambda r, s=_spec, sh=tuple(_shapes): (s, *(normal(r, *x) for x in sh)),
         argnums=tuple(range(1, len(_shapes) + 1)), label=_spec)

case(np.einsum, lambda r: ("ij,j->i", normal(r, 3, 4), normal(r, 4)), argnums=(1, 2),
     optimize=True, label="optimize=True")

# --------------------------------------------------------------------------- shape

case(np.reshape, lambda r: (normal(r, 3, 4), (2, 6)), label="(2, 6)")
case(np.reshape, lambda r: (normal(r, 3, 4), -1), label="-1")
case(np.reshape, lambda r: (normal(r, 3, 4), (4, 3)), order="F", label="order=F")
case(np.ravel, lambda r: (normal(r, 3, 4),), label="C")
case(np.ravel, lambda r: (normal(r, 3, 4),), order="F", label="F")
case(np.transpose, lambda r: (normal(r, 3, 4),), label="2-d")
case(np.transpose, lambda r: (normal(r, 2, 3, 4), (1, 2, 0)), label="axes (1, 2, 0)")
case(np.transpose, lambda r: (normal(r, 2, 3, 4),), axes=(-1, 0, 1), label="negative axes")
case(np.swapaxes, lambda r: (normal(r, 2, 3, 4), 0, 2), label="0 2")
case(np.moveaxis, lambda r: (normal(r, 2, 3, 4), 0, -1), label="0 to -1")
case(np.moveaxis, lambda r: (normal(r, 2, 3, 4), [0, 1], [2, 0]), label="lists")
case(np.expand_dims, lambda r: (normal(r, 3, 4), 1), label="axis=1")
case(np.expand_dims, lambda r: (normal(r, 3, 4), (0, 3)), label="axis=(0, 3)")
case(np.squeeze, lambda r: (normal(r, 3, 1, 4, 1),), label="all")
case(np.squeeze, lambda r: (normal(r, 3, 1, 4),), axis=1, label="axis=1")
case(np.atleast_1d, lambda r: (np.float64(r.standard_normal()),), label="scalar")
case(np.atleast_1d, lambda r: (normal(r, 3),), label="1-d")
case(np.atleast_2d, lambda r: (normal(r, 3),), label="1-d")
case(np.atleast_3d, lambda r: (normal(r, 3, 4),), label="2-d")
case(np.broadcast_to, lambda r: (normal(r, 4), (3, 4)), label="4 to 3x4")
case(np.broadcast_to, lambda r: (normal(r, 3, 1), (2, 3, 4)), label="3x1 to 2x3x4")
case(np.repeat, lambda r: (normal(r, 2, 3), 2), label="flattened")
case(np.repeat, lambda r: (normal(r, 2, 3), 3), axis=1, label="axis=1")
case(np.repeat, lambda r: (normal(r, 3, 2), [1, 0, 2]), axis=0, label="per-entry repeats")
case(np.tile, lambda r: (normal(r, 2, 3), 2), label="2")
case(np.tile, lambda r: (normal(r, 2, 3), (2, 1, 3)), label="(2, 1, 3)")
case(np.tile, lambda r: (normal(r, 2, 3, 2), (2, 1)), label="fewer reps")
case(np.roll, lambda r: (normal(r, 3, 4), 2), label="flattened")
case(np.roll, lambda r: (normal(r, 3, 4), (1, -2), (0, 1)), label="two axes")
case(np.rot90, lambda r: (normal(r, 3, 4),), label="k=1")
case(np.rot90, lambda r: (normal(r, 2, 3, 4), -3, (1, 2)), label="k=-3 axes (1, 2)")
case(np.flip, lambda r: (normal(r, 3, 4),), label="all")
case(np.flip, lambda r: (normal(r, 3, 4), 1), label="axis=1")
case(np.fliplr, lambda r: (normal(r, 3, 4),))
case(np.flipud, lambda r: (normal(r, 3, 4),))
case(np.pad, lambda r: (normal(r, 3, 4), 1), label="1")
case(np.pad, lambda r: (normal(r, 3, 4), ((1, 2), (0, 3))), label="((1, 2), (0, 3))")
case(np.pad, lambda r: (normal(r, 3), (2, 1)), constant_values=5.0, label="constant_values")
case(np.tril, lambda r: (normal(r, 4, 4),), label="k=0")
case(np.tril, lambda r: (normal(r, 2, 3, 4), -1), label="batch k=-1")
case(np.triu, lambda r: (normal(r, 4, 4),), label="k=0")
case(np.triu, lambda r: (normal(r, 2, 4, 3), 1), label="batch k=1")
case(np.diagonal, lambda r: (normal(r, 3, 4),), label="2-d")
case(np.diagonal, lambda r: (normal(r, 3, 4), 1), label="offset=1")
case(np.diagonal, lambda r: (normal(r, 4, 3), -2), label="offset=-2")
case(np.diagonal, lambda r: (normal(r, 2, 3, 4),), axis1=1, axis2=2, label="axes (1, 2)")
case(np.diagonal, lambda r: (normal(r, 3, 2, 4),), offset=1, axis1=2, axis2=0,
     label="axes (2, 0) offset=1")
case(np.diag, lambda r: (normal(r, 3),), label="1-d")
case(np.diag, lambda r: (normal(r, 3), 1), label="1-d k=1")
case(np.diag, lambda r: (normal(r, 3, 3),), label="2-d")
case(np.diag, lambda r: (normal(r, 3, 4), -1), label="2-d k=-1")

# --------------------------------------------------------------------------- joining, splitting

case(np.concatenate, lambda r: ([normal(r, 2, 3), normal(r, 4, 3)],), label="axis=0")
case(np.concatenate, lambda r: ([normal(r, 3, 2), normal(r, 3, 1), normal(r, 3, 2)], 1),
     label="axis=1")
case(np.concatenate, lambda r: ([normal(r, 2, 2), normal(r, 3)],), axis=None, label="flattened")
case(np.stack, lambda r: ([normal(r, 3), normal(r, 3)],), label="1-d")
case(np.stack, lambda r: ([normal(r, 2, 3), normal(r, 2, 3), normal(r, 2, 3)],), axis=-1,
     label="axis=-1")
case(np.hstack, lambda r: ([normal(r, 3), normal(r, 2)],), label="1-d")
case(np.hstack, lambda r: ((normal(r, 2, 3), normal(r, 2, 1)),), label="2-d tuple")
case(np.vstack, lambda r: ([normal(r, 3), normal(r, 3)],), label="1-d")
case(np.vstack, lambda r: ([normal(r, 2, 3), normal(r, 1, 3)],), label="2-d")
case(np.dstack, lambda r: ([normal(r, 2, 3), normal(r, 2, 3)],), label="2-d")
case(np.dstack, lambda r: ([normal(r, 3), normal(r, 3)],), label="1-d")
case(np.split, lambda r: (normal(r, 6, 4), 3), label="3 sections")
case(np.split, lambda r: (normal(r, 3, 5), [1, 3]), axis=1, label="indices axis=1")
case(np.array_split, lambda r: (normal(r, 7), 3), label="uneven")
case(np.hsplit, lambda r: (normal(r, 4, 6), 2), label="2-d")
case(np.hsplit, lambda r: (normal(r, 6), [2, 5]), label="1-d")
case(np.vsplit, lambda r: (normal(r, 6, 4), [2]), label="indices")
case(np.dsplit, lambda r: (normal(r, 2, 3, 4), 2), label="2 sections")

# --------------------------------------------------------------------------- indexing, sorting

case(np.sort, lambda r: (distinct(r, 3, 4),), label="axis=-1")
case(np.sort, lambda r: (distinct(r, 3, 4),), axis=0, label="axis=0")
case(np.sort, lambda r: (distinct(r, 3, 4),), axis=None, label="flattened")
case(np.take, lambda r: (normal(r, 3, 4), [2, 0, 2]), axis=1, label="axis=1 repeated")
case(np.take, lambda r: (normal(r, 3, 4), np.array([[0, 11], [5, 5]])), label="flattened")
case(np.take, lambda r: (normal(r, 3, 4), -1), axis=0, label="negative index")
case(np.take, lambda r: (normal(r, 3, 4), [-1, 5, 1]), axis=1, mode="clip", label="mode=clip")
case(np.take, lambda r: (normal(r, 3, 4), [[-1, 13]]), mode="wrap", label="flattened mode=wrap")
case(np.take_along_axis, lambda r: (distinct(r, 3, 4), np.array([[0, 3], [1, 1], [2, 0]]), 1),
     label="axis=1")
case(np.take_along_axis, lambda r: (normal(r, 4, 3), np.array([[0, 3, 1]]), 0), label="axis=0")
case(np.take_along_axis, lambda r: (normal(r, 5), np.array([4, 0, 0]), None), label="axis=None")

# --------------------------------------------------------------------------- construction

case(np.array, lambda r: ([scalar(r), scalar(r), scalar(r)],), label="list of floats")
case(np.array, lambda r: ([[scalar(r), scalar(r)], [scalar(r), scalar(r)]],),
     label="nested list")
case(np.array, lambda r: ([normal(r, 3), normal(r, 3)],), label="list of arrays")
case(np.array, lambda r: (normal(r, 3, 4),), label="array")
case(np.array, lambda r: ([scalar(r), scalar(r)],), ndmin=2, label="ndmin=2")
case(np.asarray, lambda r: ([normal(r, 2), normal(r, 2)],), label="list of arrays")
case(np.asarray, lambda r: (normal(r, 3, 4),), label="array")
case(np.copy, lambda r: (normal(r, 3, 4),))
if hasattr(np, "astype"):
    case(np.astype, lambda r: (normal(r, 3, 4), np.float64), label="float64")
    case(np.astype, lambda r: (away_from(r, [-1.5, 0.5, 2.5], 3), np.int32), label="int32")

# --------------------------------------------------------------------------- np.linalg

la = np.linalg
case(la.inv, lambda r: (well_conditioned(r, 3),), label="3x3")
case(la.inv, lambda r: (well_conditioned(r, 3, 2),), label="batch")
case(la.pinv, lambda r: (full_rank(r, 4, 3),), label="tall")
case(la.pinv, lambda r: (full_rank(r, 2, 4),), label="wide")
case(la.pinv, lambda r: (full_rank(r, 3, 3, 2),), label="batch square")
case(la.det, lambda r: (well_conditioned(r, 3),), label="3x3")
case(la.det, lambda r: (normal(r, 2, 3, 3),), label="batch")
case(la.slogdet, lambda r: (well_conditioned(r, 3),), label="3x3")
case(la.slogdet, lambda r: (-well_conditioned(r, 3, 2),), label="batch negative")
case(la.solve, lambda r: (well_conditioned(r, 3), normal(r, 3)), argnums=(0, 1),
     label="vector")
case(la.solve, lambda r: (well_conditioned(r, 3), normal(r, 3, 2)), argnums=(0, 1),
     label="matrix")
case(la.solve, lambda r: (well_conditioned(r, 3, 2), normal(r, 2, 3, 2)), argnums=(0, 1),
     label="batch")
case(la.solve, lambda r: (well_conditioned(r, 3, 2), normal(r, 3, 2)), argnums=(0, 1),
     label="broadcast b")
case(la.cholesky, lambda r: (spd(r, 3),), label="lower")
case(la.cholesky, lambda r: (spd(r, 3),), upper=True, label="upper")
case(la.cholesky, lambda r: (spd(r, 3, 2),), label="batch")
case(la.eigh, lambda r: (symmetric_distinct(r, 4),), label="lower")
case(la.eigh, lambda r: (symmetric_distinct(r, 3),), UPLO="U", label="upper")
case(la.eigh, lambda r: (symmetric_distinct(r, 3, 2),), label="batch")
case(la.eigvalsh, lambda r: (symmetric_distinct(r, 4),), label="lower")
case(la.eigvalsh, lambda r: (symmetric_distinct(r, 3, 2), "U"), label="batch upper")
case(la.svd, lambda r: (full_rank(r, 3, 3),), label="square")
case(la.svd, lambda r: (full_rank(r, 4, 3),), full_matrices=False, label="tall reduced")
case(la.svd, lambda r: (full_rank(r, 2, 4),), full_matrices=False, label="wide reduced")
case(la.svd, lambda r: (full_rank(r, 3, 3, 2),), label="batch")
case(la.svd, lambda r: (full_rank(r, 4, 3),), compute_uv=False, label="values only")
case(la.qr, lambda r: (full_rank(r, 4, 3),), label="tall")
case(la.qr, lambda r: (full_rank(r, 3, 3),), label="square")
case(la.qr, lambda r: (full_rank(r, 4, 2, 2),), label="batch")
_VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 3, 0.5]
for _ord in _VECTOR_ORDS:
    case(la.norm, lambda r: (nonzero(r, 5),), ord=_ord, label=f"vector ord={_ord}")
for _ord in [None, "fro", "nuc", 2, 1, np.inf]:
    case(la.norm, lambda r: (full_rank(r, 4, 3) + 0.1,), ord=_ord, label=f"matrix ord={_ord}")
case(la.norm, lambda r: (normal(r, 3, 4),), axis=1, label="rows")
case(la.norm, lambda r: (normal(r, 3, 4),), axis=0, keepdims=True, ord=1,
     label="columns ord=1 keepdims")
case(la.norm, lambda r: (normal(r, 2, 3, 4),), keepdims=True, label="3-d keepdims")
case(la.norm, lambda r: (full_rank(r, 3, 3, 2),), axis=(1, 2), ord="nuc", label="batch nuc")
case(la.norm, lambda r: (full_rank(r, 4, 3, 2) + 0.1,), axis=(2, 1), ord=np.inf,
     keepdims=True, label="batch inf keepdims")
for _n in (3, 1, 0, -2):
    case(la.matrix_power, lambda r, n=_n: (well_conditioned(r, 3) / 3, n), label=f"n={_n}")
case(la.matrix_power, lambda r: (well_conditioned(r, 3, 2) / 3, 2), label="batch")

# --------------------------------------------------------------------------- np.fft

ff = np.fft
for _fn in (ff.fft, ff.ifft):
    case(_fn, lambda r: (normal(r, 8),), label="8")
    case(_fn, lambda r: (normal(r, 5, 3),), axis=0, label="axis=0")
    case(_fn, lambda r: (normal(r, 6),), n=9, label="padded")
    case(_fn, lambda r: (normal(r, 6),), n=4, norm="ortho", label="truncated ortho")
    case(_fn, lambda r: (cplx(r, 2, 5),), norm="forward", label="complex forward")
for _fn in (ff.fft2, ff.ifft2):
    case(_fn, lambda r: (normal(r, 4, 6),), label="4x6")
    case(_fn, lambda r: (normal(r, 4, 3),), s=(5, 2), norm="ortho", label="s=(5, 2) ortho")
    case(_fn, lambda r: (cplx(r, 3, 2, 4),), axes=(0, 2), label="complex axes=(0, 2)")
for _fn in (ff.fftn, ff.ifftn):
    case(_fn, lambda r: (normal(r, 3, 4, 5),), label="3-d")
    case(_fn, lambda r: (normal(r, 3, 4, 5),), s=(4, 6), axes=(0, 2), label="s and axes")
    case(_fn, lambda r: (normal(r, 3, 4, 5),), axes=(1,), norm="forward", label="one axis")
case(ff.rfft, lambda r: (normal(r, 8),), label="even")
case(ff.rfft, lambda r: (normal(r, 7),), label="odd")
case(ff.rfft, lambda r: (normal(r, 6),), n=9, label="padded odd")
case(ff.rfft, lambda r: (normal(r, 6),), n=4, norm="ortho", label="truncated ortho")
case(ff.rfft, lambda r: (normal(r, 5, 3),), axis=0, norm="forward", label="axis=0 forward")
case(ff.irfft, lambda r: (normal(r, 5),), label="n=8 default")
case(ff.irfft, lambda r: (normal(r, 5),), n=9, label="n=9")
case(ff.irfft, lambda r: (normal(r, 5),), n=6, label="n=6 truncates")
case(ff.irfft, lambda r: (normal(r, 5),), n=13, norm="ortho", label="n=13 pads ortho")
case(ff.irfft, lambda r: (normal(r, 4, 3),), axis=0, norm="forward", label="axis=0 forward")
case(ff.irfft, lambda r: (cplx(r, 5),), label="complex input")
case(ff.rfft2, lambda r: (normal(r, 4, 6),), label="4x6")
case(ff.rfft2, lambda r: (normal(r, 4, 6),), s=(5, 7), norm="ortho", label="s=(5, 7) ortho")
case(ff.irfft2, lambda r: (normal(r, 4, 4),), label="4x4")
case(ff.irfft2, lambda r: (normal(r, 4, 4),), s=(3, 5), label="s=(3, 5)")
case(ff.rfftn, lambda r: (normal(r, 3, 4, 6),), label="3-d")
case(ff.rfftn, lambda r: (normal(r, 3, 4, 6),), axes=(0, 1), norm="forward", label="axes=(0, 1)")
case(ff.rfftn, lambda r: (normal(r, 3, 4, 6),), s=(4, 5), axes=(2, 0), label="s and axes")
case(ff.irfftn, lambda r: (normal(r, 3, 4, 4),), label="3-d")
case(ff.irfftn, lambda r: (normal(r, 3, 4, 4),), s=(4, 7), axes=(0, 2), norm="ortho",
     label="s and axes ortho")
for _fn in (ff.fftshift, ff.ifftshift):
    case(_fn, lambda r: (normal(r, 5),), label="1-d")
    case(_fn, lambda r: (normal(r, 4, 5),), axes=1, label="axes=1")

# --------------------------------------------------------------------------- math

_MATH_DOMAINS: list[tuple[Any, float, float]] = [
    (math.sin, -2, 2), (math.cos, -2, 2), (math.tan, -1.2, 1.2), (math.asin, -0.9, 0.9),
    (math.acos, -0.9, 0.9), (math.atan, -2, 2), (math.sinh, -2, 2), (math.cosh, -2, 2),
    (math.tanh, -2, 2), (math.asinh, -2, 2), (math.acosh, 1.2, 3), (math.atanh, -0.9, 0.9),
    (math.exp, -2, 2), (math.expm1, -2, 2), (math.log, 0.5, 3), (math.log2, 0.5, 3),
    (math.log10, 0.5, 3), (math.log1p, -0.5, 2), (math.sqrt, 0.5, 3), (math.fabs, 0.3, 2),
    (math.erf, -2, 2), (math.erfc, -2, 2), (math.degrees, -2, 2), (math.radians, -2, 2),
]
for _fn, _lo, _hi in _MATH_DOMAINS:
    case(_fn, lambda r, lo=_lo, hi=_hi: (scalar(r, lo, hi),))
if hasattr(math, "cbrt"):
    case(math.cbrt, lambda r: (scalar(r, 0.3, 2),), label="positive")
    case(math.cbrt, lambda r: (scalar(r, -2, -0.3),), label="negative")
    case(math.exp2, lambda r: (scalar(r, -2, 2),))
case(math.fabs, lambda r: (scalar(r, -2, -0.3),), label="negative")
case(math.log, lambda r: (scalar(r, 0.5, 3), scalar(r, 1.5, 4)), argnums=(0, 1), label="base")
case(math.atan2, lambda r: (scalar(r), scalar(r, -2, -0.5)), argnums=(0, 1))
case(math.pow, lambda r: (scalar(r, 0.5, 2), scalar(r, -2, 2)), argnums=(0, 1))
case(math.hypot, lambda r: (scalar(r, 0.3, 2), scalar(r, -2, -0.3)), argnums=(0, 1))
case(math.copysign, lambda r: (scalar(r, 0.3, 2), scalar(r, -2, -0.3)))
case(math.fmod, lambda r: tuple(float(v[0]) for v in modulus_pair(r, 1)), argnums=(0, 1))

# --------------------------------------------------------------------------- operators, builtins

for _fn in (operator.neg, operator.pos, operator.abs, builtins.abs):
    case(_fn, lambda r: (nonzero(r, 3, 4),), label="3x4")
    case(_fn, lambda r: (scalar(r, 0.3, 1),), label="python float")
case(operator.getitem, lambda r: (normal(r, 4, 5), (slice(1, 3), 2)), label="slices")
case(operator.getitem, lambda r: (normal(r, 4, 5), (Ellipsis, slice(None, None, 2))),
     label="ellipsis step")
case(operator.getitem, lambda r: (normal(r, 4, 5), np.array([0, 2, 0])), label="repeated")
case(operator.getitem, lambda r: (normal(r, 4, 3), np.array([True, False, True, True])),
     label="mask")
case(operator.getitem, lambda r: ([normal(r, 3), normal(r, 2)], 1), label="list")
case(builtins.float, lambda r: (scalar(r),))
case(builtins.max, lambda r: (scalar(r, -1, 0), scalar(r, 0.1, 1)), argnums=(0, 1),
     label="second")
case(builtins.max, lambda r: (scalar(r, 0.1, 1), scalar(r, -1, 0)), argnums=(0, 1),
     label="first")
case(builtins.min, lambda r: (scalar(r, -1, 0), scalar(r, 0.1, 1)), argnums=(0, 1),
     label="first")
case(builtins.min, lambda r: (scalar(r, 0.1, 1), scalar(r, -1, 0)), argnums=(0, 1),
     label="second")
case(builtins.sum, lambda r: ([normal(r, 3), normal(r, 3), normal(r, 3)],), label="arrays")
case(builtins.sum, lambda r: ([scalar(r), scalar(r)],), label="floats")
case(builtins.sum, lambda r: (normal(r, 4, 3),), label="rows of an array")

# --------------------------------------------------------------------------- chainrule's own

case(relu_value, lambda r: (nonzero(r, 3, 4),))
case(softmax_value, lambda r: (normal(r, 3, 4),), label="last axis")
case(softmax_value, lambda r: (normal(r, 3, 4), 0), label="axis=0")
case(log_softmax_value, lambda r: (normal(r, 3, 4),), label="last axis")
case(log_softmax_value, lambda r: (normal(r, 3, 4),), axis=0, label="axis=0")
case(sigmoid_value, lambda r: (normal(r, 3, 4),))
case(read_variable, lambda r: (normal(r, 3, 4),))
case(watch_point, lambda r: (normal(r, 3, 4), normal(r, 3, 4)), argnums=(0, 1))

# --------------------------------------------------------------------------- runtime helpers

case(rt.unbroadcast, lambda r: (normal(r, 3, 4), normal(r, 4)), label="3x4 to 4")
case(rt.unbroadcast, lambda r: (normal(r, 2, 3, 4), normal(r, 3, 1)), label="2x3x4 to 3x1")
case(rt.unbroadcast, lambda r: (normal(r, 3), 1.0), label="to float")
case(rt.broadcast_like, lambda r: (normal(r, 4), normal(r, 3, 4)))
case(rt.expand_reduced, lambda r: (normal(r, 3), normal(r, 3, 4), 1), label="axis=1")
case(rt.expand_reduced, lambda r: (normal(r, 1, 4), normal(r, 3, 4), 0, True),
     label="keepdims")
case(rt.expand_reduced, lambda r: (scalar(r), normal(r, 2, 3)), label="all")
case(rt.getitem_adjoint, lambda r: (normal(r, 3), normal(r, 5), np.array([1, 3, 1])))
case(rt.setitem_value, lambda r: (normal(r, 3, 4), (1, slice(None)), normal(r, 4)),
     argnums=(0, 2), label="row")
case(rt.setitem_value, lambda r: (normal(r, 3, 4), (slice(0, 2), 1), scalar(r)),
     argnums=(0, 2), label="broadcast float")
case(rt.seq_item_adjoint,
     lambda r: ([normal(r, 3), normal(r, 2)], [normal(r, 3), normal(r, 2)], 1, normal(r, 2)),
     argnums=(0, 3))
case(rt.add_at, lambda r: (normal(r, 5), np.array([1, 3, 1]), normal(r, 3)), argnums=(0, 2),
     label="repeated index")
case(rt.add_at, lambda r: (normal(r, 3, 4), (slice(None), 1), scalar(r)), argnums=(0, 2),
     label="broadcast float")
case(rt.add_at, lambda r: ([normal(r, 3), normal(r, 2)], 1, normal(r, 2)), argnums=(0, 2),
     label="list")
case(rt.zero_at, lambda r: (normal(r, 3, 4), (1, slice(None))))
case(rt.stored_item_adjoint, lambda r: (normal(r, 3, 4), (slice(None), 0), normal(r, 3)),
     label="column")
case(rt.stored_item_adjoint, lambda r: (normal(r, 3, 4), (slice(None), 0), scalar(r)),
     label="broadcast float")
case(rt.at_adjoint, lambda r: (normal(r, 3, 4), 1, normal(r, 4)))
case(rt.at_adjoint, lambda r: (normal(r, 3, 4), (slice(None), 2), 0.5), label="broadcast")
case(rt.at_adjoint, lambda r: ([normal(r, 3), normal(r, 2)], 1, normal(r, 2)), label="list")
case(rt.grad_item, lambda r: (normal(r, 3, 4), 1, normal(r, 4)))
case(rt.snapshot, lambda r: (normal(r, 3, 4),))
case(rt.owned, lambda r: (normal(r, 3, 4), normal(r, 3, 4)))
case(rt.finalize, lambda r: ([normal(r, 3), normal(r, 2)], [normal(r, 3), normal(r, 2)]))
case(rt.sum_adjoint, lambda r: (normal(r, 3), [normal(r, 3), normal(r, 2, 3)]))
case(rt.sum_adjoint, lambda r: (normal(r, 3), normal(r, 4, 3)), label="array")
case(rt.sum_cotangents, lambda r: ([normal(r, 3), normal(r, 2, 3)], normal(r, 3)))
case(rt.push_grad, lambda r: ([normal(r, 3), normal(r, 2)], [normal(r, 3), normal(r, 2)],
                              normal(r, 4)), argnums=(0, 2))
case(rt.list_prefix, lambda r: ([normal(r, 3), normal(r, 2), normal(r, 4)], 2))
case(rt.list_prefix, lambda r: ([normal(r, 3), normal(r, 2), normal(r, 4)], 3), label="all")
case(rt.snapshot_all, lambda r: ([normal(r, 3), normal(r, 2)],))
case(rt.add_grad, lambda r: (normal(r, 3, 4), normal(r, 3, 4)), argnums=(0, 1), label="arrays")
case(rt.add_grad, lambda r: ([normal(r, 3), normal(r, 2)], [normal(r, 3), normal(r, 2)]),
     argnums=(0, 1), label="lists")
case(rt.split_like, lambda r: (normal(r, 5, 3), [normal(r, 2, 3), normal(r, 3, 3)]),
     label="axis=0")
case(rt.split_like, lambda r: (normal(r, 2, 3), [normal(r, 3), normal(r, 3)], 0),
     label="vstack of 1-d")
case(rt.split_like, lambda r: (normal(r, 7), [normal(r, 2, 2), normal(r, 3)], None),
     label="flattened")
case(rt.join_like, lambda r: ([normal(r, 2, 3), normal(r, 3, 3)], normal(r, 5, 3)),
     label="axis=0")
case(rt.join_like, lambda r: ([normal(r, 3), normal(r, 3)], normal(r, 1, 3, 2), 2),
     label="dstack of 1-d")
case(rt.join_like, lambda r: ([normal(r, 2, 2), normal(r, 3)], normal(r, 7), None),
     label="flattened")
case(rt.unstack, lambda r: (normal(r, 3, 4), 1))
case(rt.nested_stack, lambda r: ([[scalar(r), scalar(r)], [scalar(r), scalar(r)]],),
     label="nested floats")
case(rt.nested_stack, lambda r: ([normal(r, 3), normal(r, 3)],), label="arrays")
case(rt.nested_unstack, lambda r: (normal(r, 2, 2), [[0.0, 0.0], [0.0, 0.0]]),
     label="nested floats")
case(rt.nested_unstack, lambda r: (normal(r, 3, 4), normal(r, 3, 4)), label="array")
case(rt.repeat_adjoint, lambda r: (normal(r, 12), normal(r, 2, 3), 2), label="flattened")
case(rt.repeat_adjoint, lambda r: (normal(r, 3, 2), normal(r, 3, 2), [1, 0, 2], 0),
     label="per-entry repeats")
case(rt.tile_adjoint, lambda r: (normal(r, 4, 9), normal(r, 2, 3), (2, 3)))
case(rt.diagonal_adjoint, lambda r: (normal(r, 3), normal(r, 3, 4), 1))
case(rt.diff_adjoint, lambda r: (normal(r, 3, 4), 2, 0))
case(rt.weights_like, lambda r: (normal(r, 4), normal(r, 3, 4), 1))
case(rt.fit_to, lambda r: (normal(r, 6, 3), normal(r, 4, 5)), label="truncate and pad")
case(rt.fit_to, lambda r: (cplx(r, 4), normal(r, 4)), label="real part")
case(rt.symmetrize_tri, lambda r: (normal(r, 3, 3),), label="lower")
case(rt.symmetrize_tri, lambda r: (normal(r, 2, 3, 3), False), label="upper batch")
case(rt.symmetrize_tri_adjoint, lambda r: (normal(r, 3, 3),), label="lower")
case(rt.symmetrize_tri_adjoint, lambda r: (normal(r, 2, 3, 3), False), label="upper batch")
_ADJOINT_SHAPES = [((3, 5), (3, 4), (4, 5)), ((), (4,), (4,)), ((3,), (3, 4), (4,)),
                   ((5,), (4,), (4, 5)), ((2, 3, 5), (3, 4), (2, 4, 5))]
for _gs, _xs, _ys in _ADJOINT_SHAPES:
    _label = " ".join("x".join(map(str, s)) or "scalar" for s in (_gs, _xs, _ys))
    case(rt.matmul_adjoint_x, lambda r, s=(_gs, _xs, _ys): tuple(normal(r, *x) for x in s),
         argnums=(0, 2), label=_label)
    case(rt.matmul_adjoint_y, lambda r, s=(_gs, _xs, _ys): tuple(normal(r, *x) for x in s),
         argnums=(0, 1), label=_label)
for _fn, _argnums in ((rt.tensordot_adjoint_a, (0, 2)), (rt.tensordot_adjoint_b, (0, 1))):
    case(_fn, lambda r: (normal(r, 2, 5), normal(r, 2, 3, 4), normal(r, 3, 4, 5)),
         argnums=_argnums, label="axes=2")
    case(_fn, lambda r: (normal(r, 4, 4), normal(r, 3, 2, 4), normal(r, 2, 4, 3),
                         ([1, 0], [0, 2])), argnums=_argnums, label="axes lists")
for _fn, _argnums in ((rt.kron_adjoint_a, (0, 2)), (rt.kron_adjoint_b, (0, 1))):
    case(_fn, lambda r: (normal(r, 8, 15), normal(r, 2, 3), normal(r, 4, 5)),
         argnums=_argnums, label="2-d")
    case(_fn, lambda r: (normal(r, 2, 12), normal(r, 2, 3), normal(r, 4)),
         argnums=_argnums, label="mixed ndim")

# --------------------------------------------------------------------------- Jacobian helpers
# How the jacfwd/jacrev/hessian drivers assemble Jacobians (rules in chainrule.forward_rules).

case(rt.jacobian_columns, lambda r: ([normal(r, 2, 3) for _ in range(4)], normal(r, 2, 3),
                                     normal(r, 2, 2)))
case(rt.jacobian_columns, lambda r: ([scalar(r) for _ in range(3)], scalar(r), normal(r, 3)),
     label="scalar output")
case(rt.jacobian_columns, lambda r: ([[normal(r, 2), scalar(r)] for _ in range(3)],
                                     (normal(r, 2), scalar(r)), normal(r, 3)),
     label="tuple output")
case(rt.jacobian_columns_adjoint, lambda r: (normal(r, 2, 3, 2, 2), normal(r, 2, 3),
                                             normal(r, 2, 2)))
case(rt.jacobian_rows, lambda r: ([normal(r, 2, 2) for _ in range(6)], normal(r, 2, 3),
                                  normal(r, 2, 2)))
case(rt.jacobian_rows_adjoint, lambda r: (normal(r, 2, 3, 2, 2), normal(r, 2, 3),
                                          normal(r, 2, 2)))
case(rt.by_output, lambda r: ([[normal(r, 3), normal(r, 2)], [normal(r, 3), normal(r, 2)]],
                              (normal(r, 3), normal(r, 2))))
case(rt.by_output, lambda r: ([normal(r, 3), normal(r, 2)], normal(r, 4)), label="array output")
case(rt.by_argument, lambda r: ([[normal(r, 3), normal(r, 2)], [normal(r, 3), normal(r, 2)]],
                                (normal(r, 3), normal(r, 2))))

# --------------------------------------------------------------------------- methods, attributes

case(np.sum, lambda r: (normal(r, 3, 4),), method="sum", axis=1)
case(np.mean, lambda r: (normal(r, 3, 4), 0), method="mean")
case(np.prod, lambda r: (nonzero(r, 3, 4),), method="prod", axis=0)
case(np.var, lambda r: (normal(r, 3, 4),), method="var", ddof=1)
case(np.std, lambda r: (normal(r, 3, 4),), method="std", axis=1, keepdims=True)
case(np.max, lambda r: (distinct(r, 3, 4),), method="max", axis=1)
case(np.min, lambda r: (distinct(r, 3, 4),), method="min")
case(np.cumsum, lambda r: (normal(r, 3, 4), 1), method="cumsum")
case(np.cumprod, lambda r: (nonzero(r, 3, 4),), method="cumprod")
case(np.dot, lambda r: (normal(r, 3, 4), normal(r, 4)), argnums=(0, 1), method="dot")
case(np.ravel, lambda r: (normal(r, 3, 4),), method="ravel")
case(np.ravel, lambda r: (normal(r, 3, 4), "F"), method="flatten")
case(np.squeeze, lambda r: (normal(r, 3, 1),), method="squeeze")
case(np.swapaxes, lambda r: (normal(r, 2, 3, 4), 0, 2), method="swapaxes")
case(np.clip, lambda r: (away_from(r, _CLIP_VALUES, 3, 4), -0.5, 0.5), method="clip")
case(np.copy, lambda r: (normal(r, 3, 4),), method="copy")
case(np.trace, lambda r: (normal(r, 3, 3),), method="trace")
case(np.diagonal, lambda r: (normal(r, 3, 4), 1), method="diagonal")
case(np.repeat, lambda r: (normal(r, 2, 3), 2), method="repeat", axis=0)
case(np.take, lambda r: (normal(r, 3, 4), [0, 2]), method="take", axis=1)
case(np.conjugate, lambda r: (normal(r, 3, 4),), method="conj")
case(np.conjugate, lambda r: (normal(r, 3, 4),), method="conjugate")
case(rt.reshape_method, lambda r: (normal(r, 3, 4), 2, 6), method="reshape", label="varargs")
case(rt.reshape_method, lambda r: (normal(r, 3, 4), (6, 2)), method="reshape", order="F",
     label="tuple order=F")
case(rt.reshape_method, lambda r: (normal(r, 3, 4), -1), method="reshape", label="-1")
case(rt.transpose_method, lambda r: (normal(r, 3, 4),), method="transpose", label="no axes")
case(rt.transpose_method, lambda r: (normal(r, 2, 3, 4), 2, 0, 1), method="transpose",
     label="varargs")
case(rt.transpose_method, lambda r: (normal(r, 2, 3, 4), (1, 2, 0)), method="transpose",
     label="tuple")
case(rt.astype, lambda r: (normal(r, 3, 4), np.float64), method="astype", label="float64")
case(rt.astype, lambda r: (away_from(r, [-1.5, 0.5, 2.5], 3, 4), np.int64), method="astype",
     label="int64")
for _name in ("round", "any", "all", "argmax", "argmin", "argsort", "nonzero"):
    case(getattr(np, _name), lambda r: (distinct(r, 3, 4),), argnums=(), method=_name)
case(np.transpose, lambda r: (normal(r, 3, 4),), attr="T")
case(np.real, lambda r: (cplx(r, 3, 4),), attr="real")
case(np.imag, lambda r: (cplx(r, 3, 4),), attr="imag")
for _name in ("shape", "ndim", "size"):
    case(getattr(np, _name), lambda r: (normal(r, 3, 4),), argnums=(), attr=_name)
