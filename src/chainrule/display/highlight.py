"""Syntax highlighting of Python source for terminals (ANSI colours) and HTML (CSS classes).

Guarantees: both renderers keep the text exactly (stripping the colours or the tags gives
the input back); source that does not tokenize (an unterminated bracket in a fragment)
comes back uncoloured, never as an error. The highlighter knows four token kinds:
comments, keywords, strings and numbers.
"""

from __future__ import annotations

import html
import io
import keyword
import tokenize

__all__ = ["segments", "ansi", "to_html", "ANSI_COLORS"]

ANSI_COLORS = {"comment": "\033[90m", "keyword": "\033[1;35m", "string": "\033[32m",
               "number": "\033[36m"}
_RESET = "\033[0m"


def _kind(tok: tokenize.TokenInfo) -> str | None:
    if tok.type == tokenize.COMMENT:
        return "comment"
    if tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
        return "keyword"
    if tok.type == tokenize.STRING or tok.type in _FSTRING_TYPES:
        return "string"
    if tok.type == tokenize.NUMBER:
        return "number"
    return None


_FSTRING_TYPES = {getattr(tokenize, n) for n in ("FSTRING_START", "FSTRING_MIDDLE",
                                                   "FSTRING_END") if hasattr(tokenize, n)}


def segments(source: str) -> list[tuple[str | None, str]]:
    """``source`` cut into ``(kind, text)`` pieces whose texts concatenate to ``source``;
    ``kind`` is ``"comment"``, ``"keyword"``, ``"string"``, ``"number"`` or ``None``."""
    lines = source.splitlines(keepends=True)
    # absolute offset of each line start, to slice the source between tokens
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        row, col = pos
        if row - 1 >= len(lines):
            return len(source)
        return starts[row - 1] + col

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [(None, source)]
    out: list[tuple[str | None, str]] = []
    last = 0
    for tok in tokens:
        if tok.type == tokenize.ENDMARKER:
            break
        kind = _kind(tok)
        if kind is None:
            continue
        begin, end = offset(tok.start), offset(tok.end)
        if begin < last:  # defensive: tokens never overlap
            continue
        if begin > last:
            out.append((None, source[last:begin]))
        out.append((kind, source[begin:end]))
        last = end
    if last < len(source):
        out.append((None, source[last:]))
    return out


def ansi(source: str) -> str:
    """``source`` with ANSI colour codes around comments, keywords, strings and numbers."""
    return "".join(f"{ANSI_COLORS[k]}{t}{_RESET}" if k else t for k, t in segments(source))


def to_html(source: str, prefix: str = "cr-") -> str:
    """``source`` HTML-escaped, with ``<span class="{prefix}comment">`` (and ``keyword``,
    ``string``, ``number``) around the highlighted tokens."""
    return "".join(f'<span class="{prefix}{k}">{html.escape(t, quote=False)}</span>' if k
                   else html.escape(t, quote=False) for k, t in segments(source))
