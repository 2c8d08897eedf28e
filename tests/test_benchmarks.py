"""The benchmark suite's correctness checks (``python -m benchmarks --quick --check``), not
its timings.

Every workload's hand-written gradient is checked against central finite differences, and
every candidate against the hand-written gradient (1e-6 relative): chainrule's engines
always, autograd / JAX / PyTorch only where installed (each its own test, skipped when the
library is missing). The generated gradients of the transformation-cost functions are
checked against finite differences. Slow peer candidates are left out, as in ``--quick``.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from benchmarks import suite
from benchmarks.harness import Result, compare, ratio_between
from benchmarks.workloads import (
    WORKLOADS,
    WORKLOADS_BY_NAME,
    check_result,
    finite_difference_check,
)

PEER_MODULES = {"autograd": "autograd", "JAX": "jax", "JAX jit": "jax",
                "PyTorch eager": "torch"}


def _quiet(_: str) -> None:
    pass


def test_chainrule_candidates_agree_with_hand_written_gradients():
    reports = suite.check(quick=True, peers=(), log=_quiet)
    checked = {r.workload.name: set(r.checked) for r in reports}
    assert set(checked) == {w.name for w in WORKLOADS}
    for name, cands in checked.items():
        assert "chainrule" in cands or name == "T1" and "chainrule tape" in cands, name
    assert {"chainrule", "chainrule forward"} <= checked["W1"]
    assert "chainrule tape" in checked["W2"] and "chainrule tape" in checked["T1"]


@pytest.mark.parametrize("peer", sorted(PEER_MODULES))
def test_peer_candidates_agree_with_hand_written_gradients(peer):
    if importlib.util.find_spec(PEER_MODULES[peer]) is None:
        pytest.skip(f"{PEER_MODULES[peer]} is not installed")
    reports = suite.check(quick=True, peers=(peer,), log=_quiet, chainrule=False)
    assert any(peer in r.checked for r in reports)
    assert all(set(r.checked) <= {peer} for r in reports)


def test_finite_difference_check_catches_a_wrong_hand_written_gradient():
    w = WORKLOADS_BY_NAME["W2"]
    args = w.make_args()
    finite_difference_check(w, args)
    wrong = type(w)(**{**w.__dict__, "hand": lambda *a: tuple(1.01 * g for g in w.hand(*a))})
    with pytest.raises(AssertionError, match="finite differences"):
        finite_difference_check(wrong, args)


def test_check_result_is_relative_even_for_tiny_gradients():
    check_result("W", "c", (np.array([3e-46, 1e-46]),), (np.array([3e-46, 1e-46]),))
    with pytest.raises(AssertionError, match="disagrees"):
        check_result("W", "c", np.array([3.1e-46]), np.array([3e-46]))
    with pytest.raises(AssertionError, match="returned 1 numbers"):
        check_result("W", "c", np.zeros(1), np.zeros(2))


def test_harness_ratios_are_per_round_medians():
    results = compare("W", lambda: None, {"same": lambda: None}, rounds=3, min_time=1e-4)
    assert [r.candidate for r in results] == ["hand-written NumPy", "same"]
    assert all(len(r.times) == 3 for r in results)
    a = Result("W", "a", 2.0, 2.0, (2.0, 2.0), times=[2.0, 4.0, 6.0])
    b = Result("W", "b", 1.0, 1.0, (1.0, 1.0), times=[1.0, 1.0, 2.0])
    assert ratio_between(a, b) == (3.0, 2.0, 4.0)


def test_tables_and_targets_from_a_tiny_timed_run():
    report = suite.run(quick=True, only=["W2"], rounds=1, peers=(), log=_quiet)
    text = suite.format_text(report)
    assert "W2" in text and "chainrule" in text and "BLAS" in text
    md = suite.format_markdown(report)
    assert md.count("| W2 |") == 2  # the ratio table and the time table
    assert any(t["target"].startswith("W2: chainrule / hand-written") for t in report["targets"])
    data = suite.to_json(report)
    assert {r["candidate"] for r in data["results"]} >= {"hand-written NumPy", "chainrule"}
