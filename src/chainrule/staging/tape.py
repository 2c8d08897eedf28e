"""The run-time half of a staged tape block: :class:`StagedBlock` runs a block's generated
code, :class:`StagedTape` answers ``gradient``/``jacobian``/``batch_jacobian`` from it.

Guarantees (the eager :class:`~chainrule.GradientTape`'s, see :mod:`chainrule.tape.tape`):

* what the block computes, with the dtypes of the eager run; values the block computes
  come out as untracked :class:`~chainrule.Tensor` objects (a value the block passes
  through unchanged comes out as the very object that went in);
* sources are matched by *identity*, as on the tape: the objects watched on entry, the
  trainable floating-point Variables the block reads (unless
  ``watch_accessed_variables=False``), the values a ``watch`` later in the block names, and
  the intermediate values a gradient is asked for; targets are the Tensors the block
  computed (or sources themselves);
* ``gradient`` sums over targets and lists of targets, seeds with ``output_gradients``,
  casts each gradient to its source's dtype, returns the structure of ``sources``; an
  unconnected source gives ``None``, zeros or :class:`~chainrule.UnconnectedGradientError`
  (``unconnected_gradients``), decided by the connectivity masks of :mod:`.deps`;
* a non-persistent tape answers once (a second call is the eager ``RuntimeError``);
  ``jacobian`` and ``batch_jacobian`` pull back one seed per target element as the tape.

No tape records anything at run time: the block runs generated NumPy code.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import TransformError, UnconnectedGradientError
from ..optimizers import Optimizer
from ..runtime import astype
from ..tape.tape import _RELEASED, UnconnectedGradients, _check_sources, _flatten, _pack, _policy
from ..tape.tensor import Tensor, _TensorLike, wrap
from ..tape.variable import Variable
from . import deps as _deps
from .blocks import Block, SourceLeaf, Spec, get_path
from .lower import staging_error
from .shaped import ones_seed as _ones
from .shaped import specialise, specialise_step

__all__ = ["StagedBlock", "StagedTape", "apply_checked", "tape_options"]

_FLOAT = "fc"


def tape_options(persistent: bool = False, watch_accessed_variables: bool = True
                 ) -> tuple[bool, bool]:
    """The arguments of ``GradientTape(...)`` in a staged function."""
    return bool(persistent), bool(watch_accessed_variables)


# ================================================================= values in and out

def _flagged_kind(v: Any, watched: set[int], watch_accessed: bool) -> Any:
    t = type(v)
    if t is Tensor:
        dtype = v._value.dtype
        return ("T", dtype, id(v) in watched and dtype.kind in _FLOAT)
    if isinstance(v, Variable):
        dtype = v._value.dtype
        src = (id(v) in watched or (v._trainable and watch_accessed)) and dtype.kind in _FLOAT
        return ("V", v._trainable, dtype, src)
    if t is np.ndarray or isinstance(v, np.generic):
        return ("A", v.dtype)
    if t is list or t is tuple:
        return (t, tuple(_flagged_kind(e, watched, watch_accessed) for e in v))
    if t in (float, int, bool, complex, str) or v is None:
        return (t,)
    return ("O", t)


def _input_args(values: tuple[Any, ...]) -> list[Any]:
    """The NumPy values of a block's inputs (:func:`_raw`, inlined for Tensors and
    Variables; a Variable read is marked shared, so a later assignment writes a new buffer
    and the values the block saved stay valid)."""
    args = []
    for v in values:
        t = type(v)
        if t is Tensor:
            r = v._value
        elif t is Variable:
            v._shared = True
            r = v._value
        else:
            args.append(_raw(v))
            continue
        args.append(r[()] if type(r) is np.ndarray and not r.shape else r)
    return args


def _raw(v: Any) -> Any:
    """The NumPy value of an input (0-d arrays as NumPy scalars: same values, faster)."""
    t = type(v)
    if t is Tensor:
        value = v._value
    elif isinstance(v, Variable):
        v._shared = True  # later assignments write a new buffer: saved values stay valid
        value = v._value
    elif t is list:
        return [_raw(e) for e in v]
    elif t is tuple:
        return tuple(_raw(e) for e in v)
    else:
        return v
    if type(value) is np.ndarray and not value.shape:
        return value[()]
    return value


def _index_raw(v: Any, raw: Any, into: dict[int, Any]) -> None:
    if isinstance(v, Variable):
        return
    if isinstance(v, Tensor) or type(v) is np.ndarray:
        into[id(raw)] = v
    elif type(v) in (list, tuple):
        for a, b in zip(v, raw):
            _index_raw(a, b, into)


def _wrap_out(v: Any, originals: dict[int, Any]) -> Any:
    original = originals.get(id(v))
    if original is not None:
        return original
    t = type(v)
    if t is np.ndarray or isinstance(v, np.generic):
        return wrap(v, 0)
    if t is list:
        return [_wrap_out(e, originals) for e in v]
    if t is tuple:
        return tuple(_wrap_out(e, originals) for e in v)
    return v


def _wrap_output(o: Any, inputs: tuple[Any, ...], args: list[Any]) -> Any:
    """An output as the user sees it: the input object it passes through unchanged, else a
    new Tensor (NumPy values) or the value itself (numbers, lists of those...)."""
    t = type(o)
    if t is np.ndarray or isinstance(o, np.generic):
        for v, r in zip(inputs, args):
            if r is o and not isinstance(v, Variable):  # a Variable passed on is a read
                return v
        return wrap(o, 0)
    if t is list or t is tuple:
        by_raw: dict[int, Any] = {}
        for v, r in zip(inputs, args):
            _index_raw(v, r, by_raw)
        return _wrap_out(o, by_raw)
    return o


def _leaves(v: Any, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Any]]:
    if type(v) in (list, tuple):
        out = []
        for i, e in enumerate(v):
            out += _leaves(e, path + (i,))
        return out
    return [(path, v)]


def _mask_at(mask: Any, path: tuple[int, ...]) -> Any:
    for i in path:
        mask = _deps.ditem(mask, i)
    return mask


# ================================================================= blocks

class StagedBlock:
    """Runs one top-level tape block of a staged function (callable from the wrapper)."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self.label = block.label
        self._fast: dict[Any, tuple[Spec, dict[str, Any]]] = {}
        self._last: tuple[Any, ...] | None = None
        self._plans: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"<staged {self.label}>"

    def _check_watch(self, values: tuple[Any, ...]) -> set[int]:
        watched: set[int] = set()
        for value in values:
            for leaf in _flatten(value):
                if not isinstance(leaf, _TensorLike):
                    raise ValueError(
                        f"Passed in object of type {type(leaf).__name__}, not a chainrule Tensor "
                        "or Variable; wrap it with chainrule.constant(...) first")
                if leaf.dtype.kind not in _FLOAT:
                    warnings.warn(
                        f"The dtype of the watched tensor must be floating (e.g. float64), got "
                        f"{leaf.dtype.name}; it will not carry gradients", UserWarning,
                        stacklevel=4)
                    continue
                watched.add(id(leaf))
        return watched

    def _dispatch(self, options: tuple[bool, bool], watches: tuple[Any, ...],
                  values: tuple[Any, ...], caps: list[Any],
                  layout: tuple[tuple[int, int], ...]
                  ) -> tuple[tuple[Spec, dict[str, Any]], Any]:
        """The spec for these inputs, and a token: the record of the last call when these
        are its very objects (else None). The kinds of the very objects of the last call
        are reused (Tensors, Variables and arrays never change dtype; a list or tuple input
        counts as the same when it holds the very objects it held, none of them a list or
        tuple; calls with watches are always looked at); ``_last`` keeps them alive, so ids
        stay unique."""
        last = self._last
        if last is not None and not watches:
            ids = tuple(map(id, values))
            if ids == last[0] and options == last[1] and layout == last[5] and (
                    not caps or _same(caps, last[2])) and (
                    last[6] is None or _same_items(values, last[6])):
                return last[3], last
        watched = self._check_watch(watches) if watches else _NOTHING
        watch_accessed = options[1]
        key = (watch_accessed,
               tuple([_flagged_kind(v, watched, watch_accessed) for v in values]),
               tuple([_flagged_kind(v, watched, watch_accessed) for v in caps]))
        found = self._fast.get((key, layout))
        if found is None:
            spec = self.block.specialize(key[1], key[2], watch_accessed, slots=layout)
            kwargs = _mask_kwargs(spec, key[1], key[2], self.block) if spec.fwd else {}
            found = self._fast[(key, layout)] = (spec, kwargs)
        items = None
        if any(type(v) in (list, tuple) for v in values):
            items = tuple(tuple(v) if type(v) in (list, tuple) else None for v in values)
        cacheable = not watches and not any(type(v) in (list, tuple) for v in caps) and (
            items is None or not any(type(e) in (list, tuple)
                                     for held in items if held is not None for e in held))
        self._last = last = (tuple(map(id, values)), options, list(caps), found, values,
                             layout, items) if cacheable else None
        return found, last

    def _slots(self, values: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The slot values (attributes of plain objects read on entry) and their layout."""
        slot_values: list[Any] = []
        layout: list[tuple[int, int]] = []
        for index, (root, attrs) in enumerate(self.block.chains):
            obj = values[root]
            if not _is_plain_object(obj):
                continue
            length = 0
            for attr in attrs:
                obj = getattr(obj, attr)
                length += 1
                if not _is_plain_object(obj):
                    break
            if _is_plain_object(obj) or isinstance(obj, _CALLABLE_TYPES):
                continue  # an object or a method: left to the block's code
            slot_values.append(obj)
            layout.append((index, length))
        return tuple(slot_values), tuple(layout)

    def _forward(self, options: tuple[bool, bool], watches: tuple[Any, ...],
                 values: tuple[Any, ...]) -> tuple[Any, ...]:
        caps = [c.read() for c in self.block.captures] if self.block.captures else []
        layout: tuple[tuple[int, int], ...] = ()
        if self.block.chains:
            slot_values, layout = self._slots(values)
            values = values + slot_values
        (spec, mask_kwargs), token = self._dispatch(options, watches, values, caps, layout)
        args = _input_args(values)
        if caps:
            args += [_raw(c) for c in caps]
        if spec.probes:
            args += [0.0] * len(spec.probes)
        masks = None
        saved = None
        if spec.fwd is None:
            outs = spec.extracted(*args)
        elif spec.static and spec.masks is not None:
            outs, saved = spec.fwd(*args)
            masks = spec.masks
        else:
            (outs, saved), all_masks = spec.twin(*args, **mask_kwargs)
            masks = _deps.ditem(all_masks, 0)
            if spec.static:
                spec.masks = masks
        inputs = values if not caps else tuple(values) + tuple(caps)
        out_objects = tuple([_wrap_output(o, inputs, args) for o in outs])
        return spec, caps, out_objects, saved, masks, values, token

    def _plan(self, spec: Spec, values: tuple[Any, ...], caps: list[Any],
              outputs: tuple[Any, ...], masks: Any, target_index: int, sources: Any,
              token: Any) -> Any:
        """:func:`_fused_plan`, kept for the next call when it can only come out the same:
        the same static specialisation (masks fixed), the very input objects of the call
        that made it (``token``, see :meth:`_dispatch`), no captures, and the same source
        objects."""
        if token is None or not spec.static or masks is not spec.masks or caps:
            return _fused_plan(spec, values, caps, outputs, masks, target_index, sources)
        key = (id(spec), target_index, id(sources))
        kept = self._plans.get(key)
        if kept is not None:
            made_for, flat, plan = kept
            if made_for is token and (flat is sources or (
                    type(sources) in (list, tuple) and _same(flat, sources))):
                if plan is not _SLOW and plan.bwd is None and plan.connected:
                    plan.bwd = _SHAPED_PENDING  # used again: specialise the pullback
                return plan
        plan = _fused_plan(spec, values, caps, outputs, masks, target_index, sources)
        if plan is not _SLOW and plan.connected:
            plan.step = _SHAPED_PENDING  # a training loop may specialise its next step
        if len(self._plans) > 64:
            self._plans.clear()
        flat = sources if type(sources) in _SOURCE_TYPES else tuple(sources)
        self._plans[key] = (token, flat, plan)
        return plan

    def __call__(self, options: tuple[bool, bool], watches: tuple[Any, ...],
                 *values: Any) -> tuple[StagedTape, tuple[Any, ...]]:
        spec, caps, out_objects, saved, masks, values, _ = self._forward(options, watches,
                                                                         values)
        tape = StagedTape(self, spec, options[0], saved, masks, values, caps, out_objects)
        return tape, out_objects

    def fused(self, options: tuple[bool, bool], watches: tuple[Any, ...],
              values: tuple[Any, ...], targets: Any, sources: Any,
              output_gradients: Any = None,
              unconnected_gradients: Any = UnconnectedGradients.NONE
              ) -> tuple[tuple[Any, ...], Any]:
        """The block followed at once by ``tape.gradient(...)`` (the tape is not used
        otherwise): ``targets`` gives the target's structure with output positions."""
        spec, caps, out_objects, saved, masks, values, token = self._forward(
            options, watches, values)
        if type(targets) is int and output_gradients is None and saved is not None and (
                unconnected_gradients is UnconnectedGradients.NONE or
                unconnected_gradients == "none"):
            plan = self._plan(spec, values, caps, out_objects, masks, targets, sources,
                              token)
            if plan is not _SLOW:
                return out_objects, _run_plan(plan, spec, out_objects, saved, targets)
        tape = StagedTape(self, spec, options[0], saved, masks, values, caps, out_objects)
        target = _rebuild(targets, out_objects)
        return out_objects, tape.gradient(target, sources, output_gradients,
                                          unconnected_gradients)

    def fused_loop(self, iterable: Any, options: tuple[bool, bool], values: tuple[Any, ...],
                   targets: int, sources: Any, optimizer: Any, zipped: bool,
                   fallback: Callable[[Any], Any]) -> tuple[Any, Any, Any] | None:
        """A training loop, ``for item in iterable:`` the block followed at once by
        ``grads = tape.gradient(outputs[targets], sources)`` and
        ``optimizer.apply_gradients`` of ``grads`` to ``sources`` (``zip`` if ``zipped``,
        else one pair). Returns ``(item, outputs, grads)`` of the last step, or None when
        the iterable was empty (the loop's names stay as they were).

        A step runs on NumPy values alone (the generated forward and backward code, then
        the optimizer's update after its checks, ``Optimizer._apply_checked``) when what
        decides its outcome is known to be what :meth:`fused` and :func:`apply_checked`
        would find: the same input objects as the step before with a static
        specialisation and a kept gradient plan (see :meth:`_plan`), no captured or
        attribute inputs, a chainrule optimizer whose ``apply_gradients`` is not
        overridden, and every source a floating Variable with a connected gradient of its
        shape. Any other step (the first one among them) runs :meth:`fused`, then
        :func:`apply_checked` or ``fallback(grads)``, the call as written. Either way each
        step computes what the loop as written computes; only the last step's outputs and
        gradients are wrapped as Tensors."""
        raw_ok = isinstance(optimizer, Optimizer) and \
            type(optimizer).apply_gradients is Optimizer.apply_gradients and \
            not self.block.captures and not self.block.chains
        prepared = None  # stays valid: the same input objects at every step
        last: Any = None
        items = iter(iterable)
        for item in items:
            if raw_ok:
                if prepared is None:
                    prepared = self._raw_plan(options, values, targets, sources, zipped)
                if prepared is not None:
                    step = _raw_step(prepared, values, targets, optimizer)
                    if step is not None:
                        last = (item, step)
                        plan = prepared[1]
                        if plan.step is not None and plan.step is not _SHAPED_PENDING:
                            # a specialised step ran: every later step is that function
                            last = _specialised_steps(plan.step, items, values, optimizer,
                                                      plan.flat, last)
                        continue
            outs, grads = self.fused(options, (), values, targets, sources)
            if not apply_checked(optimizer, grads, sources, zipped):
                fallback(grads)
            last = (item, outs, grads)
        if last is None or len(last) == 3:
            return last
        item, (args, outs, raw_grads) = last
        out_objects = tuple([_wrap_output(o, values, args) for o in outs])
        return item, out_objects, _packed(type(sources), [wrap(g, 0) for g in raw_grads])

    def fused_step(self, options: tuple[bool, bool], values: tuple[Any, ...], targets: int,
                   sources: Any, optimizer: Any, zipped: bool,
                   fallback: Callable[[Any], Any]) -> tuple[Any, Any]:
        """One training step: the block, ``grads = tape.gradient(outputs[targets],
        sources)`` and ``optimizer.apply_gradients`` of ``grads`` to ``sources``, as one
        step of :meth:`fused_loop` (on NumPy values when the previous call kept what it
        needs). Returns ``(outputs, grads)``."""
        _, outputs, grads = self.fused_loop((None,), options, values, targets, sources,
                                            optimizer, zipped, fallback)
        return outputs, grads

    def _raw_plan(self, options: tuple[bool, bool], values: tuple[Any, ...], targets: int,
                  sources: Any, zipped: bool) -> tuple[Spec, Any] | None:
        """The specialisation and gradient plan that :meth:`fused` keeps for these very
        inputs and sources, when :meth:`fused_loop` may run steps on NumPy values with
        them; else None (not yet kept, or the conditions do not hold)."""
        (spec, _), token = self._dispatch(options, (), values, [], ())
        if token is None or spec.fwd is None or spec.probes or not spec.static or \
                spec.masks is None:
            return None
        kept = self._plans.get((id(spec), targets, id(sources)))
        if kept is None or kept[0] is not token:
            return None
        _, flat, plan = kept
        if plan is _SLOW or not plan.connected or \
                (type(sources) in _SOURCE_TYPES) == zipped or \
                not (flat is sources or _same(flat, sources)):
            return None
        for v, (_, leaves) in zip(plan.flat, plan.per_source):
            if type(v) is not Variable or not leaves:
                return None  # apply_gradients would warn about or reject this
        return spec, plan


def _raw_step(prepared: tuple[Spec, Any], values: tuple[Any, ...], targets: int,
              optimizer: Optimizer) -> Any:
    """One step of :meth:`StagedBlock.fused_loop` on NumPy values: ``(args, outputs,
    gradients)``, or None (nothing changed) when a gradient's shape is not its Variable's."""
    spec, plan = prepared
    args = _input_args(values)
    step = plan.step
    if step is not None:
        if step is _SHAPED_PENDING:
            result, plan.step = _specialise_step(spec, plan, targets, args)
            if plan.step is None and plan.bwd is None:
                plan.bwd = _SHAPED_PENDING  # steps take the general path: specialise it
        else:
            result = step(*args)
        if result is not None:
            outs, grads = result
            optimizer._apply_checked(_as_arrays(grads), plan.flat)
            return args, outs, grads
    outs, saved = spec.fwd(*args)
    raw = _plan_gradients(plan, spec, outs[targets], len(outs), targets, saved)
    for g, v in zip(raw, plan.flat):
        if g.shape != v._value.shape:
            return None  # the general path redoes the step and reports it
    optimizer._apply_checked(_as_arrays(raw), plan.flat)
    return args, outs, raw


def _as_arrays(grads: list[Any]) -> list[np.ndarray]:
    """Gradients as arrays, what ``Optimizer._apply_checked`` takes (a 0-d gradient comes
    out of generated code as a NumPy scalar)."""
    return [g if type(g) is np.ndarray else np.asarray(g) for g in grads]


def _specialised_steps(step: Any, items: Any, values: tuple[Any, ...], optimizer: Optimizer,
                       variables: tuple[Any, ...], last: Any) -> Any:
    """The rest of a training loop once a step ran through the specialised function
    ``step``: each item of ``items`` is one call of it and the optimizer's update (what
    :func:`_raw_step` does for it, without looking again at what cannot have changed).
    Returns the last ``(item, (args, outputs, gradients))``."""
    apply = optimizer._apply_checked
    arrays = all(type(g) is np.ndarray for g in last[1][2])  # the kinds never change
    for item in items:
        args = _input_args(values)
        outs, grads = step(*args)
        apply(grads if arrays else _as_arrays(grads), variables)
        last = (item, (args, outs, grads))
    return last


def _specialise_step(spec: Spec, plan: Any, targets: int, args: list[Any]
                     ) -> tuple[Any, Any]:
    """``(step result or None, step function or None)`` for :func:`_raw_step`: when each
    source is one input leaf, one generated function computes the outputs and the
    gradients, which then have their Variables' shapes and dtypes (see
    :func:`.shaped.specialise_step`)."""
    wrts, kinds = [], []
    for v, (dtype, leaves) in zip(plan.flat, plan.per_source):
        if len(leaves) != 1:
            return None, None
        wrts.append(leaves[0])  # (cotangent position, path inside it)
        kinds.append((v._value.shape, dtype))
    result, step = specialise_step(spec, targets, wrts, kinds, args)
    return (result if step is not None else None), step


_SLOW = object()
_SHAPED_PENDING = object()
_SOURCE_TYPES = (Tensor, Variable)


def _fused_plan(spec: Spec, values: tuple[Any, ...], caps: list[Any], outputs: tuple[Any, ...],
                masks: Any, target_index: int, sources: Any) -> Any:
    """How to answer ``gradient(outputs[target_index], sources)`` for one target Tensor and
    a source (or a flat list/tuple of sources) that are floating Tensors/Variables: the
    source objects, and per source its dtype and the cotangent positions (and paths) of
    its connected leaves; ``connected`` tells whether the pullback must run at all.
    ``_SLOW`` for anything else (the general path decides)."""
    t = type(sources)
    if t in _SOURCE_TYPES:
        flat: Any = (sources,)
    elif (t is list or t is tuple) and all(type(v) in _SOURCE_TYPES for v in sources):
        flat = tuple(sources)
    else:
        return _SLOW
    for v in flat:
        if v._value.dtype.kind not in _FLOAT:
            return _SLOW
    target = outputs[target_index]
    if type(target) is not Tensor:
        return _SLOW
    mask = _deps.dflat(masks[target_index]) if masks is not None else 0
    per_source = []
    connected = False
    for v in flat:
        leaves = []
        found = False
        for leaf in spec.sources:
            if leaf.where == "input":
                obj = values[leaf.index]
            elif leaf.where == "capture":
                obj = caps[leaf.index]
            else:
                return _SLOW  # intermediate sources: the general path
            if leaf.path:
                obj = get_path(obj, leaf.path)
            if obj is v:
                found = True
                if mask & leaf.bit:
                    leaves.append((leaf.wrt, leaf.path))
                    connected = True
        if not found and v is target:
            return _SLOW
        per_source.append((v._value.dtype, leaves))
    return _Plan(flat, t, per_source, connected)


class _Plan:
    """A :func:`_fused_plan`: the source objects (``flat``) and the type of ``sources``
    (``kind``); per source its dtype and the ``(cotangent position, path)`` of its connected
    leaves; whether the pullback must run at all; and what :mod:`.shaped` made for it
    (``bwd``, the pullback, and ``step``, a training loop's step: None for nothing to try,
    ``_SHAPED_PENDING`` to make at the next use)."""

    __slots__ = ("flat", "kind", "per_source", "connected", "bwd", "step")

    def __init__(self, flat: tuple[Any, ...], kind: type, per_source: list[Any],
                 connected: bool) -> None:
        self.flat = flat
        self.kind = kind
        self.per_source = per_source
        self.connected = connected
        self.bwd: Any = None
        self.step: Any = None


def _run_plan(plan: Any, spec: Spec, outputs: tuple[Any, ...], saved: Any,
              target_index: int) -> Any:
    """The gradients a :func:`_fused_plan` describes, from the block's saved values."""
    raw = _plan_gradients(plan, spec, outputs[target_index]._value, len(outputs),
                          target_index, saved)
    return _packed(plan.kind, [None if g is None else wrap(g, 0) for g in raw])


def _packed(t: type, results: list[Any]) -> Any:
    """Gradients in the structure of the sources (one, a list or a tuple)."""
    if t in _SOURCE_TYPES:
        return results[0]
    return results if t is list else tuple(results)


def _plan_gradients(plan: Any, spec: Spec, target_value: Any, n_outputs: int,
                    target_index: int, saved: Any) -> list[Any]:
    """The NumPy gradient (or None) of each source of a :func:`_fused_plan`, in its
    source's dtype: the pullback of ones at the target, leaves of a source summed."""
    grads = None
    if plan.connected:
        cot: list[Any] = [None] * n_outputs
        cot[target_index] = _ones(target_value)
        bwd = plan.bwd
        if bwd is None:
            grads = spec.bwd(tuple(cot), saved)
        elif bwd is _SHAPED_PENDING:
            # a kept plan: every later call sees operands of the same shapes
            grads, plan.bwd = specialise(spec, tuple(cot), saved)
        else:
            grads = bwd(tuple(cot), saved)
    results: list[Any] = []
    for dtype, leaves in plan.per_source:
        g = None
        for wrt, path in leaves:
            value = grads[wrt]
            if path:
                value = get_path(value, path)
            g = value if g is None else g + value
        if g is None:
            results.append(None)
            continue
        if not isinstance(g, (np.ndarray, np.generic)):
            g = np.asarray(g)
        if g.dtype != dtype:
            if isinstance(g, np.generic) and g.dtype.kind == "f" and dtype.kind == "f":
                g = dtype.type(g)
            else:
                g = astype(np.real(g) if dtype.kind == "f" else g, dtype)
        results.append(g)
    return results


def apply_checked(optimizer: Any, gradients: Any, variables: Any, zipped: bool) -> bool:
    """``optimizer.apply_gradients(zip(gradients, variables))`` (``zipped``) or
    ``optimizer.apply_gradients([(gradients, variables)])``, done here when its outcome is
    certain: a chainrule optimizer whose ``apply_gradients`` is not overridden, as many
    gradients as variables, and each gradient a Tensor with its floating-point Variable's
    shape and dtype (what staged gradients are). Then the step is
    :meth:`~chainrule.optimizers.Optimizer._apply_checked`, the very update
    ``apply_gradients`` makes after its checks, and the result is True. Otherwise nothing
    is done and the result is False: the staged function makes the call as written (which
    warns about, or rejects, what it must)."""
    if not isinstance(optimizer, Optimizer) or \
            type(optimizer).apply_gradients is not Optimizer.apply_gradients:
        return False
    if zipped:
        if type(gradients) not in (list, tuple) or type(variables) not in (list, tuple) or \
                len(gradients) != len(variables) or not variables:
            return False
    else:
        gradients, variables = (gradients,), (variables,)
    raw = []
    for g, v in zip(gradients, variables):
        if type(g) is not Tensor or type(v) is not Variable:
            return False
        value, current = g._value, v._value
        if value.dtype != current.dtype or value.shape != current.shape or \
                current.dtype.kind != "f":
            return False
        raw.append(value if type(value) is np.ndarray else np.asarray(value))
    optimizer._apply_checked(raw, list(variables))
    return True


_VALUE_TYPES = (Tensor, Variable, np.ndarray, list, tuple, float, int, bool, complex, str,
                type(None))


_CALLABLE_TYPES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                   types.BuiltinMethodType, type, np.ufunc)


def _is_plain_object(v: Any) -> bool:
    """An object whose attributes a block may read (a model, a layer, ``self``): not a value
    staged code computes on, nor a function."""
    return not isinstance(v, _VALUE_TYPES) and not isinstance(v, np.generic) and \
        not isinstance(v, _CALLABLE_TYPES)


def _same_items(values: tuple[Any, ...], items: tuple[Any, ...]) -> bool:
    """Each list or tuple of ``values`` holds the very objects ``items`` kept of it."""
    for v, held in zip(values, items):
        if held is not None and (len(v) != len(held) or any(
                a is not b for a, b in zip(v, held))):
            return False
    return True


def _same(a: Any, b: Any) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is not y:
            return False
    return True


def _rebuild(structure: Any, outputs: tuple[Any, ...]) -> Any:
    if type(structure) is int:
        return outputs[structure]
    if type(structure) is list:
        return [_rebuild(s, outputs) for s in structure]
    return tuple(_rebuild(s, outputs) for s in structure)


_NOTHING: set[int] = set()


def _mask_kwargs(spec: Spec, kinds: tuple[Any, ...], cap_kinds: tuple[Any, ...],
                 block: Block) -> dict[str, Any]:
    """The ``dep_<param>=mask`` keywords of the twin: one bit per source leaf."""
    by_param: dict[str, dict[tuple[int, ...], int]] = {}
    param_kind: dict[str, Any] = {}
    for leaf in spec.sources:
        if leaf.where == "input":
            param = spec.params[leaf.index]
            param_kind[param] = kinds[leaf.index]
        elif leaf.where == "capture":
            param = spec.params[len(block.inputs) + spec.n_slots + leaf.index]
            param_kind[param] = cap_kinds[leaf.index]
        else:
            param = spec.params[len(block.inputs) + spec.n_slots + len(block.captures) +
                                leaf.index]
            param_kind[param] = ("T",)
        by_param.setdefault(param, {})[leaf.path] = leaf.bit

    def build(kind: Any, bits: dict[tuple[int, ...], int], path: tuple[int, ...]) -> Any:
        if kind[0] in (list, tuple):
            return [build(k, bits, path + (i,)) for i, k in enumerate(kind[1])]
        return bits.get(path, 0)

    out = {}
    for param, bits in by_param.items():
        mask_name = spec.twin_masks[param]
        out[mask_name] = build(param_kind[param], bits, ())
    return out


# ================================================================= tapes

class StagedTape:
    """The ``tape`` of a staged ``with GradientTape() as tape:`` block."""

    __slots__ = ("_block", "_spec", "_persistent", "_saved", "_masks", "_inputs", "_captures",
                 "_outputs", "_released", "_sources", "_targets")

    def __init__(self, block: StagedBlock, spec: Spec, persistent: bool, saved: Any,
                 masks: Any, inputs: tuple[Any, ...], captures: list[Any],
                 outputs: tuple[Any, ...]) -> None:
        self._block = block
        self._spec = spec
        self._persistent = persistent
        self._saved = saved
        self._masks = masks
        self._inputs = inputs
        self._captures = captures
        self._outputs = outputs
        self._released = False
        self._sources: dict[int, list[SourceLeaf]] | None = None
        self._targets: dict[int, tuple[int, tuple[int, ...]]] | None = None

    def __repr__(self) -> str:
        kind = "persistent " if self._persistent else ""
        return f"<{kind}staged GradientTape of {self._block.label}>"

    # ------------------------------------------------------------- identity indexes
    def _source_index(self) -> dict[int, list[SourceLeaf]]:
        """Source objects by identity: what was watched on entry, auto-watched Variables, the
        values of intermediate names a gradient asks for."""
        if self._sources is None:
            index: dict[int, list[SourceLeaf]] = {}
            spec = self._spec
            for leaf in spec.sources:
                if leaf.where == "input":
                    obj = get_path(self._inputs[leaf.index], leaf.path)
                elif leaf.where == "capture":
                    obj = get_path(self._captures[leaf.index], leaf.path)
                else:
                    where, label = spec.probes[leaf.index]
                    if where == "input":
                        obj = self._inputs[self._block.block.inputs.index(label)]
                    elif label in spec.outputs:
                        obj = self._outputs[spec.outputs.index(label)]
                    else:
                        continue  # watched, then neither returned nor passed through
                index.setdefault(id(obj), []).append(leaf)
            self._sources = index
        return self._sources

    def _target_of(self, t: Any) -> tuple[int, tuple[int, ...]] | None:
        """Where ``t`` is among the outputs (position and path inside a list output)."""
        outputs = self._outputs
        for i, out in enumerate(outputs):
            if out is t:
                return i, ()
        if self._targets is None:
            index: dict[int, tuple[int, tuple[int, ...]]] = {}
            for i, out in enumerate(outputs):
                if type(out) in (list, tuple):
                    for path, leaf in _leaves(out):
                        if isinstance(leaf, _TensorLike) and id(leaf) not in index:
                            index[id(leaf)] = (i, path)
            self._targets = index
        return self._targets.get(id(t))

    def _target_index(self) -> dict[int, tuple[int, tuple[int, ...]]]:
        index = {}
        for i, out in enumerate(self._outputs):
            for path, leaf in _leaves(out):
                if isinstance(leaf, _TensorLike) and id(leaf) not in index:
                    index[id(leaf)] = (i, path)
        return index

    def watched_variables(self) -> tuple[Variable, ...]:
        """The Variables this tape watches (in the order the block receives them)."""
        out: list[Variable] = []
        spec = self._spec
        for leaf in spec.sources:
            if leaf.where == "input":
                obj = get_path(self._inputs[leaf.index], leaf.path)
            elif leaf.where == "capture":
                obj = get_path(self._captures[leaf.index], leaf.path)
            else:
                continue
            if isinstance(obj, Variable) and all(obj is not v for v in out):
                out.append(obj)
        return tuple(out)

    # ------------------------------------------------------------- pulling back
    def _begin(self, what: str) -> None:
        if self._released:
            raise RuntimeError(_RELEASED.format(what=what))

    def _end(self) -> None:
        if not self._persistent:
            self._released = True
            self._saved = None

    def _pull(self, targets: list[Any], seeds: list[Any]) -> tuple[Any, Any, dict[int, Any]]:
        """Pull ``seeds`` (one per target, ``None`` for ones) back through the block:
        ``(cotangents of the sources, mask of the targets, seeds landing on sources)``."""
        spec = self._spec
        sources = self._source_index()
        cot: list[Any] = [None] * len(self._outputs)
        mask: Any = 0
        direct: dict[int, Any] = {}
        any_seed = False
        for t, og in zip(targets, seeds, strict=True):
            if not isinstance(t, _TensorLike):
                continue
            loc = self._target_of(t)
            if loc is None and id(t) not in sources:
                continue
            if og is None:
                g = _ones(t._value)
            else:
                g = og._value if isinstance(og, _TensorLike) else np.asarray(og)
            if loc is None:
                old = direct.get(id(t))
                direct[id(t)] = g if old is None else old + g
                continue
            i, path = loc
            if self._masks is not None:
                mask = _deps.dor(mask, _mask_at(_deps.ditem(self._masks, i), path))
            if path:
                if cot[i] is None:
                    cot[i] = _zeros_structure(self._saved_output(i))
                cot[i] = _add_at_path(cot[i], path, g)
            else:
                cot[i] = g if cot[i] is None else cot[i] + g
            any_seed = True
        grads = None
        if any_seed and spec.bwd is not None and self._saved is not None:
            grads = spec.bwd(tuple(cot), self._saved)
        return grads, mask, direct

    def _saved_output(self, i: int) -> Any:
        out = self._outputs[i]
        return _raw(out)

    def _gradient_of(self, source: Any, grads: Any, mask: Any, direct: dict[int, Any]
                     ) -> tuple[bool, Any]:
        leaves = self._source_index().get(id(source))
        if leaves is None and id(source) not in direct and self._target_of(source) is not None:
            what = self._block.label
            raise staging_error(
                f"a gradient with respect to a value the tape block {what} computes but that "
                "the stager could not identify when it traced the function; name it in "
                "tape.gradient(target, [names...]) directly")
        connected = False
        g = None
        flat_mask = _deps.dflat(mask) if mask is not None else 0
        for leaf in leaves or []:
            if flat_mask & leaf.bit and grads is not None:
                connected = True
                value = get_path(grads[leaf.wrt], leaf.path)
                g = value if g is None else g + value
        seed = direct.get(id(source))
        if seed is not None:
            connected = True
            g = seed if g is None else g + seed
        return connected, g

    def _finish(self, source: Any, connected: bool, g: Any, policy: UnconnectedGradients,
                zero_shape: tuple[int, ...] | None = None) -> Any:
        if not connected or not isinstance(source, _TensorLike) or \
                source.dtype.kind not in _FLOAT:
            if policy is UnconnectedGradients.ZERO:
                shape = source.shape if zero_shape is None else zero_shape
                return wrap(np.zeros(shape, dtype=source.dtype), 0)
            if policy is UnconnectedGradients.RAISE:
                label = getattr(source, "name", None) if isinstance(source, Variable) else None
                what = f"Variable {label!r}" if label else \
                    f"the {type(source).__name__} of shape {source.shape}"
                raise UnconnectedGradientError(
                    f"{what} is not connected to the target: no operation of the staged tape "
                    f"block {self._block.label} computed the target from it (run the function "
                    "eagerly, without @chainrule.function, for where the path is cut)")
            return None
        dtype = source.dtype
        g = np.asarray(g) if not isinstance(g, (np.ndarray, np.generic)) else g
        if g.dtype != dtype:
            if isinstance(g, np.generic) and g.dtype.kind == "f" and dtype.kind == "f":
                g = dtype.type(g)
            else:
                g = astype(np.real(g) if dtype.kind == "f" else g, dtype)
        return wrap(g, 0)

    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: Any = UnconnectedGradients.NONE) -> Any:
        """As :meth:`chainrule.GradientTape.gradient`."""
        if output_gradients is None and type(sources) in (Tensor, Variable) and \
                type(target) is Tensor and not self._released and \
                sources.dtype.kind in _FLOAT and (
                    unconnected_gradients is UnconnectedGradients.NONE or
                    unconnected_gradients == "none"):
            return self._one_gradient(target, sources)
        policy = _policy(unconnected_gradients)
        flat_targets = _flatten(target)
        flat_sources = _flatten(sources)
        _check_sources(flat_sources)
        if output_gradients is None:
            flat_og: list[Any] = [None] * len(flat_targets)
        else:
            flat_og = _flatten(output_gradients)
            if len(flat_og) != len(flat_targets):
                raise ValueError(f"output_gradients has {len(flat_og)} entries for "
                                 f"{len(flat_targets)} targets")
        self._begin("gradient()")
        try:
            grads, mask, direct = self._pull(flat_targets, flat_og)
            flat = []
            for s in flat_sources:
                connected, g = self._gradient_of(s, grads, mask, direct)
                flat.append(self._finish(s, connected, g, policy))
        finally:
            self._end()
        return _pack(sources, flat)

    def _one_gradient(self, target: Tensor, source: Any) -> Any:
        """``gradient(target, source)`` for one Tensor of each, default arguments."""
        try:
            spec = self._spec
            outputs = self._outputs
            index = -1
            for i, out in enumerate(outputs):
                if out is target:
                    index = i
                    break
            if index < 0:
                return self.gradient([target], [source])[0]
            mask = _deps.dflat(_deps.ditem(self._masks, index)) if self._masks is not None \
                else 0
            leaves = self._source_index().get(id(source))
            if not leaves or not any(mask & leaf.bit for leaf in leaves) or \
                    spec.bwd is None or self._saved is None:
                if leaves is None and source is not target and \
                        self._target_of(source) is not None:
                    return self.gradient([target], [source])[0]
                return None if source is not target else self._finish(
                    source, True, _ones(target._value), UnconnectedGradients.NONE)
            cot: list[Any] = [None] * len(outputs)
            cot[index] = _ones(target._value)
            grads = spec.bwd(tuple(cot), self._saved)
            g = None
            for leaf in leaves:
                if mask & leaf.bit:
                    value = grads[leaf.wrt]
                    if leaf.path:
                        value = get_path(value, leaf.path)
                    g = value if g is None else g + value
            return self._finish(source, True, g, UnconnectedGradients.NONE)
        finally:
            self._end()

    def _rows(self, target: Any, sources: list[Any], n: int, batch: int | None
              ) -> list[list[tuple[bool, Any]]]:
        value = target._value if isinstance(target, _TensorLike) else np.asarray(target)
        rows = []
        for j in range(n):
            seed = np.zeros(np.shape(value), dtype=np.result_type(value))
            if batch is None:
                seed.reshape(-1)[j] = 1
            else:
                seed.reshape(batch, -1)[:, j] = 1
            seed = seed[()] if seed.ndim == 0 else seed
            grads, mask, direct = self._pull([target], [seed])
            rows.append([self._gradient_of(s, grads, mask, direct) for s in sources])
        return rows

    def jacobian(self, target: Any, sources: Any,
                 unconnected_gradients: Any = UnconnectedGradients.NONE,
                 parallel_iterations: Any = None, experimental_use_pfor: bool = True) -> Any:
        """As :meth:`chainrule.GradientTape.jacobian`."""
        del parallel_iterations, experimental_use_pfor
        policy = _policy(unconnected_gradients)
        flat_sources = _flatten(sources)
        _check_sources(flat_sources)
        self._begin("jacobian()")
        try:
            tshape = np.shape(target._value if isinstance(target, _TensorLike) else target)
            n = int(np.prod(tshape, dtype=int))
            rows = self._rows(target, flat_sources, n, None) if isinstance(
                target, _TensorLike) else []
            flat = []
            for k, s in enumerate(flat_sources):
                per = [r[k] for r in rows]
                connected = bool(per) and per[0][0]
                grad = None
                if connected:
                    grad = np.reshape(np.stack([np.asarray(p[1]) for p in per]),
                                      tshape + tuple(s.shape))
                flat.append(self._finish(s, connected, grad, policy, tshape + tuple(s.shape)))
        finally:
            self._end()
        return _pack(sources, flat)

    def batch_jacobian(self, target: Any, source: Any,
                       unconnected_gradients: Any = UnconnectedGradients.NONE,
                       parallel_iterations: Any = None,
                       experimental_use_pfor: bool = True) -> Any:
        """As :meth:`chainrule.GradientTape.batch_jacobian`."""
        del parallel_iterations, experimental_use_pfor
        policy = _policy(unconnected_gradients)
        raw_t = target._value if isinstance(target, _TensorLike) else target
        raw_s = source._value if isinstance(source, _TensorLike) else source
        tshape, sshape = np.shape(raw_t), np.shape(raw_s)
        if len(tshape) < 2 or len(sshape) < 2 or tshape[0] != sshape[0]:
            raise ValueError(f"Need first dimension of target shape {tshape} and source shape "
                             f"{sshape} to match (both of rank 2 or more).")
        _check_sources([source])
        self._begin("batch_jacobian()")
        try:
            inner = int(np.prod(tshape[1:], dtype=int))
            rows = self._rows(target, [source], inner, tshape[0])
            per = [r[0] for r in rows]
            connected = bool(per) and per[0][0]
            grad = None
            if connected:
                grad = np.reshape(np.stack([np.asarray(p[1]) for p in per], axis=1),
                                  tshape + sshape[1:])
            result = self._finish(source, connected, grad, policy, tshape + sshape[1:])
        finally:
            self._end()
        return result

    def watch(self, tensor: Any) -> None:
        raise TransformError(
            "tape.watch(...) after the staged tape block has ended: the tape no longer records "
            "(watch inside the block)")


def _zeros_structure(raw: Any) -> Any:
    if type(raw) in (list, tuple):
        return [_zeros_structure(e) for e in raw]
    from ..runtime import zeros_like

    return zeros_like(raw)


def _add_at_path(structure: Any, path: tuple[int, ...], g: Any) -> Any:
    if not path:
        return g if structure is None else structure + g
    structure = list(structure)
    structure[path[0]] = _add_at_path(structure[path[0]], path[1:], g)
    return structure
