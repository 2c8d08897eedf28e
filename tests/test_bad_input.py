"""Bad input gets a clear error: TransformError naming file, line and construct, raised
before any code runs; wrong API use gets ValueError/TypeError that says what to do."""

import inspect
import os
import re
import textwrap

import numpy as np
import pytest

import chainrule as cr
from tests import bad_inputs

SOURCE = inspect.getsource(bad_inputs)
FILE = bad_inputs.__file__


def _line_of(marker):
    for i, line in enumerate(SOURCE.splitlines(), start=1):
        if line.rstrip().endswith(f"# LINE {marker}"):
            return i
    raise AssertionError(marker)


CASES = [
    ("uses_try", "try", "try"),
    ("uses_with", "with", "with"),
    ("uses_del", "del", "del"),
    ("uses_import", "import", "import"),
    ("uses_class", "class", "class"),
    ("uses_walrus", "walrus", "walrus"),
    ("uses_for_else", "loop else", "loop else"),
    ("uses_starred_call", "starred argument", "starred argument"),
    ("uses_kwargs_call", "** argument", "** argument"),
    ("uses_attribute_store", "attribute assignment", "attribute assignment"),
    ("uses_global", "global", "global"),
    ("uses_nonlocal", "nonlocal", "nonlocal"),
    ("undefined_name", "unresolved name", "unresolved name"),
    ("uses_comprehension", "comprehension", "comprehension"),
    ("nested_subscript_store", "nested subscript assignment", "nested subscript assignment"),
    ("match_stmt", "match", "match"),
]


@pytest.mark.parametrize("fname, marker, construct", CASES)
def test_transform_error_names_file_line_construct(fname, marker, construct):
    fn = getattr(bad_inputs, fname)
    with pytest.raises(cr.TransformError) as info:
        cr.grad(fn)
    err = info.value
    assert err.filename == FILE
    assert err.lineno == _line_of(marker), str(err)
    assert err.construct == construct
    assert str(err).startswith(f"{FILE}:{err.lineno}: ")
    assert "chainrule" in str(err) or ";" in str(err)  # says what to do


def test_no_rule_for_builtin_is_named():
    with pytest.raises(cr.TransformError) as info:
        cr.grad(bad_inputs.no_rule_builtin)(np.ones(2))
    assert info.value.lineno == _line_of("no rule")
    assert "defvjp" in str(info.value)


def test_unknown_method_is_named():
    with pytest.raises(cr.TransformError) as info:
        cr.grad(bad_inputs.unknown_method)
    assert "method" in str(info.value) and "defmethod" in str(info.value)


def test_generator_and_coroutine():
    with pytest.raises(cr.TransformError) as info:
        cr.grad(bad_inputs.uses_yield)
    assert info.value.construct == "generator"
    with pytest.raises(cr.TransformError) as info:
        cr.grad(bad_inputs.uses_async)
    assert info.value.construct == "coroutine"


def test_star_params():
    with pytest.raises(cr.TransformError) as info:
        cr.grad(bad_inputs.star_params)
    assert info.value.construct == "star-args"


def test_no_return():
    with pytest.raises(cr.TransformError, match="returns nothing"):
        cr.grad(bad_inputs.no_return)


def test_non_scalar_output_points_to_vjp():
    df = cr.grad(lambda x: x * 2.0)
    with pytest.raises(ValueError, match="scalar") as info:
        df(np.ones(3))
    assert "vjp" in str(info.value) and "elementwise_grad" in str(info.value)


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        cr.grad(bad_inputs.uses_try, argnums=3)
    with pytest.raises(ValueError, match="out of range"):
        cr.grad(bad_inputs.uses_try, argnums=(0, 1))
    with pytest.raises(TypeError):
        cr.grad(bad_inputs.uses_try, argnums="x")


def test_builtin_and_class_rejected():
    with pytest.raises(cr.TransformError, match="source"):
        cr.grad(np.sin)
    with pytest.raises(cr.TransformError, match="class"):
        cr.grad(dict)
    with pytest.raises(TypeError):
        cr.grad(3.0)


def test_exec_defined_function_has_no_source():
    ns = {}
    exec("def f(x):\n    return x * 2.0\n", ns)
    with pytest.raises(cr.TransformError) as info:
        cr.grad(ns["f"])
    assert info.value.construct == "no source"
    assert "file" in str(info.value)


def test_source_changed_on_disk(tmp_path, monkeypatch):
    path = tmp_path / "changing_mod.py"
    path.write_text("def f(x):\n    return x * 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    mod = importlib.import_module("changing_mod")
    path.write_text("y = 1\n\n\n\ndef g(x):\n    return x\n")
    import linecache

    linecache.checkcache(str(path))
    os.utime(path, None)
    with pytest.raises(cr.TransformError) as info:
        cr.grad(mod.f)
    assert re.search("changed on disk|cannot parse|does not define", str(info.value))


def test_errors_are_raised_before_any_code_runs():
    calls = []

    def side_effect(v):
        calls.append(v)
        return v

    src = textwrap.dedent("""
    def f(x):
        side_effect(x)
        try:
            return x
        except Exception:
            return x
    """)
    assert "try" in src
    with pytest.raises(cr.TransformError):
        cr.grad(bad_inputs.uses_try)
    assert calls == []
