"""The other libraries' candidates: autograd, JAX (un-jitted and jitted) and PyTorch eager.

Each is optional: a library that is not installed is reported as skipped, with a note.

* **autograd** and **JAX** run the workload's own primal, with its module globals ``np``
  and ``math`` rebound to ``autograd.numpy`` / ``jax.numpy`` (:func:`rebind`): the same
  source, line for line. JAX runs in float64 (``jax_enable_x64``) on the CPU, one thread.
* **JAX jit** compiles the gradient once (compile time reported separately, not in the
  ratio). A jitted function cannot branch in Python on traced values, and unrolling a
  1,000-iteration Python loop takes XLA about a minute to compile, so loops use JAX's own
  idioms there: ``lax.fori_loop`` (W1), ``lax.fori_loop`` + ``lax.cond`` (W4),
  ``lax.scan`` (W7).
* **PyTorch eager** versions are written with ``torch.*`` (float64, one thread), from and
  to NumPy arrays on every call (``torch.from_numpy`` shares memory; no copies).
* The tape workloads T1 and T2 reuse :mod:`benchmarks.tape_overhead`'s autograd and
  PyTorch versions.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

from . import tape_overhead as to
from .workloads import Candidate, Workload

__all__ = ["PEERS", "peer_candidates", "rebind", "versions"]

PEERS = ("autograd", "JAX", "JAX jit", "PyTorch eager")

# Candidates that take seconds per call: left out of ``--quick`` runs and checks (the full
# run times them). Un-jitted JAX sends every operation of a Python loop through its
# dispatch and autodiff machinery: about 10 s per W1 gradient, 1-4 s for W4, W5 (100
# gradient calls) and W7 on the development box.
SLOW = {("W1", "JAX"), ("W4", "JAX"), ("W5", "JAX"), ("W7", "JAX")}


def rebind(f: Callable[..., Any], **names: Any) -> Callable[..., Any]:
    """``f`` with some of its module globals replaced (``np=autograd.numpy``)."""
    g = dict(f.__globals__)
    g.update(names)
    return types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)


def _math_of(xnp: Any) -> Any:
    """A stand-in for the ``math`` module backed by an array module."""
    return types.SimpleNamespace(**{n: getattr(xnp, n) for n in
                                    ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh")})


def _argnum(w: Workload) -> Any:
    return w.argnums if len(w.argnums) > 1 else w.argnums[0]


def versions() -> dict[str, str]:
    """Installed peer versions (``"not installed"`` otherwise)."""
    out = {}
    for mod, label in (("autograd", "autograd"), ("jax", "JAX"), ("torch", "PyTorch")):
        try:
            m = __import__(mod)
            out[label] = getattr(m, "__version__", None) or _dist_version(mod)
        except ImportError:
            out[label] = "not installed"
    return out


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _reused(name: str, make: Callable[[], Any]) -> Candidate:
    """A candidate from ``benchmarks.tape_overhead`` (whose makers return None when their
    library is missing)."""
    fn = make()
    if fn is None:
        raise ImportError(name)
    return Candidate(name, fn)


# --------------------------------------------------------------------------- autograd
def _autograd(w: Workload, args: tuple) -> Candidate:
    import autograd
    import autograd.numpy as anp

    if w.kind.startswith("tape"):
        return _reused("autograd", to._autograd_chain if w.kind == "tape-chain"
                       else to._autograd_mlp)
    f = rebind(w.primal, np=anp, math=_math_of(anp))
    if w.kind == "hvp":
        return Candidate("autograd", w.bind(autograd.hessian_vector_product(f), args))
    return Candidate("autograd", w.bind(autograd.grad(f, argnum=_argnum(w)), args))


# --------------------------------------------------------------------------- JAX
def _jax_modules() -> tuple[Any, Any, Any]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    return jax, jnp, lax


def _jax_jit_primal(w: Workload) -> Callable[..., Any] | None:
    """The lax-idiom versions of the loop workloads, for ``jax.jit``."""
    jax, jnp, lax = _jax_modules()
    if w.name == "W1":
        def w1_lax(x):
            return lax.fori_loop(0, 1000, lambda i, x: jnp.sin(x) * 0.9 + 0.1 * x * x, x)
        return w1_lax
    if w.name == "W4":
        def step(i, x):
            return lax.cond(jnp.sum(x) > 0, lambda x: jnp.sin(x) - 0.05,
                            lambda x: jnp.tanh(x) + 0.05, x)

        def w4_lax(x):
            x = lax.fori_loop(0, 200, step, x)
            return jnp.sum(x * x)
        return w4_lax
    if w.name == "W7":
        def rnn_lax(wx, wh, xs, y):
            def cell(h, x_t):
                return jnp.tanh(x_t @ wx + h @ wh), None

            h, _ = lax.scan(cell, jnp.zeros((xs.shape[1], wh.shape[0])), xs)
            return jnp.mean((h - y) ** 2)
        return rnn_lax
    return None


def _jax(w: Workload, args: tuple, jit: bool) -> Candidate:
    jax, jnp, lax = _jax_modules()
    f = (_jax_jit_primal(w) if jit else None) or rebind(w.primal, np=jnp, math=_math_of(jnp))
    if w.kind == "hvp":
        grad_f = jax.grad(f)

        def g(x, v):
            return jax.jvp(grad_f, (x,), (v,))[1]
    else:
        g = jax.grad(f, argnums=_argnum(w))
    name = "JAX jit" if jit else "JAX"
    if not jit:
        return Candidate(name, w.bind(g, args, finish=jax.block_until_ready))
    start = time.perf_counter()
    compiled = jax.jit(g).lower(*args).compile()
    setup = time.perf_counter() - start
    return Candidate(name, w.bind(compiled, args, finish=jax.block_until_ready), setup)


# --------------------------------------------------------------------------- PyTorch
def _torch_fns() -> dict[str, Callable[..., Any]]:
    import torch

    torch.set_num_threads(1)
    T = torch.from_numpy

    def leaf(a: Any) -> Any:
        if isinstance(a, float):
            return torch.tensor(a, dtype=torch.float64, requires_grad=True)
        return T(a).requires_grad_(True)

    def grads(loss: Any, *leaves: Any) -> tuple:
        return tuple(g.numpy() for g in torch.autograd.grad(loss, leaves))

    def w1(x):
        t = leaf(x)
        y = t
        for i in range(1000):
            y = torch.sin(y) * 0.9 + 0.1 * y * y
        return grads(y, t)

    def mlp(w1, w2, x, y):
        tw1, tw2 = leaf(w1), leaf(w2)
        h = torch.tanh(T(x) @ tw1)
        return grads(torch.mean((h @ tw2 - T(y)) ** 2), tw1, tw2)

    def w4(x):
        t = leaf(x)
        y = t
        for i in range(200):
            if torch.sum(y) > 0:
                y = torch.sin(y) - 0.05
            else:
                y = torch.tanh(y) + 0.05
        return grads(torch.sum(y * y), t)

    def logistic(w, X, y):
        tw = leaf(w)
        ty = T(y)
        p = 1.0 / (1.0 + torch.exp(-(T(X) @ tw)))
        return grads(-torch.mean(ty * torch.log(p) + (1.0 - ty) * torch.log(1.0 - p)), tw)

    def rosen(x):
        return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def w6(x):
        t = leaf(x)
        return grads(rosen(t), t)

    def w6_hvp(x, v):
        # Reverse over reverse: the gradient of (grad . v), the usual PyTorch idiom.
        t = leaf(x)
        (g,) = torch.autograd.grad(rosen(t), t, create_graph=True)
        return grads(torch.sum(g * T(v)), t)

    def rnn(wx, wh, xs, y):
        twx, twh = leaf(wx), leaf(wh)
        txs = T(xs)
        h = torch.zeros((xs.shape[1], wh.shape[0]), dtype=torch.float64)
        for t in range(xs.shape[0]):
            h = torch.tanh(txs[t] @ twx + h @ twh)
        return grads(torch.mean((h - T(y)) ** 2), twx, twh)

    return {"W1": w1, "W2": mlp, "W3": mlp, "W4": w4, "W5": logistic, "W6": w6,
            "W6 HVP": w6_hvp, "W7": rnn}


def _torch(w: Workload, args: tuple) -> Candidate | None:
    if w.kind.startswith("tape"):
        return _reused("PyTorch eager", to._torch_chain if w.kind == "tape-chain"
                       else to._torch_mlp)
    fn = _torch_fns().get(w.name)
    return None if fn is None else Candidate("PyTorch eager", w.bind(fn, args))


# --------------------------------------------------------------------------- selection
def peer_candidates(w: Workload, args: tuple, quick: bool = False,
                    include: tuple[str, ...] = PEERS) -> tuple[list[Candidate], dict[str, str]]:
    """The installed peers (of ``include``) for ``w``, and a note for each one left out."""
    out: list[Candidate] = []
    notes: dict[str, str] = {}

    def want(name: str) -> bool:
        if name not in include:
            return False
        if quick and (w.name, name) in SLOW:
            notes[name] = "seconds per call: timed in the full run only"
            return False
        return True

    if want("autograd"):
        try:
            out.append(_autograd(w, args))
        except ImportError:
            notes["autograd"] = "not installed"
    tape_row = w.kind.startswith("tape")
    for name, jit in (("JAX", False), ("JAX jit", True)):
        if tape_row and name in include:
            notes[name] = "see W1/W2 (tape_overhead has no JAX version)"
        elif want(name):
            try:
                out.append(_jax(w, args, jit))
            except ImportError:
                notes[name] = "not installed"
    if want("PyTorch eager"):
        try:
            cand = _torch(w, args)
        except ImportError:
            notes["PyTorch eager"] = "not installed"
        else:
            if cand is not None:
                out.append(cand)
    return out, notes
