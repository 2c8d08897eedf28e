"""Explanations of a tape's record: why a source is unconnected, and Graphviz DOT text.

Guarantees: both only read the record (never change it) and are deterministic for a given
record: DOT node names are counters in recording order, never object ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .state import LIVE_RECORDERS, Recorder

__all__ = ["explain_unconnected", "to_dot"]


def _describe(x: Any) -> str:
    from .variable import Variable

    if isinstance(x, Variable):
        return f"Variable '{x.name}' (shape {x.shape}, {x.dtype.name})"
    return f"the source Tensor of shape {x.shape} and dtype {x.dtype.name}"


def explain_unconnected(rec: Recorder, source: Any, targets: list[Any]) -> str:
    """Why ``source`` got no gradient from ``targets`` on ``rec``: one sentence a user can act
    on (never watched, non-trainable Variable, integer dtype, computed inside
    ``stop_recording``, left the tape through ``.numpy()``/``float()``, on another tape...)."""
    return (f"unconnected gradient for {_describe(source)}: {_why(rec, source, targets)} "
            "(unconnected_gradients='raise')")


def _why(rec: Recorder, source: Any, targets: list[Any]) -> str:
    from .variable import Variable

    if source.dtype.kind not in "fc":
        return (f"it has the {source.dtype.name} dtype; only floating-point values carry "
                "gradients, so cast it first (chainrule.cast(x, 'float64'))")
    uid = source._id
    if uid not in rec.ids:
        if uid in rec.paused_ids:
            op, where = rec.paused_ids[uid]
            return (f"it was computed by {op} at {where} inside tape.stop_recording(), so the "
                    "tape did not record where it came from")
        others = [r for r in list(LIVE_RECORDERS) if r is not rec and uid in r.ids]
        if isinstance(source, Variable):
            if not source.trainable:
                return ("it is a non-trainable Variable (trainable=False), which tapes never "
                        "watch automatically; call tape.watch(v) inside the context")
            if not rec.watch_accessed:
                return ("the tape was created with watch_accessed_variables=False and the "
                        "Variable was never passed to tape.watch()")
            if others:
                return (f"it is not on this tape at all: it was read while another tape "
                        f"(created at {others[0].where()}) was recording, not this one "
                        f"(created at {rec.where()})")
            return ("it was never read by an operation while this tape was recording "
                    "(Variables are watched when an operation reads them inside the context)")
        if others:
            return (f"it is not on this tape at all: it is watched by another GradientTape "
                    f"(created at {others[0].where()}), not this one (created at {rec.where()})")
        if uid:
            return ("it is not on this tape at all: it was recorded on a tape that has been "
                    "reset or released since")
        return ("it was never watched: call tape.watch(x) inside the context (or make it a "
                "trainable chainrule.Variable)")
    # The source is on this tape, but no recorded path leads from it to the target.
    for t in targets:
        if not hasattr(t, "_id"):
            return (f"the target is a plain {type(t).__module__}.{type(t).__name__}, not a "
                    "Tensor: it was computed outside the tape (NumPy arrays and Python numbers "
                    "are not recorded)")
    reach = _descendants(rec, uid)
    exits = list(dict.fromkeys((how, where, eid == uid) for eid, how, where in rec.escapes
                               if eid in reach))
    if exits:
        what = "it" if all(own for _, _, own in exits) else "a value computed from it"
        ways = ", ".join(f"{how} at {where}" for how, where, _ in exits[:3])
        more = f" (and {len(exits) - 3} more places)" if len(exits) > 3 else ""
        return (f"{what} left the tape through {ways}{more}; NumPy arrays and Python numbers "
                "are not recorded, so keep the computation on Tensors")
    for t in targets:
        if t._id in rec.paused_ids:
            op, where = rec.paused_ids[t._id]
            return (f"the target was computed by {op} at {where} inside "
                    "tape.stop_recording()")
    return "the target does not depend on it through any recorded operation"


def _descendants(rec: Recorder, uid: int) -> set[int]:
    reach = {uid}
    for node in rec.nodes:
        if any(p[2] in reach for p in node[4]):
            oid = node[6]
            reach.update(oid if type(oid) is tuple else (oid,))
    return reach


# ------------------------------------------------------------------------------- DOT

def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape_dtype(v: Any) -> str:
    if isinstance(v, (np.ndarray, np.generic)):
        return f"{v.shape} {v.dtype.name}"
    if isinstance(v, (tuple, list)):
        return ", ".join(_shape_dtype(e) for e in v)
    text = repr(v)
    return text if len(text) <= 24 else text[:21] + "..."


def _path(element: Any) -> tuple[int, ...]:
    return element if type(element) is tuple else (element,)


def to_dot(rec: Recorder) -> str:
    """The record as Graphviz DOT text (``dot -Tpng``): watched values as filled boxes,
    operations as ellipses labelled with the primitive, output shape and dtype, untracked
    inputs as dashed boxes; edges are labelled with the argument position."""
    from .variable import Variable

    lines = ["digraph tape {", '  rankdir="TB";', '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    names: dict[int, str] = {}
    for n, (uid, obj) in enumerate(rec.leaves.items()):
        name = f"w{n}"
        names[uid] = name
        title = f"Variable '{obj.name}'" if isinstance(obj, Variable) else "Tensor"
        label = f"{title}\n{_shape_dtype(obj._value)}\nwatched"
        lines.append(f'  {name} [shape=box, style=filled, fillcolor="#cfe2f3", '
                     f"label={_quote(label)}];")
    consts = 0
    for k, (prim, args, _kwargs, _inputs, parents, out, oid) in enumerate(rec.nodes):
        name = f"op{k}"
        label = f"{prim.name}\n{_shape_dtype(out)}"
        lines.append(f"  {name} [shape=ellipse, label={_quote(label)}];")
        for argnum, element, puid in parents:
            edge = str(argnum) if element == -1 else f"{argnum}{list(_path(element))}"
            lines.append(f"  {names[puid]} -> {name} [label={_quote(edge)}];")
        tracked_args = {p[0] for p in parents}
        for argnum, value in enumerate(args):
            if argnum in tracked_args:
                continue
            cname = f"c{consts}"
            consts += 1
            lines.append(f"  {cname} [shape=box, style=dashed, fontcolor=gray40, "
                         f"label={_quote('const ' + _shape_dtype(value))}];")
            lines.append(f"  {cname} -> {name} [style=dashed, label={_quote(str(argnum))}];")
        for o in oid if type(oid) is tuple else (oid,):
            if o:
                names[o] = name
    lines.append("}")
    return "\n".join(lines) + "\n"
