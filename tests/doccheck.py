"""Executable documentation: every ```python block of ``docs/*.md`` and ``README.md`` runs,
and every output the documents show is checked, so the documents cannot drift from the code.

Conventions (also in ``docs/contributing.md``):

* The ```python blocks of one page run in order in one namespace, like the cells of a
  notebook, with the repository root as the working directory (``examples.*`` imports).
  Functions they define have real source (the page's line numbers), so ``chainrule.grad``
  differentiates them.
* **Printed output.** A ```text block that follows a ```python block (only blank lines
  between them) is that block's expected standard output, apart from the output of
  statements checked with ``# ->``; compared exactly (trailing spaces ignored).
* **Inline output.** A statement whose last line ends with ``# -> EXPECTED`` must print
  ``EXPECTED`` (for a ``print``) or have a value whose ``repr`` is ``EXPECTED`` (for an
  expression), as at the Python prompt.
* **Generated code.** A block preceded by ``<!-- output-of: EXPR -->`` is not run: it must
  equal ``EXPR``, a Python expression evaluated in the page's namespace after the blocks
  above it ran (``chainrule`` and ``cr`` are available), such as
  ``chainrule.source(chainrule.grad(f))``. With ``<!-- output-of: $ chainrule show ... -->``
  it must equal what that command prints (its standard error when it fails).
* **Not run.** A ```python block preceded by ``<!-- no-run: REASON -->`` is skipped; the
  reason is required. Blocks in other languages (```bash, ```text not after a python
  block, ...) are never run.

``python -m tests.doccheck`` checks every page and prints a report; ``--update`` rewrites the
``output-of`` blocks, the ```text outputs and the ``# ->`` comments from what the code
now produces (review the
diff before committing it); ``--json`` prints the results for ``tests/test_docs.py``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import linecache
import os
import re
import shlex
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+)(?P<info>[^`]*)$")
DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<name>no-run|output-of)\s*:\s*(?P<arg>.*?)\s*-->\s*$")
ARROW = re.compile(r"#\s*->\s?(?P<expected>.*)$")


def pages() -> list[Path]:
    """The checked documents: README.md and docs/*.md, sorted."""
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


@dataclass
class Block:
    """One fenced block of a Markdown page."""

    path: Path
    start: int  # 1-based line of the opening fence
    end: int  # 1-based line of the closing fence
    lang: str
    lines: list[str]  # the code, fence indentation removed
    indent: str
    directive: tuple[str, str] | None = None
    output: Block | None = None  # the ```text block showing this block's output
    is_output: bool = False

    @property
    def code(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.start}"


def parse(path: Path) -> list[Block]:
    """The fenced blocks of ``path``, with their directives and output blocks attached."""
    text = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(text):
        m = FENCE.match(text[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group("indent"), m.group("fence"), m.group("info").strip()
        j = i + 1
        body = []
        while j < len(text) and not (text[j].strip() == fence and text[j].startswith(indent)):
            line = text[j]
            body.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
            j += 1
        lang = info.split()[0].lower() if info else ""
        b = Block(path=path, start=i + 1, end=j + 1, lang=lang, lines=body, indent=indent)
        k = i - 1
        while k >= 0 and not text[k].strip():
            k -= 1
        if k >= 0:
            d = DIRECTIVE.match(text[k])
            if d:
                b.directive = (d.group("name"), d.group("arg"))
        if blocks and lang == "text" and b.directive is None:
            prev = blocks[-1]
            between = text[prev.end:i]
            if prev.lang == "python" and prev.directive is None and \
                    all(not s.strip() for s in between):
                prev.output = b
                b.is_output = True
        blocks.append(b)
        i = j + 1
    return blocks


@dataclass
class Problem:
    where: str
    message: str
    expected: str | None = None
    actual: str | None = None

    def render(self) -> str:
        out = f"{self.where}: {self.message}"
        if self.expected is not None or self.actual is not None:
            import difflib

            diff = difflib.unified_diff((self.expected or "").splitlines(),
                                        (self.actual or "").splitlines(), "document shows",
                                        "code produces", lineterm="")
            out += "\n" + "\n".join(diff)
        return out


@dataclass
class PageResult:
    page: str
    ran: int = 0
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    updates: dict[int, str] = field(default_factory=dict)  # block start -> new body
    arrows: dict[int, str] = field(default_factory=dict)  # page line -> new `# ->` text


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _page_source(path: Path, blocks: list[Block]) -> list[str]:
    """The page as Python for linecache: the code of the run blocks at their own lines,
    everything else blank, so that functions defined in the page have real source."""
    n = len(path.read_text(encoding="utf-8").splitlines())
    lines = ["\n"] * (n + 1)
    for b in blocks:
        for k, line in enumerate(b.lines):
            lines[b.start + k] = line + "\n"
    return lines


def _chainrule_show(command: str) -> str:
    from chainrule.cli import main

    argv = shlex.split(command)
    if argv[:1] != ["chainrule"]:
        raise ValueError(f"output-of: only `chainrule ...` commands run, not {command!r}")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv[1:])
    return out.getvalue() if status == 0 else err.getvalue()


def _run_block(b: Block, ns: dict[str, Any], filename: str, result: PageResult) -> bool:
    """Run ``b`` statement by statement; False when it raised."""
    padded = "\n" * (b.start) + b.code  # line numbers of the page
    try:
        tree = ast.parse(padded, filename)
    except SyntaxError as exc:
        result.problems.append(Problem(f"{b.where}", f"syntax error: {exc}"))
        return False
    stdout = io.StringIO()
    for stmt in tree.body:
        last = b.lines[stmt.end_lineno - b.start - 1] if stmt.end_lineno else ""
        arrow = ARROW.search(last)
        capture = io.StringIO() if arrow else None
        try:
            with contextlib.redirect_stdout(capture or stdout):
                if arrow and isinstance(stmt, ast.Expr):
                    code = compile(ast.Expression(stmt.value), filename, "eval")
                    value = eval(code, ns)  # noqa: S307 - the documentation's own code
                    if value is not None and not _is_print(stmt):
                        print(repr(value))
                else:
                    code = compile(ast.Module([stmt], []), filename, "exec")
                    exec(code, ns)  # noqa: S102 - the documentation's own code
        except Exception:
            tb = traceback.format_exc(limit=-3)
            result.problems.append(Problem(f"{b.path.relative_to(ROOT)}:{stmt.lineno}",
                                           f"raised\n{tb}"))
            return False
        if arrow:
            result.checked += 1
            got = capture.getvalue()  # checked here, so not part of the block's output
            if len(got.strip().splitlines()) == 1:
                result.arrows[stmt.end_lineno] = got.strip()
            if _norm(got) != _norm(arrow.group("expected")):
                result.problems.append(Problem(f"{b.path.relative_to(ROOT)}:{stmt.end_lineno}",
                                               "`# ->` output differs",
                                               arrow.group("expected"), got))
    if b.output is not None:
        result.checked += 1
        got = stdout.getvalue()
        result.updates[b.output.start] = got
        if _norm(got) != _norm(b.output.code):
            result.problems.append(Problem(b.output.where, "printed output differs",
                                           b.output.code, got))
    return True


def _is_print(stmt: ast.Expr) -> bool:
    v = stmt.value
    return isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "print"


def check_page(path: Path) -> PageResult:
    """Run and check one page."""
    import chainrule

    result = PageResult(page=str(path.relative_to(ROOT)))
    blocks = parse(path)
    runnable = [b for b in blocks if b.lang == "python" and b.directive is None]
    filename = str(path.relative_to(ROOT))  # messages quote docs/page.md:LINE
    linecache.cache[filename] = (0, None, _page_source(path, runnable), filename)
    ns: dict[str, Any] = {"__name__": "__docs__", "__file__": filename}
    extra = {"chainrule": chainrule, "cr": chainrule}
    old_cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for b in blocks:
            if b.directive is not None:
                name, arg = b.directive
                if name == "no-run":
                    if not arg:
                        result.problems.append(Problem(b.where, "no-run needs a reason"))
                    continue
                result.checked += 1
                try:
                    if arg.startswith("$"):
                        got = _chainrule_show(arg[1:].strip())
                    else:
                        got = eval(arg, ns, extra)  # noqa: S307 - the document's expression
                except Exception as exc:
                    result.problems.append(Problem(b.where, f"output-of {arg!r} raised "
                                                            f"{type(exc).__name__}: {exc}"))
                    continue
                got = str(got)
                result.updates[b.start] = got
                if _norm(got) != _norm(b.code):
                    result.problems.append(Problem(b.where, f"differs from {arg}", b.code, got))
                continue
            if b.lang != "python":
                continue
            result.ran += 1
            if not _run_block(b, ns, filename, result):
                break
    finally:
        os.chdir(old_cwd)
        linecache.cache.pop(filename, None)
    return result


def update(path: Path, result: PageResult) -> bool:
    """Rewrite the output-of blocks and ```text outputs of ``path``; True when it changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, new in result.arrows.items():
        line = lines[lineno - 1]
        m = ARROW.search(line)
        if m:
            lines[lineno - 1] = line[:m.start("expected")] + new
    blocks = {b.start: b for b in parse(path)}
    for start in sorted(result.updates, reverse=True):
        b = blocks[start]
        new = [b.indent + s if s else s for s in _norm(result.updates[start]).splitlines()]
        lines[b.start:b.end - 1] = new
    text = "\n".join(lines) + "\n"
    changed = text != path.read_text(encoding="utf-8")
    if changed:
        path.write_text(text, encoding="utf-8")
    return changed


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    selected = [Path(a).resolve() for a in args if not a.startswith("--")] or pages()
    results = [check_page(p) for p in selected]
    if "--json" in args:
        print(json.dumps([{"page": r.page, "ran": r.ran, "checked": r.checked,
                           "problems": [p.render() for p in r.problems]} for r in results]))
        return 0
    status = 0
    for path, r in zip(selected, results):
        if "--update" in args and update(path, r):
            print(f"updated {r.page}")
        for p in r.problems:
            print(p.render(), end="\n\n")
            status = 1
        print(f"{r.page}: {r.ran} blocks run, {r.checked} outputs checked, "
              f"{len(r.problems)} problems")
    return status


if __name__ == "__main__":
    sys.exit(main())
