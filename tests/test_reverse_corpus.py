"""Reverse mode on the corpus: every function, every argnums combination, against central
finite differences in float64, with inputs on both sides of every branch."""

import itertools

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


def _subsets(nums):
    for r in range(1, len(nums) + 1):
        yield from itertools.combinations(nums, r)


@pytest.mark.parametrize("fn, args", PARAMS)
def test_grad_matches_finite_differences(fn, args):
    nums = differentiable_argnums(args)
    for subset in _subsets(nums):
        df = cr.grad(fn, argnums=subset)
        grads = df(*copy_args(args))
        assert isinstance(grads, tuple) and len(grads) == len(subset)
        for g, i in zip(grads, subset):
            expected = numeric_grad(fn, copy_args(args), i)
            assert np.shape(g) == np.shape(args[i])
            np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{fn.__name__} argnums={subset} arg {i}")


@pytest.mark.parametrize("fn, args", PARAMS)
def test_value_and_grad_value(fn, args):
    nums = differentiable_argnums(args)
    value, g = cr.value_and_grad(fn, argnums=nums[0])(*copy_args(args))
    np.testing.assert_allclose(value, fn(*copy_args(args)), rtol=1e-12)
    np.testing.assert_allclose(g, cr.grad(fn, argnums=nums[0])(*copy_args(args)), rtol=1e-12)


@pytest.mark.parametrize("fn, args", PARAMS)
def test_vjp_inner_product(fn, args):
    cr.check_grads(fn, copy_args(args), modes=("rev",))
