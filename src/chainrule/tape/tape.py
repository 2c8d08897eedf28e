"""``GradientTape``: TensorFlow 2's eager tape over NumPy, sharing chainrule's rule library.

Guarantees (TensorFlow 2 semantics unless marked *beyond TF*):

* ``with GradientTape() as t:`` records, in this thread only, every operation whose inputs
  the tape tracks: values passed to :meth:`watch`, trainable floating-point Variables read
  inside the context (unless ``watch_accessed_variables=False``), and everything computed
  from them. Re-entering a recording tape is a ``ValueError``.
* :meth:`gradient` sums over non-scalar targets and lists of targets, seeds with
  ``output_gradients`` when given, and returns the structure of ``sources`` (nested lists,
  tuples, dicts). Unconnected sources give ``None`` (``"none"``), zeros (``"zero"``) or
  (*beyond TF*) an :class:`~chainrule.UnconnectedGradientError` saying why (``"raise"``).
  Integer and boolean sources give a warning and ``None``.
* A non-persistent tape computes one set of gradients (or one Jacobian) and then releases
  its record; a second call is a ``RuntimeError``. Called inside its own context, a
  non-persistent tape stops recording first, as in TF.
* When ``gradient`` runs while other tapes record (nested tapes), the backward pass is
  itself recorded on them, so their ``gradient`` gives higher-order derivatives.
* *Beyond TF*: :meth:`to_dot` draws the record as Graphviz DOT text, and notebooks display
  a tape as its graph (``_repr_html_``).
"""

from __future__ import annotations

import contextlib
import enum
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import UnconnectedGradientError
from ..runtime import astype
from . import state
from .backward import backward
from .explain import explain_unconnected, to_dot
from .record import apply
from .state import STATE, Recorder, new_id
from .tensor import _TensorLike, constant, wrap
from .variable import Variable, watch_variable

__all__ = ["GradientTape", "UnconnectedGradients", "tape_vjp"]


class UnconnectedGradients(str, enum.Enum):
    """What :meth:`GradientTape.gradient` returns for a source the target does not depend on:
    ``NONE`` (``None``, the default), ``ZERO`` (zeros shaped like the source) or, beyond
    TensorFlow, ``RAISE`` (an :class:`~chainrule.UnconnectedGradientError` saying why)."""

    NONE = "none"
    ZERO = "zero"
    RAISE = "raise"


def _policy(value: Any) -> UnconnectedGradients:
    try:
        return UnconnectedGradients(value)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}; use 'none', "
                         "'zero' or 'raise' (or chainrule.UnconnectedGradients)") from None


_RELEASED = ("A non-persistent GradientTape can only be used to compute one set of gradients "
             "(or jacobians); create it with GradientTape(persistent=True) to call {what} "
             "more than once")


class GradientTape:
    """Record operations for automatic differentiation (``tf.GradientTape``).

    Example::

        x = chainrule.constant(3.0)
        with chainrule.GradientTape() as tape:
            tape.watch(x)
            y = x * x
        tape.gradient(y, x)  # Tensor(6.0, shape=(), dtype=float64)
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._rec: Recorder | None = None
        self._released = False
        self._watched_after_release: tuple[Variable, ...] = ()
        caller = sys._getframe(1)
        self._origin = (caller.f_code.co_filename, caller.f_lineno)

    # ------------------------------------------------------------- recording
    def _new_recorder(self) -> Recorder:
        self._rec = Recorder(self._persistent, self._watch_accessed, self._origin)
        self._released = False
        return self._rec

    def __enter__(self) -> GradientTape:
        rec = self._rec
        if rec is not None and (state.is_recording(rec) or rec in STATE.ctx[1]):
            raise ValueError("Tape is still recording, This can happen if you try to "
                             "re-enter an already-active tape.")
        if rec is None:
            rec = self._new_recorder()
        state.push(rec)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._rec is not None:
            state.pop(self._rec)

    def _recorder(self) -> Recorder:
        return self._rec if self._rec is not None else self._new_recorder()

    def watch(self, tensor: Any) -> None:
        """Track ``tensor`` (a Tensor, a Variable, or a nested list/tuple/dict of them)."""
        rec = self._recorder()
        for t in _flatten(tensor):
            if not isinstance(t, _TensorLike):
                raise ValueError(
                    f"Passed in object of type {type(t).__name__}, not a chainrule Tensor or "
                    "Variable; wrap it with chainrule.constant(...) first")
            if t.dtype.kind not in "fc":
                warnings.warn(
                    f"The dtype of the watched tensor must be floating (e.g. float64), got "
                    f"{t.dtype.name}; it will not carry gradients", UserWarning, stacklevel=2)
                continue
            if isinstance(t, Variable):
                if t._id not in rec.ids:
                    watch_variable(rec, t)
                continue
            if not t._id:
                t._id = new_id()
            if t._id not in rec.ids:  # an already recorded value stays what it is (TF)
                rec.ids[t._id] = None
                rec.leaves[t._id] = t

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """Temporarily stop recording operations on this tape (other tapes go on)."""
        rec = self._rec
        if rec is None:
            raise RuntimeError("GradientTape.stop_recording() can only be used in a context. "
                               "Call it only while the tape is recording.")
        stopped = state.is_recording(rec)
        if stopped:
            state.pause(rec)
        try:
            yield
        finally:
            if stopped:
                if self._rec is rec:
                    state.resume(rec)
                else:  # released by gradient() or replaced by reset() in the meantime
                    state.forget(rec)

    def reset(self) -> None:
        """Forget everything recorded so far (inside the context, recording goes on on a fresh
        record: the same as leaving the context and entering a new tape)."""
        rec = self._rec
        if rec is not None and rec in STATE.ctx[1]:
            raise ValueError("Tape is not recording: reset() cannot be called inside "
                             "stop_recording()")
        recording = rec is not None and state.is_recording(rec)
        if recording:
            state.pop(rec)
        self._rec = None
        if recording:
            state.push(self._new_recorder())

    def watched_variables(self) -> tuple[Variable, ...]:
        """The Variables this tape watches, in the order they were first watched."""
        if self._rec is None:
            return self._watched_after_release
        return tuple(self._rec.variables.values())

    def to_dot(self) -> str:
        """The recorded operations as Graphviz DOT text: one box per watched value (its name
        or shape), one node per operation (primitive, output shape and dtype), edges from
        inputs to operations; untracked inputs are shown as dashed constants."""
        if self._rec is None:
            raise RuntimeError("this tape holds no record: a non-persistent tape releases it "
                               "in gradient()/jacobian(); call to_dot() before, or use "
                               "GradientTape(persistent=True)")
        return to_dot(self._rec)

    # ------------------------------------------------------------- gradients
    def _begin(self, what: str) -> tuple[Recorder, bool]:
        rec = self._rec
        if rec is None:
            if self._released:
                raise RuntimeError(_RELEASED.format(what=what))
            raise RuntimeError(f"GradientTape.{what} called on a tape that recorded nothing; "
                               "record with `with tape:` first")
        if not self._persistent and state.is_recording(rec):
            state.pop(rec)  # as TF: a non-persistent tape stops recording to differentiate
        return rec, bool(STATE.ctx[0])

    def _end(self) -> None:
        rec = self._rec
        if not self._persistent and rec is not None:
            state.forget(rec)
            self._watched_after_release = tuple(rec.variables.values())
            self._rec = None
            self._released = True

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: Any = UnconnectedGradients.NONE) -> Any:
        """The gradient of ``target`` (summed over its elements, and over a list of targets)
        with respect to ``sources``, in the structure of ``sources``."""
        policy = _policy(unconnected_gradients)
        flat_targets = _flatten(target)
        flat_sources = _flatten(sources)
        _check_sources(flat_sources)
        if output_gradients is None:
            flat_og = [None] * len(flat_targets)
        else:
            flat_og = _flatten(output_gradients)
            if len(flat_og) != len(flat_targets):
                raise ValueError(f"output_gradients has {len(flat_og)} entries for "
                                 f"{len(flat_targets)} targets")
        rec, slow = self._begin("gradient()")
        try:
            seeds = _seeds(rec, flat_targets, flat_og, slow)
            wanted = {s._id for s in flat_sources if _is_float(s) and s._id in rec.ids}
            grads = backward(rec, seeds, wanted, slow) if seeds and wanted else {}
            flat = [
                _finish(rec, s, grads.get(s._id) if s._id in wanted else
                        _target_itself(s, flat_targets, flat_og, slow), policy, slow,
                        flat_targets)
                for s in flat_sources
            ]
        finally:
            self._end()
        return _pack(sources, flat)

    def jacobian(self, target: Any, sources: Any,
                 unconnected_gradients: Any = UnconnectedGradients.NONE,
                 parallel_iterations: Any = None, experimental_use_pfor: bool = True) -> Any:
        """The Jacobian of ``target`` with respect to each source: shape
        ``target.shape + source.shape``, in the structure of ``sources``."""
        del parallel_iterations, experimental_use_pfor
        policy = _policy(unconnected_gradients)
        flat_sources = _flatten(sources)
        _check_sources(flat_sources)
        rec, slow = self._begin("jacobian()")
        try:
            wanted = {s._id for s in flat_sources if _is_float(s) and s._id in rec.ids}
            tshape = np.shape(_raw(target))
            rows = _rows(rec, target, wanted, slow, int(np.prod(tshape, dtype=int)), None)
            flat = []
            for s in flat_sources:
                per = [r.get(s._id) for r in rows]
                grad = _stack(per, tshape + s.shape, slow) if per and per[0] is not None else None
                flat.append(_finish(rec, s, grad, policy, slow, [target], tshape + s.shape))
        finally:
            self._end()
        return _pack(sources, flat)

    def batch_jacobian(self, target: Any, source: Any,
                       unconnected_gradients: Any = UnconnectedGradients.NONE,
                       parallel_iterations: Any = None,
                       experimental_use_pfor: bool = True) -> Any:
        """Per-example Jacobians: ``result[b] = d target[b] / d source[b]``, shape
        ``(batch,) + target.shape[1:] + source.shape[1:]``. Assumes example ``b`` of the
        target depends on example ``b`` of the source only (as TF)."""
        del parallel_iterations, experimental_use_pfor
        policy = _policy(unconnected_gradients)
        tshape, sshape = np.shape(_raw(target)), np.shape(_raw(source))
        if len(tshape) < 2 or len(sshape) < 2 or tshape[0] != sshape[0]:
            raise ValueError(f"Need first dimension of target shape {tshape} and source shape "
                             f"{sshape} to match (both of rank 2 or more).")
        _check_sources([source])
        rec, slow = self._begin("batch_jacobian()")
        try:
            wanted = {source._id} if _is_float(source) and source._id in rec.ids else set()
            inner = int(np.prod(tshape[1:], dtype=int))
            rows = _rows(rec, target, wanted, slow, inner, tshape[0])
            per = [r.get(source._id) for r in rows]
            grad = None
            if per and per[0] is not None:
                grad = _reshape(_stack(per, None, slow, axis=1), tshape + sshape[1:], slow)
            result = _finish(rec, source, grad, policy, slow, [target], tshape + sshape[1:])
        finally:
            self._end()
        return result

    def _repr_html_(self) -> str:
        """*Beyond TF*: notebooks show the recorded graph (inline SVG when Graphviz is
        installed) and a table of the operations."""
        from ..display.pictures import tape_html

        return tape_html(self)

    def __repr__(self) -> str:
        kind = "persistent " if self._persistent else ""
        n = len(self._rec.nodes) if self._rec is not None else 0
        return f"<{kind}GradientTape with {n} recorded operations>"


# ============================================================================== helpers

def _raw(x: Any) -> Any:
    return x._value if isinstance(x, _TensorLike) else x


def _is_float(x: Any) -> bool:
    return isinstance(x, _TensorLike) and x.dtype.kind in "fc"


def _check_sources(sources: list[Any]) -> None:
    for i, s in enumerate(sources):
        if not isinstance(s, _TensorLike):
            raise TypeError(
                f"gradient sources must be chainrule Tensors or Variables; source {i} is a "
                f"{type(s).__module__}.{type(s).__name__} (wrap it with chainrule.constant(...) "
                "and tape.watch(...) it inside the tape)")
        if s.dtype.kind not in "fc":
            warnings.warn(
                f"The dtype of the source tensor must be floating (e.g. float64) when calling "
                f"GradientTape.gradient, got {s.dtype.name}; its gradient is None",
                UserWarning, stacklevel=3)


def _target_itself(source: Any, targets: list[Any], ogs: list[Any], slow: bool) -> Any:
    """As TF: a source that is itself one of the targets, though nothing recorded it (a
    Variable never read inside the tape), gets that target's seed; otherwise None."""
    pairs = [(t, og) for t, og in zip(targets, ogs, strict=True) if t is source]
    if not pairs or not _is_float(source):
        return None
    return _seeds(None, [t for t, _ in pairs], [og for _, og in pairs], slow,
                  ids={source._id}).get(source._id)


def _seeds(rec: Recorder | None, targets: list[Any], ogs: list[Any], slow: bool,
           ids: Any = None) -> dict[int, Any]:
    seeds: dict[int, Any] = {}
    known = rec.ids if ids is None else ids
    for t, og in zip(targets, ogs, strict=True):
        if not isinstance(t, _TensorLike) or t._id not in known:
            continue
        if og is None:
            value = t._value
            g = np.ones_like(value)
            g = g[()] if g.ndim == 0 else g
            if slow:
                g = wrap(g, 0)
        elif slow:
            g = og if isinstance(og, _TensorLike) else wrap(np.asarray(og), 0)
        else:
            g = og._value if isinstance(og, _TensorLike) else np.asarray(og)
        old = seeds.get(t._id)
        seeds[t._id] = g if old is None else old + g
    return seeds


def _rows(rec: Recorder, target: Any, wanted: set[int], slow: bool, n: int,
          batch: int | None) -> list[dict[int, Any]]:
    """One backward pass per element of the target (per inner element when batched)."""
    if not (isinstance(target, _TensorLike) and target._id in rec.ids and wanted):
        return []
    value = target._value
    rows = []
    for j in range(n):
        seed = np.zeros(value.shape, dtype=value.dtype)
        if batch is None:
            seed.reshape(-1)[j] = 1
        else:
            seed.reshape(batch, -1)[:, j] = 1
        seed = seed[()] if seed.ndim == 0 else seed
        rows.append(backward(rec, {target._id: wrap(seed, 0) if slow else seed}, wanted, slow))
    return rows


def _stack(per: list[Any], shape: tuple[int, ...] | None, slow: bool, axis: int = 0) -> Any:
    if slow:
        stacked = apply(np.stack, ([p if isinstance(p, _TensorLike) else wrap(p, 0)
                                    for p in per],), {"axis": axis})
    else:
        stacked = np.stack([_raw(p) for p in per], axis=axis)
    return stacked if shape is None else _reshape(stacked, shape, slow)


def _reshape(x: Any, shape: tuple[int, ...], slow: bool) -> Any:
    return apply(np.reshape, (x, shape)) if slow else np.reshape(x, shape)


def _finish(rec: Recorder, source: Any, g: Any, policy: UnconnectedGradients, slow: bool,
            targets: list[Any], zero_shape: tuple[int, ...] | None = None) -> Any:
    """The user-facing gradient of one source: a Tensor of the source's dtype, or the
    unconnected policy's answer (zeros of ``zero_shape``, default the source's shape)."""
    if g is None:
        if policy is UnconnectedGradients.ZERO:
            shape = source.shape if zero_shape is None else zero_shape
            return wrap(np.zeros(shape, dtype=source.dtype), 0)
        if policy is UnconnectedGradients.RAISE:
            raise UnconnectedGradientError(explain_unconnected(rec, source, targets))
        return None
    dtype = source.dtype
    if isinstance(g, _TensorLike):
        if g.dtype != dtype:
            g = apply(astype, (g, dtype)) if slow else wrap(astype(g._value, dtype), 0)
        return g
    g = np.asarray(g) if not isinstance(g, (np.ndarray, np.generic)) else g
    if g.dtype != dtype:
        g = astype(np.real(g) if dtype.kind == "f" else g, dtype)
    return wrap(g, 0)


def _flatten(structure: Any) -> list[Any]:
    """Leaves of nested lists, tuples (namedtuples too) and dicts (in sorted key order)."""
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in _flatten(structure[k])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _pack(structure: Any, flat: list[Any]) -> Any:
    """``structure`` with its leaves replaced, in order, by ``flat``."""
    it = iter(flat)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return type(s)((k, built[k]) for k in s)
        if isinstance(s, list):
            return [build(item) for item in s]
        if isinstance(s, tuple):
            items = [build(item) for item in s]
            return type(s)(*items) if hasattr(s, "_fields") else type(s)(items)
        return next(it)

    return build(structure)


def tape_vjp(f: Any, args: Any, cotangent: Any) -> tuple[Any, tuple[Any, ...]]:
    """Run ``f`` on watched Tensors holding ``args`` and pull ``cotangent`` back through it.

    Returns the output as NumPy (tuples/lists of outputs stay tuples/lists) and one NumPy
    cotangent per argument (zeros for arguments the output does not depend on). This is
    the ``"tape"`` mode of :func:`chainrule.check_grads`.
    """
    xs = [constant(a) for a in args]
    with GradientTape() as tape:
        for x in xs:
            if x.dtype.kind in "fc":
                tape.watch(x)
        y = f(*xs)
    grads = tape.gradient(y, xs, output_gradients=cotangent, unconnected_gradients="zero")
    return _plain(y), tuple(g.numpy() if g is not None else None for g in grads)


def _plain(y: Any) -> Any:
    if isinstance(y, _TensorLike):
        return y.numpy()
    if isinstance(y, (list, tuple)):
        return type(y)(_plain(e) for e in y) if not hasattr(y, "_fields") else type(y)(
            *(_plain(e) for e in y))
    return y
