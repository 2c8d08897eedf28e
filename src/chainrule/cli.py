"""The ``chainrule`` command line: ``chainrule show FILE.py:FUNC [options]`` (also
``python -m chainrule show ...``).

Options: ``--argnums 0,1`` (the arguments to differentiate), ``--mode reverse|forward``,
``--order N`` (the derivative of the derivative, N times), ``--stage parsed|normalized|
activity|final`` (a stage of the pipeline instead of the final code), ``--standalone`` (a
module that runs with NumPy alone), ``--html OUT.html`` (the side-by-side page; ``-`` for
standard output).

Guarantees: prints the generated derivative source, syntax-highlighted when standard output
is a terminal (unless ``NO_COLOR`` is set) and plain when piped; every error (missing file,
missing function, a module that fails to import, code chainrule cannot differentiate,
options that do not go together) prints one line, ``chainrule: error: ...``, to standard
error and exits with status 1, never a traceback (``CHAINRULE_DEBUG=1`` shows it).
Output the user's module prints while it is imported goes to standard error, so standard
output holds only the generated code.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["main", "load_function", "highlight", "build_derivative", "CliError"]


class CliError(Exception):
    """A user error: printed as one line."""


def load_function(spec: str) -> Callable[..., Any]:
    """Import ``FILE.py:FUNC`` (``FUNC`` may be dotted: ``Class.method``) and return it."""
    if ":" not in spec:
        raise CliError(f"expected FILE.py:FUNCTION, got {spec!r}")
    path, _, func = spec.rpartition(":")
    if not func:
        raise CliError(f"expected FILE.py:FUNCTION, got {spec!r} (no function name)")
    if not os.path.exists(path):
        raise CliError(f"no such file: {path}")
    if not os.path.isfile(path):
        raise CliError(f"not a file: {path}")
    directory = os.path.dirname(os.path.abspath(path))
    name = "_chainrule_cli_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise CliError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    sys.path.insert(0, directory)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            module_spec.loader.exec_module(module)
    except SystemExit as exc:
        raise CliError(f"importing {path} called sys.exit({exc.code!r})") from None
    except Exception as exc:  # the user's module failed to import: say so in one line
        where = ""
        tb = exc.__traceback__
        while tb is not None:
            if os.path.abspath(tb.tb_frame.f_code.co_filename) == os.path.abspath(path):
                where = f" (line {tb.tb_lineno})"
            tb = tb.tb_next
        raise CliError(f"importing {path} failed{where}: {type(exc).__name__}: {exc}") from None
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)
    obj: Any = module
    for part in func.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise CliError(f"{path} defines no function named {func!r}")
    if not callable(obj):
        raise CliError(f"{path}:{func} is not a function but a {type(obj).__name__} object")
    return obj


def highlight(source: str) -> str:
    """ANSI-colour Python source (comments, keywords, strings, numbers)."""
    from .display.highlight import ansi

    return ansi(source)


def _argnums(text: str | None) -> int | tuple[int, ...]:
    if text is None:
        return 0
    try:
        nums = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise CliError(f"--argnums expects comma-separated integers, got {text!r}") from None
    if not nums:
        raise CliError(f"--argnums expects comma-separated integers, got {text!r}")
    return nums[0] if len(nums) == 1 else nums


def build_derivative(fn: Callable[..., Any], argnums: int | tuple[int, ...] = 0,
                     mode: str = "reverse", order: int = 1) -> Callable[..., Any]:
    """``grad(..., argnums, mode)`` applied ``order`` times to ``fn``; the options of
    ``chainrule show``. ``order`` 0 returns ``fn``."""
    import chainrule as cr

    if order > 1 and not isinstance(argnums, int):
        raise CliError("--order above 1 differentiates one argument; give a single --argnums "
                       "(the gradient with respect to several is a tuple, not a number)")
    df = fn
    for _ in range(order):
        df = cr.grad(df, argnums=argnums, mode=mode)
    return df


def _check_options(opts: argparse.Namespace) -> None:
    if opts.order < 1:
        raise CliError("--order must be at least 1")
    staged = opts.stage is not None and opts.stage != "final"
    if staged and opts.standalone:
        raise CliError(f"--standalone exports the final code; it does not go with "
                       f"--stage {opts.stage}")
    if staged and opts.html:
        raise CliError(f"--html shows the final code; it does not go with --stage {opts.stage}")
    if opts.html and opts.standalone:
        raise CliError("--html and --standalone are two different outputs; choose one")
    if staged and opts.stage == "activity" and opts.mode == "forward":
        raise CliError("--stage activity shows reverse mode's activity analysis; use it "
                       "without --mode forward")


def show(opts: argparse.Namespace) -> str:
    """The text ``chainrule show`` prints (or, with ``--html``, the page)."""
    import chainrule as cr

    _check_options(opts)
    fn = load_function(opts.target)
    argnums = _argnums(opts.argnums)
    if opts.stage is not None and opts.stage != "final":
        # the stage of the function the last differentiation reads: the user's function,
        # or for --order N its derivative of order N - 1
        inner = build_derivative(fn, argnums, opts.mode, opts.order - 1)
        code = getattr(inner, "__code__", None)
        if code is None:
            raise CliError(f"{opts.target} is not a Python function")
        names = code.co_varnames[: code.co_argcount]
        nums = argnums if isinstance(argnums, tuple) else (argnums,)
        for a in nums:
            if not -len(names) <= a < len(names):
                raise CliError(f"--argnums {a} is out of range for {inner.__name__}, which "
                               f"takes {len(names)} positional argument"
                               f"{'' if len(names) == 1 else 's'} ({', '.join(names)})")
        from .transform.stages import stage_source

        return stage_source(inner, opts.stage, [names[a] for a in nums])
    df = build_derivative(fn, argnums, opts.mode, opts.order)
    if opts.html:
        return cr.side_by_side(df)
    return cr.source(df, standalone=opts.standalone)


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``chainrule`` command."""
    p = argparse.ArgumentParser(prog="chainrule",
                                description="Show the derivative code chainrule generates.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("show", help="print the generated derivative of FILE.py:FUNC",
                       description="Print the generated derivative of FUNC in FILE.py.")
    s.add_argument("target", metavar="FILE.py:FUNC")
    s.add_argument("--argnums", metavar="N[,N...]",
                   help="positional arguments to differentiate, e.g. 0 or 0,1 (default 0)")
    s.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                   help="reverse mode (grad, the default) or forward mode (one JVP per input)")
    s.add_argument("--order", type=int, default=1, metavar="N",
                   help="derivative order: 2 is the gradient of the gradient (default 1)")
    s.add_argument("--stage", choices=("parsed", "normalized", "activity", "final"),
                   help="print an intermediate stage of the pipeline instead")
    s.add_argument("--standalone", action="store_true",
                   help="print a module that runs with NumPy alone")
    s.add_argument("--html", metavar="OUT.html",
                   help="write a self-contained page with the function and its derivative "
                        "side by side ('-' for standard output)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    opts = parser().parse_args(argv)
    from .errors import TransformError

    try:
        text = show(opts)
        if opts.html and opts.html != "-":
            try:
                with open(opts.html, "w", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError as exc:
                raise CliError(f"cannot write {opts.html}: {exc.strerror or exc}") from None
            print(f"chainrule: wrote {opts.html}", file=sys.stderr)
            return 0
    except (CliError, TransformError, ValueError, TypeError, NotImplementedError) as exc:
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug in chainrule: still one line, with how to see more
        if os.environ.get("CHAINRULE_DEBUG"):
            raise
        print(f"chainrule: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with "
              "CHAINRULE_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return 1
    if not opts.html and sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        text = highlight(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
