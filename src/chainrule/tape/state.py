"""Per-thread tape state and the data one tape records.

Guarantees:

* Tapes are thread-local: :data:`STATE` is a :class:`threading.local`, so an operation run in
  one thread only ever sees (and records on) the tapes entered in that same thread.
* Every tracked value has a process-wide unique integer id (never reused, like TensorFlow's
  tensor ids); a :class:`Recorder` knows a value by that id only. Tensors never point at
  tapes, so dropping a tape frees everything it recorded.
* A recorded node is a plain tuple ``(prim, args, kwargs, inputs, parents, out, out_id)``:
  the primitive, the raw argument values exactly as the primitive received them, its keyword
  arguments (``None`` when there are none), the original argument objects (Tensors keep their
  ids, needed when the backward pass is itself recorded), ``parents`` as ``(argnum, element,
  id)`` triples (``element`` is ``-1`` for a tensor argument, else the index of the tensor in
  a list/tuple argument: an int, or a tuple of indices in nested lists), the raw
  output and the output id (a tuple of ids for multi-output primitives). Nodes are appended
  in execution order, which is a topological order.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import weakref
from typing import Any

__all__ = ["STATE", "Recorder", "new_id", "user_location", "LIVE_RECORDERS"]

#: Next unique id of a tracked value. ``next(_ids)`` is atomic under the GIL.
_ids = itertools.count(1)
new_id = _ids.__next__


class _ThreadState(threading.local):
    """What the current thread is doing, as one tuple read per operation.

    ``ctx = (tapes, paused, var_reads)``: the recorders recording now (in the order their
    tapes were entered), those paused by ``stop_recording()``, and the list collecting
    Variable reads for :func:`chainrule.custom_gradient` (``None`` when none is running).
    """

    def __init__(self) -> None:
        self.ctx: tuple[tuple[Recorder, ...], tuple[Recorder, ...], list[Any] | None] = (
            (), (), None)


STATE = _ThreadState()


class Recorder:
    """The record of one tape: watched ids, nodes, and what diagnostics need.

    ``ids`` maps every id tracked on this tape to ``None`` (a watched leaf) or the index of the
    node that produced it. ``leaves`` maps leaf ids to the watched object (for Variables, so
    that :meth:`GradientTape.watched_variables` can return them) or a short description.
    """

    __slots__ = (
        "ids", "nodes", "leaves", "variables", "persistent", "watch_accessed",
        "escapes", "paused_ids", "origin", "__weakref__",
    )

    def __init__(self, persistent: bool, watch_accessed: bool, origin: tuple[str, int]) -> None:
        self.ids: dict[int, int | None] = {}
        self.nodes: list[tuple[Any, ...]] = []
        self.leaves: dict[int, Any] = {}
        self.variables: dict[int, Any] = {}
        self.persistent = persistent
        self.watch_accessed = watch_accessed
        #: ``(id, how, where)`` for each tracked value that left the tape through
        #: ``.numpy()``, ``float()``, ``np.asarray()``...
        self.escapes: list[tuple[int, str, str]] = []
        #: id -> ``(op name, where)`` of values computed from tracked ones while paused.
        self.paused_ids: dict[int, tuple[str, str]] = {}
        self.origin = origin  # (file, line) where the GradientTape was created
        LIVE_RECORDERS.add(self)

    def where(self) -> str:
        """``file:line`` where the tape was created (for messages)."""
        return f"{self.origin[0]}:{self.origin[1]}"


#: Every recorder still referenced by a tape (for "it is on another tape" diagnostics).
LIVE_RECORDERS: weakref.WeakSet[Recorder] = weakref.WeakSet()

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_location() -> str:
    """``file:line`` of the innermost frame outside chainrule and NumPy (for messages)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not (filename.startswith(_PACKAGE_DIR) or os.sep + "numpy" + os.sep in filename
                or filename.startswith("<frozen")):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _without(recs: tuple[Recorder, ...], rec: Recorder) -> tuple[Recorder, ...]:
    return tuple(r for r in recs if r is not rec)


def is_recording(rec: Recorder) -> bool:
    """Whether ``rec`` records in this thread now."""
    return any(r is rec for r in STATE.ctx[0])


def push(rec: Recorder) -> None:
    """Start recording on ``rec`` in this thread."""
    tapes, paused, reads = STATE.ctx
    STATE.ctx = (tapes + (rec,), paused, reads)


def pop(rec: Recorder) -> None:
    """Stop recording on ``rec`` in this thread."""
    tapes, paused, reads = STATE.ctx
    STATE.ctx = (_without(tapes, rec), paused, reads)


def pause(rec: Recorder) -> None:
    """Move ``rec`` from recording to paused (``stop_recording``)."""
    tapes, paused, reads = STATE.ctx
    STATE.ctx = (_without(tapes, rec), paused + (rec,), reads)


def resume(rec: Recorder) -> None:
    """Undo :func:`pause`."""
    tapes, paused, reads = STATE.ctx
    STATE.ctx = (tapes + (rec,), _without(paused, rec), reads)


def forget(rec: Recorder) -> None:
    """Neither recording nor paused any more (a released or reset record)."""
    tapes, paused, reads = STATE.ctx
    STATE.ctx = (_without(tapes, rec), _without(paused, rec), reads)
