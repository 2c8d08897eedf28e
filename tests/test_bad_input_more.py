"""The second half of the bad-input corpus (the first is tests/test_bad_input.py).

Every case gives a :class:`chainrule.TransformError` naming the file and the line (the
``# LINE`` marker in tests/bad_inputs_more.py), raised before any code runs, through every
entry point (reverse and forward ``grad``, ``value_and_grad``, ``vjp``, ``jvp``); or, for
wrong use of the API, the ValueError or TypeError the documentation gives. Never an
internal exception type (KeyError, NameError, AttributeError, ...)."""

import importlib
import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import chainrule as cr
from tests import bad_inputs_more as bad

SOURCE = inspect.getsource(bad)
FILE = bad.__file__
X3 = np.array([0.5, 1.5, 2.5])


def _line_of(marker):
    for i, line in enumerate(SOURCE.splitlines(), start=1):
        if line.rstrip().endswith(f"# LINE {marker}"):
            return i
    raise AssertionError(marker)


# (function, marker, construct, arguments)
TRANSFORM_CASES = [
    ("while_else", "while else", "loop else", (0.5,)),
    ("del_item", "del item", "del", (X3,)),
    ("starred_target", "starred target", "starred argument", (X3,)),
    ("kwargs_param", "kwargs param", "star-args", (0.5,)),
    ("generator_expression", "generator expression", "comprehension", (X3,)),
    ("set_comprehension", "set comprehension", "comprehension", (X3,)),
    ("dict_of_values", "dict of values", "dict", (0.5,)),
    ("iterates_a_dict", "dict iteration", "dict", (0.5,)),
    ("set_of_values", "set of values", "set", (0.5,)),
    ("unpacks_into_list", "unpack into list", "starred argument", (X3,)),
    ("no_rule_numpy", "median", "np.median", (X3,)),
    ("no_rule_math", "gamma", "math.gamma", (0.5,)),
    ("no_rule_linalg", "lstsq", "np.linalg.lstsq", (np.eye(3), X3)),
    ("nested_generator", "nested yield", "yield", (0.5,)),
    ("yield_from", "yield from", "generator", (0.5,)),
    ("lambda_star_args", "lambda star args", "star-args", (0.5,)),
    ("nested_star_args", "nested star args", "star-args", (0.5,)),
    ("lambda_default_reads_local", "nested default", "nested default", (0.5,)),
    ("sets_module_attribute", "module attribute", "attribute assignment", (0.5,)),
    ("calls_undefined_helper", "undefined helper", "unresolved name", (0.5,)),
    ("calls_object_method", "object method", ".loss()", (0.5,)),
    ("walrus_in_comprehension", "walrus in comprehension", "walrus", (0.5,)),
    ("nested_async", "nested async", "async", (0.5,)),
    ("nested_class", "nested class", "class", (0.5,)),
    ("nested_with", "nested with", "with", (0.5,)),
    ("modifies_iterated_array", "modifies iterated", "in-place change of an iterated sequence",
     (X3,)),
    ("modifies_enumerated_array", "modifies enumerated",
     "in-place change of an iterated sequence", (X3,)),
    ("modifies_array_behind_a_view", "modifies viewed",
     "in-place change of an iterated sequence", (X3,)),
]

ENTRY_POINTS = {
    "grad": lambda fn, args: cr.grad(fn)(*args),
    "forward": lambda fn, args: cr.grad(fn, mode="forward")(*args),
    "value_and_grad": lambda fn, args: cr.value_and_grad(fn)(*args),
    "vjp": lambda fn, args: cr.vjp(fn, *args)[1](1.0),
    "jvp": lambda fn, args: cr.jvp(fn, args, tuple(np.ones_like(a) for a in args)),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
@pytest.mark.parametrize("fname, marker, construct, args", TRANSFORM_CASES,
                         ids=[c[0] for c in TRANSFORM_CASES])
def test_transform_error_names_file_and_line(fname, marker, construct, args, entry):
    fn = getattr(bad, fname)
    with pytest.raises(cr.TransformError) as info:
        ENTRY_POINTS[entry](fn, args)
    err = info.value
    assert err.construct == construct, str(err)
    assert err.filename == FILE, str(err)
    assert err.lineno == _line_of(marker), str(err)
    assert str(err).startswith(f"{FILE}:{err.lineno}: ")


def test_errors_come_before_running_the_function():
    """Generation fails at grad() itself, before the function runs."""
    for fname, *_ in TRANSFORM_CASES:
        if fname in ("no_rule_numpy", "no_rule_math", "no_rule_linalg"):
            continue  # found where the differentiated value reaches the call (see below)
        with pytest.raises(cr.TransformError):
            cr.grad(getattr(bad, fname))


def test_missing_rule_is_found_at_generation():
    with pytest.raises(cr.TransformError, match="defvjp"):
        cr.grad(bad.no_rule_numpy)


# --------------------------------------------------------------------------- outputs
@pytest.mark.parametrize("fname", ["returns_tuple", "returns_list"])
def test_non_scalar_output_is_a_value_error(fname):
    for mode in ("reverse", "forward"):
        with pytest.raises(ValueError, match="scalar") as info:
            cr.grad(getattr(bad, fname), mode=mode)(0.5)
        assert "vjp" in str(info.value)


@pytest.mark.parametrize("fname", ["returns_string", "returns_nothing_value"])
def test_non_numeric_output_is_a_type_error(fname):
    for mode in ("reverse", "forward"):
        with pytest.raises(TypeError, match="to return a number"):
            cr.grad(getattr(bad, fname), mode=mode)(0.5)


# --------------------------------------------------------------------------- argnums
@pytest.mark.parametrize("argnums, error, match", [
    (2, ValueError, "out of range"),
    (-3, ValueError, "out of range"),
    ((0, 2), ValueError, "out of range"),
    ((), ValueError, "must not be empty"),
    (True, TypeError, "must be ints"),
    (1.0, TypeError, "argnums must be an int or a tuple"),
    ("x", TypeError, "argnums"),
    ((0, "y"), TypeError, "must be ints"),
])
def test_wrong_argnums(argnums, error, match):
    for api in (cr.grad, cr.value_and_grad, cr.elementwise_grad, cr.jacfwd, cr.jacrev):
        with pytest.raises(error, match=match):
            api(bad.two, argnums=argnums)


def test_wrong_mode():
    with pytest.raises(ValueError, match="mode must be"):
        cr.grad(bad.two, mode="sideways")


# --------------------------------------------------------------------------- keyword-only
def test_keyword_only_parameters():
    # keyword-only parameters are passed through, never differentiated by position
    assert cr.grad(bad.keyword_only)(1.0, scale=3.0) == 3.0
    with pytest.raises(ValueError, match="out of range"):
        cr.grad(bad.keyword_only, argnums=1)
    with pytest.raises(TypeError, match="keyword-only argument: 'scale'"):
        cr.grad(bad.keyword_only)(1.0)
    with pytest.raises(ValueError, match="takes 0 positional arguments"):
        cr.grad(bad.only_keyword_only)


# --------------------------------------------------------------------------- no source
@pytest.mark.parametrize("obj", ["bound_method", "callable_object", "partial_function"])
def test_callables_that_are_not_functions(obj):
    with pytest.raises(cr.TransformError, match="Wrap it in a def") as info:
        cr.grad(getattr(bad, obj))
    assert info.value.construct == "no source"


def test_lambda_from_eval_has_no_source():
    with pytest.raises(cr.TransformError, match="REPL or with exec") as info:
        cr.grad(bad.lambda_from_eval)
    assert info.value.construct == "no source"
    assert info.value.filename == "<string>"


def test_api_misuse():
    with pytest.raises(TypeError, match="3 primals"):
        cr.vjp(bad.two, 1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="tangent 1 has shape"):
        cr.jvp(bad.two, (1.0, 2.0), (1.0, np.ones(2)))
    with pytest.raises(TypeError, match="must be tuples"):
        cr.jvp(bad.two, 1.0, 1.0)
    with pytest.raises(TypeError, match="expected a function"):
        cr.grad(None)


@pytest.mark.parametrize("how", ["stdin", "-c"])
def test_function_defined_interactively(how):
    """A function typed at the REPL (read from stdin) or given with ``python -c``."""
    script = textwrap.dedent("""
        import chainrule as cr
        def f(x):
            return x * 2.0
        try:
            cr.grad(f)
        except cr.TransformError as e:
            print("TransformError", e.construct, e.filename)
    """)
    cmd = [sys.executable, "-c", script] if how == "-c" else [sys.executable, "-"]
    out = subprocess.run(cmd, input=script if how == "stdin" else None, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    filename = "<string>" if how == "-c" else "<stdin>"
    assert out.strip() == f"TransformError no source {filename}"


def test_source_file_deleted(tmp_path, monkeypatch):
    path = tmp_path / "deleted_mod.py"
    path.write_text("def f(x):\n    return x * 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("deleted_mod")
    path.unlink()
    import linecache

    linecache.checkcache(str(path))
    with pytest.raises(cr.TransformError, match="no longer exists") as info:
        cr.grad(mod.f)
    assert info.value.filename == str(path) and info.value.lineno == 1


def test_integer_inputs_are_differentiated_as_reals():
    """Documented (docs/supported-python.md): an int or bool in argnums is differentiated
    as the real number it is; the gradient is a float, as for 3.0."""
    assert cr.grad(bad.two)(3, 2.0) == cr.grad(bad.two)(3.0, 2.0) == 2.0
    assert isinstance(cr.grad(bad.two)(3, 2.0), float)
    g = cr.grad(lambda x: np.sum(x * 1.5))(np.arange(3))
    assert g.dtype == np.float64 and np.all(g == 1.5)
