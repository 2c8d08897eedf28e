"""``@chainrule.function`` against the eager GradientTape running the same code.

Run from the repository root::

    python -m benchmarks.staging [--rounds 9] [--json out.json]

Workloads (the same Python function, called eagerly and decorated with
``chainrule.function``; the staged one is traced before timing):

* ``minimise-apply``: the tutorial's 1,000 SGD steps on ``x**2 - 2x + 1`` with
  ``optimizer.apply_gradients`` in a loop around the tape, inside one function call (seed
  001, float32 Variable, float64 constants);
* ``minimise-assign``: the same with the hand-written step ``x.assign_sub(0.01 * dy_dx)``;
* ``mlp-step``: one training step of an MLP (batch 32, 16 inputs, 64 tanh hidden units, one
  output, mean squared error, float64): tape, gradient of the four Variables and an SGD
  ``apply_gradients``;
* ``mlp-gradient``: the same step without the optimizer update (tape and gradient only);
* ``mlp-gradient-small``: the gradient step of a small MLP (batch 8, 4 inputs, 16 hidden
  units), where per-operation overhead rather than NumPy's arithmetic dominates;
* ``mlp-step-small``: one training step of the small MLP (tape, gradient, update);
* ``mlp-loop-small``: 100 SGD steps of the small MLP in one call, the loop around the tape
  (staged, it runs as one ``fused_loop`` stepping on NumPy values);
* ``quadratic-gradient``: one call of the tutorial's ``f(x)`` (a tape, ``watch``,
  ``gradient``) on a float32 scalar: the staging overhead per call.

Each workload also runs as hand-written NumPy (gradient formulas by hand, no Tensors): the
column ``eager/hand`` is the most any staging of that workload could gain.

Each round times the eager and the staged call back to back (``time.process_time``, so that
other processes on the machine count less); the figure is the median over rounds of the
per-round ratio eager / staged, with its min-max spread. BLAS is pinned to one thread.
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
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402

B, D_IN, H, D_OUT = 32, 16, 64, 1


# ------------------------------------------------------------------------- minimisation

def make_minimise(update: str) -> tuple[Callable[[], Any], Callable[[], Any], Any]:
    """``(eager, staged, x)``: 1,000 gradient-descent steps from x = 0."""
    x = cr.Variable(0.0, name="x", dtype=cr.float32)
    optimizer = cr.optimizers.SGD(learning_rate=0.01)

    def minimise_apply() -> Any:
        a = cr.constant(1.0)
        b = cr.constant(-2.0)
        c = cr.constant(1.0)
        for _ in cr.range(1000):
            with cr.GradientTape() as tape:
                y = a * cr.pow(x, 2) + b * x + c
            dy_dx = tape.gradient(y, x)
            optimizer.apply_gradients(grads_and_vars=[(dy_dx, x)])
        return a * cr.pow(x, 2) + b * x + c

    def minimise_assign() -> Any:
        a = cr.constant(1.0)
        b = cr.constant(-2.0)
        c = cr.constant(1.0)
        for _ in cr.range(1000):
            with cr.GradientTape() as tape:
                y = a * cr.pow(x, 2) + b * x + c
            dy_dx = tape.gradient(y, x)
            x.assign_sub(0.01 * dy_dx)
        return a * cr.pow(x, 2) + b * x + c

    body = minimise_apply if update == "apply" else minimise_assign
    staged_body = cr.function(body)

    def eager() -> Any:
        x.assign(0.0)
        return body()

    def staged() -> Any:
        x.assign(0.0)
        return staged_body()

    return eager, staged, x


# ---------------------------------------------------------------------------------- MLP

def _mlp_data(sizes: tuple[int, int, int, int]
             ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``(inputs, labels, [w1, b1, w2, b2])`` of every MLP workload, as NumPy arrays: the
    same data and initial weights for the eager, staged and hand-written runs."""
    batch, d_in, hidden_units, d_out = sizes
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, d_in))
    y = rng.standard_normal((batch, d_out))
    start = [rng.standard_normal((d_in, hidden_units)) * 0.3, np.zeros(hidden_units),
             rng.standard_normal((hidden_units, d_out)) * 0.3, np.zeros(d_out)]
    return x, y, start


def _mlp_variables(sizes: tuple[int, int, int, int]) -> tuple[Any, Any, list[Any], list[Any]]:
    """:func:`_mlp_data` as constants and Variables, with the initial values."""
    x, y, start = _mlp_data(sizes)
    params = [cr.Variable(v, name=n) for v, n in zip(start, ("w1", "b1", "w2", "b2"))]
    return cr.constant(x), cr.constant(y), params, start


# The tape blocks below are written out in each workload, as a user writes them:
# @chainrule.function stages the source it reads.

def make_mlp(apply: bool, sizes: tuple[int, int, int, int] = (B, D_IN, H, D_OUT)
             ) -> tuple[Callable[[], Any], Callable[[], Any], list[Any]]:
    """``(eager, staged, params)``: one MLP training step on fixed data."""
    x, y, params, _ = _mlp_variables(sizes)
    w1, b1, w2, b2 = params
    optimizer = cr.optimizers.SGD(learning_rate=1e-3)

    def train_step(inputs: Any, labels: Any) -> Any:
        with cr.GradientTape() as tape:
            hidden = cr.tanh(cr.matmul(inputs, w1) + b1)
            out = cr.matmul(hidden, w2) + b2
            loss = cr.reduce_mean(cr.square(out - labels))
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params))
        return loss

    def gradient_step(inputs: Any, labels: Any) -> Any:
        with cr.GradientTape() as tape:
            hidden = cr.tanh(cr.matmul(inputs, w1) + b1)
            out = cr.matmul(hidden, w2) + b2
            loss = cr.reduce_mean(cr.square(out - labels))
        grads = tape.gradient(loss, params)
        return loss, grads

    body = train_step if apply else gradient_step
    staged_body = cr.function(body)
    return (lambda: body(x, y)), (lambda: staged_body(x, y)), params


def make_mlp_loop(steps: int, sizes: tuple[int, int, int, int]
                  ) -> tuple[Callable[[], Any], Callable[[], Any], list[Any]]:
    """``(eager, staged, params)``: ``steps`` SGD steps of the MLP in one call, the loop
    around the tape (a training loop ``@chainrule.function`` runs as one ``fused_loop``)."""
    x, y, params, start = _mlp_variables(sizes)
    w1, b1, w2, b2 = params
    optimizer = cr.optimizers.SGD(learning_rate=1e-3)

    def train(inputs: Any, labels: Any) -> Any:
        for _ in range(steps):
            with cr.GradientTape() as tape:
                hidden = cr.tanh(cr.matmul(inputs, w1) + b1)
                out = cr.matmul(hidden, w2) + b2
                loss = cr.reduce_mean(cr.square(out - labels))
            grads = tape.gradient(loss, params)
            optimizer.apply_gradients(zip(grads, params))
        return loss

    staged_train = cr.function(train)

    def reset() -> None:
        for p, v in zip(params, start):
            p.assign(v)

    def eager() -> Any:
        reset()
        return train(x, y)

    def staged() -> Any:
        reset()
        return staged_train(x, y)

    return eager, staged, params


def hand_mlp_loop(steps: int, sizes: tuple[int, int, int, int]) -> Callable[[], Any]:
    """:func:`make_mlp_loop` by hand: ``steps`` of :func:`hand_mlp`'s update."""
    step = hand_mlp(True, sizes)

    def train() -> Any:
        loss = None
        for _ in range(steps):
            loss = step()
        return loss
    return train


# ---------------------------------------------------------------------------- quadratic

def make_quadratic() -> tuple[Callable[[], Any], Callable[[], Any], None]:
    """``(eager, staged, None)``: the tutorial's f(x) with a tape inside, at x = 0."""
    def f(x: Any) -> Any:
        x = cr.cast(x, cr.float32)
        a = cr.constant(1.0)
        b = cr.constant(-2.0)
        c = cr.constant(1.0)
        with cr.GradientTape() as tape:
            tape.watch(x)
            y = a * cr.pow(x, 2) + b * x + c
        dy_dx = tape.gradient(y, x)
        return dy_dx, y

    staged_f = cr.function(f)
    x0 = cr.constant(0.0)
    return (lambda: f(x0)), (lambda: staged_f(x0)), None


# ---------------------------------------------------------------- hand-written NumPy
# The same computations written by hand on NumPy values (no tape, no Tensors, gradient
# formulas derived by hand): what any staging of these workloads could at best approach.

def hand_minimise() -> Callable[[], Any]:
    """1,000 steps of ``x -= 0.01 * (2 a x + b)`` on a float32 scalar."""
    def minimise() -> Any:
        a, b, c = 1.0, -2.0, 1.0
        x = np.float32(0.0)
        for _ in range(1000):
            x = np.float32(x - 0.01 * (2.0 * a * x + b))
        return a * x * x + b * x + c
    return minimise


def hand_mlp(apply: bool, sizes: tuple[int, int, int, int] = (B, D_IN, H, D_OUT)
             ) -> Callable[[], Any]:
    """The MLP step of :func:`make_mlp` (same data and initial weights) by hand."""
    x, y, params = _mlp_data(sizes)

    def step() -> Any:
        w1, b1, w2, b2 = params
        hidden = np.tanh(x @ w1 + b1)
        diff = hidden @ w2 + b2 - y
        loss = np.mean(diff * diff)
        g_out = diff * (2.0 / diff.size)
        g_hidden = (g_out @ w2.T) * (1.0 - hidden * hidden)
        grads = [x.T @ g_hidden, g_hidden.sum(axis=0), hidden.T @ g_out, g_out.sum(axis=0)]
        if not apply:
            return loss, grads
        params[:] = [p - 1e-3 * g for p, g in zip(params, grads)]
        return loss
    return step


def hand_quadratic() -> Callable[[], Any]:
    def f() -> Any:
        x = np.float32(0.0)
        return np.float32(2.0 * x - 2.0), np.float32(x * x - 2.0 * x + 1.0)
    return f


# ------------------------------------------------------------------------------- timing

@dataclass
class Row:
    workload: str
    eager_us: float
    staged_us: float
    ratio: float
    spread: tuple[float, float]
    hand_us: float
    hand_ratio: float  # eager / hand-written NumPy: the most any staging could gain


def _cpu_time(fn: Callable[[], Any], min_time: float) -> float:
    fn()
    n = 1
    while True:
        start = time.process_time()
        for _ in range(n):
            fn()
        elapsed = time.process_time() - start
        if elapsed >= min_time:
            return elapsed / n
        n = max(n * 2, int(n * min_time / max(elapsed, 1e-9)) + 1)


def compare(name: str, eager: Callable[[], Any], staged: Callable[[], Any],
            hand: Callable[[], Any], rounds: int, min_time: float) -> Row:
    eager()
    staged()  # traces and specialises
    e_times, s_times, h_times, ratios, hand_ratios = [], [], [], [], []
    for _ in range(rounds):
        e = _cpu_time(eager, min_time)
        s = _cpu_time(staged, min_time)
        h = _cpu_time(hand, min_time)
        e_times.append(e)
        s_times.append(s)
        h_times.append(h)
        ratios.append(e / s)
        hand_ratios.append(e / h)
    return Row(name, statistics.median(e_times) * 1e6, statistics.median(s_times) * 1e6,
               statistics.median(ratios), (min(ratios), max(ratios)),
               statistics.median(h_times) * 1e6, statistics.median(hand_ratios))


def check() -> None:
    """The staged and eager workloads compute the same thing."""
    for update in ("apply", "assign"):
        eager, staged, x = make_minimise(update)
        e = eager().numpy()
        xe = x.numpy()
        s = staged().numpy()
        assert abs(xe - 1.0) < 1e-4 and abs(e) < 1e-4, (update, xe, e)
        assert x.numpy() == xe and s == e, (update, x.numpy(), xe, s, e)
    for apply in (False, True):
        eager, staged, params = make_mlp(apply)
        start = [p.numpy() for p in params]
        e = eager()
        after_eager = [p.numpy() for p in params]
        for p, v in zip(params, start):
            p.assign(v)
        s = staged()
        after_staged = [p.numpy() for p in params]
        np.testing.assert_allclose(np.asarray(s[0] if not apply else s),
                                   np.asarray(e[0] if not apply else e), rtol=1e-12)
        for a, b in zip(after_eager, after_staged):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
        if not apply:
            for ge, gs in zip(e[1], s[1]):
                np.testing.assert_allclose(gs.numpy(), ge.numpy(), rtol=1e-12, atol=1e-15)
        # the hand-written reference computes the same step
        h = hand_mlp(apply)()
        np.testing.assert_allclose(np.asarray(h if apply else h[0]),
                                   np.asarray(e if apply else e[0]), rtol=1e-12)
        if not apply:
            for ge, gh in zip(e[1], h[1]):
                np.testing.assert_allclose(gh, ge.numpy(), rtol=1e-10, atol=1e-14)
    assert abs(float(hand_minimise()())) < 1e-4
    small = (8, 4, 16, 1)
    eager, staged, params = make_mlp_loop(20, small)
    e = eager()
    after_eager = [p.numpy() for p in params]
    s = staged()
    np.testing.assert_array_equal(s.numpy(), e.numpy())
    for a, p in zip(after_eager, params):
        np.testing.assert_array_equal(p.numpy(), a)
    h = hand_mlp_loop(20, small)()
    np.testing.assert_allclose(float(h), float(e.numpy()), rtol=1e-12)


def run(rounds: int = 9, min_time: float = 0.05) -> list[Row]:
    check()
    rows = []
    small = (8, 4, 16, 1)
    for name, (eager, staged, _), hand in (
            ("minimise-apply", make_minimise("apply"), hand_minimise()),
            ("minimise-assign", make_minimise("assign"), hand_minimise()),
            ("mlp-step", make_mlp(True), hand_mlp(True)),
            ("mlp-gradient", make_mlp(False), hand_mlp(False)),
            ("mlp-gradient-small", make_mlp(False, small), hand_mlp(False, small)),
            ("mlp-step-small", make_mlp(True, small), hand_mlp(True, small)),
            ("mlp-loop-small", make_mlp_loop(100, small), hand_mlp_loop(100, small)),
            ("quadratic-gradient", make_quadratic(), hand_quadratic())):
        rows.append(compare(name, eager, staged, hand, rounds, min_time))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.staging")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--json", help="also write the results to this file")
    opts = parser.parse_args(argv)
    print(f"# @chainrule.function vs eager GradientTape: Python {platform.python_version()}, "
          f"NumPy {np.__version__}, {platform.machine()}, BLAS pinned to 1 thread, "
          f"{opts.rounds} rounds, CPU time")
    rows = run(opts.rounds, opts.min_time)
    print(f"  {'workload':<18} {'eager':>12} {'staged':>12} {'ratio':>8}  {'spread':<13}"
          f"{'by hand':>12} {'eager/hand':>10}")
    for r in rows:
        print(f"  {r.workload:<18} {r.eager_us:>10.1f}us {r.staged_us:>10.1f}us "
              f"{r.ratio:>7.2f}x  [{r.spread[0]:.2f}, {r.spread[1]:.2f}] "
              f"{r.hand_us:>10.1f}us {r.hand_ratio:>9.2f}x")
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump([r.__dict__ for r in rows], fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
