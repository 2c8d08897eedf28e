"""Pictures: ``chainrule.render(tape_or_fn, "out.svg")`` and the notebook view of tapes.

Guarantees: :func:`render` draws a :class:`~chainrule.GradientTape`'s recorded operations
(its :meth:`~chainrule.GradientTape.to_dot`) or a generated function's primal/adjoint data
flow (:func:`~chainrule.display.dataflow_dot`) with Graphviz's ``dot`` program, into the
format the file name's suffix asks for (``.svg``, ``.png``, ``.pdf``); ``.dot`` / ``.gv``
write the DOT text itself and need no Graphviz. When ``dot`` is not installed it raises
:class:`GraphvizNotFoundError`, whose one-line message says how to install it, and writes
nothing. Notebooks show a tape as its graph (inline SVG when ``dot`` is installed) and a
table of its operations.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["GraphvizNotFoundError", "render", "to_dot", "tape_html", "FORMATS"]

FORMATS = ("svg", "png", "pdf", "dot", "gv")


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not on ``PATH``."""


def _is_tape(obj: Any) -> bool:
    from ..tape import GradientTape

    return isinstance(obj, GradientTape)


def to_dot(obj: Any) -> str:
    """DOT text for a GradientTape (its recorded operations), a function chainrule generated
    (its primal/adjoint data flow), or DOT text given as a string (returned as is)."""
    if isinstance(obj, str):
        if not obj.lstrip().startswith(("digraph", "graph", "strict")):
            raise ValueError("chainrule.render: a string must be DOT text (digraph ...)")
        return obj
    if _is_tape(obj):
        return obj.to_dot()
    if callable(obj) and getattr(obj, "__chainrule_source__", None) is not None:
        from .dataflow import dataflow_dot

        return dataflow_dot(obj)
    if callable(obj):
        name = getattr(obj, "__name__", "f")
        raise TypeError(f"chainrule.render draws GradientTapes and functions chainrule "
                        f"generated; {name} is a plain function: pass chainrule.grad({name})")
    raise TypeError(f"chainrule.render: expected a GradientTape or a generated function, got "
                    f"{type(obj).__name__}")


def dot_program() -> str:
    """The path of Graphviz's ``dot``, or :class:`GraphvizNotFoundError`."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizNotFoundError(
            "Graphviz's `dot` program is not installed (not found on PATH); install Graphviz "
            "(apt-get install graphviz, brew install graphviz, conda install graphviz) or "
            "write the DOT text instead: chainrule.render(obj, 'out.dot')")
    return exe


def _run_dot(text: str, fmt: str) -> bytes:
    exe = dot_program()
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=text.encode(), capture_output=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"running Graphviz's dot failed: {exc}") from None
    if done.returncode != 0:
        msg = done.stderr.decode(errors="replace").strip().splitlines()
        raise RuntimeError("Graphviz's dot failed: " + (msg[0] if msg else
                                                       f"exit status {done.returncode}"))
    return done.stdout


def render(obj: Any, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Draw ``obj`` (a GradientTape or a function chainrule generated) into ``path``.

    The format is ``format`` or the suffix of ``path``: ``svg``, ``png`` or ``pdf`` (drawn by
    Graphviz's ``dot``, which must be installed), or ``dot``/``gv`` (the DOT text). Returns
    the path written.
    """
    out = Path(path)
    fmt = (format or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"chainrule.render: cannot tell the format of {str(out)!r}; use a "
                         f"name ending in {', '.join('.' + f for f in FORMATS)} or pass format=")
    text = to_dot(obj)
    if fmt in ("dot", "gv"):
        out.write_text(text, encoding="utf-8")
        return out
    data = _run_dot(text, fmt)
    out.write_bytes(data)
    return out


def _svg(text: str) -> str | None:
    """Inline SVG for ``text``, or None when Graphviz is missing or fails."""
    try:
        svg = _run_dot(text, "svg").decode("utf-8", errors="replace")
    except (GraphvizNotFoundError, RuntimeError):
        return None
    at = svg.find("<svg")
    return svg[at:] if at >= 0 else None


def tape_html(tape: Any) -> str:
    """The notebook view of a GradientTape: a summary line, its graph (inline SVG when
    Graphviz is installed) and a table of the recorded operations."""
    from ..tape.explain import _shape_dtype
    from ..tape.variable import Variable

    kind = "persistent GradientTape" if tape._persistent else "GradientTape"
    rec = tape._rec
    if rec is None:
        state = ("its record was released by gradient()/jacobian()" if tape._released
                 else "nothing recorded yet")
        return f"<div><b>{kind}</b>: {html.escape(state)}</div>"
    leaves = []
    names: dict[int, str] = {}
    for n, (uid, obj) in enumerate(rec.leaves.items()):
        label = f"Variable '{obj.name}'" if isinstance(obj, Variable) else f"Tensor w{n}"
        names[uid] = label
        value = getattr(obj, "_value", None)
        leaves.append(f"{label} {_shape_dtype(value)}" if value is not None else label)
    rows = []
    for k, (prim, _args, _kw, _inputs, parents, out, oid) in enumerate(rec.nodes):
        ins = ", ".join(names.get(p[2], "?") for p in parents) or "(constants)"
        rows.append(f"<tr><td>op{k}</td><td><code>{html.escape(prim.name)}</code></td>"
                    f"<td>{html.escape(ins)}</td><td>{html.escape(_shape_dtype(out))}</td></tr>")
        for o in oid if type(oid) is tuple else (oid,):
            if o:
                names[o] = f"op{k}"
    summary = (f"<b>{kind}</b>: {len(rec.nodes)} recorded operation"
               f"{'' if len(rec.nodes) == 1 else 's'} on "
               f"{html.escape(', '.join(leaves) or 'no watched values')}")
    svg = _svg(tape.to_dot()) if rec.nodes else None
    picture = f"<div>{svg}</div>" if svg else ""
    table = ("<table><thead><tr><th>op</th><th>primitive</th><th>inputs</th>"
             f"<th>output</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    if rec.nodes and not svg:
        table += ("<p><small>Install Graphviz to see the graph here; "
                  "<code>tape.to_dot()</code> gives its DOT text.</small></p>")
    return f"<div>{'<p>' + summary + '</p>'}{picture}{table if rec.nodes else ''}</div>"
