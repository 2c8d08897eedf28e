"""Every derivative rule of the registry against central finite differences in float64.

* Reverse mode: the inner-product test ``<VJP(v), u> == <v, J u>`` for random ``u`` and
  ``v``, with ``J u`` from central differences and the VJP computed from the registered rules
  (plus ``runtime.unbroadcast`` for broadcasting primitives, as the engines do).
* Forward mode: the sum of the JVP contributions (plus ``runtime.broadcast_like``) against
  the same ``J u``.
* Complex outputs use the real functional ``Re(sum(v * y))`` (the transpose convention); a
  real input's cotangent must be real. NaN is never hidden: a NaN anywhere fails.
* The table (``tests/rule_cases.py``) must cover every registered rule, method and
  attribute; every library rule must be inlinable; ``docs/rules.md`` must be current.
"""

from __future__ import annotations

import builtins
import copy
import inspect
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule import runtime
from chainrule.rules import primitive_of, registered_primitives
from chainrule.rules.registry import registered_attrs, registered_methods
from tests.rule_cases import CASES, Case

EPS = 1e-6
RTOL = 1e-5
ROOT = Path(__file__).resolve().parents[1]

# Runtime helpers that cannot have rules: ``pop_grad`` pops from (mutates) its argument.
NO_RULES = {"pop_grad"}


# --------------------------------------------------------------------------- pytrees


def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple))


def _random_like(x: Any, rng: np.random.Generator) -> Any:
    """A random direction with the structure and dtype kind of ``x``."""
    if _is_seq(x):
        return [_random_like(e, rng) for e in x]
    if isinstance(x, float):
        return float(rng.standard_normal())
    if np.iscomplexobj(x):
        return rng.standard_normal(np.shape(x)) + 1j * rng.standard_normal(np.shape(x))
    if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x))


def _cotangent_like(y: Any, rng: np.random.Generator) -> Any:
    """A random output cotangent: a tuple for multi-output functions, like the engines."""
    if _is_seq(y):
        return tuple(_cotangent_like(e, rng) for e in y)
    if not np.issubdtype(np.result_type(y), np.inexact):
        return np.zeros(np.shape(y))
    return _random_like(y, rng)


def _axpy(x: Any, eps: float, u: Any) -> Any:
    if _is_seq(x):
        return [_axpy(a, eps, b) for a, b in zip(x, u, strict=True)]
    return x + eps * u


def _flat(y: Any) -> np.ndarray:
    if _is_seq(y):
        parts = [_flat(e) for e in y]
        return np.concatenate(parts) if parts else np.zeros(0)
    return np.ravel(np.asarray(y)).astype(np.result_type(np.asarray(y).dtype, np.float64))


def _vdot(a: Any, b: Any) -> float:
    """``Re(sum(a * b))`` over matching structures; ``None`` counts as zero."""
    if a is None or b is None:
        return 0.0
    if _is_seq(a):
        return float(sum(_vdot(p, q) for p, q in zip(a, b, strict=True)))
    return float(np.real(np.sum(np.asarray(a) * np.asarray(b))))


def _check_finite(what: str, x: Any) -> None:
    for part in (x if _is_seq(x) else [x]):
        if _is_seq(part):
            _check_finite(what, part)
        elif part is not None:
            assert np.all(np.isfinite(part)), f"{what} is not finite: {part!r}"


def _check_cotangent(ct: Any, arg: Any, what: str) -> None:
    """A cotangent has its argument's structure and shape, and is real for a real input."""
    if ct is None:
        return
    if _is_seq(arg):
        assert _is_seq(ct) and len(ct) == len(arg), f"{what}: expected a sequence cotangent"
        for c, a in zip(ct, arg, strict=True):
            _check_cotangent(c, a, what)
        return
    assert np.shape(ct) == np.shape(arg), (
        f"{what}: cotangent shape {np.shape(ct)} != argument shape {np.shape(arg)}")
    if not np.iscomplexobj(arg):
        assert not np.iscomplexobj(ct), f"{what}: complex cotangent for a real input"


# --------------------------------------------------------------------------- the numeric check


def _run(c: Case, args: tuple) -> Any:
    return c.fn(*copy.deepcopy(args), **c.kwargs)


def _setup(c: Case) -> tuple:
    args = c.args()
    rng = np.random.default_rng(c.seed + 1)
    ans = _run(c, args)
    _check_finite(f"{c.id}: primal output", ans)
    dirs = {i: _random_like(args[i], rng) for i in c.argnums}
    plus = list(args)
    minus = list(args)
    for i, u in dirs.items():
        plus[i] = _axpy(args[i], EPS, u)
        minus[i] = _axpy(args[i], -EPS, u)
    ju = (_flat(_run(c, tuple(plus))) - _flat(_run(c, tuple(minus)))) / (2 * EPS)
    return args, ans, dirs, ju, rng


DIFF_CASES = [c for c in CASES if c.argnums]


@pytest.mark.parametrize("c", DIFF_CASES, ids=[c.id for c in DIFF_CASES])
def test_vjp(c: Case) -> None:
    prim = primitive_of(c.fn)
    args, ans, dirs, ju, rng = _setup(c)
    v = _cotangent_like(ans, rng)
    exact = 0.0
    for i, u in dirs.items():
        ct = prim.vjp(i).fn(v, ans, *copy.deepcopy(args), **c.kwargs)
        if prim.broadcasts:
            ct = runtime.unbroadcast(ct, args[i])
        _check_finite(f"{c.id}: cotangent of argument {i}", ct)
        _check_cotangent(ct, args[i], f"{c.id} argument {i}")
        exact += _vdot(ct, u)
    fv = _flat(v)
    numeric = float(np.real(np.sum(fv * ju)))
    scale = float(np.sum(np.abs(fv * ju)))
    assert abs(exact - numeric) <= RTOL * scale + 1e-8, (
        f"{c.id}: <VJP(v), u> = {exact!r} but <v, J u> by central differences = {numeric!r}")


@pytest.mark.parametrize("c", DIFF_CASES, ids=[c.id for c in DIFF_CASES])
def test_jvp(c: Case) -> None:
    prim = primitive_of(c.fn)
    args, ans, dirs, ju, _ = _setup(c)
    total = None
    for i, u in dirs.items():
        t = prim.jvp(i).fn(u, ans, *copy.deepcopy(args), **c.kwargs)
        if prim.broadcasts:
            t = runtime.broadcast_like(t, ans)
        _check_finite(f"{c.id}: tangent contribution of argument {i}", t)
        total = runtime.add_grad(total, t)
    if _is_seq(ans):
        assert _is_seq(total) and len(total) == len(ans), (
            f"{c.id}: the JVP of a sequence output is a sequence of {len(ans)} tangents")
    if isinstance(ans, tuple):
        assert isinstance(total, tuple), f"{c.id}: a multi-output JVP returns a tuple"
    exact = _flat(total)
    assert exact.shape == ju.shape, f"{c.id}: tangent shape {exact.shape} != {ju.shape}"
    atol = 1e-6 * max(1.0, float(np.max(np.abs(ju), initial=0.0)))
    assert np.allclose(exact, ju, rtol=RTOL, atol=atol), (
        f"{c.id}: J u from the JVP rules\n{exact!r}\nbut by central differences\n{ju!r}")


MAPPED = [c for c in CASES if c.method or c.attr]


@pytest.mark.parametrize("c", MAPPED, ids=[c.id for c in MAPPED])
def test_method_and_attribute_mappings(c: Case) -> None:
    args = c.args()
    if c.method:
        assert chainrule.rules.registry.method_function(c.method) is c.fn
        spelled = getattr(args[0], c.method)(*args[1:], **c.kwargs)
    else:
        assert chainrule.rules.registry.attr_function(c.attr) is c.fn
        spelled = getattr(args[0], c.attr)
    mapped = _run(c, args)
    assert _flat(spelled).shape == _flat(mapped).shape
    assert np.array_equal(_flat(spelled), _flat(mapped))


# --------------------------------------------------------------------------- coverage


def test_every_rule_has_a_row() -> None:
    covered: dict[int, set[int]] = defaultdict(set)
    for c in CASES:
        covered[id(c.fn)] |= set(c.argnums)
    problems = []
    for prim in registered_primitives():
        if prim.vjps.keys() != prim.jvps.keys():
            problems.append(f"{prim.name}: VJP rules for arguments {sorted(prim.vjps)} but JVP "
                            f"rules for {sorted(prim.jvps)}")
        missing = (prim.vjps.keys() | prim.jvps.keys()) - covered[id(prim.fn)]
        if missing:
            problems.append(f"{prim.name}: no row differentiates argument(s) {sorted(missing)}")
    for c in CASES:
        prim = primitive_of(c.fn)
        if c.argnums and (prim is None or not set(c.argnums) <= prim.vjps.keys()):
            problems.append(f"row {c.id} differentiates {c.argnums}, which have no rules")
    assert not problems, "add rows to tests/rule_cases.py:\n" + "\n".join(problems)


def test_every_method_and_attribute_has_a_row() -> None:
    methods = {c.method for c in CASES if c.method}
    attrs = {c.attr for c in CASES if c.attr}
    missing = [f"x.{m}()" for m in registered_methods() if m not in methods]
    missing += [f"x.{a}" for a in registered_attrs() if a not in attrs]
    assert not missing, f"add rows to tests/rule_cases.py for {missing}"


def test_every_runtime_helper_is_registered() -> None:
    unregistered = [
        name for name in runtime.__all__
        if name not in NO_RULES and primitive_of(getattr(runtime, name)) is None
    ]
    assert not unregistered, (
        f"chainrule.runtime helpers {unregistered} have no rules: generated code that calls "
        "them cannot be differentiated again; register VJP and JVP rules (or "
        "nondifferentiable) in src/chainrule/rules/runtime_rules.py")



def test_every_runtime_helper_parameter_has_a_rule_or_is_declared_nondifferentiable() -> None:
    """Third-order code differentiates generated code with respect to saved values, so any
    positional parameter of a helper can be active there (an ``axis`` read from the saved
    tuple): each needs a rule, or ``None`` in ``defvjp``/``defjvp``."""
    missing = []
    for name in runtime.__all__:
        prim = primitive_of(getattr(runtime, name))
        if prim is None or prim.nondiff:
            continue
        params = inspect.signature(prim.fn).parameters.values()
        n = len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
        for table in (prim.vjps, prim.jvps):
            missing += [f"{name} argument {i}" for i in range(n)
                        if i not in table and i not in prim.nondiff_args]
    assert not missing, missing

# --------------------------------------------------------------------------- templates


def _library_rules() -> list[tuple[str, Any, Any]]:
    out = []
    for prim in registered_primitives():
        for kind, table in (("vjp", prim.vjps), ("jvp", prim.jvps)):
            for argnum, rule in sorted(table.items()):
                if rule.fn.__module__.startswith("chainrule."):
                    out.append((f"{prim.name} {kind} {argnum}", prim, rule))
    return out


def test_every_rule_is_inlinable() -> None:
    helpers = {getattr(runtime, name) for name in runtime.__all__}
    problems = []
    for what, prim, rule in _library_rules():
        try:
            tpl = rule.template()
        except Exception as exc:  # noqa: BLE001  (reported below)
            problems.append(f"{what}: no template ({exc})")
            continue
        for name, obj in tpl.free.items():
            # Rules of ``math`` functions may use ``math`` on their (scalar) primal values.
            ok = (obj is np or any(obj is h for h in helpers)
                  or getattr(builtins, name, None) is obj
                  or (obj is math and prim.name.startswith("math.")))
            if not ok:
                problems.append(f"{what}: free name {name!r} is {obj!r}, not numpy, a "
                                "chainrule.runtime helper or a builtin")
    assert not problems, "\n".join(problems)


def test_templates_show_the_formula() -> None:
    tpl = primitive_of(np.sin).vjp(0).template()
    assert tpl.params == ["g", "ans", "x"]
    import ast

    import gast

    assert ast.unparse(gast.gast_to_ast(tpl.expr)) == "g * np.cos(x)"
    assert primitive_of(chainrule.runtime.reshape_method).vjp(0).template().kwonly == ["order"]


# --------------------------------------------------------------------------- errors


def test_unbroadcast_sums_exactly_what_broadcasting_added() -> None:
    # the array case runs from a plan kept per pair of shapes: it must give what summing
    # the added axes, then the stretched ones, then reshaping gives, bit for bit
    rng = np.random.default_rng(0)
    for shape in [(), (1,), (3,), (1, 3), (3, 1), (2, 3), (1, 1), (2, 1, 3), (1, 2, 1)]:
        for lead in [(), (4,), (2, 5)]:
            stretched = tuple(int(rng.integers(2, 5)) if n == 1 and rng.random() < 0.6
                              else n for n in shape)
            g = rng.standard_normal(lead + stretched)
            expected = g.sum(axis=tuple(range(len(lead)))) if lead else g
            axes = tuple(i for i, n in enumerate(shape) if n == 1 and stretched[i] != 1)
            if axes:
                expected = expected.sum(axis=axes, keepdims=True)
            expected = np.reshape(expected, shape)
            for _ in range(2):  # the second call runs from the kept plan
                got = runtime.unbroadcast(g, np.zeros(shape))
                assert np.shape(got) == shape and np.array_equal(got, expected)


def test_missing_rule_error_names_function_argument_and_fix() -> None:
    prim = primitive_of(np.take)
    with pytest.raises(chainrule.MissingRuleError) as info:
        prim.vjp(1)
    message = str(info.value)
    assert "numpy.take" in message and "argument 1" in message and "defvjp" in message
    with pytest.raises(chainrule.MissingRuleError, match="defjvp"):
        prim.jvp(1)


# --------------------------------------------------------------------------- docs


def test_docs_rules_md_is_current() -> None:
    if not hasattr(math, "cbrt") or not hasattr(np, "astype"):
        pytest.skip("docs/rules.md lists the rules of Python >= 3.11 and NumPy >= 2.1")
    result = subprocess.run(
        [sys.executable, "-m", "chainrule.rules.doc"], capture_output=True, text=True,
        check=True, cwd=ROOT,
    )
    current = (ROOT / "docs" / "rules.md").read_text()
    assert result.stdout == current, (
        "docs/rules.md is stale: regenerate it with\n"
        "    python -m chainrule.rules.doc > docs/rules.md")


def test_docs_render_is_deterministic() -> None:
    from chainrule.rules.doc import render

    assert render() == render()
