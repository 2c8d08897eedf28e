"""Generated source is byte-identical in every process, whatever ``PYTHONHASHSEED`` is.

Two subprocesses with different hash seeds generate the source of every transformation
(``grad`` for every argument combination, ``value_and_grad``, ``elementwise_grad``,
``vjp``, ``make_jvp``, ``jacfwd``, ``jacrev``, ``hessian``, the standalone export) of every
corpus function and of a batch of fuzz-generated programs, and print one digest per
function; the digests must agree.
"""

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from tests.fuzz.program import programs

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r'''
import hashlib, importlib.util, itertools, sys, warnings
import numpy as np
import chainrule as cr
from tests import corpus

warnings.simplefilter("ignore")


def sources(fn, nargs, arrays):
    out = []
    combos = [c for r in range(1, nargs + 1) for c in itertools.combinations(range(nargs), r)]
    for argnums in combos:
        out.append(cr.source(cr.grad(fn, argnums=argnums)))
    out.append(cr.source(cr.value_and_grad(fn)))
    out.append(cr.source(cr.elementwise_grad(fn)))
    out.append(cr.source(cr.grad(fn, argnums=tuple(range(nargs)), mode="forward")))
    out.append(cr.source(cr.make_jvp(fn, tuple(range(nargs)))))
    out.append(cr.source(cr.jacrev(fn)))
    out.append(cr.source(cr.grad(fn), standalone=True))
    if not arrays:
        out.append(cr.source(cr.hessian(fn)))
    return out


def digest(texts):
    return hashlib.sha256("\n\x00\n".join(texts).encode()).hexdigest()


for fn, arglist in corpus.CASES:
    args = arglist[0]
    nums = [i for i, a in enumerate(args) if not isinstance(a, (bool, int))]
    if nums != list(range(len(nums))):
        nums = nums[:1]
    arrays = any(isinstance(a, np.ndarray) for a in args)
    print(fn.__name__, digest(sources(fn, max(1, len(nums)), arrays)))

for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location(path.rsplit("/", 1)[-1][:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    n = mod.f.__code__.co_argcount
    print(path.rsplit("/", 1)[-1], digest(sources(mod.f, n, True)))
'''


def _programs(n):
    """``n`` fuzz programs, the same ones every run (derandomized hypothesis)."""
    out = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(programs(max_statements=4))
    def collect(program):
        if len(out) < n:
            out.append(program)

    collect()
    return out


def _start(seed, paths):
    env = dict(os.environ, PYTHONHASHSEED=seed)
    return subprocess.Popen([sys.executable, "-c", SCRIPT, *map(str, paths)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return out.splitlines()


def test_generated_source_is_identical_across_hash_seeds(tmp_path):
    paths = []
    for k, program in enumerate(_programs(20)):
        path = tmp_path / f"fuzz_program_{k}.py"
        path.write_text(program.source())
        paths.append(path)
    procs = [_start(seed, paths) for seed in ("0", "4242")]  # in parallel
    first, second = (_lines(p) for p in procs)
    assert len(first) == len(second) >= 80
    differ = [a.split()[0] for a, b in zip(first, second) if a != b]
    assert not differ, f"generated source differs between processes for {differ}"


def test_fuzz_programs_are_the_same_every_run():
    """The CI fuzz budget checks the same programs on every run (derandomized)."""
    assert [p.source() for p in _programs(10)] == [p.source() for p in _programs(10)]
