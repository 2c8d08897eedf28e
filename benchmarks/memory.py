"""Memory: the peak memory of one W7 (RNN) gradient as the number of steps grows 10x.

Measured with :mod:`tracemalloc`, which sees every NumPy array allocation (NumPy reports
its data buffers to it) and every Python object, so it covers the hand-written gradient,
chainrule's generated code, its GradientTape and autograd. PyTorch and JAX allocate
outside Python's allocator and are not measured. The figure is the peak of
``tracemalloc`` during one gradient call minus what was allocated before it (the inputs
are excluded). Reverse mode stores the hidden state of every step, so all candidates grow
linearly; the interesting figure is the constant: bytes per step against the hand-written
gradient's.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import chainrule as cr

from .workloads import RNN_STEPS, _tape_grad, rnn_args, rnn_hand, rnn_loss

__all__ = ["STEPS", "measure", "peak_bytes"]

STEPS = (RNN_STEPS, 10 * RNN_STEPS)


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak traced memory allocated while ``fn()`` runs, above the level before it."""
    fn()  # warm up: code generation and caches are not part of the figure
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - base


def _candidates() -> dict[str, Callable[..., Any]]:
    out: dict[str, Callable[..., Any]] = {
        "hand-written NumPy": rnn_hand,
        "chainrule": cr.grad(rnn_loss, argnums=(0, 1)),
        "chainrule tape": _tape_grad(rnn_loss, (0, 1)),
    }
    try:
        import autograd
        import autograd.numpy as anp

        from .peers import rebind

        out["autograd"] = autograd.grad(rebind(rnn_loss, np=anp), argnum=(0, 1))
    except ImportError:
        pass
    return out


def measure() -> list[dict[str, Any]]:
    """Peak bytes per candidate at 50 and 500 steps, and the growth factor."""
    rows = []
    for name, grad in _candidates().items():
        peaks = []
        for steps in STEPS:
            args = rnn_args(steps)
            peaks.append(peak_bytes(lambda a=args: grad(*a)))
        rows.append({"candidate": name, "steps": STEPS, "peak_bytes": peaks,
                     "growth": peaks[1] / peaks[0]})
    return rows
