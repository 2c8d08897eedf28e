"""Programs the differential fuzzer (tests/fuzz) found disagreeing, minimised by hypothesis
and kept as regression tests. Each ran through every engine (reverse, forward, the tape,
finite differences) with :func:`tests.fuzz.check.check_function`; the comment above each
says what was wrong and where it was fixed. Arguments are away from every branch switch."""

import math

import numpy as np
import pytest

import chainrule as cr
from tests.fuzz.check import check_function

C3 = np.array([0.5, -1.25, 2.0])
C33 = np.array([[1.0, 0.5, -0.5], [0.25, -1.0, 0.75], [0.5, 0.5, 1.5]])


# anf.py: ``x = x if c else ...`` left the branch that keeps x empty (IndentationError in
# the generated code).
def ifexp_keeps_target(x):
    x = x if x > 0.0 else x * 2.0
    return x


# forward.py: a negative constant operand of a broadcasting primitive (``-1.0``, a unary
# minus in the AST) crashed forward mode (AttributeError).
def clip_negative_bound(x, y):
    v0 = np.clip(x, -1.0, 1.5)
    return np.sum(v0 * y)


# generate.py: a cotangent zeroed on a path where its variable is never bound (an early
# return skips ``s1 = ...``) raised UnboundLocalError.
def early_return_skips_assignment(x, z):
    if z > 0.0:
        return x * 2.0
    else:
        s9 = np.sin(x)
        for i10 in range(3):
            if x > z:
                return x * 3.0
            v12 = x - s9
        s1 = s9 * z + v12
    return s1


# generate.py: the zero gradient of a parameter the body rebinds had the shape of the new
# value (``x = x * C3``: shape (3,) for a scalar x).
def rebound_parameter_zero(x):
    x = x * C3
    return 0.5


def _rebinds_its_parameter(p):
    p = 2.0 * C3
    return np.sum(p)


def rebound_parameter_zero_in_call(x, y):
    return _rebinds_its_parameter(x) * y + x


# save.py: scalar arithmetic recomputed in a loop's adjoint (``t5 = t4 + 0.5``) read a
# temporary of the loop body (t4) that nothing saved: every iteration used the last one's.
def loop_recompute_stale_operand(x):
    x = x * 0.9 + 0.5
    for i0 in range(3):
        x /= (i0 * 0.5) * (i0 * 0.5) + 0.5
    return x


# reverse.py: ``w[:] = w`` zeroed the cotangent of the stored items before reading it.
def store_into_itself(x):
    w0 = x * C3 * 1.0
    w0[:] = w0
    return np.sum(w0)


def store_into_itself_loop(x):
    w0 = x * C3
    w0[0:2] = w0[1:] * 2.0
    w0[:] = w0
    for i in range(2):
        w0[:] = w0
        w0[1:] = w0[:2]
    return np.sum(w0 * w0)


# forward.py: the tangent of a new array that is the sum of an array and a constant was the
# very tangent of that array (``d_v1 = broadcast_like(d_w, v1)``), so writing ``w[0]`` later
# changed both.
def tangent_shared_with_written_array(x):
    w = x * 2.0
    v1 = C3 + w
    w[0] = 0.5
    return np.sum(v1) + np.sum(w)


def tangent_shared_with_written_parameter(x):
    v1 = C3 + x
    x[0] = 0.5
    return np.sum(v1)


# forward_api.py: forward-mode grad/jacfwd ran one JVP per input element on the same
# argument, which the function writes into: the second column started from the first's.
def writes_into_its_argument(x):
    v1 = np.sin(x) * x[0]
    x[0] = 0.5
    return np.sum(v1)


# save.py: ``v8[:] *= c`` reads ``t5 = v8[:]``, a view, which the adjoint needs; the write
# showed through it, and ``vjp``'s pullback (working on a copy of v8) never undid that.
def slice_view_then_write(y):
    v8 = np.stack([y * 2.0, y * 3.0, y * y])
    v8[:] *= np.tanh(math.sin(y))
    return np.sum(v8)


# reverse.py: when both branches of an ``if`` reassign a variable, its cotangent stayed
# "defined" after the if, so the next loop iteration added to the consumed one.
def branches_both_reassign_in_loop(x):
    for i1 in range(3):
        x = x * 0.9 + (x + (C3 if i1 > 5 else x))
    return np.sum(x)


# reverse.py/save.py: a loop whose adjoint is only restores (``s10 += 0.5``: the cotangent
# passes through unchanged) was dropped with its restores, so the adjoint of ``np.sinc``
# read s10 after the loop instead of its own result.
def loop_of_restores_only(y):
    s10 = np.sinc(y)
    k16 = 0
    while k16 < 1:
        k16 += 1
        s10 += 0.5
    return s10 * y


def branch_of_restores_only(y):
    c = 1.0
    s = 0.0
    for i in range(3):
        s = s + y * c
        if i == 1:
            c = 2.0
    return s


# reverse.py: ``np.size(x)`` in the rule of ``x = np.mean(x)`` was folded to 1 because the
# new x is a scalar, though there it is the old x, a vector.
def mean_rebinds_its_argument(x):
    x = np.mean(x)
    return x


# desugar.py: ``for e in x`` read ``x[i]`` of the rebound x when the body rebinds x; Python
# iterates over the array x was when the loop started.
def iterated_name_rebound(x):
    for i0 in range(3):
        for e1 in x:
            x = (e1 * C3) * 0.5 + x
    return np.sum(x)


def enumerated_name_rebound(x):
    for i, e in enumerate(x):
        x = x * e
    return np.sum(x)


# save.py: an inner loop that breaks (here: returns) saves its index and its iteration
# counter once per outer iteration; they were popped in the order they were pushed, so each
# got the other's value and the adjoint replayed too few inner iterations.
def inner_loop_counter_restored_in_order(x):
    m3 = x * C3
    for i5 in range(1, 3):
        for e6 in x * C3:
            m3 = m3 / 2.0
            if i5 > 1:
                return np.sum(m3) * e6
    return np.sum(m3)


# runtime.py: the reverse-mode rule of the built-in ``sum`` over an array (its rows) gave a
# list cotangent (TypeError in the generated code).
def builtin_sum_of_array_rows(x):
    x = (x * 0.9 + C3)
    return sum(x)


def builtin_sum_of_matrix_rows(x):
    m = np.outer(x, C3)
    return np.sum(sum(m * m) * C3)


# save.py: a call's saved state holds a reference to an array passed to it (here captured
# by a nested function); the caller then wrote into that array, and the call's pullback read
# the new values. The array is now restored before the pullback runs.
def call_saves_array_written_later(x, y):
    def g0(q1):
        return ((x * C3) @ y @ (x * C3))
    s2 = g0(x)
    y[-1, 0] *= np.tanh(x)
    return s2


def call_saves_array_written_later_in_loop(x, y):
    total = 0.0
    for i in range(2):
        total = total + _quadratic_form(x * C3, y)
        y[i, 0] = y[i, 0] * np.sin(x)
    return total


def _quadratic_form(v, m):
    return v @ m @ v


# desugar.py: ``for e in np.sin(x): x += e`` iterates over a new array, which the in-place
# change of x does not touch; it was refused as if the loop iterated over x.
def iterates_a_new_array_while_changing_the_old(x):
    for e in np.sin(x):
        x += e
    for e in reversed(x * 2.0):
        x -= 0.1 * e
    return np.sum(x * x)


# reverse.py: in ``x = h(x)`` the old x is restored before the contributions, and with it
# the call's saved state, which a loop pushes: each iteration's pullback got the state of the
# iteration before (``None`` for the first: TypeError). The pullback now runs first.
def _returns_early(p0, n):
    if n <= 0:
        return p0
    return _returns_early(np.sin(p0) * 0.5, n - 1) * 0.9 + p0


def call_rebinds_its_argument_in_loop(x):
    for e1 in (x * C3):
        x = _returns_early(x, 0)
    return x


def recursive_call_rebinds_its_argument_in_loop(x):
    for e1 in x * C3:
        x = _returns_early(x, 2)
        x = x * e1
    return np.sum(x)


# save.py: ``p0 = C33[0]`` in a loop (an item of an array that never changes) was recomputed
# at the top of each adjoint iteration instead of saved, though ``np.sum(p0)`` after the
# loop reads it: the pullback never got p0 (UnboundLocalError), and after an inner loop the
# adjoint of the outer one read the inner loop's first item instead of its last.
def _rebinds_parameter_to_row(p0):
    for r0 in C33:
        p0 = C33[0]
    return np.sum(p0)


def row_read_after_its_loop_in_call(x):
    return _rebinds_parameter_to_row(x * C3)


def row_read_after_inner_loop(x):
    for j in range(2):
        for i in range(3):
            t = C33[i]
            x = x * 1.1 + np.sin(x)
        x = x * t
    return np.sum(x)


# save.py: the same for scalar arithmetic in a loop (``c = i * 0.5``), recomputed in the
# adjoint instead of saved though ``y * c`` after the loop reads it.
def _scalar_read_after_its_loop(p):
    y = p
    for i in range(3):
        c = i * 0.5
        y = y * c + p
    return y * c


def scalar_read_after_its_loop_in_call(x):
    return _scalar_read_after_its_loop(x) * 2.0


def scalar_read_after_inner_loop(x):
    y = x
    for j in range(2):
        for i in range(1, 4):
            c = i * 0.5
            y = y * c + x
        y = y * c
    return y


CASES = [
    (ifexp_keeps_target, (0.7,), 0, True),
    (ifexp_keeps_target, (-0.7,), 0, True),
    (clip_negative_bound, (np.array([0.41, -1.3, 2.0]), np.array([0.5, 1.0, -2.0])), (0, 1),
     True),
    (early_return_skips_assignment, (0.5, -1.0), (0, 1), True),
    (early_return_skips_assignment, (0.5, 1.0), (0, 1), True),
    (early_return_skips_assignment, (-2.0, -1.0), (0, 1), True),
    (rebound_parameter_zero, (0.41,), 0, True),
    (rebound_parameter_zero_in_call, (0.4, 2.0), (0, 1), True),
    (loop_recompute_stale_operand, (0.41,), 0, True),
    (store_into_itself, (0.41,), 0, False),
    (store_into_itself_loop, (np.array([0.3, -0.4, 1.2]),), 0, False),
    (tangent_shared_with_written_array, (np.array([0.3, -0.4, 1.2]),), 0, False),
    (tangent_shared_with_written_parameter, (np.array([0.41, -0.69, -1.38]),), 0, False),
    (writes_into_its_argument, (np.array([0.3, -0.4, 1.2]),), 0, False),
    (slice_view_then_write, (-1.45,), 0, False),
    (branches_both_reassign_in_loop, (np.array([0.41, -0.69, -1.38]),), 0, True),
    (loop_of_restores_only, (-0.69,), 0, True),
    (branch_of_restores_only, (0.7,), 0, True),
    (mean_rebinds_its_argument, (np.array([0.41, -0.69, -1.37]),), 0, True),
    (iterated_name_rebound, (np.array([0.41, -0.69, -1.37]),), 0, True),
    (enumerated_name_rebound, (np.array([0.41, -0.69, -1.37]),), 0, True),
    (inner_loop_counter_restored_in_order, (-0.45,), 0, True),
    (builtin_sum_of_array_rows, (np.array([0.41, -0.69, -1.38]),), 0, False),
    (builtin_sum_of_matrix_rows, (np.array([0.41, -0.69, -1.38]),), 0, True),
    (call_saves_array_written_later, (0.41, np.array([[-0.69, -1.38, -1.45],
                                                      [0.94, 1.24, 0.32],
                                                      [0.69, 0.13, 1.31]])), 0, False),
    (call_saves_array_written_later_in_loop, (0.41, np.array([[-0.69, -1.38, -1.45],
                                                              [0.94, 1.24, 0.32],
                                                              [0.69, 0.13, 1.31]])), 0, False),
    (iterates_a_new_array_while_changing_the_old, (np.array([0.41, -0.69, -1.38]),), 0,
     False),
    (call_rebinds_its_argument_in_loop, (0.41,), 0, True),
    (recursive_call_rebinds_its_argument_in_loop, (np.array([0.41, -0.69, -1.38]),), 0,
     True),
    (row_read_after_its_loop_in_call, (0.41,), 0, True),
    (row_read_after_its_loop_in_call, (np.array([0.41, -0.69, -1.38]),), 0, True),
    (row_read_after_inner_loop, (0.41,), 0, True),
    (scalar_read_after_its_loop_in_call, (0.41,), 0, True),
    (scalar_read_after_inner_loop, (0.41,), 0, True),
]


@pytest.mark.parametrize("fn, args, argnums, tape", CASES,
                         ids=[f"{c[0].__name__}-{k}" for k, c in enumerate(CASES)])
def test_engines_agree(fn, args, argnums, tape):
    check_function(fn, args, argnums, tape=tape)


def test_changing_the_iterated_array_in_place_is_refused():
    """desugar.py: ``for e in x: x *= ...`` changed x in place in Python (the loop sees the
    new items) but rebinds in derivative code; the value returned differed. It is refused."""
    def f(x):
        for e in x:
            x *= np.tanh(e * C3[0])
        return np.sum(x)

    with pytest.raises(cr.TransformError, match="modifies the sequence it iterates over"):
        cr.grad(f)(np.array([0.41, -0.69, -1.38]))


def test_hessian_of_a_function_that_writes_into_its_argument():
    """forward_api.py: the Hessian (forward over reverse) ran one JVP of the reverse-mode
    gradient per column on the argument the function writes into."""
    x = np.array([0.3, -0.4, 1.2])
    hessian = cr.hessian(writes_into_its_argument)(x.copy())
    eps = 1e-6
    columns = [(cr.grad(writes_into_its_argument)(x + eps * e) -
                cr.grad(writes_into_its_argument)(x - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(hessian, np.array(columns).T, rtol=1e-6, atol=1e-8)
