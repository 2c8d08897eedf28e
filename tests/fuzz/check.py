"""Differential checking: one function, every engine, finite differences, one verdict.

:func:`check_program` writes a generated :class:`~tests.fuzz.program.Program` to real
``.py`` files (chainrule reads source through ``inspect``/``linecache``; a function made by
``exec`` has none), imports them, and calls :func:`check_function`. That runs

* reverse mode: ``value_and_grad``, ``grad``, ``vjp`` (the ``_fwd``/``_bwd`` pair) and
  ``elementwise_grad`` (for a scalar output, the gradient);
* forward mode: ``grad(mode="forward")`` and ``jvp`` along a random direction;
* the eager tape: the same source run on ``Variable``s (every argument) inside a
  ``GradientTape``, and the same tape block staged by ``@chainrule.function`` (when the
  package has it; a ``TransformError`` saying it "cannot stage this", its documented
  answer to code it does not stage, is counted as a refusal, not a failure)
  (programs that write into arrays, build ``np.array`` from a list or call ``math`` are
  skipped there: a Tensor is immutable and leaves the tape there, as in TensorFlow);
* central finite differences in float64 along the same random direction, extrapolated
  (Richardson) from three step sizes, with an error estimate,

and raises :class:`Disagreement` when the engines' gradients differ by more than 1e-9
relative, when a returned primal value differs from the function's own, or when the
directional derivative is outside the finite differences' error. :class:`Discarded` means
the program was not a valid test: a decision of the traced twin (a branch, a loop test, a
kink such as ``abs`` or ``np.maximum``) changes on the stencil, a value overflows, or a
non-differentiable point (the norm of a zero vector) is hit.
"""

from __future__ import annotations

import importlib.util
import itertools
import linecache
import os
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import chainrule as cr

__all__ = ["Tracer", "Disagreement", "Discarded", "ProgramError", "Verdict", "check_program",
           "check_function", "ENGINES"]

ENGINES = ("value_and_grad", "grad", "vjp", "elementwise_grad", "forward", "jvp", "function",
           "function-steps", "tape")
RTOL = 1e-9  # engines against each other
H0 = 1e-3  # largest finite-difference step (inputs are of order 1)


class Disagreement(AssertionError):
    """Two engines, or an engine and finite differences, disagree (or an engine raised)."""


class ProgramError(AssertionError):
    """The generated program itself fails: a bug in :mod:`tests.fuzz.program`."""


class Discarded(Exception):
    """The program is not a valid test at this point (reason in ``args[0]``)."""


def _sig(a: Any) -> tuple[Any, ...]:
    return tuple(np.ravel(np.asarray(a)).tolist())


class Tracer:
    """The ``_T`` of traced programs: logs every decision and kink, returns the value the
    plain program computes (the same operations in the same order)."""

    def __init__(self) -> None:
        self.log: list[Any] = []
        self.singular = False

    def b(self, c: Any) -> bool:
        c = bool(c)
        self.log.append(c)
        return c

    def mask(self, c: Any) -> Any:
        self.log.append(("mask", _sig(c)))
        return c

    def abs(self, x: Any) -> Any:
        self.log.append(("abs", _sig(np.sign(x))))
        return abs(x)

    def maximum(self, a: Any, b: Any) -> Any:
        self.log.append(("maximum", _sig(np.sign(np.subtract(a, b)))))
        return np.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        self.log.append(("minimum", _sig(np.sign(np.subtract(a, b)))))
        return np.minimum(a, b)

    def clip(self, x: Any, lo: float, hi: float) -> Any:
        self.log.append(("clip", _sig(np.sign(np.subtract(x, lo))),
                         _sig(np.sign(np.subtract(x, hi)))))
        return np.clip(x, lo, hi)

    def max(self, v: Any) -> Any:
        self.log.append(("max", _sig(v == np.max(v))))
        return np.max(v)

    def min(self, v: Any) -> Any:
        self.log.append(("min", _sig(v == np.min(v))))
        return np.min(v)

    def sort(self, v: Any) -> Any:
        self.log.append(("sort", _sig(np.argsort(v, kind="stable")), _sig(np.diff(np.sort(v))
                                                                          == 0)))
        return np.sort(v)

    def pymax(self, a: Any, b: Any) -> Any:
        self.log.append(("pymax", _sig(np.sign(np.subtract(a, b)))))
        return max(a, b)

    def mod(self, a: Any, b: Any) -> Any:
        self.log.append(("mod", _sig(np.floor_divide(a, b))))
        return a % b

    def norm(self, v: Any) -> Any:
        if not np.any(v):
            self.singular = True
        return np.linalg.norm(v)

    def std(self, v: Any) -> Any:
        if np.ptp(v) == 0:
            self.singular = True
        return np.std(v)

    def eigvalsh(self, a: Any) -> Any:
        w = np.linalg.eigvalsh(a)
        if np.min(np.diff(w)) < 1e-6 * max(1.0, float(np.max(np.abs(w)))):
            self.singular = True  # repeated eigenvalues
        return w


@dataclass
class Verdict:
    """What one check did: the engines that ran, and the finite-difference comparison."""

    engines: tuple[str, ...]
    derivative: float  # <gradient, direction>
    fd: float
    fd_error: float
    refused: tuple[str, ...] = ()  # engines that declined the program as documented


# --------------------------------------------------------------------------- loading
_COUNTER = itertools.count()
_DIR: str | None = None


def _tmpdir() -> str:
    global _DIR
    if _DIR is None or not os.path.isdir(_DIR):
        _DIR = tempfile.mkdtemp(prefix="chainrule-fuzz-")
    return _DIR


def load_module(source: str, stem: str = "prog") -> Any:
    """Write ``source`` to a fresh ``.py`` file and import it (not kept in sys.modules)."""
    name = f"_chainrule_fuzz_{stem}_{os.getpid()}_{next(_COUNTER)}"
    path = os.path.join(_tmpdir(), name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unload_module(module: Any) -> None:
    path = module.__file__
    try:
        os.remove(path)
    except OSError:
        pass
    linecache.checkcache(path)


# --------------------------------------------------------------------------- helpers
def _copy(args: Sequence[Any]) -> list[Any]:
    return [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]


def _as_float(x: Any) -> np.ndarray:
    if isinstance(x, cr.Tensor):
        x = x.numpy()
    return np.asarray(x, dtype=np.float64)


def _at(args: Sequence[Any], wrt: Sequence[int], direction: Sequence[np.ndarray], t: float
        ) -> list[Any]:
    out = _copy(args)
    for i, d in zip(wrt, direction):
        if isinstance(out[i], np.ndarray):
            out[i] = out[i] + t * d
        else:
            out[i] = float(out[i] + t * float(d))
    return out


def _evaluate(fn: Callable[..., Any], args: Sequence[Any]) -> float:
    """``fn(*args)`` as a float; Discarded when it overflows or leaves its domain."""
    failure = None
    try:
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            value = fn(*_copy(args))
    except (FloatingPointError, OverflowError, ZeroDivisionError) as exc:
        failure = Discarded(f"non-finite value ({type(exc).__name__}: {exc})")
    except Exception as exc:
        failure = ProgramError(f"the program itself raised {type(exc).__name__}: {exc}")
    if failure is not None:
        raise failure
    value = float(np.asarray(value, dtype=np.float64))
    if not np.isfinite(value) or abs(value) > 1e12:
        raise Discarded(f"value out of range ({value})")
    return value


def _describe(args: Sequence[Any]) -> str:
    with np.printoptions(precision=17, floatmode="unique"):
        return "(" + ", ".join(repr(a) for a in args) + ")"


def _fail(label: str, detail: str, args: Sequence[Any], results: dict[str, Any]) -> None:
    lines = [f"{label}: {detail}", f"  args = {_describe(args)}"]
    with np.printoptions(precision=17, floatmode="unique"):
        for k, v in results.items():
            lines.append(f"  {k} = {v!r}")
    raise Disagreement("\n".join(lines))


_STAGED = """
import chainrule
from {module} import {name} as target


def staged({params}):
    with chainrule.GradientTape() as tape:
        tape.watch([{params}])
        value = target({params})
    return value, tape.gradient(value, [{params}], unconnected_gradients="zero")


def staged_steps(optimizer, {params}):
    variables = [{params}]
    for _ in range(3):
        with chainrule.GradientTape() as tape:
            value = target({params})
        grads = tape.gradient(value, variables)
        optimizer.apply_gradients(zip(grads, variables))
    return value, grads
"""


def _staged_wrapper(fn: Callable[..., Any], n: int) -> Any:
    """A module whose ``staged`` runs ``fn`` in a GradientTape block, for
    ``@chainrule.function`` (which stages tape blocks, so it needs them in a file)."""
    params = ", ".join(f"a{i}" for i in range(n))
    return load_module(_STAGED.format(module=fn.__module__, name=fn.__name__, params=params),
                       "staged")


# --------------------------------------------------------------------------- engines
def _engines(fn: Callable[..., Any], args: Sequence[Any], argnums: int | tuple[int, ...],
             direction: list[np.ndarray], tape: bool) -> dict[str, tuple[Any, list[Any]]]:
    """engine -> (primal value or None, gradients in ``wrt`` order (or [<g, u>] for jvp))."""
    wrt = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    single = isinstance(argnums, int)
    out: dict[str, tuple[Any, list[Any]]] = {}
    refused: list[str] = []

    def listed(g: Any) -> list[Any]:
        return [g] if single else list(g)

    def run(engine: str, thunk: Callable[[], tuple[Any, list[Any]]]) -> None:
        failure = None
        try:
            with np.errstate(all="ignore"):
                out[engine] = thunk()
        except cr.TransformError as exc:
            if engine.startswith("function") and "cannot stage this" in str(exc):
                refused.append(engine)  # a documented refusal, with the advice to run eagerly
            else:
                where = "".join(traceback.format_exception(exc)[-3:])
                failure = f"{engine} raised {type(exc).__name__}: {exc}\n{where}"
        except Exception as exc:  # an engine must not fail on supported Python
            where = "".join(traceback.format_exception(exc)[-3:])
            failure = f"{engine} raised {type(exc).__name__}: {exc}\n{where}"
        if failure is not None:
            # raised outside the handler: generated files are numbered per process, and
            # hypothesis tells failures apart by the place each exception in the chain
            # was raised
            raise Disagreement(failure)

    def value_and_grad() -> tuple[Any, list[Any]]:
        value, g = cr.value_and_grad(fn, argnums)(*_copy(args))
        return value, listed(g)

    run("value_and_grad", value_and_grad)
    run("grad", lambda: (None, listed(cr.grad(fn, argnums)(*_copy(args)))))

    def vjp() -> tuple[Any, list[Any]]:
        value, pullback = cr.vjp(fn, *_copy(args))
        cts = pullback(1.0)
        return value, [cts[i] for i in wrt]

    run("vjp", vjp)
    run("elementwise_grad", lambda: (None, listed(cr.elementwise_grad(fn, argnums)(
        *_copy(args)))))
    run("forward", lambda: (None, listed(cr.grad(fn, argnums, mode="forward")(*_copy(args)))))

    def jvp() -> tuple[Any, list[Any]]:
        tangents = [np.zeros_like(a) if isinstance(a, np.ndarray) else 0.0 for a in args]
        for i, d in zip(wrt, direction):
            tangents[i] = d if isinstance(args[i], np.ndarray) else float(d)
        value, t = cr.jvp(fn, tuple(_copy(args)), tuple(tangents))
        return value, [t]

    run("jvp", jvp)
    if tape and hasattr(cr, "function"):
        def staged() -> tuple[Any, list[Any]]:
            wrapper = _staged_wrapper(fn, len(args))
            try:
                value, grads = cr.function(wrapper.staged)(*[cr.constant(a) for a in args])
            finally:
                unload_module(wrapper)
            return value, [grads[i] for i in wrt]

        run("function", staged)

        def staged_steps() -> tuple[Any, list[Any]]:
            # a training loop (three steps of SGD with a learning rate of 0, so that every
            # step is at ``args``): from its second step on, each step is one generated
            # function on NumPy values, specialised to the shapes it sees
            wrapper = _staged_wrapper(fn, len(args))
            variables = [cr.Variable(a) for a in _copy(args)]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # unconnected sources warn at each step
                    value, grads = cr.function(wrapper.staged_steps)(
                        cr.optimizers.SGD(learning_rate=0.0), *variables)
            except ValueError as exc:
                if "No gradients provided" not in str(exc):
                    raise
                value, grads = None, [None] * len(args)  # no variable is connected
            finally:
                unload_module(wrapper)
            for v, a in zip(variables, args):
                if not np.array_equal(v.numpy(), np.asarray(a), equal_nan=True):
                    raise AssertionError("a step with a learning rate of 0 moved a variable")
            return value, [np.zeros_like(np.asarray(args[i], dtype=float)) if grads[i] is None
                           else grads[i] for i in wrt]

        run("function-steps", staged_steps)
    if tape:
        def on_tape() -> tuple[Any, list[Any]]:
            inputs = [cr.Variable(a) for a in _copy(args)]
            with cr.GradientTape() as t:
                t.watch(inputs)  # as TF: a variable returned without being read is unwatched
                value = fn(*inputs)
            grads = t.gradient(value, [inputs[i] for i in wrt], unconnected_gradients="zero")
            return value, list(grads)

        run("tape", on_tape)
    if refused:
        out["refused"] = (None, refused)
    return out


# --------------------------------------------------------------------------- the check
def check_function(fn: Callable[..., Any], args: Sequence[Any],
                   argnums: int | tuple[int, ...] = 0, traced: Callable[..., Any] | None = None,
                   tracer: Tracer | None = None, tape: bool = True, seed: int = 0) -> Verdict:
    """Check every engine on ``fn`` at ``args``; see the module docstring.

    ``traced``/``tracer``: the traced twin of ``fn`` and its log (see
    :mod:`tests.fuzz.program`); without them (hand-written regression tests) the caller
    guarantees that ``args`` is away from branch switches and kinks.
    """
    wrt = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    args = list(args)
    rng = np.random.default_rng(seed)
    direction = [rng.standard_normal(np.shape(args[i])) for i in wrt]
    norm = np.sqrt(sum(float(np.sum(d * d)) for d in direction))
    direction = [d / norm for d in direction]

    # --- the function itself on the stencil: decisions, values
    evaluate = traced if traced is not None else fn
    values: dict[float, float] = {}
    logs: dict[float, list[Any]] = {}

    def stencil(steps: list[float]) -> None:
        """The function (its traced twin) at ``t = 0`` and ``+-h`` for each step: a
        decision or kink that changes on the stencil discards the program."""
        for t in [0.0] + [s * h for h in steps for s in (1, -1)]:
            if t in values:
                continue
            if tracer is not None:
                tracer.log = []
            values[t] = _evaluate(evaluate, _at(args, wrt, direction, t))
            if tracer is not None:
                if tracer.singular:
                    raise Discarded("non-differentiable point (norm of a zero vector, std "
                                    "of a constant one, repeated eigenvalues)")
                logs[t] = tracer.log
        if tracer is not None and any(log != logs[0.0] for log in logs.values()):
            raise Discarded("a decision or kink changes within the finite-difference stencil")

    steps = [H0, H0 / 2, H0 / 4]
    stencil(steps)
    reference = _evaluate(fn, args) if traced is not None else values[0.0]
    if reference != values[0.0]:
        raise ProgramError(f"the traced twin computes {values[0.0]!r}, the program "
                           f"{reference!r}: a bug in tests.fuzz")

    # --- engines
    results = _engines(fn, args, argnums, direction, tape)
    refused = tuple(results.pop("refused", (None, []))[1])
    flat = {k: v for k, v in results.items() if k != "jvp"}
    for engine, (value, _) in results.items():
        if value is None:
            continue
        v = float(np.asarray(_as_float(value)))
        if v != float(reference):
            _fail("primal value", f"{engine} returns {v!r}, the function {reference!r}",
                  args, results)
    base = flat["value_and_grad"][1]
    for i, g in zip(wrt, base):
        if np.shape(g) != np.shape(args[i]):
            _fail("shape", f"gradient {i} has shape {np.shape(g)}, its argument "
                  f"{np.shape(args[i])}", args, results)
    scale = max(float(np.max(np.abs(_as_float(g)))) if np.size(g) else 0.0
                for _, gs in flat.values() for g in gs)
    if not np.isfinite(scale):
        _fail("non-finite gradient", "an engine returns inf or nan", args, results)
    # a rounding floor: a gradient that is zero in exact arithmetic comes out as rounding
    # noise of the function's size, different in each engine
    floor = 64 * np.finfo(float).eps * max(1.0, abs(float(reference)))
    for engine, (_, grads) in flat.items():
        for i, g, ref in zip(wrt, grads, base):
            a, b = _as_float(g), _as_float(ref)
            if a.shape != b.shape or not np.allclose(a, b, rtol=RTOL,
                                                     atol=RTOL * scale + floor):
                _fail("engines disagree", f"{engine} vs value_and_grad, argument {i}",
                      args, results)
    terms = [float(np.sum(_as_float(g) * d)) for g, d in zip(base, direction)]
    derivative = sum(terms)
    magnitude = sum(float(np.sum(np.abs(_as_float(g) * d))) for g, d in zip(base, direction))
    t_jvp = float(_as_float(results["jvp"][1][0]))
    if not abs(t_jvp - derivative) <= RTOL * (magnitude + abs(t_jvp)) + floor:
        _fail("engines disagree", f"jvp gives {t_jvp!r}, <gradient, direction> = "
              f"{derivative!r}", args, results)

    # --- finite differences (Richardson extrapolation with an error estimate); where the
    # two extrapolations differ by more than 1e-4 of their size, the function curves too
    # fast for these steps (a large gain in a loop): the stencil shrinks by 32, twice
    for refinement in range(3):
        c = [(values[h] - values[-h]) / (2 * h) for h in steps]
        r1 = (4 * c[1] - c[0]) / 3
        r2 = (4 * c[2] - c[1]) / 3
        fmax = max(abs(values[t]) for t in [0.0] + [s * h for h in steps for s in (1, -1)])
        roundoff = 64 * np.finfo(float).eps * max(fmax, 1e-300) / steps[-1]
        # plus the rounding floor above: a directional derivative that is zero in exact
        # arithmetic is rounding noise in the engines too (``y/d - y/d``)
        error = float(2 * abs(r2 - r1) + roundoff + 1e-9 * abs(r2) + floor)
        if abs(derivative - r2) <= error:
            return Verdict(tuple(results), derivative, r2, error, refused)
        if abs(r2 - r1) <= 1e-4 * abs(r2) + roundoff or refinement == 2:
            break
        steps = [h / 32 for h in steps]
        stencil(steps)
    _fail("finite differences", f"<gradient, direction> = {derivative!r}, central "
          f"differences give {r2!r} +- {error:.3g} (steps {steps[0]:.3g}, "
          f"{steps[1]:.3g}, {steps[2]:.3g})", args, results)


def check_program(program: Any) -> Verdict:
    """Write ``program`` (plain and traced) to files, import both and check ``f``."""
    plain = load_module(program.source(traced=False), "plain")
    sys.modules[plain.__name__] = plain  # importable by the staged wrapper
    twin = load_module(program.source(traced=True), "traced")
    tracer = Tracer()
    twin._T = tracer
    try:
        return check_function(plain.f, program.args, program.argnums, twin.f, tracer,
                              tape=program.tape_ok)
    except (Disagreement, ProgramError) as exc:
        failure = exc
    finally:
        unload_module(plain)
        unload_module(twin)
        sys.modules.pop(plain.__name__, None)
        sys.modules.pop(twin.__name__, None)
    raise type(failure)(f"{failure}\n--- the program (argnums={program.argnums!r}) ---\n"
                        f"{program.source()}")
