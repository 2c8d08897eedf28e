"""Weight initializers for :mod:`chainrule.nn` layers (``tf.keras.initializers`` over NumPy).

An initializer is a callable ``init(shape, dtype) -> numpy.ndarray``. The classes here follow
Keras's documented definitions (fans, limits, truncation at two standard deviations); any
callable with that signature may be passed wherever an initializer is expected, and
:func:`get` turns Keras's string names (``"glorot_uniform"``, ``"zeros"``...) into instances.

Guarantees:

* Reproducible runs: an initializer built with ``seed=None`` draws from one module-level
  :class:`numpy.random.Generator`; :func:`set_seed` reseeds it, so the same seed and the
  same sequence of layer builds give the same weights. An initializer built with an integer
  ``seed`` uses a fresh generator seeded with it at every call, so it returns the same
  values every time it is called (as Keras 3's seeded initializers).
* The result is a new, writable array of exactly ``shape`` and ``dtype`` (float64 when
  ``dtype`` is None).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal",
    "LecunNormal", "compute_fans", "get", "set_seed",
]

_GENERATOR = np.random.default_rng()

# The standard deviation of a unit normal truncated to [-2, 2]: Keras divides by it so that
# truncated variance-scaling initializers keep the variance they promise.
_TRUNCATED_STD = 0.87962566103423978


def set_seed(seed: int | None) -> None:
    """Reseed the generator used by every initializer created without a ``seed``."""
    global _GENERATOR
    _GENERATOR = np.random.default_rng(seed)


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(s) for s in shape)


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float64 if dtype is None else dtype)


def compute_fans(shape: Sequence[int]) -> tuple[float, float]:
    """``(fan_in, fan_out)`` of a weight of ``shape``, as Keras computes them: a matrix
    ``(in, out)`` gives ``(in, out)``; a vector ``(n,)`` gives ``(n, n)``; higher ranks
    (convolution kernels) multiply both by the receptive field ``prod(shape[:-2])``."""
    shape = _shape(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = float(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement :meth:`sample`; ``seed`` as described above."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def _generator(self) -> np.random.Generator:
        return _GENERATOR if self.seed is None else np.random.default_rng(self.seed)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Values of ``shape`` in float64, drawn from ``rng`` when random."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample()")

    def __call__(self, shape: Any, dtype: Any = None) -> np.ndarray:
        shape = _shape(shape)
        dtype = _dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(f"{type(self).__name__}: expected a floating dtype, got {dtype}")
        return np.asarray(self.sample(shape, self._generator()), dtype=dtype).reshape(shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed!r})"


class Zeros(Initializer):
    """All zeros."""

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.zeros(shape)


class Ones(Initializer):
    """All ones."""

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.ones(shape)


class Constant(Initializer):
    """Every element equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        super().__init__(None)
        self.value = float(value)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.full(shape, self.value)


class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)``."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.minval, self.maxval, size=shape)


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.normal(self.mean, self.stddev, size=shape)


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Unit normal values redrawn until they lie within two standard deviations."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while np.any(bad):
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return out


class TruncatedNormal(Initializer):
    """Normal with ``mean`` and ``stddev``, values beyond two ``stddev`` redrawn."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.mean + self.stddev * _truncated_normal(rng, shape)


class VarianceScaling(Initializer):
    """Keras's ``VarianceScaling``: variance ``scale / n`` with ``n`` the fan in, the fan out
    or their average (``mode``); ``distribution`` ``"truncated_normal"``,
    ``"untruncated_normal"`` or ``"uniform"`` (limit ``sqrt(3 * scale / n)``)."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None) -> None:
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("distribution must be 'truncated_normal', 'untruncated_normal' "
                             f"or 'uniform', got {distribution!r}")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        variance = self.scale / max(1.0, n[self.mode])
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return np.sqrt(variance) * rng.standard_normal(shape)
        return np.sqrt(variance) / _TRUNCATED_STD * _truncated_normal(rng, shape)


class GlorotUniform(VarianceScaling):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    """Truncated normal, ``stddev = sqrt(2 / (fan_in + fan_out))``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    """Uniform on ``[-limit, limit]``, ``limit = sqrt(6 / fan_in)``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    """Truncated normal, ``stddev = sqrt(2 / fan_in)``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunNormal(VarianceScaling):
    """Truncated normal, ``stddev = sqrt(1 / fan_in)``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


_BY_NAME: dict[str, Callable[[], Initializer]] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant,
    "random_uniform": RandomUniform, "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_normal": LecunNormal,
}


def get(identifier: Any) -> Callable[..., np.ndarray]:
    """An initializer from Keras's snake-case name or class name (``"glorot_uniform"``,
    ``"GlorotUniform"``), an instance or any ``(shape, dtype)`` callable (returned as is)."""
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_NAME else _snake_case(identifier)
        if key not in _BY_NAME:
            raise ValueError(f"Unknown initializer {identifier!r}; known names: "
                             f"{', '.join(sorted(_BY_NAME))}")
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"Could not interpret initializer {identifier!r}: give a name, an "
                    "Initializer or a callable (shape, dtype) -> array")


def _snake_case(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
