"""Timing harness: warm up, interleave candidates over rounds, report median ratios.

Every candidate of a workload is timed in the same round as the hand-written NumPy
gradient (the physical limit), so machine noise hits both alike; the reported figure is
the median over rounds of the per-round ratio, with its min-max spread. Within a round a
candidate's time is the fastest of three short batches (:func:`time_call`). BLAS is pinned
to one thread (see ``benchmarks/__init__.py``) so ratios are stable.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Result", "time_call", "compare", "ratio_between"]


def time_call(fn: Callable[[], Any], min_time: float = 0.02, repeat: int = 3) -> float:
    """Seconds per call of ``fn``: the fastest of ``repeat`` batches of calls, each batch
    lasting at least ``min_time / repeat`` (the minimum filters out the moments another
    process had the CPU). A call that alone takes ``min_time`` is timed once: slow peers
    cost one call per round.
    """
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    if first >= min_time:
        return first
    target = min_time / repeat
    n, elapsed = 1, first
    while elapsed < target:  # calibrate: n calls last at least `target`
        n = max(n * 2, int(n * target / max(elapsed, 1e-9)) + 1)
        elapsed = _batch(fn, n)
    best = elapsed / n
    for _ in range(repeat - 1):
        best = min(best, _batch(fn, n) / n)
    return best


def _batch(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return time.perf_counter() - start


@dataclass
class Result:
    """One candidate on one workload: median seconds per call, median per-round ratio to
    the baseline and its min-max spread; ``times`` keeps every round's seconds."""

    workload: str
    candidate: str
    seconds: float
    ratio: float
    spread: tuple[float, float]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)


BASELINE = "hand-written NumPy"


def compare(workload: str, baseline: Callable[[], Any], candidates: dict[str, Callable[[], Any]],
            rounds: int = 7, min_time: float = 0.02, warm_up: bool = True) -> list[Result]:
    """Time ``baseline`` and each candidate in interleaved rounds; ratios to the baseline.

    ``warm_up=False`` skips the initial call of every function (for callers that have just
    called each one to check its result).
    """
    base_times: list[float] = []
    times: dict[str, list[float]] = {k: [] for k in candidates}
    if warm_up:
        for fn in [baseline, *candidates.values()]:
            fn()  # warm up (and trigger any code generation)
    for _ in range(rounds):
        base_times.append(time_call(baseline, min_time))
        for name, fn in candidates.items():
            times[name].append(time_call(fn, min_time))
    results = [Result(workload, BASELINE, statistics.median(base_times), 1.0, (1.0, 1.0),
                      times=base_times)]
    for name, ts in times.items():
        ratios = [t / b for t, b in zip(ts, base_times)]
        results.append(Result(workload, name, statistics.median(ts), statistics.median(ratios),
                              (min(ratios), max(ratios)), times=ts))
    return results


def ratio_between(a: Result, b: Result) -> tuple[float, float, float]:
    """Median and min-max of the per-round ratio ``a / b`` of two candidates timed in the
    same rounds (e.g. the tape against PyTorch eager)."""
    ratios = [x / y for x, y in zip(a.times, b.times)]
    return statistics.median(ratios), min(ratios), max(ratios)
