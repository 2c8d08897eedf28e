"""The CI budget of the differential fuzzer (tests/fuzz, docs/testing.md), and checks that
the checker itself catches what it must and discards what it must.

``test_fuzz_budget`` checks 300 generated programs (two worker processes with fixed
seeds, so every run checks the same programs) through every engine; a disagreement fails
with the minimised program. ``python -m tests.fuzz --programs N`` runs any number.
"""

import os
import time
import warnings

import numpy as np
import pytest

import chainrule as cr
from tests.fuzz import check
from tests.fuzz.check import Disagreement, Discarded, check_function, check_program
from tests.fuzz.program import E, Func, If, Program, Return
from tests.fuzz.runner import run_parallel

BUDGET = int(os.environ.get("CHAINRULE_FUZZ_PROGRAMS", "300"))
SECONDS = 180  # the budget's time, on a two-core machine


def test_fuzz_budget():
    start = time.perf_counter()
    stats, failures = run_parallel(BUDGET, jobs=2, seed=20261122)
    elapsed = time.perf_counter() - start
    print(f"\n{stats.summary()}")
    assert not failures, "\n\n".join(failures)
    assert stats.checked >= BUDGET
    # every engine ran on (nearly) every program; the tape where the program allows it
    for engine in ("value_and_grad", "grad", "vjp", "elementwise_grad", "forward", "jvp"):
        assert stats.engines[engine] == stats.checked
    assert stats.engines["tape"] >= stats.checked // 3
    # the programs use every construct the generator knows
    for feature in ("if", "elif", "else", "conditional expression", "for range",
                    "for over array", "while", "break", "continue", "early return",
                    "augmented assignment", "subscript read", "subscript write",
                    "helper call", "tuple unpacking", "kink", "reduction", "list append"):
        assert stats.features[feature] > 0, feature
    if elapsed > SECONDS:
        warnings.warn(f"the fuzz budget took {elapsed:.0f} s, more than {SECONDS} s (a slow "
                      "or busy machine)", stacklevel=1)


def test_higher_order_fuzz_budget():
    """Second and third derivatives by repeated reverse and by repeated forward mode agree
    on a fixed sample of programs (``python -m tests.fuzz.higher`` runs any number)."""
    from tests.fuzz.higher import run

    counts, failures = run(30, seed=7)
    assert not failures, "\n\n".join(failures)
    assert counts["checked"] >= 5


# --------------------------------------------------------------------------- the checker
def _program(body, x, argnums=0):
    return Program([Func("f", ["x"], body)], ["s"], [x], argnums, True, frozenset())


def _branchy():
    return [If([(E("(x > 0.3)", traced="_T.b(x > 0.3)"), [Return(E("x * x"))])]),
            Return(E("2.0 * x"))]


def test_checker_accepts_a_smooth_point():
    verdict = check_program(_program(_branchy(), 0.5))
    assert verdict.derivative == pytest.approx(1.0)
    assert "tape" in verdict.engines and "forward" in verdict.engines


def test_checker_discards_a_branch_switch_in_the_stencil():
    with pytest.raises(Discarded, match="decision"):
        check_program(_program(_branchy(), 0.3 + 1e-4))


def test_checker_discards_a_kink_in_the_stencil():
    body = [Return(E("abs(x - 0.2) * x", traced="_T.abs(x - 0.2) * x"))]
    with pytest.raises(Discarded, match="kink"):
        check_program(_program(body, 0.2 + 1e-5))
    check_program(_program(body, 0.5))


def zero_in_exact_arithmetic(y):
    y = (y / (np.logaddexp(y, 0.0) + 0.25)) - (y / (np.logaddexp(y, 0.0) + 0.25))
    return y


def test_checker_accepts_rounding_noise_of_a_function_that_is_exactly_zero():
    # found by the fuzzer: reverse mode's gradient is -2.2e-16 (the two terms' cotangents
    # are summed in another order), the differences are exactly 0; the finite-difference
    # check has the engines' rounding floor
    y = -1.4504170934144127
    assert cr.grad(zero_in_exact_arithmetic)(y) != 0.0
    check_function(zero_in_exact_arithmetic, (y,), (0,))


def fast_gain_in_a_loop(x):
    # found by the fuzzer: a gain of 34 per iteration through sin, three times; at the
    # first steps (1e-3) the extrapolations disagree and the check refines the stencil
    for i in range(3):
        x = C3_ @ np.outer(C3_, x + C3_) @ (C3_ * C3_)
        x = np.sin(x) + i * 0.5
    return x


C3_ = np.array([0.5, -1.25, 2.0])


def test_checker_refines_the_stencil_where_the_function_curves_fast(monkeypatch):
    verdict = check_function(fast_gain_in_a_loop, (0.4108850619643629,), (0,))
    assert abs(verdict.derivative) > 1e3 and verdict.fd_error < 1e-2 * abs(verdict.derivative)
    # and a gradient every engine gets wrong by 1% still fails there
    monkeypatch.setattr(check, "_engines", _poisoned("all", 1.0 + 1e-2))
    with pytest.raises(Disagreement, match="finite differences"):
        check_function(fast_gain_in_a_loop, (0.4108850619643629,), (0,))


def test_checker_discards_overflow():
    with pytest.raises(Discarded, match="non-finite"):
        check_program(_program([Return(E("np.exp(np.exp(x * 100.0))"))], 3.0))


def _poisoned(engine, factor):
    real = check._engines

    def engines(*args, **kwargs):
        out = real(*args, **kwargs)
        names = list(out) if engine == "all" else [engine]
        for name in names:
            value, grads = out[name]
            out[name] = (value, [g * factor for g in grads])
        return out

    return engines


def sample(x, y):
    return np.sum(np.sin(x) * y) + np.tanh(y[0]) * x[1]


ARGS = (np.array([0.3, -0.4, 1.2]), np.array([0.5, 1.5, -0.7]))


@pytest.mark.parametrize("engine", ["grad", "vjp", "forward", "jvp", "tape"])
def test_checker_catches_one_wrong_engine(monkeypatch, engine):
    monkeypatch.setattr(check, "_engines", _poisoned(engine, 1.0 + 1e-7))
    with pytest.raises(Disagreement, match="engines disagree"):
        check_function(sample, ARGS, (0, 1))


def test_checker_catches_a_wrong_gradient_every_engine_agrees_on(monkeypatch):
    monkeypatch.setattr(check, "_engines", _poisoned("all", 1.0 + 1e-5))
    with pytest.raises(Disagreement, match="finite differences"):
        check_function(sample, ARGS, (0, 1))


def test_checker_catches_a_wrong_primal_value(monkeypatch):
    real = check._engines

    def engines(*args, **kwargs):
        out = real(*args, **kwargs)
        value, grads = out["vjp"]
        out["vjp"] = (value + 1e-12, grads)
        return out

    monkeypatch.setattr(check, "_engines", engines)
    with pytest.raises(Disagreement, match="primal value"):
        check_function(sample, ARGS, (0, 1))


def test_checker_reports_an_engine_exception(monkeypatch):
    monkeypatch.setattr(cr, "vjp", lambda *a, **k: 1 / 0)
    with pytest.raises(Disagreement, match="vjp raised ZeroDivisionError"):
        check_function(sample, ARGS, (0, 1))
