"""Differential fuzzing of higher derivatives: ``python -m tests.fuzz.higher --programs N``.

For every generated program (:func:`tests.fuzz.program.programs`) whose first argument is
a float, the second and third derivatives with respect to it are computed by repeated
reverse mode (``grad(grad(grad(f)))``, whose third pass replays the second derivative's
stack pushes and pops backwards) and by repeated forward mode, at the program's arguments,
and must agree to ``1e-8`` relative (absolute ``1e-8`` times the largest term). Both are
exact derivatives at the same point, so no finite differences and no discarding are
involved; a program whose value or derivatives are not finite there is skipped.

Third-order code is large (each reverse pass roughly doubles it), so this is a local tool,
not part of the CI budget; docs/testing.md reports its runs.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

import chainrule as cr

from .check import load_module, unload_module
from .program import programs

__all__ = ["check_higher", "main", "run"]


def _agree(a: Any, b: Any) -> bool:
    a, b = float(a), float(b)
    scale = max(abs(a), abs(b), 1.0)
    return abs(a - b) <= 1e-8 * scale


def check_higher(fn: Any, args: tuple[Any, ...]) -> str | None:
    """``None`` when reverse and forward agree on the 2nd and 3rd derivatives of ``fn`` in
    its first argument; else a description of the disagreement."""
    fwd = {"mode": "forward"}
    reverse = cr.grad(fn)
    forward = cr.grad(fn, **fwd)
    results = []
    for order in (2, 3):
        reverse = cr.grad(reverse)
        forward = cr.grad(forward, **fwd)
        with np.errstate(all="ignore"):
            r = reverse(*args)
            f = forward(*args)
        if not (np.isfinite(r) and np.isfinite(f)):
            return None
        results.append((order, r, f))
        if not _agree(r, f):
            return "; ".join(f"order {k}: reverse {a!r}, forward {b!r}" for k, a, b in results)
    return None


def run(n: int, seed: int = 0, max_statements: int = 4) -> tuple[dict[str, int], list[str]]:
    """Draw ``n`` programs; ``(counts, failures)`` with counts of programs checked and
    skipped (first argument not a float, or a documented TransformError)."""
    counts = {"checked": 0, "skipped": 0}
    failures: list[str] = []

    @hypothesis_seed(seed)
    @settings(max_examples=n, deadline=None, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(programs(max_statements=max_statements))
    def one(program: Any) -> None:
        if not isinstance(program.args[0], float):
            counts["skipped"] += 1
            return
        module = load_module(program.source(traced=False), "higher")
        sys.modules[module.__name__] = module
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                problem = check_higher(module.f, tuple(program.args))
        except cr.TransformError as exc:  # a documented limit: counted, not a failure
            counts["skipped"] += 1
            print(f"declined: {str(exc).splitlines()[0]}", file=sys.stderr)
            return
        except Exception as exc:  # noqa: BLE001  (reported with the program)
            problem = f"{type(exc).__name__}: {exc}"
        finally:
            unload_module(module)
            sys.modules.pop(module.__name__, None)
        counts["checked"] += 1
        if problem is not None:
            failures.append(f"{problem}\nargs = {program.args!r}\n{program.source()}")

    one()
    return counts, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.higher")
    parser.add_argument("--programs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-statements", type=int, default=4)
    opts = parser.parse_args(argv)
    start = time.perf_counter()
    counts, failures = run(opts.programs, opts.seed, opts.max_statements)
    seconds = time.perf_counter() - start
    print(f"programs with a float first argument checked: {counts['checked']} in "
          f"{seconds:.1f} s; skipped: {counts['skipped']}; disagreements: {len(failures)}")
    for text in failures:
        print("=" * 78)
        print(text)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
