"""Which generated lines differentiate which user line: the alignment behind the side-by-side
HTML page and the notebook display.

Generated derivative code heads the code of each user statement with a comment quoting the
user's line: ``# grad of: <line>`` in reverse mode, ``# tangent of: <line>`` in forward
mode. :func:`align` reads those comments back from the rendered source (it never looks
inside the transformer) and cuts the generated function into *blocks*: a block is its
comment plus the lines after it, up to the next comment, the next compound statement
(``for``, ``if``, ``else``, ...) or ``return`` at the comment's indentation, or the end of
the enclosing compound statement. Each block is matched with the user's logical line of
the same text; when several user lines have the same text, reverse-mode blocks are
matched last-to-first (the adjoint sweep visits statements backwards) and forward-mode
blocks first-to-first. In reverse mode the seed of the adjoint sweep is attached to the
user's ``return`` line and the returned gradients to the ``def`` line.
"""

from __future__ import annotations

import inspect
import io
import os
import re
import textwrap
import tokenize
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Row", "Alignment", "align", "derivative_function", "MARKER"]

MARKER = re.compile(r"^(?P<indent>[ \t]*)# (?P<kind>grad|tangent) of: (?P<text>.*)$")
_COMPOUND = re.compile(r"^(for|while|if|elif|else|try|except|finally|with|def|class|return)\b")


@dataclass
class Block:
    """Generated lines that differentiate one user statement."""

    kind: str  # "grad" or "tangent"
    text: str  # the user line quoted by the comment
    start: int  # 1-based line of the comment in the generated function's source
    lines: list[str]  # the block's generated lines, comment first, indentation kept
    context: list[str]  # headers of the enclosing compound statements, outermost first
    row: int | None = None  # index of the matched :class:`Row`, None when unmatched
    lineno: int | None = None  # the user's line it differentiates, None when unmatched

    @property
    def code(self) -> str:
        """The block's lines, dedented, comment first."""
        return textwrap.dedent("\n".join(self.lines))

    @property
    def anchor(self) -> str:
        """The HTML id of this block in the full generated listing."""
        return f"g{self.start}"


@dataclass
class Row:
    """One logical line of the user's function, with the generated code aligned to it."""

    lineno: int  # line of the user's file where the logical line starts
    text: str  # its source, dedented with the function (may span several lines)
    blocks: list[Block] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)  # (caption, code)

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0].strip() if self.text.strip() else ""

    @property
    def anchor(self) -> str:
        """The HTML id of this row."""
        return f"L{self.lineno}"


@dataclass
class Alignment:
    """The user's function, the generated derivative, and which blocks go with which line."""

    mode: str  # "reverse" or "forward"
    primal_name: str
    primal_file: str
    derivative_name: str
    derivative_source: str  # the generated function the blocks come from
    full_source: str  # chainrule.source(fn): every generated function, helpers first
    rows: list[Row]
    blocks: list[Block]  # in generated order
    wrt: list[str]

    @property
    def unmatched(self) -> list[Block]:
        return [b for b in self.blocks if b.row is None]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def parse_blocks(source: str) -> list[Block]:
    """The ``# grad of:`` / ``# tangent of:`` blocks of one generated function's source."""
    lines = source.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if not m:
            continue
        ind = len(m.group("indent"))
        j = i + 1
        while j < len(lines):
            nxt = lines[j]
            if not nxt.strip():
                j += 1
                continue
            d = _indent(nxt)
            body = nxt.strip()
            if d < ind or (d == ind and (MARKER.match(nxt) or _COMPOUND.match(body))):
                break
            j += 1
        while j > i + 1 and not lines[j - 1].strip():
            j -= 1
        j = _trim_header_operands(lines, i, j, ind)
        context: list[str] = []
        level = ind
        for k in range(i - 1, -1, -1):
            prev = lines[k]
            if prev.strip() and _indent(prev) < level:
                level = _indent(prev)
                if prev.lstrip().startswith("def ") or level == 0:
                    break
                context.insert(0, prev.strip().rstrip(":"))
        blocks.append(Block(kind=m.group("kind"), text=m.group("text").strip(), start=i + 1,
                            lines=lines[i:j], context=context))
    return blocks


_ASSIGN = re.compile(r"^\s*(\w+) = (.*)$")


def _trim_header_operands(lines: list[str], i: int, j: int, ind: int) -> int:
    """Leave out of the block ``lines[i:j]`` its trailing assignments that compute the
    operands of the compound statement right after it (``cond1 = w > 2.0`` before
    ``if cond1:``): they belong to that statement, not to the block's."""
    k = j
    while k < len(lines) and not lines[k].strip():
        k += 1
    if k >= len(lines) or _indent(lines[k]) != ind or MARKER.match(lines[k]):
        return j
    header = lines[k].strip()
    if not re.match(r"^(if|elif|while|for)\b", header):
        return j
    wanted = set(re.findall(r"\w+", header))
    while j > i + 1:
        m = _ASSIGN.match(lines[j - 1])
        if not m or _indent(lines[j - 1]) != ind or m.group(1) not in wanted:
            break
        wanted |= set(re.findall(r"\w+", m.group(2)))
        j -= 1
    return j


def logical_lines(source: str, first_lineno: int) -> list[Row]:
    """The logical lines of ``source`` (a function's source as :func:`inspect.getsourcelines`
    gives it, starting at ``first_lineno``) as rows; blank lines are left out."""
    text = textwrap.dedent(source)
    physical = text.splitlines()
    rows: list[Row] = []
    start = 0
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    ends = sorted({t.end[0] for t in tokens if t.type in (tokenize.NEWLINE, tokenize.NL)})
    if not tokens:
        ends = list(range(1, len(physical) + 1))
    for end in ends:
        chunk = physical[start:end]
        if any(s.strip() for s in chunk):
            rows.append(Row(lineno=first_lineno + start, text="\n".join(chunk)))
        start = end
    if start < len(physical) and any(s.strip() for s in physical[start:]):
        rows.append(Row(lineno=first_lineno + start, text="\n".join(physical[start:])))
    return rows


def _score(source: str, texts: set[str]) -> int:
    return sum(1 for b in parse_blocks(source) if b.text in texts)


def derivative_function(fn: Any, texts: set[str]) -> Any:
    """The generated function of ``fn``'s request whose comments quote the most lines of
    ``texts`` (``fn`` itself when it quotes as many as any other): for ``grad(f, mode=
    "forward")`` the tangent code ``f_jvp`` rather than the driver that calls it."""
    request = fn.__chainrule_request__
    main = getattr(fn, "__chainrule_main__", None)
    best, best_score = main, _score(main.source, texts) if main is not None else -1
    for g in request.generated:
        s = _score(g.source, texts)
        if s > best_score:
            best, best_score = g, s
    return best


def _full_source(fn: Any) -> str:
    from ..api import source

    return source(fn)


def align(fn: Any) -> Alignment:
    """Align the generated derivative ``fn`` (from ``chainrule.grad``, ``value_and_grad``,
    ``elementwise_grad``, ``make_jvp``, ``grad(..., mode="forward")``, ...) with the
    function it was generated from."""
    origin = getattr(fn, "__chainrule_origin__", None)
    if origin is None or getattr(fn, "__chainrule_request__", None) is None:
        raise TypeError(f"{fn!r} was not generated from a function by chainrule; pass the "
                        "result of chainrule.grad, value_and_grad, elementwise_grad or "
                        "make_jvp")
    fun, wrt = origin
    try:
        src_lines, first = inspect.getsourcelines(fun)
    except (OSError, TypeError) as exc:
        raise TypeError(f"the source of {fun.__name__} is not available: {exc}") from None
    first = max(first, 1)
    rows = logical_lines("".join(src_lines), first)
    texts = {r.first_line for r in rows}
    gen = derivative_function(fn, texts)
    blocks = parse_blocks(gen.source)
    mode = "forward" if any(b.kind == "tangent" for b in blocks) or (
        not blocks and "_jvp" in gen.name) else "reverse"
    _match(blocks, rows, mode)
    _attach_seed_and_return(gen.source, rows, mode)
    return Alignment(mode=mode, primal_name=fun.__name__,
                     primal_file=_display_path(inspect.getsourcefile(fun)
                                               or fun.__code__.co_filename),
                     derivative_name=gen.name, derivative_source=gen.source,
                     full_source=_full_source(fn), rows=rows, blocks=blocks, wrt=list(wrt))


def _display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if rel.startswith("..") or path.startswith("<") else rel


def _match(blocks: list[Block], rows: list[Row], mode: str) -> None:
    by_text: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        by_text.setdefault(r.first_line, []).append(k)
    groups: dict[str, list[Block]] = {}
    for b in blocks:
        groups.setdefault(b.text, []).append(b)
    for text, group in groups.items():
        candidates = by_text.get(text, [])
        if not candidates:
            continue
        if mode == "reverse":
            candidates = candidates[::-1]
        for i, b in enumerate(group):
            b.row = candidates[min(i, len(candidates) - 1)]
    for b in blocks:  # rows list their blocks in generated order
        if b.row is not None:
            rows[b.row].blocks.append(b)
            b.lineno = rows[b.row].lineno


def _top_level(source: str) -> list[tuple[int, str]]:
    """(index, line) of the generated function's body statements at the body's indentation,
    after its docstring."""
    lines = source.splitlines()
    body = [(k, s) for k, s in enumerate(lines[1:], 1) if s.strip()]
    if not body:
        return []
    ind = _indent(body[0][1])
    out = [(k, s) for k, s in body if _indent(s) == ind]
    if out and out[0][1].strip().startswith(('"""', "'''", '"', "'")):
        out = out[1:]
    return out


def _seed_index(top: list[tuple[int, str]], user_return: str) -> int | None:
    """Where the adjoint sweep starts: the seed ``b_<returned name> = ...``, else the last
    ``scalar_seed(...)`` call."""
    m = re.match(r"^return\s+(\w+)\s*$", user_return)
    if m:
        seed = re.compile(rf"^\s*b_{re.escape(m.group(1))} = ")
        hits = [i for i, (_, s) in enumerate(top) if seed.match(s)]
        if hits:
            return hits[-1]
    hits = [i for i, (_, s) in enumerate(top) if "scalar_seed(" in s]
    return hits[-1] if hits else None


def _attach_seed_and_return(source: str, rows: list[Row], mode: str) -> None:
    top = _top_level(source)
    if not top:
        return
    returns = [r for r in rows if r.first_line.startswith("return")]
    defs = [r for r in rows if r.first_line.startswith(("def ", "async def "))]
    last_k, last = top[-1]
    if mode == "reverse":
        seed_at = _seed_index(top, returns[-1].first_line if returns else "")
        if seed_at is not None and returns:
            seed = []
            for _, s in top[seed_at:]:
                body = s.strip()
                if MARKER.match(s) or _COMPOUND.match(body):
                    break
                seed.append(body)
            if seed:
                returns[-1].extra.append(("seed of the adjoint sweep", "\n".join(seed)))
        if last.strip().startswith("return") and defs:
            defs[0].extra.append(("returned", last.strip()))
    elif last.strip().startswith("return") and returns:
        returns[-1].extra.append(("returned", last.strip()))
