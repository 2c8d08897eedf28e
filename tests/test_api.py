"""The reverse-mode API: generated functions as a product (source, tracebacks, cache,
determinism, standalone export) and JAX-compatible behaviour."""

import inspect
import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from tests import golden_functions as gf
from tests.util import numeric_grad

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parent.parent
GOLDEN_CASES = {
    "loop_sum": (gf.loop_sum, (0, 1)),
    "branch": (gf.branch, (0, 1)),
    "while_break": (gf.while_break, 0),
    "subscript_assign": (gf.subscript_assign, 0),
    "mlp": (gf.mlp, (0, 1)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_source(name):
    fn, argnums = GOLDEN_CASES[name]
    text = cr.source(cr.grad(fn, argnums=argnums))
    path = GOLDEN / f"{name}.py"
    if os.environ.get("CHAINRULE_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), (
        f"generated source of {name} changed; if intended, rerun with "
        "CHAINRULE_UPDATE_GOLDEN=1 and review the diff")


def test_generated_code_is_readable():
    text = cr.source(cr.grad(gf.branch))
    assert "# grad of: z = x * y" in text
    assert "b_x" in text and "np.cos(x)" in text
    assert "stack" not in cr.source(cr.grad(gf.mlp))  # straight-line code: no stack


def test_inspect_getsource_returns_generated_source():
    df = cr.grad(gf.mlp)
    assert inspect.getsource(df) == cr.source(df)
    assert not hasattr(df, "__wrapped__")


def test_traceback_shows_generated_line():
    df = cr.grad(gf.mlp)
    with pytest.raises(ValueError) as info:
        df(np.ones((2, 2)), np.ones((3, 1)), np.ones((2, 2)))
    text = "".join(traceback.format_exception(info.value))
    assert "<chainrule grad_mlp" in text
    assert "h @ w2" in text or "x @ w1" in text


def test_cache_reuses_and_redefinition_invalidates():
    assert cr.grad(gf.mlp) is cr.grad(gf.mlp)
    assert cr.grad(gf.mlp) is not cr.grad(gf.mlp, argnums=1)
    ns = {}
    src = "def f(x):\n    return x * x\n"
    path = ROOT / "tests" / "_redefined_tmp.py"
    path.write_text(src)
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location("_redefined_tmp", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        first = cr.grad(mod.f)
        assert first(3.0) == 6.0
        path.write_text("def f(x):\n    return x * x * x\n")
        import linecache

        linecache.checkcache(str(path))
        spec.loader.exec_module(mod)
        second = cr.grad(mod.f)
        assert second is not first and second(2.0) == 12.0
    finally:
        path.unlink()
    del ns


def test_source_is_deterministic_across_processes():
    code = ("import chainrule as cr; from tests import golden_functions as gf; "
            "print(cr.source(cr.grad(gf.loop_sum, argnums=(0, 1))))")
    outs = []
    for seed in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.append(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                                   capture_output=True, text=True, check=True).stdout)
    assert outs[0] == outs[1]
    assert outs[0].strip() == cr.source(cr.grad(gf.loop_sum, argnums=(0, 1))).strip()


def test_standalone_module_runs_without_chainrule(tmp_path):
    df = cr.grad(gf.loop_sum, argnums=(0, 1))
    module = cr.source(df, standalone=True)
    assert "import chainrule" not in module and "from chainrule" not in module
    (tmp_path / "exported.py").write_text(module)
    script = (
        "import sys; sys.modules['chainrule'] = None\n"
        "import numpy as np, exported\n"
        "x = np.array([0.1, 0.2]); w = np.array([1.0, -2.0, 0.5])\n"
        "gx, gw = exported.grad_loop_sum(x, w)\n"
        "print(repr(gx.tolist()), repr(gw.tolist()))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    gx, gw = df(np.array([0.1, 0.2]), np.array([1.0, -2.0, 0.5]))
    assert out.strip() == f"{gx.tolist()!r} {gw.tolist()!r}"


def test_defaults_and_keywords_are_kept():
    def f(x, scale=2.0, *, power=2):
        return scale * x ** power

    df = cr.grad(f)
    assert inspect.signature(df) == inspect.signature(f)
    assert df(3.0) == pytest.approx(12.0)
    assert df(3.0, scale=1.0, power=3) == pytest.approx(27.0)


def test_value_and_grad_and_argnums_tuple():
    x, w = np.array([0.3, -0.2]), np.array([1.0, 2.0, 3.0])
    value, (gx, gw) = cr.value_and_grad(gf.loop_sum, argnums=(0, 1))(x, w)
    assert value == pytest.approx(gf.loop_sum(x, w))
    np.testing.assert_allclose(gx, numeric_grad(gf.loop_sum, (x, w), 0), rtol=1e-6)
    np.testing.assert_allclose(gw, numeric_grad(gf.loop_sum, (x, w), 1), rtol=1e-6)
    g_neg = cr.grad(gf.loop_sum, argnums=-1)(x, w)
    np.testing.assert_allclose(g_neg, gw)


def test_vjp_array_and_tuple_outputs_and_repeated_pullbacks():
    def f(x, y):
        return np.sin(x) * y, x * 2.0

    x, y = np.array([0.1, 0.5]), np.array([2.0, 3.0])
    out, pullback = cr.vjp(f, x, y)
    np.testing.assert_allclose(out[0], np.sin(x) * y)
    for _ in range(2):
        gx, gy = pullback((np.ones(2), np.ones(2)))
        np.testing.assert_allclose(gx, np.cos(x) * y + 2.0)
        np.testing.assert_allclose(gy, np.sin(x))

    out, pullback = cr.vjp(gf.subscript_assign, np.array([1.0, 2.0, 3.0]))
    first = pullback(1.0)
    second = pullback(1.0)
    np.testing.assert_allclose(first[0], second[0])


def test_elementwise_grad_three_deep_sin_squared():
    def f(x):
        return np.sin(x) ** 2

    x = np.linspace(-2 * np.pi, 2 * np.pi, 100)
    d1 = cr.elementwise_grad(f)
    d2 = cr.elementwise_grad(d1)
    d3 = cr.elementwise_grad(d2)
    np.testing.assert_allclose(d1(x), np.sin(2 * x), atol=1e-12)
    np.testing.assert_allclose(d2(x), 2 * np.cos(2 * x), atol=1e-12)
    np.testing.assert_allclose(d3(x), -4 * np.sin(2 * x), atol=1e-12)
    assert d1(np.pi / 2) == pytest.approx(0.0, abs=1e-12)


def test_integer_and_boolean_arguments_are_not_differentiated():
    def f(x, n, flag):
        y = x
        for i in range(n):
            y = y * x
        return y if flag else -y

    assert cr.grad(f)(2.0, 2, True) == pytest.approx(12.0)
    assert cr.grad(f)(2.0, 2, False) == pytest.approx(-12.0)


def test_check_grads_higher_orders_and_failure_message():
    x, w = np.array([0.3, 0.5]), np.array([0.1, 0.2, 0.3])
    cr.check_grads(gf.loop_sum, (x, w), order=3, modes=("rev",))
    cr.check_grads(gf.loop_sum, (x, w), order=2, modes=("fwd",))

    def wrong(x):
        return np.sin(x)

    cr.defvjp(wrong, lambda g, ans, x: g * np.sin(x))  # deliberately wrong rule
    try:
        def uses_wrong(x):
            return np.sum(wrong(x))

        with pytest.raises(AssertionError, match="exact:.*\n.*numeric:"):
            cr.check_grads(uses_wrong, (x,), modes=("rev",))
    finally:
        from chainrule.rules import registry

        registry._PRIMITIVES.pop(id(wrong), None)


def test_third_reverse_pass_through_saved_values():
    def f(x):
        y = np.sin(x)
        y = np.sin(y)
        return y

    dd = cr.grad(cr.grad(f))
    assert dd(0.3) == pytest.approx(-0.548512759, rel=1e-6)
    assert cr.grad(dd)(0.3) == pytest.approx(-1.50136420, rel=1e-6)
    assert cr.grad(dd, mode="forward")(0.3) == pytest.approx(-1.50136420, rel=1e-6)
