"""Forward mode on the reverse-mode corpus: ``grad(..., mode="forward")`` against central
finite differences and against reverse mode (1e-10 relative), and ``jvp`` against the
reverse-mode gradient contracted with a random tangent."""

import numpy as np
import pytest

import chainrule as cr
from tests.corpus import CASES
from tests.util import copy_args, differentiable_argnums, numeric_grad

PARAMS = [
    pytest.param(fn, args, id=f"{fn.__name__}-{k}")
    for fn, arglist in CASES
    for k, args in enumerate(arglist)
]


def _agree(a, b, what):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("fn, args", PARAMS)
def test_forward_grad_matches_finite_differences_and_reverse(fn, args):
    nums = tuple(differentiable_argnums(args))
    forward = cr.grad(fn, argnums=nums, mode="forward")(*copy_args(args))
    reverse = cr.grad(fn, argnums=nums)(*copy_args(args))
    assert isinstance(forward, tuple) and len(forward) == len(nums)
    for g, r, i in zip(forward, reverse, nums, strict=True):
        assert np.shape(g) == np.shape(args[i])
        expected = numeric_grad(fn, copy_args(args), i)
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{fn.__name__} arg {i} vs finite differences")
        _agree(g, r, f"{fn.__name__} arg {i}: forward vs reverse")


@pytest.mark.parametrize("fn, args", PARAMS)
def test_forward_grad_single_argnum(fn, args):
    i = differentiable_argnums(args)[0]
    g = cr.grad(fn, argnums=i, mode="forward")(*copy_args(args))
    assert not isinstance(g, tuple)
    _agree(g, cr.grad(fn, argnums=i)(*copy_args(args)), fn.__name__)


@pytest.mark.parametrize("fn, args", PARAMS)
def test_jvp_is_gradient_times_tangent(fn, args):
    nums = differentiable_argnums(args)
    rng = np.random.default_rng(7)
    tangents = tuple(rng.standard_normal(np.shape(a)) if i in nums else 0.0
                     for i, a in enumerate(args))
    tangents = tuple(float(t) if isinstance(a, float) else t
                     for t, a in zip(tangents, args, strict=True))
    out, tangent_out = cr.jvp(fn, copy_args(args), tangents)
    np.testing.assert_allclose(out, fn(*copy_args(args)), rtol=1e-12)
    grads = cr.grad(fn, argnums=tuple(nums))(*copy_args(args))
    expected = sum(float(np.sum(np.asarray(g) * tangents[i])) for g, i in
                   zip(grads, nums, strict=True))
    np.testing.assert_allclose(tangent_out, expected, rtol=1e-10, atol=1e-12)
