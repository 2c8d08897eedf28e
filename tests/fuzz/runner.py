"""Run the differential fuzzer for a number of programs with hypothesis, and count.

:func:`fuzz` draws programs with :func:`tests.fuzz.program.programs`, checks each with
:func:`tests.fuzz.check.check_program`, rejects (does not count) discarded programs, and on
the first disagreement lets hypothesis shrink the program before re-raising, so what is
reported is a minimal failing program (its source is in the falsifying example). Counting
follows hypothesis: ``max_examples`` is the number of programs *checked*.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, reject, seed, settings

from .check import Discarded, check_program
from .program import programs

__all__ = ["FuzzStats", "fuzz", "run_parallel"]


@dataclass
class FuzzStats:
    checked: int = 0
    discarded: Counter[str] = field(default_factory=Counter)
    engines: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    features: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: FuzzStats) -> None:
        self.checked += other.checked
        self.discarded.update(other.discarded)
        self.engines.update(other.engines)
        self.refused.update(other.refused)
        self.features.update(other.features)
        self.seconds = max(self.seconds, other.seconds)

    def summary(self) -> str:
        lines = [f"programs checked: {self.checked} in {self.seconds:.1f} s; "
                 f"discarded: {sum(self.discarded.values())}"]
        for reason, n in self.discarded.most_common():
            lines.append(f"  discarded {n:6d}  {reason}")
        lines.append("engines run: " + ", ".join(f"{k} {v}" for k, v in
                                                 sorted(self.engines.items())))
        if self.refused:
            lines.append("programs an engine declined (documented limits): " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.refused.items())))
        lines.append("constructs (programs containing them): " + ", ".join(
            f"{k} {v}" for k, v in sorted(self.features.items())))
        return "\n".join(lines)


def _reason(exc: Discarded) -> str:
    text = str(exc.args[0]) if exc.args else "discarded"
    return text.split(" (")[0]


def fuzz(n: int, seed_value: int | None = 0, derandomize: bool = False,
         max_statements: int = 5, shrink: bool = True, stats: FuzzStats | None = None
         ) -> FuzzStats:
    """Check ``n`` programs; raises the (shrunk) failure when an engine disagrees (counting
    into ``stats`` when given, so the counts survive a failure)."""
    stats = stats if stats is not None else FuzzStats()
    start = time.perf_counter()
    phases = [Phase.generate] + ([Phase.shrink] if shrink else [])
    counting = {"on": True}

    @settings(max_examples=n, deadline=None, database=None, derandomize=derandomize,
              phases=phases, suppress_health_check=list(HealthCheck), print_blob=False)
    @given(programs(max_statements=max_statements))
    def one(program: Any) -> None:
        try:
            verdict = check_program(program)
        except Discarded as exc:
            if counting["on"]:
                stats.discarded[_reason(exc)] += 1
            reject()
        except Exception:
            counting["on"] = False  # shrinking: stop counting
            raise
        if counting["on"]:
            stats.checked += 1
            stats.engines.update(verdict.engines)
            stats.refused.update(verdict.refused)
            stats.features.update(program.features)

    if seed_value is not None and not derandomize:
        one = seed(seed_value)(one)
    try:
        one()
    finally:
        stats.seconds = time.perf_counter() - start
    return stats


def _describe(exc: BaseException) -> list[str]:
    subs = getattr(exc, "exceptions", None)  # an ExceptionGroup: several distinct failures
    if subs:
        return [text for sub in subs for text in _describe(sub)]
    return [f"{type(exc).__name__}: {exc}"]


def _worker(task: tuple[int, int, int, bool]) -> tuple[FuzzStats, list[str]]:
    n, seed_value, max_statements, shrink = task
    stats = FuzzStats()
    try:
        fuzz(n, seed_value, max_statements=max_statements, shrink=shrink, stats=stats)
        return stats, []
    except BaseException as exc:  # report, do not lose the other workers' counts
        return stats, _describe(exc)


def run_parallel(n: int, jobs: int = 2, seed: int = 0, max_statements: int = 5,
                 shrink: bool = True) -> tuple[FuzzStats, list[str]]:
    """Check ``n`` programs in ``jobs`` processes (worker ``j`` uses seed ``seed + j``, so
    a run is reproducible); returns the merged statistics and the failures' reports."""
    jobs = max(1, min(jobs, n))
    shares = [n // jobs + (1 if j < n % jobs else 0) for j in range(jobs)]
    tasks = [(k, seed + j, max_statements, shrink) for j, k in enumerate(shares)]
    start = time.perf_counter()
    if jobs == 1:
        results = [_worker(tasks[0])]
    else:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ctx.Pool(jobs) as pool:
            results = pool.map(_worker, tasks)
    total = FuzzStats()
    failures: list[str] = []
    for stats, failed in results:
        total.merge(stats)
        failures += failed
    total.seconds = time.perf_counter() - start
    return total, failures
