"""Run the differential fuzzer for a number of programs with hypothesis, and count.

:func:`fuzz` draws programs with :func:`tests.fuzz.program.programs`, checks each with
:func:`tests.fuzz.check.check_program`, rejects (does not count) discarded programs, and on
the first disagreement lets hypothesis shrink the program before re-raising, so what is
reported is a minimal failing program (its source is in the falsifying example). Counting
follows hypothesis: ``max_examples`` is the number of programs *checked*.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, reject, seed, settings

from .check import Discarded, check_program
from .program import programs

__all__ = ["FuzzStats", "fuzz"]


@dataclass
class FuzzStats:
    checked: int = 0
    discarded: Counter[str] = field(default_factory=Counter)
    engines: Counter[str] = field(default_factory=Counter)
    features: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: FuzzStats) -> None:
        self.checked += other.checked
        self.discarded.update(other.discarded)
        self.engines.update(other.engines)
        self.features.update(other.features)
        self.seconds = max(self.seconds, other.seconds)

    def summary(self) -> str:
        lines = [f"programs checked: {self.checked} in {self.seconds:.1f} s; "
                 f"discarded: {sum(self.discarded.values())}"]
        for reason, n in self.discarded.most_common():
            lines.append(f"  discarded {n:6d}  {reason}")
        lines.append("engines run: " + ", ".join(f"{k} {v}" for k, v in
                                                 sorted(self.engines.items())))
        lines.append("constructs (programs containing them): " + ", ".join(
            f"{k} {v}" for k, v in sorted(self.features.items())))
        return "\n".join(lines)


def _reason(exc: Discarded) -> str:
    text = str(exc.args[0]) if exc.args else "discarded"
    return text.split(" (")[0]


def fuzz(n: int, seed_value: int | None = 0, derandomize: bool = False,
         max_statements: int = 5, shrink: bool = True) -> FuzzStats:
    """Check ``n`` programs; raises the (shrunk) failure when an engine disagrees."""
    stats = FuzzStats()
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
            stats.features.update(program.features)

    if seed_value is not None and not derandomize:
        one = seed(seed_value)(one)
    try:
        one()
    finally:
        stats.seconds = time.perf_counter() - start
    return stats
