"""Run the benchmark suite and print a table of ratios to the hand-written gradient."""

from __future__ import annotations

import argparse
import json
import platform
import sys

from . import harness  # noqa: F401  (pins BLAS threads via the package __init__)
from .workloads import WORKLOADS, candidates, check_all, finite_difference_check


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", help="comma-separated workload names, e.g. W1,W2")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--check", action="store_true",
                        help="only run the correctness checks, no timing")
    opts = parser.parse_args(argv)
    only = set(opts.only.split(",")) if opts.only else None
    import numpy as np

    print(f"# chainrule benchmarks: Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{platform.machine()}, BLAS pinned to 1 thread")
    rows = []
    for w in WORKLOADS:
        if only and w.name not in only:
            continue
        args = w.args(opts.quick)
        finite_difference_check(w, args)
        cands = candidates(w, args)
        check_all(w, args, cands)
        if opts.check:
            print(f"{w.name}: checks passed for {', '.join(cands)}")
            continue
        rounds = 3 if opts.quick else w.rounds
        results = harness.compare(w.name, lambda: w.hand(*args), cands, rounds=rounds,
                                  min_time=0.01 if opts.quick else 0.05)
        print(f"\n{w.name}: {w.title}")
        print(f"  {'candidate':<22} {'time/call':>12} {'ratio':>8}  spread")
        for r in results:
            print(f"  {r.candidate:<22} {r.seconds * 1e6:>10.1f}us {r.ratio:>8.2f}  "
                  f"[{r.spread[0]:.2f}, {r.spread[1]:.2f}]")
            rows.append(r.__dict__)
        if w.summary is not None and w.summary(results):
            print(f"  {w.summary(results)}")
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
