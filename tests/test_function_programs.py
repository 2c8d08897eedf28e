"""Every GradientTape program of the tests and tutorials, run eagerly and under
``@chainrule.function``: the same values, dtypes, types, ``None``s, errors and warnings."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from tests.function_programs import PROGRAMS, UNSTAGEABLE


def assert_same(eager: Any, staged: Any, path: str = "result") -> None:
    """Values equal to 1e-12 (relative, or absolute near 0), same types, dtypes and shapes."""
    if isinstance(eager, (cr.Tensor, cr.Variable)):
        assert type(staged) is type(eager), f"{path}: {type(staged)} != {type(eager)}"
        assert staged.dtype == eager.dtype, f"{path}: dtype {staged.dtype} != {eager.dtype}"
        assert staged.shape == eager.shape, f"{path}: shape {staged.shape} != {eager.shape}"
        np.testing.assert_allclose(staged.numpy(), eager.numpy(), rtol=1e-12, atol=1e-12,
                                   err_msg=path)
    elif isinstance(eager, np.ndarray) or isinstance(eager, np.generic):
        assert np.asarray(staged).dtype == np.asarray(eager).dtype, path
        np.testing.assert_allclose(staged, eager, rtol=1e-12, atol=1e-12, err_msg=path)
    elif isinstance(eager, dict):
        assert type(staged) is dict and list(staged) == list(eager), path
        for k in eager:
            assert_same(eager[k], staged[k], f"{path}[{k!r}]")
    elif isinstance(eager, (list, tuple)):
        assert type(staged) is type(eager) and len(staged) == len(eager), \
            f"{path}: {staged!r} != {eager!r}"
        for i, (e, s) in enumerate(zip(eager, staged)):
            assert_same(e, s, f"{path}[{i}]")
    elif isinstance(eager, float):
        assert type(staged) is float and staged == pytest.approx(eager, rel=1e-12), path
    else:
        assert staged == eager, f"{path}: {staged!r} != {eager!r}"


def _id(item: Any) -> str:
    fn, args = item
    return fn.__name__ + ("" if not args else "-" + "-".join(
        str(a.numpy()) if isinstance(a, cr.Tensor) else str(a) for a in args))


@pytest.mark.parametrize("program", PROGRAMS, ids=[_id(p) for p in PROGRAMS])
def test_staged_program_matches_eager(program: Any) -> None:
    fn, args = program
    eager = fn(*args)
    staged_fn = cr.function(fn)
    staged = staged_fn(*args)
    assert_same(eager, staged)
    again = staged_fn(*args)  # the cached trace gives the same again
    assert_same(eager, again)
    assert staged_fn.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("program", UNSTAGEABLE, ids=[p[0].__name__ for p in UNSTAGEABLE])
def test_unstageable_program_raises_with_the_eager_advice(program: Any) -> None:
    fn, what = program
    with pytest.raises(cr.TransformError) as info:
        cr.function(fn)()
    message = str(info.value)
    assert what in message
    assert "remove the decorator" in message
    assert info.value.filename is not None and info.value.filename.endswith(
        "function_programs.py")
    assert info.value.lineno is not None and info.value.construct

