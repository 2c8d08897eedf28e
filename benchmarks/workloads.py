"""Benchmark workloads: each has a plain primal, a hand-written NumPy gradient (checked by
finite differences), and candidates whose results are checked against it before timing."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import chainrule as cr

__all__ = ["Workload", "WORKLOADS", "check_all"]


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


# --------------------------------------------------------------------------- W6 Rosenbrock hvp
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


def _w6_args(quick: bool) -> tuple:
    return (np.random.default_rng(0).standard_normal(10_000),)


def _w6_hvp(args: tuple) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """Hessian-vector products, each with the reference it is checked against: the
    hand-written product, itself checked by central differences of the gradient."""
    (x,) = args
    v = np.random.default_rng(1).standard_normal(np.shape(x))
    eps = 1e-6
    numeric = (rosenbrock_hand(x + eps * v)[0] - rosenbrock_hand(x - eps * v)[0]) / (2 * eps)
    if not np.allclose(rosenbrock_hvp_hand(x, v), numeric, rtol=1e-5, atol=1e-4):
        raise AssertionError("W6: hand-written hvp disagrees with finite differences")

    def reference() -> Any:
        return rosenbrock_hvp_hand(x, v)

    out = {"chainrule hvp": (lambda: cr.hvp(rosenbrock, (x,), (v,)), reference),
           "hand-written hvp": (reference, reference)}
    try:
        import autograd

        ag_hvp = autograd.hessian_vector_product(_autograd_version(WORKLOADS_BY_NAME["W6"]))
        out["autograd hvp"] = (lambda: ag_hvp(x, v), reference)
    except ImportError:
        pass
    return out


def _w6_summary(results: list[Any]) -> str:
    by = {r.candidate: r for r in results}
    if "chainrule hvp" not in by or "chainrule reverse" not in by:
        return ""
    ratio = by["chainrule hvp"].seconds / by["chainrule reverse"].seconds
    return f"chainrule hvp / chainrule gradient (median times): {ratio:.2f}"


@dataclass
class Workload:
    name: str
    title: str
    args: Callable[[bool], tuple[Any, ...]]
    primal: Callable[..., Any]
    hand: Callable[..., Any]
    argnums: tuple[int, ...]
    rounds: int = 7
    # More candidates, each with its own reference result: name -> (candidate, reference).
    extra: Callable[[tuple], dict[str, tuple[Callable[[], Any], Callable[[], Any]]]] | None = None
    # A line printed under the workload's table.
    summary: Callable[[list[Any]], str] | None = None


def _mlp_args(batch: int, n_in: int, hidden: int, n_out: int) -> Callable[[bool], tuple]:
    def make(quick: bool) -> tuple:
        rng = np.random.default_rng(0)
        return (rng.standard_normal((n_in, hidden)) / np.sqrt(n_in),
                rng.standard_normal((hidden, n_out)) / np.sqrt(hidden),
                rng.standard_normal((batch, n_in)), rng.standard_normal((batch, n_out)))
    return make


WORKLOADS = [
    Workload("W1", "scalar loop, 1,000 iterations of sin(x)*0.9 + 0.1*x*x",
             lambda quick: (0.3,), w1_loop, lambda x: (w1_hand(x),), (0,)),
    Workload("W2", "MLP loss, batch 32, 64 hidden, tanh, MSE", _mlp_args(32, 64, 64, 10),
             mlp_loss, mlp_hand, (0, 1)),
    Workload("W3", "MLP loss, batch 512, 1,024 hidden (compute-bound)",
             _mlp_args(512, 1024, 1024, 10), mlp_loss, mlp_hand, (0, 1), rounds=5),
    Workload("W6", "Rosenbrock of 10,000 variables: gradient and Hessian-vector product",
             _w6_args, rosenbrock, rosenbrock_hand, (0,), extra=_w6_hvp, summary=_w6_summary),
]
WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}


def _flat(v: Any) -> np.ndarray:
    if isinstance(v, (tuple, list)):
        return np.concatenate([np.ravel(np.asarray(e, dtype=np.float64)) for e in v])
    return np.ravel(np.asarray(v, dtype=np.float64))


def finite_difference_check(w: Workload, args: tuple) -> None:
    """Check the hand-written gradient by central differences along a random direction."""
    rng = np.random.default_rng(1)
    grads = w.hand(*args)
    eps = 1e-6
    for k, i in enumerate(w.argnums):
        u = rng.standard_normal(np.shape(args[i])) if np.ndim(args[i]) else 1.0
        plus = list(args)
        minus = list(args)
        plus[i] = args[i] + eps * u
        minus[i] = args[i] - eps * u
        numeric = (w.primal(*plus) - w.primal(*minus)) / (2 * eps)
        exact = float(np.sum(np.asarray(grads[k]) * u))
        if not np.isclose(exact, numeric, rtol=1e-5, atol=1e-7):
            raise AssertionError(f"{w.name}: hand-written gradient {exact} != FD {numeric}")


def candidates(w: Workload, args: tuple) -> dict[str, Callable[[], Any]]:
    """Every installed candidate, as a zero-argument callable returning the gradients."""
    out: dict[str, Callable[[], Any]] = {}
    df = cr.grad(w.primal, argnums=w.argnums)
    out["chainrule reverse"] = lambda: df(*args)
    try:
        import autograd

        ag = autograd.grad(_autograd_version(w), argnum=list(w.argnums)) if len(w.argnums) > 1 \
            else autograd.grad(_autograd_version(w), argnum=w.argnums[0])
        out["autograd"] = (lambda: ag(*args)) if len(w.argnums) > 1 else (lambda: (ag(*args),))
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(1)
        tf = _torch_version(w)
        if tf is not None:
            out["PyTorch eager"] = lambda: tf(*args)
    except ImportError:
        pass
    if w.extra is not None:
        out.update({name: fn for name, (fn, _) in w.extra(args).items()})
    return out


def _autograd_version(w: Workload) -> Callable[..., Any]:
    import autograd.numpy as anp

    if w.name == "W6":
        def rosen(x):
            return anp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
        return rosen
    if w.name == "W1":
        def f(x):
            for i in range(1000):
                x = anp.sin(x) * 0.9 + 0.1 * x * x
            return x
        return f

    def loss(w1, w2, x, y):
        h = anp.tanh(anp.dot(x, w1))
        out = anp.dot(h, w2)
        return anp.mean((out - y) ** 2)
    return loss


def _torch_version(w: Workload) -> Callable[..., Any] | None:
    import torch

    if w.name == "W6":
        def rosen(x):
            t = torch.from_numpy(x).requires_grad_(True)
            y = torch.sum(100.0 * (t[1:] - t[:-1] ** 2) ** 2 + (1.0 - t[:-1]) ** 2)
            y.backward()
            return (t.grad.numpy(),)
        return rosen
    if w.name == "W1":
        def f(x):
            t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            y = t
            for i in range(1000):
                y = torch.sin(y) * 0.9 + 0.1 * y * y
            y.backward()
            return (t.grad.item(),)
        return f

    def g(w1, w2, x, y):
        tw1 = torch.from_numpy(w1).requires_grad_(True)
        tw2 = torch.from_numpy(w2).requires_grad_(True)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        h = torch.tanh(tx @ tw1)
        out = h @ tw2
        loss = torch.mean((out - ty) ** 2)
        loss.backward()
        return tw1.grad.numpy(), tw2.grad.numpy()
    return g


def check_all(w: Workload, args: tuple, cands: dict[str, Callable[[], Any]]) -> None:
    """Every candidate must agree with the hand-written gradient (or, for a workload's extra
    candidates, with their own hand-written reference) to 1e-6 relative."""
    expected = _flat(w.hand(*args))
    references = {name: ref for name, (_, ref) in w.extra(args).items()} if w.extra else {}
    for name, fn in cands.items():
        got = _flat(fn())
        want = _flat(references[name]()) if name in references else expected
        if not np.allclose(got, want, rtol=1e-6, atol=1e-9):
            what = "its reference" if name in references else "the hand-written gradient"
            raise AssertionError(f"{w.name}: {name} disagrees with {what}")
