"""Per-operation overhead of the eager GradientTape against autograd and PyTorch eager.

Run from the repository root::

    python -m benchmarks.tape_overhead [--rounds 7] [--json out.json]

Two workloads, each timed as record + backward (one full gradient evaluation):

* ``chain``: a chain of 1,000 scalar operations (``* c``, ``sin``, ``+ c``, ``tanh``
  repeated), differentiated with respect to its float64 input. Reported per operation in
  microseconds; the plain NumPy forward pass of the same chain is shown for reference.
* ``mlp``: one gradient of a small MLP (batch 32, 16 inputs, 64 tanh hidden units, 1 output,
  mean squared error) with respect to its four parameters, float64; the hand-written NumPy
  gradient is the baseline.

Candidates are interleaved over rounds (each round times every candidate once) and the
median over rounds is reported. BLAS runs on one thread (set before NumPy is imported).
autograd and torch are optional: a missing one is reported as skipped.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from benchmarks.harness import time_call  # noqa: E402

CHAIN_OPS = 1000
OURS = "chainrule GradientTape"
C = 1.0001
B, D_IN, H, D_OUT = 32, 16, 64, 1


# ------------------------------------------------------------------------------ chain

def chain_numpy(x: float) -> Any:
    y = np.float64(x)
    for i in range(CHAIN_OPS):
        k = i % 4
        if k == 0:
            y = y * C
        elif k == 1:
            y = np.sin(y)
        elif k == 2:
            y = y + C
        else:
            y = np.tanh(y)
    return y


def chain_tape(x0: Any) -> Any:
    with cr.GradientTape() as tape:
        tape.watch(x0)
        y = x0
        for i in range(CHAIN_OPS):
            k = i % 4
            if k == 0:
                y = y * C
            elif k == 1:
                y = np.sin(y)
            elif k == 2:
                y = y + C
            else:
                y = np.tanh(y)
    return tape.gradient(y, x0)


def _autograd_chain() -> Callable[[], Any] | None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None

    def f(x: Any) -> Any:
        y = x
        for i in range(CHAIN_OPS):
            k = i % 4
            if k == 0:
                y = y * C
            elif k == 1:
                y = anp.sin(y)
            elif k == 2:
                y = y + C
            else:
                y = anp.tanh(y)
        return y

    df = autograd.grad(f)
    return lambda: df(0.3)


def _torch_chain() -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def run() -> Any:
        x = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        y = x
        for i in range(CHAIN_OPS):
            k = i % 4
            if k == 0:
                y = y * C
            elif k == 1:
                y = torch.sin(y)
            elif k == 2:
                y = y + C
            else:
                y = torch.tanh(y)
        (g,) = torch.autograd.grad(y, x)
        return g

    return run


# -------------------------------------------------------------------------------- mlp

def _mlp_data() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, D_IN))
    y = rng.standard_normal((B, D_OUT))
    w1 = rng.standard_normal((D_IN, H)) * 0.3
    b1 = np.zeros(H)
    w2 = rng.standard_normal((H, D_OUT)) * 0.3
    b2 = np.zeros(D_OUT)
    return x, y, w1, b1, w2, b2


def mlp_numpy(x: np.ndarray, y: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
              b2: np.ndarray) -> list[np.ndarray]:
    """The hand-written gradient (the baseline)."""
    h = np.tanh(x @ w1 + b1)
    out = h @ w2 + b2
    d_out = 2.0 * (out - y) / out.size
    d_h = (d_out @ w2.T) * (1.0 - h * h)
    return [x.T @ d_h, d_h.sum(0), h.T @ d_out, d_out.sum(0)]


def _tape_mlp() -> Callable[[], Any]:
    x, y, *params = _mlp_data()
    w1, b1, w2, b2 = (cr.Variable(p) for p in params)

    def step() -> Any:
        with cr.GradientTape() as tape:
            h = np.tanh(x @ w1 + b1)
            out = h @ w2 + b2
            loss = np.mean((out - y) ** 2)
        return tape.gradient(loss, [w1, b1, w2, b2])

    return step


def _autograd_mlp() -> Callable[[], Any] | None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    x, y, *params = _mlp_data()

    def loss(ps: list[Any]) -> Any:
        w1, b1, w2, b2 = ps
        h = anp.tanh(anp.dot(x, w1) + b1)
        out = anp.dot(h, w2) + b2
        return anp.mean((out - y) ** 2)

    dloss = autograd.grad(loss)
    return lambda: dloss(params)


def _torch_mlp() -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    x, y, *params = (torch.from_numpy(a) for a in _mlp_data())
    for p in params:
        p.requires_grad_(True)
    w1, b1, w2, b2 = params

    def step() -> Any:
        h = torch.tanh(x @ w1 + b1)
        out = h @ w2 + b2
        loss = torch.mean((out - y) ** 2)
        return torch.autograd.grad(loss, params)

    return step


# ------------------------------------------------------------------------------- main

def _check() -> None:
    """All candidates compute the same numbers before anything is timed."""
    x0 = cr.constant(0.3)
    ours = chain_tape(x0).numpy()
    ag, th = _autograd_chain(), _torch_chain()
    if ag is not None:
        assert np.isclose(ours, ag()), (ours, ag())
    if th is not None:
        assert np.isclose(ours, th().item()), (ours, th())
    ref = mlp_numpy(*_mlp_data())
    for got, want in zip(_tape_mlp()(), ref, strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def run(rounds: int = 7, min_time: float = 0.05) -> dict[str, Any]:
    _check()
    x0 = cr.constant(0.3)
    chain = {
        "numpy forward only": lambda: chain_numpy(0.3),
        OURS: lambda: chain_tape(x0),
        "autograd": _autograd_chain(),
        "torch eager": _torch_chain(),
    }
    data = _mlp_data()
    mlp = {
        "hand-written NumPy gradient": lambda: mlp_numpy(*data),
        OURS: _tape_mlp(),
        "autograd": _autograd_mlp(),
        "torch eager": _torch_mlp(),
    }
    report: dict[str, Any] = {"rounds": rounds, "python": platform.python_version(),
                              "numpy": np.__version__, "machine": platform.machine()}
    for workload, cands, scale, unit in (("chain", chain, 1e6 / CHAIN_OPS, "us/op"),
                                         ("mlp", mlp, 1e6, "us/step")):
        live = {k: f for k, f in cands.items() if f is not None}
        times: dict[str, list[float]] = {k: [] for k in live}
        for f in live.values():
            f()  # warm up
        for _ in range(rounds):  # interleaved: every candidate once per round
            for name, f in live.items():
                times[name].append(time_call(f, min_time))
        ours = times[OURS]
        report[workload] = {
            "unit": unit,
            "results": {k: statistics.median(ts) * scale for k, ts in times.items()},
            "spread": {k: (min(ts) * scale, max(ts) * scale) for k, ts in times.items()},
            # per-round ratios (robust to machine load): how many times slower than ours
            "times_ours": {k: statistics.median(t / o for t, o in zip(ts, ours, strict=True))
                           for k, ts in times.items()},
            "skipped": [k for k, f in cands.items() if f is None],
        }
    return report


def _print(report: dict[str, Any]) -> None:
    print(f"python {report['python']}, numpy {report['numpy']}, {report['machine']}, "
          f"median of {report['rounds']} interleaved rounds, BLAS on 1 thread")
    for workload in ("chain", "mlp"):
        part = report[workload]
        print(f"\n{workload} ({part['unit']}, record + backward; x ours = median per-round "
              "ratio to chainrule):")
        for name, value in part["results"].items():
            lo, hi = part["spread"][name]
            ratio = part["times_ours"][name]
            print(f"  {name:30s} {value:9.2f}   [{lo:.2f} .. {hi:.2f}]   x{ratio:.2f}")
        for name in part["skipped"]:
            print(f"  {name:30s}   skipped (not installed)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--json", help="also write the report as JSON to this file")
    args = parser.parse_args(argv)
    report = run(args.rounds, args.min_time)
    _print(report)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
