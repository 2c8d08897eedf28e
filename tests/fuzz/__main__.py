"""``python -m tests.fuzz --programs N``: differential fuzzing from the command line.

Options: ``--programs N`` (programs checked, default 1000), ``--jobs J`` (worker processes,
default: the number of CPUs; worker ``j`` draws with seed ``--seed + j``), ``--seed S``
(default 0), ``--max-statements K`` (statement budget of ``f``, default 5) and
``--no-shrink`` (report the first failing program as found). Prints how many programs were
checked, how many discarded and why, which engines ran and which constructs occurred, and
the time; on a disagreement prints the minimised program and exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from .runner import run_parallel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-statements", type=int, default=5)
    parser.add_argument("--no-shrink", action="store_true")
    args = parser.parse_args(argv)
    stats, failures = run_parallel(args.programs, jobs=args.jobs, seed=args.seed,
                                   max_statements=args.max_statements,
                                   shrink=not args.no_shrink)
    print(stats.summary())
    for text in failures:
        print("\n" + "=" * 78 + "\nDISAGREEMENT\n" + text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
