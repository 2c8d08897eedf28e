"""Thread safety under stress, with a bounded duration.

* Many threads ask at once for the derivatives of the *same* function (the per-function
  cache, generation, compilation, ``linecache`` registration) and of functions nobody has
  differentiated yet, then call them on their own inputs: every result is right and every
  thread gets the same generated function object.
* Many threads record on their own GradientTapes at once (plain, persistent, nested for
  second derivatives, sharing read-only Variables): tapes are per thread, so every gradient
  is the one of that thread's computation.

The interpreter switches threads every microsecond during these tests, to make races
likely; each test stops after a fixed number of rounds or a time limit, whichever first.
"""

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import chainrule as cr
from tests import corpus
from tests.fuzz.check import load_module, unload_module

THREADS = 16
TIME_LIMIT = 8.0  # seconds per test, at most


@pytest.fixture(autouse=True)
def fast_switching():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run(worker, n=THREADS):
    """Start ``n`` workers together (a barrier) and return their results."""
    barrier = threading.Barrier(n)

    def start(k):
        barrier.wait()
        return worker(k)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(start, range(n)))


def _inputs(k):
    rng = np.random.default_rng(k)
    return rng.uniform(0.2, 1.2, 4), rng.uniform(-1.0, 1.0, (4, 4))


def loss(x, w):
    h = np.tanh(w @ x)
    s = 0.0
    for i in range(4):
        if h[i] > 0:
            s = s + h[i] ** 2
        else:
            s = s - h[i] * x[i]
    return s + np.sum(np.sin(x) * x)


def _expected(x, w):
    """Forward-mode results, computed single-threaded before the stress."""
    return cr.grad(loss, argnums=(0, 1), mode="forward")(x, w)


def test_concurrent_grad_of_the_same_function():
    expected = {k: _expected(*_inputs(k)) for k in range(THREADS)}
    deadline = time.perf_counter() + TIME_LIMIT
    rounds = 0
    while rounds < 20 and time.perf_counter() < deadline:
        # a fresh module each round, so that generation itself races
        mod = load_module(
            "import numpy as np\n\n\n" + "".join(
                _source_of(fn) for fn in (loss,)), f"threads{rounds}")

        def worker(k, mod=mod):
            x, w = _inputs(k)
            apis = [cr.grad(mod.loss, argnums=(0, 1)),
                    cr.grad(mod.loss, argnums=(0, 1), mode="forward"),
                    cr.value_and_grad(mod.loss, argnums=(0, 1))]
            out = [apis[0](x, w), apis[1](x, w), apis[2](x, w)[1]]
            _, pullback = cr.vjp(mod.loss, x, w)
            out.append(pullback(1.0))
            return apis, out

        results = _run(worker)
        for k, (apis, grads) in enumerate(results):
            for g in grads:
                for a, b in zip(g, expected[k]):
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
            # one generated function per (function, options), whoever built it
            for a, b in zip(apis, results[0][0]):
                assert a is b
        unload_module(mod)
        rounds += 1
    assert rounds >= 1


def _source_of(fn):
    import inspect
    import textwrap

    return textwrap.dedent(inspect.getsource(fn)) + "\n\n"


def test_concurrent_generation_of_many_functions():
    """Each thread differentiates every corpus function (many at once, all different)."""
    cases = [(fn, args) for fn, arglist in corpus.CASES for args in arglist[:1]
             if all(isinstance(a, (float, np.ndarray)) for a in args)][:30]
    expected = [cr.grad(fn)(*args) for fn, args in cases]
    deadline = time.perf_counter() + TIME_LIMIT

    def worker(k):
        out = []
        order = cases[k % len(cases):] + cases[:k % len(cases)]
        for fn, args in order:
            if time.perf_counter() > deadline:
                break
            out.append((fn, cr.grad(fn)(*args)))
        return out

    results = _run(worker)
    lookup = {id(fn): e for (fn, _), e in zip(cases, expected)}
    for out in results:
        for fn, g in out:
            np.testing.assert_allclose(g, lookup[id(fn)], rtol=1e-12)


def test_concurrent_tapes():
    deadline = time.perf_counter() + TIME_LIMIT
    shared = cr.Variable(np.array([0.3, -0.2, 0.9]), name="shared")

    def worker(k):
        x0, w0 = _inputs(k)
        rounds = 0
        while rounds < 30 and time.perf_counter() < deadline:
            x = cr.Variable(x0)
            w = cr.constant(w0)
            with cr.GradientTape(persistent=True) as outer:
                with cr.GradientTape() as inner:
                    value = loss(x, w) + np.sum(shared * shared) * (k + 1)
                gx, gs = inner.gradient(value, [x, shared])
                first = np.sum(gx * np.cos(x0))
            hx = outer.gradient(first, x)
            ex, ew = _expected(x0, w0)
            np.testing.assert_allclose(gx.numpy(), ex, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(gs.numpy(), 2 * (k + 1) * shared.numpy(), rtol=1e-12)
            assert hx is not None and np.all(np.isfinite(hx.numpy()))
            rounds += 1
        return rounds

    rounds = _run(worker)
    assert min(rounds) >= 1


def test_concurrent_tapes_second_order_agree_with_forward_over_reverse():
    deadline = time.perf_counter() + TIME_LIMIT

    def f(x):
        return np.sum(np.sin(x) * x ** 2)

    def worker(k):
        x0 = _inputs(k)[0]
        expected = cr.hessian(f)(x0) @ np.ones_like(x0)
        rounds = 0
        while rounds < 30 and time.perf_counter() < deadline:
            x = cr.Variable(x0)
            with cr.GradientTape() as outer:
                with cr.GradientTape() as inner:
                    y = f(x)
                g = inner.gradient(y, x)
                s = np.sum(g)
            h = outer.gradient(s, x)
            np.testing.assert_allclose(h.numpy(), expected, rtol=1e-10)
            rounds += 1
        return rounds

    assert min(_run(worker)) >= 1


@pytest.mark.skipif(not hasattr(cr, "function"), reason="no @chainrule.function")
def test_concurrent_staged_function():
    mod = load_module(
        "import numpy as np\nimport chainrule\n\n\n" + _source_of(loss) + (
            "def step(x, w):\n"
            "    with chainrule.GradientTape() as tape:\n"
            "        tape.watch([x, w])\n"
            "        value = loss(x, w)\n"
            "    return value, tape.gradient(value, [x, w])\n"), "threads_staged")
    staged = cr.function(mod.step)

    def worker(k):
        x0, w0 = _inputs(k)
        value, (gx, gw) = staged(cr.constant(x0), cr.constant(w0))
        ex, ew = _expected(x0, w0)
        np.testing.assert_allclose(gx.numpy(), ex, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gw.numpy(), ew, rtol=1e-12, atol=1e-14)
        return float(value.numpy())

    values = _run(worker)
    for k, v in enumerate(values):
        assert v == pytest.approx(loss(*_inputs(k)), rel=1e-12)
    unload_module(mod)
