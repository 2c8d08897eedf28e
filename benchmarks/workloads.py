"""Benchmark workloads: each has a plain primal, a hand-written NumPy gradient (checked by
finite differences), and candidates whose results are checked against it before timing.

A :class:`Workload` knows its arguments, its primal (the scalar function differentiated),
its hand-written NumPy gradient (the baseline, "the physical limit"), how to check that
baseline by central finite differences, and which of chainrule's engines apply to it.
The candidates of other libraries live in :mod:`benchmarks.peers`; the tape workloads T1
and T2 reuse :mod:`benchmarks.tape_overhead`'s code.

Workloads (issue 9):

* W1 scalar loop (1,000 iterations on a Python float), W2/W3 MLP losses, W4 a loop with a
  data-dependent ``if``, W5 100 SGD steps of logistic regression (one generated-gradient
  call per step), W6 Rosenbrock of 10,000 variables (gradient; "W6 HVP" the Hessian-vector
  product), W7 an RNN of 50 steps.
* T1 a 1,000-op scalar chain and T2 a small MLP step, both on ``GradientTape`` (per-op
  overhead against autograd and PyTorch eager).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import chainrule as cr

from . import tape_overhead as to

__all__ = ["Candidate", "Workload", "WORKLOADS", "WORKLOADS_BY_NAME", "chainrule_candidates",
           "check_result", "finite_difference_check", "to_numpy"]


# --------------------------------------------------------------------------- W1 scalar loop
def w1_loop(x):
    for i in range(1000):
        x = math.sin(x) * 0.9 + 0.1 * x * x
    return x


def w1_hand(x):
    xs = []
    for i in range(1000):
        xs.append(x)
        x = math.sin(x) * 0.9 + 0.1 * x * x
    g = 1.0
    for i in range(999, -1, -1):
        x = xs[i]
        g = g * (math.cos(x) * 0.9 + 0.2 * x)
    return g


# --------------------------------------------------------------------------- W2/W3 MLP
def mlp_loss(w1, w2, x, y):
    h = np.tanh(x @ w1)
    out = h @ w2
    return np.mean((out - y) ** 2)


def mlp_hand(w1, w2, x, y):
    a = x @ w1
    h = np.tanh(a)
    out = h @ w2
    d_out = 2.0 * (out - y) / out.size
    g_w2 = h.T @ d_out
    d_a = (d_out @ w2.T) * (1.0 - h * h)
    g_w1 = x.T @ d_a
    return g_w1, g_w2


def _mlp_args(batch: int, n_in: int, hidden: int, n_out: int) -> Callable[[], tuple]:
    def make() -> tuple:
        rng = np.random.default_rng(0)
        return (rng.standard_normal((n_in, hidden)) / np.sqrt(n_in),
                rng.standard_normal((hidden, n_out)) / np.sqrt(hidden),
                rng.standard_normal((batch, n_in)), rng.standard_normal((batch, n_out)))
    return make


# --------------------------------------------------------------------------- W4 branchy loop
def w4_loop(x):
    for i in range(200):
        if np.sum(x) > 0:
            x = np.sin(x) - 0.05
        else:
            x = np.tanh(x) + 0.05
    return np.sum(x * x)


def w4_hand(x):
    derivs = []
    for i in range(200):
        if np.sum(x) > 0:
            derivs.append(np.cos(x))
            x = np.sin(x) - 0.05
        else:
            t = np.tanh(x)
            derivs.append(1.0 - t * t)
            x = t + 0.05
    g = 2.0 * x
    for d in reversed(derivs):
        g = g * d
    return (g,)


def _w4_args() -> tuple:
    # Seed 0: both branches are taken (100 times each) and |sum(x)| stays above 0.6, so
    # the finite-difference check never straddles a branch switch.
    return (np.random.default_rng(0).standard_normal(100),)


# --------------------------------------------------------------------------- W5 logistic SGD
def logistic_loss(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logistic_hand(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return (X.T @ (p - y) / y.size,)


SGD_STEPS, SGD_LR = 100, 0.5


def sgd(grad: Callable[..., Any], args: tuple) -> Any:
    """100 SGD steps from ``args = (w0, X, y)``, calling ``grad(w, X, y)`` once per step;
    ``grad`` returns the gradient or a 1-tuple of it (the hand-written convention)."""
    w, X, y = args
    for _ in range(SGD_STEPS):
        g = grad(w, X, y)
        if type(g) is tuple:
            g = g[0]
        w = w - SGD_LR * g
    return w


def _w5_args() -> tuple:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 20))
    w_true = rng.standard_normal(20)
    y = (X @ w_true + 0.5 * rng.standard_normal(1000) > 0).astype(np.float64)
    return (np.zeros(20), X, y)


# --------------------------------------------------------------------------- W6 Rosenbrock
def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hand(x):
    a = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * a - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * a
    return (g,)


def rosenbrock_hvp_hand(x, v):
    """H v for the Rosenbrock function, from its tridiagonal Hessian (never formed)."""
    diag = np.zeros_like(x)
    diag[:-1] = 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    diag[1:] += 200.0
    hv = diag * v
    hv[:-1] -= 400.0 * x[:-1] * v[1:]
    hv[1:] -= 400.0 * x[:-1] * v[:-1]
    return hv


def _w6_args() -> tuple:
    return (np.random.default_rng(0).standard_normal(10_000),)


def _w6_hvp_args() -> tuple:
    return (*_w6_args(), np.random.default_rng(1).standard_normal(10_000))


# --------------------------------------------------------------------------- W7 RNN
def rnn_loss(wx, wh, xs, y):
    h = np.zeros((xs.shape[1], wh.shape[0]))
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ wx + h @ wh)
    return np.mean((h - y) ** 2)


def rnn_hand(wx, wh, xs, y):
    h = np.zeros((xs.shape[1], wh.shape[0]))
    hs = [h]
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ wx + h @ wh)
        hs.append(h)
    d_h = 2.0 * (h - y) / h.size
    g_wx = np.zeros_like(wx)
    g_wh = np.zeros_like(wh)
    for t in range(xs.shape[0] - 1, -1, -1):
        d_a = d_h * (1.0 - hs[t + 1] * hs[t + 1])
        g_wx += xs[t].T @ d_a
        g_wh += hs[t].T @ d_a
        d_h = d_a @ wh.T
    return g_wx, g_wh


RNN_STEPS, RNN_BATCH, RNN_IN, RNN_UNITS = 50, 32, 32, 64


def rnn_args(steps: int = RNN_STEPS) -> tuple:
    rng = np.random.default_rng(0)
    return (rng.standard_normal((RNN_IN, RNN_UNITS)) / np.sqrt(RNN_IN),
            rng.standard_normal((RNN_UNITS, RNN_UNITS)) / np.sqrt(RNN_UNITS),
            rng.standard_normal((steps, RNN_BATCH, RNN_IN)),
            rng.standard_normal((RNN_BATCH, RNN_UNITS)))


# --------------------------------------------------------------------------- T1/T2 tape
def chain_value(x, n_ops=to.CHAIN_OPS):
    """``tape_overhead.chain_numpy`` on a Python float, with a variable length."""
    for i in range(n_ops):
        k = i % 4
        if k == 0:
            x = x * to.C
        elif k == 1:
            x = math.sin(x)
        elif k == 2:
            x = x + to.C
        else:
            x = math.tanh(x)
    return x


def chain_hand(x, n_ops=to.CHAIN_OPS):
    """The chain's derivative: the product of the local derivatives, accumulated in reverse
    (the same order as a tape; the result, about 1e-307, stays a normal float)."""
    derivs = []
    for i in range(n_ops):
        k = i % 4
        if k == 0:
            derivs.append(to.C)
            x = x * to.C
        elif k == 1:
            derivs.append(math.cos(x))
            x = math.sin(x)
        elif k == 2:
            x = x + to.C
        else:
            x = math.tanh(x)
            derivs.append(1.0 - x * x)
    g = 1.0
    for d in reversed(derivs):
        g = g * d
    return (g,)


def tape_mlp_loss(x, y, w1, b1, w2, b2):
    """The loss whose gradient ``tape_overhead.mlp_numpy`` computes by hand."""
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    return np.mean((out - y) ** 2)


# --------------------------------------------------------------------------- the registry
@dataclass
class Candidate:
    """A zero-argument callable computing the workload's result (``fn``), with an optional
    one-off cost reported separately (``setup_s``, e.g. JAX's compilation)."""

    name: str
    fn: Callable[[], Any]
    setup_s: float | None = None
    # Exceptions of the first (checking) call that mean "this engine does not support the
    # workload yet": reported as a note instead of failing the suite.
    soft_errors: tuple[type[BaseException], ...] = ()


@dataclass
class Workload:
    """One row of the table.

    ``hand(*args)`` is the hand-written gradient (for ``kind="hvp"``, the Hessian-vector
    product, with ``args = (x, v)``); ``primal`` the scalar function of ``args`` (of
    ``args[:-1]`` for an HVP) that every engine differentiates with respect to ``argnums``.
    With a ``driver`` (W5), what is timed is ``driver(gradient_function, args)``.
    """

    name: str
    title: str
    make_args: Callable[[], tuple]
    primal: Callable[..., Any]
    hand: Callable[..., Any]
    argnums: tuple[int, ...] = (0,)
    kind: str = "grad"
    driver: Callable[[Callable[..., Any], tuple], Any] | None = None
    rounds: int = 7
    tape: bool = True  # the primal runs unchanged on GradientTape
    forward: bool = False  # chainrule's forward mode applies (a scalar input)
    notes: dict[str, str] = field(default_factory=dict)  # candidate -> why it is absent

    def baseline(self, args: tuple) -> Callable[[], Any]:
        if self.driver is not None:
            return lambda: self.driver(self.hand, args)
        return lambda: self.hand(*args)

    def bind(self, grad_fn: Callable[..., Any], args: tuple,
             finish: Callable[[Any], Any] | None = None) -> Callable[[], Any]:
        """A gradient function (same arguments as ``hand``) as a zero-argument candidate;
        ``finish`` is applied to its result (JAX: wait for the asynchronous result)."""
        driver = self.driver
        if driver is not None:
            run = lambda: driver(grad_fn, args)
        else:
            run = lambda: grad_fn(*args)
        if finish is None:
            return run
        return lambda: finish(run())


WORKLOADS = [
    Workload("W1", "scalar loop, 1,000 iterations of math.sin(x)*0.9 + 0.1*x*x",
             lambda: (0.3,), w1_loop, lambda x: (w1_hand(x),), forward=True, tape=False,
             notes={"chainrule tape": "math.sin on a Python float is invisible to a tape",
                    "chainrule @function": "stages tape code, so it sees what the tape sees"}),
    Workload("W2", "MLP loss, batch 32, 64 hidden, tanh, MSE", _mlp_args(32, 64, 64, 10),
             mlp_loss, mlp_hand, (0, 1)),
    Workload("W3", "MLP loss, batch 512, 1,024 hidden (compute-bound)",
             _mlp_args(512, 1024, 1024, 10), mlp_loss, mlp_hand, (0, 1), rounds=5),
    Workload("W4", "200-iteration loop, data-dependent if, 100-vector", _w4_args, w4_loop,
             w4_hand),
    Workload("W5", "logistic regression, 100 SGD steps on 1,000 x 20, one gradient call per "
             "step", _w5_args, logistic_loss, logistic_hand, driver=sgd),
    Workload("W6", "Rosenbrock, 10,000 variables: gradient", _w6_args, rosenbrock,
             rosenbrock_hand),
    Workload("W6 HVP", "Rosenbrock, 10,000 variables: Hessian-vector product", _w6_hvp_args,
             rosenbrock, lambda x, v: (rosenbrock_hvp_hand(x, v),), kind="hvp"),
    Workload("W7", "RNN, 50 steps, tanh cell, 64 units, batch 32", rnn_args, rnn_loss,
             rnn_hand, (0, 1)),
    Workload("T1", "tape: chain of 1,000 scalar ops (tape_overhead.chain)",
             lambda: (0.3,), chain_value, chain_hand, kind="tape-chain", forward=True),
    Workload("T2", "tape: MLP step, batch 32, 16 in, 64 tanh, 1 out, with biases "
             "(tape_overhead.mlp)", to._mlp_data, tape_mlp_loss, to.mlp_numpy,
             (2, 3, 4, 5), kind="tape-mlp"),
]
WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}


# --------------------------------------------------------------------------- checks
def to_numpy(v: Any) -> Any:
    """A result as NumPy: tuples/lists elementwise; Tensors, torch and JAX arrays converted."""
    if isinstance(v, (tuple, list)):
        return [to_numpy(e) for e in v]
    if hasattr(v, "detach"):  # torch
        v = v.detach()
    if hasattr(v, "numpy") and not isinstance(v, np.ndarray):
        v = v.numpy()
    return np.asarray(v, dtype=np.float64)


def _flat(v: Any) -> np.ndarray:
    v = to_numpy(v)
    if isinstance(v, list):
        return np.concatenate([np.ravel(e) for e in v])
    return np.ravel(v)


def check_result(workload: str, candidate: str, got: Any, want: Any,
                 rtol: float = 1e-6) -> None:
    """``got`` agrees with ``want`` to ``rtol`` relative, entrywise, with an absolute floor of
    ``rtol`` times the largest entry of ``want`` (so tiny gradients are checked too)."""
    g, w = _flat(got), _flat(want)
    if g.shape != w.shape:
        raise AssertionError(f"{workload}: {candidate} returned {g.size} numbers, "
                             f"the hand-written gradient {w.size}")
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    if not np.allclose(g, w, rtol=rtol, atol=rtol * scale):
        worst = float(np.max(np.abs(g - w)))
        raise AssertionError(f"{workload}: {candidate} disagrees with the hand-written "
                             f"gradient (max abs difference {worst:.3g}, scale {scale:.3g})")


def _directional_fd(f: Callable[[Any], float], x: Any, u: Any, eps: float = 1e-6) -> float:
    return (f(x + eps * u) - f(x - eps * u)) / (2 * eps)


def finite_difference_check(w: Workload, args: tuple) -> None:
    """Check the hand-written result by central differences along random directions, to
    1e-5 relative (``u . g`` against the derivative of the primal along ``u``)."""
    rng = np.random.default_rng(1)
    if w.kind == "tape-chain":
        # The full chain's derivative (~1e-307) is below what differences of its O(1)
        # value can resolve: check the same code on 8 operations, and the 1,000-op value
        # against tape_overhead's NumPy chain.
        args, n = (args[0],), 8
        exact = chain_hand(args[0], n)[0]
        numeric = _directional_fd(lambda v: chain_value(v, n), args[0], 1.0)
        _fd_compare(w, exact, numeric, 1.0 * abs(exact))
        if not math.isclose(chain_value(0.3), float(to.chain_numpy(0.3)), rel_tol=1e-12):
            raise AssertionError("T1: chain_value differs from tape_overhead.chain_numpy")
        return
    if w.kind == "hvp":
        # u . (H v) against the derivative of u . grad along v.
        x, v = args
        hv = w.hand(x, v)[0]
        u = rng.standard_normal(np.shape(x))
        numeric = _directional_fd(lambda z: float(u @ rosenbrock_hand(z)[0]), x, v)
        _fd_compare(w, float(u @ hv), numeric, np.linalg.norm(u) * np.linalg.norm(hv))
        return
    grads = w.hand(*args)
    for k, i in enumerate(w.argnums):
        u = rng.standard_normal(np.shape(args[i])) if np.ndim(args[i]) else 1.0

        def along(z: Any, i: int = i) -> float:
            a = list(args)
            a[i] = z
            return float(w.primal(*a))

        g = np.asarray(grads[k])
        numeric = _directional_fd(along, args[i], u)
        _fd_compare(w, float(np.sum(g * u)), numeric, np.linalg.norm(g) * np.linalg.norm(u))


def _fd_compare(w: Workload, exact: float, numeric: float, scale: float) -> None:
    if not math.isclose(exact, numeric, rel_tol=1e-5, abs_tol=1e-7 * scale):
        raise AssertionError(f"{w.name}: hand-written result {exact!r} disagrees with "
                             f"central finite differences {numeric!r}")


# --------------------------------------------------------------------------- chainrule
class _TensorArgs:
    """NumPy arguments as Tensors, converted once: an argument that is the same object as in
    the previous call reuses its Tensor (tape users keep their data as Tensors; converting
    copies, which would time a copy of W3's matrices instead of the tape)."""

    def __init__(self) -> None:
        self.raw: list[Any] = []
        self.tensors: list[Any] = []

    def __call__(self, args: tuple) -> list[Any]:
        if len(self.raw) != len(args):
            self.raw, self.tensors = [None] * len(args), [None] * len(args)
        for i, a in enumerate(args):
            if self.raw[i] is not a:
                self.raw[i], self.tensors[i] = a, cr.constant(a)
        return list(self.tensors)


def _numpy(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_numpy(e) for e in v)
    return v.numpy()


def _tape_grad(primal: Callable[..., Any], argnums: tuple[int, ...]) -> Callable[..., Any]:
    """The gradient of ``primal`` recorded on an eager GradientTape, as a NumPy function."""
    tensors = _TensorArgs()

    def grad_fn(*args: Any) -> Any:
        vals = tensors(args)
        sources = [vals[i] for i in argnums]
        with cr.GradientTape() as tape:
            for s in sources:
                tape.watch(s)
            y = primal(*vals)
        return _numpy(tape.gradient(y, sources))
    return grad_fn


def _tape_hvp(primal: Callable[..., Any]) -> Callable[..., Any]:
    """H v by nested eager tapes: the gradient of ``sum(grad * v)`` (reverse over reverse)."""
    tensors = _TensorArgs()

    def hvp_fn(x: Any, v: Any) -> Any:
        xt, vt = tensors((x, v))
        with cr.GradientTape() as outer:
            outer.watch(xt)
            with cr.GradientTape() as inner:
                inner.watch(xt)
                y = primal(xt)
            g = inner.gradient(y, xt)
            s = np.sum(g * vt)
        return outer.gradient(s, xt).numpy()
    return hvp_fn


def _staged_grad(primal: Callable[..., Any], nargs: int, argnums: tuple[int, ...]
                 ) -> Callable[..., Any]:
    """The tape code of :func:`_tape_grad` under ``@chainrule.function`` (staged into
    generated code at the first call), for the argument patterns of the workloads."""
    if (nargs, argnums) == (1, (0,)):
        @cr.function
        def step(a):
            with cr.GradientTape() as tape:
                tape.watch(a)
                y = primal(a)
            return tape.gradient(y, a)
    elif (nargs, argnums) == (3, (0,)):
        @cr.function
        def step(a, b, c):
            with cr.GradientTape() as tape:
                tape.watch(a)
                y = primal(a, b, c)
            return tape.gradient(y, a)
    elif (nargs, argnums) == (4, (0, 1)):
        @cr.function
        def step(a, b, c, d):
            with cr.GradientTape() as tape:
                tape.watch(a)
                tape.watch(b)
                y = primal(a, b, c, d)
            return tape.gradient(y, [a, b])
    else:
        raise NotImplementedError(f"no staged step for {nargs} arguments, argnums {argnums}")
    tensors = _TensorArgs()
    return lambda *args: _numpy(step(*tensors(args)))


def _staged_hvp(primal: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`_tape_hvp`'s nested tapes under ``@chainrule.function``."""
    @cr.function
    def step(x, v):
        with cr.GradientTape() as outer:
            outer.watch(x)
            with cr.GradientTape() as inner:
                inner.watch(x)
                y = primal(x)
            g = inner.gradient(y, x)
            s = np.sum(g * v)
        return outer.gradient(s, x)

    tensors = _TensorArgs()
    return lambda x, v: step(*tensors((x, v))).numpy()


def chainrule_candidates(w: Workload, args: tuple) -> tuple[list[Candidate], dict[str, str]]:
    """chainrule's engines that apply to ``w``, and a note for each one that does not."""
    out: list[Candidate] = []
    notes = dict(w.notes)
    staged = hasattr(cr, "function")
    if not staged:
        notes["chainrule @function"] = "chainrule.function does not exist in this version"
    # Staging is new: a construct it rejects (TransformError) becomes a note, not a failure.
    staging_errors = (cr.TransformError, NotImplementedError)
    if w.kind == "hvp":
        x, v = args
        out.append(Candidate("chainrule", lambda: cr.hvp(w.primal, (x,), (v,))))
        out.append(Candidate("chainrule tape", w.bind(_tape_hvp(w.primal), args)))
        if staged:
            out.append(Candidate("chainrule @function", w.bind(_staged_hvp(w.primal), args),
                                 soft_errors=staging_errors))
        notes["chainrule forward"] = "this row's chainrule is chainrule.hvp (forward over reverse)"
    elif w.kind == "tape-chain":
        x0 = cr.constant(args[0])
        out.append(Candidate("chainrule tape", lambda: to.chain_tape(x0)))
        if staged:
            chain = cr.function(to.chain_tape)
            out.append(Candidate("chainrule @function", lambda: chain(x0),
                                 soft_errors=staging_errors))
        out.append(Candidate("chainrule forward",
                             w.bind(cr.grad(w.primal, mode="forward"), args)))
        out.append(Candidate("chainrule", w.bind(cr.grad(w.primal), args)))
    elif w.kind == "tape-mlp":
        out.append(Candidate("chainrule tape", to._tape_mlp()))
        if staged:
            out.append(Candidate("chainrule @function", cr.function(to._tape_mlp()),
                                 soft_errors=staging_errors))
        out.append(Candidate("chainrule", w.bind(cr.grad(w.primal, argnums=w.argnums), args)))
        notes["chainrule forward"] = "4,000+ inputs: one forward pass per input"
    else:
        out.append(Candidate("chainrule", w.bind(cr.grad(w.primal, argnums=w.argnums), args)))
        if w.forward:
            out.append(Candidate("chainrule forward",
                                 w.bind(cr.grad(w.primal, argnums=w.argnums, mode="forward"),
                                        args)))
        else:
            notes.setdefault("chainrule forward", "array inputs: one forward pass per element")
        if w.tape:
            out.append(Candidate("chainrule tape", w.bind(_tape_grad(w.primal, w.argnums),
                                                          args)))
            if staged:
                try:
                    fn = _staged_grad(w.primal, len(args), w.argnums)
                except NotImplementedError as exc:
                    notes["chainrule @function"] = str(exc)
                else:
                    out.append(Candidate("chainrule @function", w.bind(fn, args),
                                         soft_errors=staging_errors))
    return out, notes
