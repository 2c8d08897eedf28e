"""Transformation cost: how long ``chainrule.grad`` takes to generate a gradient.

Functions of 10, 50 and 200 body lines (straight-line NumPy code with a loop and an
``if`` every few lines, the mix of ``tests/corpus.py``) are written to a temporary module,
imported, and differentiated:

* **cold**: ``chainrule.grad(f)`` on a function object it has never seen (parse, analyse,
  generate, compile); each repetition uses a fresh function object over the same code, so
  nothing is cached but the source file's lines (``linecache``, as after any first call).
* **cached**: ``chainrule.grad(f)`` again on the same function (the per-function cache).

Every generated gradient is checked once against central differences (by ``--check`` and
the tests, the 10- and 50-line ones).
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr

from .harness import time_call

__all__ = ["SIZES", "function_source", "load_functions", "measure"]

SIZES = (10, 50, 200)
# ``check_only`` (the test suite) skips the 200-line function: generating it takes seconds.
# Timed runs check every size.
CHECK_MAX_LINES = 50

# Blocks of body lines, cycled until a function has its size; ``{i}`` numbers the cycle.
_BLOCKS = (
    ["a{i} = np.tanh(h @ w) * 0.5"],
    ["h = h + 0.1 * a{i}"],
    ["s{i} = np.sum(h * h, axis=1, keepdims=True)"],
    ["h = h / (1.0 + s{i})"],
    ["if np.sum(h) > 0:", "    h = np.sin(h) + 0.01 * x", "else:", "    h = h * 0.9"],
    ["for k in range(2):", "    h = h * 0.95 + 0.05 * np.exp(-h * h)"],
    ["m{i} = np.maximum(h, 0.0) + 0.01 * np.minimum(h, 0.0)"],
    ["h = np.where(m{i} > 0.5, m{i}, h) * 0.99"],
)


def function_source(n_lines: int, name: str) -> str:
    """A function of exactly ``n_lines`` body lines (the last one a ``return``)."""
    body = ["h = x * 1.0"]
    i = 0
    while True:
        block = _BLOCKS[i % len(_BLOCKS)]
        if len(body) + len(block) > n_lines - 1:
            break
        body += [line.format(i=i // len(_BLOCKS)) for line in block]
        i += 1
    while len(body) < n_lines - 1:
        body.append(f"h = h * 1.001 + 0.001 * np.cos(h)  # filler {len(body)}")
    body.append("return np.sum(h * h)")
    return f"def {name}(x, w):\n" + "".join(f"    {line}\n" for line in body)


def load_functions(directory: str) -> dict[int, Any]:
    """Write the functions of every size to a module in ``directory`` and import it."""
    text = "import numpy as np\n\n\n" + "\n\n".join(
        function_source(n, f"f{n}") for n in SIZES)
    path = Path(directory) / "chainrule_bench_codegen.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("chainrule_bench_codegen", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return {n: getattr(module, f"f{n}") for n in SIZES}


def _check(f: Any) -> float:
    """Generate ``f``'s gradient (cold), check it by central differences; the seconds the
    generation took."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((4, 3)) * 0.5, rng.standard_normal((3, 3)) * 0.5
    start = time.perf_counter()
    df = cr.grad(f)
    seconds = time.perf_counter() - start
    g = df(x, w)
    u = rng.standard_normal(x.shape)
    eps = 1e-6
    numeric = (f(x + eps * u, w) - f(x - eps * u, w)) / (2 * eps)
    if not np.isclose(float(np.sum(g * u)), numeric, rtol=1e-5, atol=1e-8):
        raise AssertionError(f"codegen: the generated gradient of {f.__name__} disagrees "
                             "with finite differences")
    return seconds


def measure(quick: bool = False, check_only: bool = False) -> list[dict[str, Any]]:
    """Cold and cached generation times per size (median of repetitions), in seconds.

    The checked first generation is the first cold sample; ``quick`` takes no other (a
    200-line function takes seconds), the full run 5 in all.
    """
    reps = 1 if quick else 5
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fns = load_functions(tmp)
        try:
            for n, f in fns.items():
                if check_only and n > CHECK_MAX_LINES:
                    continue
                colds = [_check(f)]
                if check_only:
                    continue
                for _ in range(reps - 1):
                    fresh = types.FunctionType(f.__code__, f.__globals__, f.__name__)
                    start = time.perf_counter()
                    cr.grad(fresh)
                    colds.append(time.perf_counter() - start)
                cached = [time_call(lambda: cr.grad(f), 0.01 if quick else 0.05)
                          for _ in range(3 if quick else 7)]
                rows.append({"lines": n, "cold_s": statistics.median(colds),
                             "cold_spread": (min(colds), max(colds)),
                             "cached_s": statistics.median(cached),
                             "cached_spread": (min(cached), max(cached)),
                             "generated_lines": len(cr.source(cr.grad(f)).splitlines())})
        finally:
            sys.modules.pop("chainrule_bench_codegen", None)
    return rows
