"""The forward-mode API: ``jvp``, ``make_jvp``, ``jacfwd``, ``jacrev``, ``hvp`` and
``grad(mode="forward")`` as a product (generated source, errors, cache, determinism,
export) and with JAX's conventions (shapes, tuple outputs)."""

import inspect
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from tests import bad_inputs
from tests import golden_functions as gf
from tests.test_bad_input import CASES as BAD_CASES

ROOT = Path(__file__).resolve().parent.parent


def numeric_jacobian(f, args, argnum, eps=1e-6):
    """Central differences of ``f`` (array or number valued) in ``args[argnum]``, shaped
    ``out.shape + x.shape``."""
    x = np.asarray(args[argnum], dtype=np.float64)
    cols = []
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        a = list(args)
        a[argnum] = plus if x.shape else float(plus)
        fp = np.asarray(f(*a))
        a[argnum] = minus if x.shape else float(minus)
        fm = np.asarray(f(*a))
        cols.append((fp - fm) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(cols[0]) + x.shape)


def two_outputs(x, y):
    s = np.sin(x) * y
    return s, np.sum(x * x) * 2.0


def vector_fn(x, w):
    h = np.tanh(w @ x)
    out = np.zeros(3)
    for i in range(3):
        out[i] = h[i] * x[i] + w[i, 0]
    return out


def matrix_fn(a):
    return np.exp(a) @ a.T


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hvp(x, v):
    """The Hessian-vector product of ``rosenbrock``, written by hand."""
    diag = np.zeros_like(x)
    diag[:-1] = 1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0
    diag[1:] += 200.0
    hv = diag * v
    hv[:-1] -= 400.0 * x[:-1] * v[1:]
    hv[1:] -= 400.0 * x[:-1] * v[:-1]
    return hv


X = np.array([0.3, -0.7, 1.1])
W = np.random.default_rng(3).standard_normal((3, 3))


# --------------------------------------------------------------------------- jvp
def test_jvp_array_output():
    v = np.array([1.0, 0.5, -2.0])
    out, t = cr.jvp(vector_fn, (X, W), (v, np.zeros_like(W)))
    np.testing.assert_allclose(out, vector_fn(X, W))
    np.testing.assert_allclose(t, numeric_jacobian(vector_fn, (X, W), 0) @ v, rtol=1e-6)
    assert t.shape == out.shape


def test_jvp_tuple_output_and_scalar_part():
    v = np.array([1.0, 0.0, 2.0])
    (s, q), (ds, dq) = cr.jvp(two_outputs, (X, 1.5), (v, 0.25))
    np.testing.assert_allclose(ds, np.cos(X) * v * 1.5 + np.sin(X) * 0.25)
    np.testing.assert_allclose(dq, 4.0 * np.sum(X * v))
    np.testing.assert_allclose(s, np.sin(X) * 1.5)
    assert np.ndim(dq) == 0


def test_jvp_of_an_output_that_does_not_depend_on_the_input():
    def f(x, y):
        return y * 2.0, x

    (a, b), (da, db) = cr.jvp(f, (X, np.ones(3)), (np.ones(3), np.zeros(3)))
    np.testing.assert_allclose(da, np.zeros(3))
    np.testing.assert_allclose(db, np.ones(3))


def test_jvp_argument_errors():
    with pytest.raises(TypeError, match="tuples"):
        cr.jvp(vector_fn, X, X)
    with pytest.raises(ValueError, match="tangents"):
        cr.jvp(vector_fn, (X, W), (X,))
    with pytest.raises(ValueError, match="shape"):
        cr.jvp(vector_fn, (X, W), (np.ones(2), W))
    with pytest.raises(TypeError, match="positional"):
        cr.jvp(matrix_fn, (W, W), (W, W))


def test_make_jvp_source_is_readable_and_inspectable():
    df = cr.make_jvp(gf.branch, (0, 1))
    text = cr.source(df)
    assert "def jvp_branch(x, y, *, d_x, d_y):" in text
    assert "# tangent of: z = x * y" in text
    assert "d_x * np.cos(x)" in text
    assert inspect.getsource(df) == text
    assert df.__chainrule_tangents__ == ("d_x", "d_y")
    out, t = df(0.3, 0.5, d_x=1.0, d_y=0.0)
    assert t == pytest.approx(cr.grad(gf.branch)(0.3, 0.5))


def test_straight_line_tangent_code_follows_the_primal():
    text = cr.source(cr.make_jvp(gf.mlp, (0, 1)))
    lines = [line.strip() for line in text.splitlines()]
    h = lines.index("h = np.tanh(x @ w1)")
    assert lines[h + 1] == "d_h = x @ d_w1 * (1 - h ** 2)"
    assert "stack" not in text


# --------------------------------------------------------------------------- grad(mode=forward)
def test_forward_grad_keeps_signature_defaults_and_keywords():
    def f(x, scale=2.0, *, power=2):
        return scale * x ** power

    df = cr.grad(f, mode="forward")
    assert inspect.signature(df) == inspect.signature(f)
    assert df(3.0) == pytest.approx(12.0)
    assert df(3.0, scale=1.0, power=3) == pytest.approx(27.0)


def test_forward_grad_requires_a_scalar_output():
    df = cr.grad(lambda x: x * 2.0, mode="forward")
    with pytest.raises(ValueError, match="scalar"):
        df(np.ones(3))


def test_forward_grad_source_calls_the_jvp_once_per_element():
    text = cr.source(cr.grad(gf.loop_sum, argnums=(0, 1), mode="forward"))
    assert "def loop_sum_jvp(x, w, *, d_x, d_w):" in text
    assert "def forward_grad_loop_sum(x, w):" in text
    assert "for k in range(element_count(x)):" in text


@pytest.mark.parametrize("fname, marker, construct", BAD_CASES)
def test_forward_mode_raises_reverse_modes_errors(fname, marker, construct):
    fn = getattr(bad_inputs, fname)
    with pytest.raises(cr.TransformError) as rev:
        cr.grad(fn)
    for make in (lambda: cr.grad(fn, mode="forward"), lambda: cr.make_jvp(fn),
                 lambda: cr.jacfwd(fn)):
        with pytest.raises(cr.TransformError) as fwd:
            make()
        assert str(fwd.value) == str(rev.value)
        assert (fwd.value.lineno, fwd.value.construct) == (rev.value.lineno,
                                                           rev.value.construct)


def test_forward_mode_rejects_what_reverse_rejects_with_the_same_words():
    for fn in (bad_inputs.unknown_method, bad_inputs.no_return, bad_inputs.star_params,
               bad_inputs.uses_yield):
        with pytest.raises(cr.TransformError) as rev:
            cr.grad(fn)
        with pytest.raises(cr.TransformError) as fwd:
            cr.grad(fn, mode="forward")
        assert str(fwd.value) == str(rev.value)


# --------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("jac", [cr.jacfwd, cr.jacrev], ids=["jacfwd", "jacrev"])
def test_jacobian_shapes_and_values(jac):
    J = jac(vector_fn, argnums=(0, 1))(X, W)
    assert J[0].shape == (3, 3) and J[1].shape == (3, 3, 3)
    np.testing.assert_allclose(J[0], numeric_jacobian(vector_fn, (X, W), 0), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(J[1], numeric_jacobian(vector_fn, (X, W), 1), rtol=1e-6,
                               atol=1e-8)
    A = W[:2] * 0.5
    JA = jac(matrix_fn)(A)
    assert JA.shape == (2, 2, 2, 3)
    np.testing.assert_allclose(JA, numeric_jacobian(matrix_fn, (A,), 0), rtol=1e-6, atol=1e-8)
    js = jac(gf.mlp)(W, W[:, :2], W[:2])
    assert js.shape == W.shape


def test_jacfwd_of_tuple_outputs_follows_jax():
    J = cr.jacfwd(two_outputs, argnums=(0, 1))(X, 1.5)
    assert J[0][0].shape == (3, 3) and np.shape(J[0][1]) == (3,)
    assert J[1][0].shape == (3,) and np.shape(J[1][1]) == ()
    np.testing.assert_allclose(J[1][0], 4.0 * X)
    np.testing.assert_allclose(J[0][1], np.sin(X))


def test_jacrev_of_tuple_outputs_follows_jax():
    # one Jacobian per output, [output][argument] for a tuple argnums: jacfwd's structure
    for argnums in (0, 1, (0, 1)):
        rev = cr.jacrev(two_outputs, argnums=argnums)(X, 1.5)
        fwd = cr.jacfwd(two_outputs, argnums=argnums)(X, 1.5)
        assert type(rev) is tuple and len(rev) == 2
        for r, f in zip(rev, fwd):
            if isinstance(argnums, tuple):
                assert type(r) is tuple and len(r) == 2
                for a, b in zip(r, f):
                    assert np.shape(a) == np.shape(b)
                    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
            else:
                assert np.shape(r) == np.shape(f)
                np.testing.assert_allclose(r, f, rtol=1e-12, atol=1e-14)
    J = cr.jacrev(two_outputs)(X, 1.5)
    assert J[0].shape == (3, 3) and J[1].shape == (3,)
    np.testing.assert_allclose(J[0], numeric_jacobian(lambda x, y: two_outputs(x, y)[0],
                                                      (X, 1.5), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(J[1], 4.0 * X)


def test_jacrev_of_a_list_output_and_its_derivative():
    def pieces(x):
        return [x[:2] * x[1:], np.sum(x ** 3)]

    J = cr.jacrev(pieces)(X)
    np.testing.assert_allclose(J[0], cr.jacfwd(pieces)(X)[0], rtol=1e-12)
    np.testing.assert_allclose(J[1], 3 * X ** 2, rtol=1e-12)
    # the generated Jacobian code is differentiable again: d/dx of sum(J[1]) = 6 x
    jac = cr.jacrev(pieces)

    def total(x):
        return np.sum(jac(x)[1])

    np.testing.assert_allclose(cr.grad(total)(X), 6 * X, rtol=1e-12)
    np.testing.assert_allclose(cr.grad(total, mode="forward")(X), 6 * X, rtol=1e-12)


def test_jacobians_of_other_structures_are_an_error():
    def none_out(x):
        return None

    with pytest.raises((ValueError, cr.TransformError), match="(?i)jvp|vjp|None"):
        cr.jacrev(none_out)(X)

    def of_a_pair(p):
        a, b = p
        return a * b

    pair = (np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    for jac in (cr.jacfwd, cr.jacrev, cr.hessian):
        with pytest.raises(ValueError, match="with respect to arrays and numbers, not a tuple"):
            jac(of_a_pair)(pair)


def test_jacobians_are_cached_and_deterministic_across_processes():
    assert cr.jacfwd(vector_fn) is cr.jacfwd(vector_fn)
    assert cr.jacrev(vector_fn) is not cr.jacrev(vector_fn, argnums=1)
    assert cr.make_jvp(vector_fn) is cr.make_jvp(vector_fn, 0)
    code = ("import chainrule as cr; from tests import golden_functions as gf; "
            "print(cr.source(cr.hessian(gf.loop_sum)))")
    outs = []
    for seed in ("1", "4321"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.append(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                                   capture_output=True, text=True, check=True).stdout)
    assert outs[0] == outs[1]
    assert outs[0].strip() == cr.source(cr.hessian(gf.loop_sum)).strip()


def test_standalone_export_of_a_hessian_runs_without_chainrule(tmp_path):
    h = cr.hessian(gf.while_break)
    module = cr.source(h, standalone=True)
    assert "import chainrule" not in module and "from chainrule" not in module
    (tmp_path / "exported_hessian.py").write_text(module)
    script = ("import sys; sys.modules['chainrule'] = None\n"
              "import exported_hessian as m\n"
              "print(repr(float(m.hessian_while_break(1.3))))\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout
    assert float(out) == pytest.approx(float(h(1.3)), rel=1e-12)


# --------------------------------------------------------------------------- hvp
def test_hvp_matches_hand_written_and_hessian():
    x = np.array([0.5, -1.2, 0.3, 2.0])
    v = np.array([1.0, 2.0, -0.5, 0.25])
    np.testing.assert_allclose(cr.hvp(rosenbrock, (x,), (v,)), rosenbrock_hvp(x, v))
    np.testing.assert_allclose(cr.hessian(rosenbrock)(x) @ v, rosenbrock_hvp(x, v))


def test_hvp_of_two_arguments_is_a_tuple():
    def f(x, y):
        return np.sum(np.sin(x) * y ** 2)

    x, y = np.array([0.1, 0.4]), np.array([1.5, -0.5])
    vx, vy = np.array([1.0, 0.0]), np.array([0.5, 2.0])
    hx, hy = cr.hvp(f, (x, y), (vx, vy))
    H = cr.hessian(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(hx, H[0][0] @ vx + H[0][1] @ vy)
    np.testing.assert_allclose(hy, H[1][0] @ vx + H[1][1] @ vy)


def test_hvp_on_rosenbrock_10000_never_forms_the_hessian():
    n = 10_000
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(n), rng.standard_normal(n)
    grad = cr.grad(rosenbrock)
    expected = rosenbrock_hvp(x, v)
    np.testing.assert_allclose(cr.hvp(rosenbrock, (x,), (v,)), expected, rtol=1e-12)
    tracemalloc.start()
    try:
        cr.hvp(rosenbrock, (x,), (v,))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * n * 8  # a few dozen vectors; the Hessian alone would be n * n * 8

    def once(fn):
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    # Best of many single calls, interleaved: robust to other processes sharing the CPU.
    best = {"grad": float("inf"), "hvp": float("inf")}
    for _ in range(40):
        best["grad"] = min(best["grad"], once(lambda: grad(x)))
        best["hvp"] = min(best["hvp"], once(lambda: cr.hvp(rosenbrock, (x,), (v,))))
    ratio = best["hvp"] / best["grad"]
    assert ratio < 8.0, ratio  # measured about 2.7 (docs/performance.md)


def _pair_function(p):
    a, b = p
    return a * b[0] + b[1]


def test_jvp_of_structured_primals():
    out, tangent = cr.jvp(_pair_function, ((2.0, [3.0, 4.0]),), ((1.0, [0.0, 1.0]),))
    assert out == 10.0 and tangent == 4.0
    with pytest.raises(ValueError, match=r"tangent 0\[1\] must be a list or tuple of 2"):
        cr.jvp(_pair_function, ((2.0, [3.0, 4.0]),), ((1.0, 0.0),))
    with pytest.raises(ValueError, match=r"tangent 0\[1\]\[0\] has shape \(2,\)"):
        cr.jvp(_pair_function, ((2.0, [3.0, 4.0]),), ((1.0, [np.ones(2), 0.0]),))
