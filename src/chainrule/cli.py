"""The ``chainrule`` command line: ``chainrule show FILE.py:FUNC [options]``.

Guarantees: prints generated derivative source (syntax-highlighted on a terminal, plain
when piped); every user error (missing file, missing function, code chainrule cannot
differentiate) prints one line to stderr and exits with status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import keyword
import os
import re
import sys
import tokenize
from typing import Any

__all__ = ["main", "load_function", "highlight"]


class CliError(Exception):
    """A user error: printed as one line."""


def load_function(spec: str) -> Any:
    """Import ``FILE.py:FUNC`` and return the function object."""
    if ":" not in spec:
        raise CliError(f"expected FILE.py:FUNCTION, got {spec!r}")
    path, _, func = spec.rpartition(":")
    if not os.path.isfile(path):
        raise CliError(f"no such file: {path}")
    directory = os.path.dirname(os.path.abspath(path))
    name = "_chainrule_cli_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise CliError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    sys.path.insert(0, directory)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's module failed to import: say so in one line
        raise CliError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(directory)
    fn = getattr(module, func, None)
    if fn is None:
        raise CliError(f"{path} defines no function named {func!r}")
    if not callable(fn):
        raise CliError(f"{path}:{func} is not a function")
    return fn


_COLORS = {"comment": "\033[90m", "keyword": "\033[1;35m", "string": "\033[32m",
           "number": "\033[36m", "reset": "\033[0m"}


def highlight(source: str) -> str:
    """ANSI-colour Python source (comments, keywords, strings, numbers)."""
    out = []
    last = (1, 0)
    lines = source.splitlines(keepends=True)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source

    def text_between(a: tuple[int, int], b: tuple[int, int]) -> str:
        if a[0] == b[0]:
            return lines[a[0] - 1][a[1]:b[1]] if a[0] - 1 < len(lines) else ""
        parts = [lines[a[0] - 1][a[1]:]]
        parts += lines[a[0]:b[0] - 1]
        parts.append(lines[b[0] - 1][:b[1]] if b[0] - 1 < len(lines) else "")
        return "".join(parts)

    for tok in tokens:
        if tok.type == tokenize.ENDMARKER:
            break
        out.append(text_between(last, tok.start))
        color = None
        if tok.type == tokenize.COMMENT:
            color = "comment"
        elif tok.type == tokenize.NAME and keyword.iskeyword(tok.string):
            color = "keyword"
        elif tok.type == tokenize.STRING:
            color = "string"
        elif tok.type == tokenize.NUMBER:
            color = "number"
        out.append(f"{_COLORS[color]}{tok.string}{_COLORS['reset']}" if color else tok.string)
        last = tok.end
    out.append(text_between(last, (len(lines), len(lines[-1]) if lines else 0)))
    return "".join(out)


def _argnums(text: str | None) -> Any:
    if text is None:
        return 0
    try:
        nums = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise CliError(f"--argnums expects comma-separated integers, got {text!r}") from None
    return nums[0] if len(nums) == 1 else nums


def show(opts: argparse.Namespace) -> str:
    import chainrule as cr

    fn = load_function(opts.target)
    argnums = _argnums(opts.argnums)
    if opts.stage and opts.stage != "final":
        names = fn.__code__.co_varnames[: fn.__code__.co_argcount]
        nums = argnums if isinstance(argnums, tuple) else (argnums,)
        for a in nums:
            if not -len(names) <= a < len(names):
                raise CliError(f"--argnums {a} is out of range for {fn.__name__}")
        from .transform.stages import stage_source

        return stage_source(fn, opts.stage, [names[a] for a in nums])
    df = fn
    for _ in range(opts.order):
        df = cr.grad(df, argnums=argnums, mode=opts.mode)
    return cr.source(df, standalone=opts.standalone)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chainrule",
                                     description="Show the derivative code chainrule generates.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("show", help="print the generated derivative of FILE.py:FUNC")
    p.add_argument("target", metavar="FILE.py:FUNC")
    p.add_argument("--argnums", help="arguments to differentiate, e.g. 0 or 0,1")
    p.add_argument("--mode", choices=("reverse", "forward"), default="reverse")
    p.add_argument("--order", type=int, default=1, help="derivative order (default 1)")
    p.add_argument("--stage", choices=("parsed", "normalized", "activity", "final"))
    p.add_argument("--standalone", action="store_true",
                   help="print a module that runs with NumPy alone")
    opts = parser.parse_args(argv)
    from .errors import TransformError

    try:
        if opts.order < 1:
            raise CliError("--order must be at least 1")
        text = show(opts)
    except (CliError, TransformError, ValueError, TypeError, NotImplementedError) as exc:
        print(f"chainrule: error: {exc}", file=sys.stderr)
        return 1
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        text = highlight(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
