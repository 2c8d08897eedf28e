"""Run the benchmark suite and print a table of ratios to the hand-written gradient.

``python -m benchmarks [--quick] [--only W1,W2,codegen,memory] [--rounds N] [--json out]
[--markdown out.md] [--check] [--no-peers]``
"""

from __future__ import annotations

import argparse
import json
import sys

from . import suite
from .peers import PEERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds, short timings, slow peer candidates left out")
    parser.add_argument("--only", help="comma-separated workloads, e.g. W1,W2,T1,codegen,memory")
    parser.add_argument("--rounds", type=int, help="rounds per workload (overrides the default)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--markdown", help="also write the tables as Markdown to this file")
    parser.add_argument("--check", action="store_true",
                        help="only run the correctness checks, no timing")
    parser.add_argument("--no-peers", action="store_true",
                        help="chainrule's candidates only (no autograd, JAX, PyTorch)")
    opts = parser.parse_args(argv)
    only = [s.strip() for s in opts.only.split(",")] if opts.only else None
    peers = () if opts.no_peers else PEERS
    if opts.check:
        suite.check(quick=opts.quick, peers=peers, only=only)
        print("all checks passed")
        return 0
    report = suite.run(quick=opts.quick, only=only, rounds=opts.rounds, peers=peers)
    print(suite.format_text(report))
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(suite.to_json(report), fh, indent=2)
    if opts.markdown:
        with open(opts.markdown, "w") as fh:
            fh.write(suite.format_markdown(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
