"""The side-by-side HTML view of a generated derivative: the user's function on the left,
and on the right, in the same table row as each statement, the generated block that
differentiates it (``chainrule show --html``, ``chainrule.side_by_side``, notebooks).

Guarantees: the page is one self-contained file (inline CSS, no script, no fonts, images
or links outside the page), well-formed as XML as well as HTML5, deterministic for the
same generated code. Every adjoint (or tangent) block sits in the row of the primal line
its ``# grad of:`` comment quotes, links to its place in the full generated listing at the
bottom of the page, and that listing's comment links back to the row.
"""

from __future__ import annotations

import html
from typing import Any

from .align import MARKER, Alignment, Block, Row, align
from .highlight import segments

__all__ = ["side_by_side", "function_html", "highlighted_lines", "CSS"]

CSS = """
.cr-page{color:#1f2328;background:#fff;font:14px/1.45 -apple-system,BlinkMacSystemFont,
 "Segoe UI",Helvetica,Arial,sans-serif;max-width:1500px;margin:0 auto;padding:16px 24px}
.cr-page h1{font-size:20px;margin:8px 0}
.cr-page h2{font-size:16px;margin:24px 0 8px}
.cr-page p{margin:6px 0;max-width:70em}
.cr-page code,.cr-page pre{font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,
 "Liberation Mono",monospace}
.cr-page pre{margin:0;white-space:pre;overflow-x:auto}
.cr-page a{color:inherit}
.cr-sbs{border-collapse:collapse;width:100%;table-layout:fixed}
.cr-sbs th{text-align:left;font-weight:600;padding:6px 8px;border-bottom:2px solid #d0d7de}
.cr-sbs td{vertical-align:top;padding:3px 8px;border-top:1px solid #eaeef2}
.cr-sbs .cr-ln{width:3.5em;text-align:right;color:#8c959f}
.cr-sbs .cr-ln a{text-decoration:none}
.cr-sbs td.cr-primal{background:#f6f8fa;width:44%}
.cr-sbs tr.cr-has td.cr-primal{background:#fff8e1}
.cr-sbs tr:target td,.cr-sbs tr:hover td{background:#ddf4ff}
.cr-block,.cr-extra{border-left:3px solid #0969da;padding:1px 0 1px 8px;margin:2px 0 4px}
.cr-extra{border-left-color:#8c959f}
.cr-tangent .cr-block{border-left-color:#1a7f37}
.cr-caption{font-size:11px;color:#57606a}
.cr-caption a{color:#0969da}
.cr-comment{color:#6e7781;font-style:italic}
.cr-keyword{color:#cf222e;font-weight:600}
.cr-string{color:#0a3069}
.cr-number{color:#0550ae}
.cr-full{background:#f6f8fa;padding:12px;border:1px solid #d0d7de;border-radius:6px}
.cr-full .cr-marker{color:#8250df;text-decoration:none;border-bottom:1px dotted #8250df}
.cr-full .cr-marker:target{background:#ddf4ff}
.cr-foot{color:#57606a;font-size:12px;margin-top:16px}
"""


def highlighted_lines(source: str) -> list[str]:
    """``source``'s lines as HTML, highlighted; a token spanning lines is split per line."""
    out: list[str] = [""]
    for kind, text in segments(source):
        for i, piece in enumerate(text.split("\n")):
            if i:
                out.append("")
            if piece:
                esc = html.escape(piece, quote=False)
                out[-1] += f'<span class="cr-{kind}">{esc}</span>' if kind else esc
    if source.endswith("\n"):
        out.pop()
    return out


def _code(source: str) -> str:
    return "\n".join(highlighted_lines(source))


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _strip_body_indent(lines: list[str], width: int) -> str:
    pad = " " * width
    return "\n".join(s[width:] if s.startswith(pad) else s.lstrip() for s in lines)


def _body_indent(source: str) -> int:
    for line in source.splitlines()[1:]:
        if line.strip():
            return len(line) - len(line.lstrip())
    return 4


def _block_html(b: Block, width: int, derivative: str) -> str:
    where = f'<a href="#{b.anchor}">line {b.start} of <code>{html.escape(derivative)}</code></a>'
    if b.context:
        ctx = " / ".join(f"<code>{html.escape(c)}</code>" for c in b.context)
        where += f" · in {ctx}"
    line = "" if b.lineno is None else b.lineno
    return (f'<div class="cr-block" id="b{b.start}" data-line="{line}" '
            f'data-text="{_attr(b.text)}"><div class="cr-caption">{where}</div>'
            f"<pre>{_code(_strip_body_indent(b.lines, width))}</pre></div>")


def _row_html(r: Row, width: int, derivative: str) -> str:
    cls = "cr-row cr-has" if r.blocks or r.extra else "cr-row"
    cells = []
    for caption, code in r.extra:
        cells.append(f'<div class="cr-extra"><div class="cr-caption">{html.escape(caption)}'
                     f"</div><pre>{_code(code)}</pre></div>")
    cells += [_block_html(b, width, derivative) for b in r.blocks]
    return (f'<tr id="{r.anchor}" class="{cls}" data-line="{r.lineno}">'
            f'<td class="cr-ln"><a href="#{r.anchor}">{r.lineno}</a></td>'
            f'<td class="cr-primal"><pre>{_code(r.text)}</pre></td>'
            f'<td class="cr-adjoint">{"".join(cells)}</td></tr>')


def _full_listing(a: Alignment) -> str:
    full = a.full_source
    at = full.find(a.derivative_source)
    offset = full[:at].count("\n") if at >= 0 else None
    by_line = {b.start: b for b in a.blocks}
    rows_by_index = a.rows
    out = []
    for k, line_html in enumerate(highlighted_lines(full)):
        b = by_line.get(k - offset + 1) if offset is not None else None
        if b is not None and MARKER.match(full.splitlines()[k]):
            target = f"#{rows_by_index[b.row].anchor}" if b.row is not None else f"#b{b.start}"
            line_html = (f'<a class="cr-marker" id="{b.anchor}" href="{target}">{line_html}'
                         "</a>")
        out.append(line_html)
    return "\n".join(out)


def _body(a: Alignment, page: bool) -> str:
    forward = a.mode == "forward"
    right = "tangent" if forward else "adjoint"
    wrt = ", ".join(a.wrt) or "(nothing)"
    width = _body_indent(a.derivative_source)
    if forward:
        note = (f"Forward mode, with respect to {html.escape(wrt)}. Left: "
                f"<code>{html.escape(a.primal_name)}</code> as written. Right, in the row of "
                "each statement: the generated code that runs it together with its tangent "
                "(<code>d_y</code>: how much <code>y</code> moves along the input direction). "
                "Both run top to bottom in one sweep.")
    else:
        note = (f"Reverse mode, with respect to {html.escape(wrt)}. Left: "
                f"<code>{html.escape(a.primal_name)}</code> as written. Right, in the row of "
                "each statement: the generated adjoint block that differentiates it, turning "
                "the cotangent of its result (<code>b_y</code>) into cotangents of its "
                "inputs. The generated function first runs the primal sweep (the function, "
                "saving values it will overwrite), then the adjoint sweep, which runs these "
                "blocks <em>from the bottom of the table to the top</em>.")
    rows = "\n".join(_row_html(r, width, a.derivative_name) for r in a.rows)
    unmatched = ""
    if a.unmatched:
        items = "".join(_block_html(b, width, a.derivative_name) for b in a.unmatched)
        unmatched = ("<h2>Blocks whose line was not found in the source</h2>"
                     f'<div class="cr-unmatched">{items}</div>')
    listing = _full_listing(a)
    marker = "tangent" if forward else "grad"
    full = (f'<h2 id="generated">The generated code</h2><p>Everything '
            f"<code>chainrule.source</code> returns; each <code># {marker} of:</code> comment "
            "links to its row above.</p>"
            f'<pre class="cr-full">{listing}</pre>')
    if not page:
        full = f"<details><summary>The generated code</summary>{full}</details>"
    title = (f"<code>{html.escape(a.derivative_name)}</code>: the {right} of "
             f"<code>{html.escape(a.primal_name)}</code>, statement by statement")
    from .. import __version__

    return (f'<div class="cr-page cr-{right}">'
            f"<h1>{title}</h1><p>{note}</p>"
            f'<table class="cr-sbs"><thead><tr><th class="cr-ln">line</th>'
            f"<th>primal: <code>{html.escape(a.primal_name)}</code> "
            f'<span class="cr-caption">{html.escape(a.primal_file)}</span></th>'
            f"<th>{right}: <code>{html.escape(a.derivative_name)}</code></th></tr></thead>"
            f"<tbody>\n{rows}\n</tbody></table>{unmatched}{full}"
            f'<p class="cr-foot">Generated by chainrule {html.escape(__version__)}.</p></div>')


def side_by_side(fn: Any, page: bool = True) -> str:
    """The side-by-side view of the generated derivative ``fn`` as HTML: a whole
    self-contained page (``page=True``), or a fragment with its own ``<style>`` for
    embedding (notebooks). ``fn`` comes from ``chainrule.grad``, ``value_and_grad``,
    ``elementwise_grad``, ``make_jvp`` or ``grad(..., mode="forward")``."""
    a = align(fn)
    body = _body(a, page)
    style = f"<style>{CSS}</style>"
    if not page:
        return style + body
    title = f"{a.derivative_name}: the derivative of {a.primal_name}, side by side"
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8"/>'
            '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
            f"<title>{html.escape(title)}</title>{style}</head>\n"
            f"<body>{body}</body></html>\n")


def function_html(fn: Any) -> str:
    """Rich notebook display of a function chainrule generated: the side-by-side view when
    the function it was generated from is known, its highlighted source otherwise."""
    if getattr(fn, "__chainrule_origin__", None) is not None:
        try:
            return side_by_side(fn, page=False)
        except (TypeError, OSError):
            pass
    source = getattr(fn, "__chainrule_source__", None)
    if source is None:
        return f"<pre>{html.escape(repr(fn))}</pre>"
    return f'<style>{CSS}</style><div class="cr-page"><pre>{_code(source)}</pre></div>'
