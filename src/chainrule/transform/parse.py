"""Pass 1, parse: a Python function object to its gast ``FunctionDef`` and its context.

Guarantees after this pass: ``Parsed.node`` is a ``gast.FunctionDef`` (lambdas become a
one-``return`` def), line numbers in the tree are the user's file line numbers, and
``Parsed.resolve(name)`` finds what a free name of the function refers to (closure cell,
module global or builtin) without running the function. Failures raise
:class:`~chainrule.errors.TransformError` with the file and line.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any

import gast

from ..errors import TransformError

__all__ = ["Parsed", "parse_function", "UNRESOLVED"]

UNRESOLVED = object()


@dataclass
class Parsed:
    fn: Any
    node: Any  # gast.FunctionDef
    filename: str
    source: str
    globals: dict[str, Any]
    closure: dict[str, Any] = field(default_factory=dict)

    def resolve(self, name: str) -> Any:
        """The object a free name refers to, or ``UNRESOLVED``."""
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        return UNRESOLVED

    def error(self, message: str, node: Any = None, construct: str | None = None
              ) -> TransformError:
        lineno = getattr(node, "lineno", None) if node is not None else None
        if lineno is None:
            lineno = getattr(self.node, "lineno", None)
        return TransformError(message, filename=self.filename, lineno=lineno,
                              construct=construct)


def _closure_of(fn: Any) -> dict[str, Any]:
    code = fn.__code__
    out = {}
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            out[name] = cell.cell_contents
        except ValueError:  # empty cell: defined later in the enclosing scope
            continue
    return out


def _find_lambda(tree: ast.AST, code: Any) -> ast.Lambda | None:
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda) and node.lineno == code.co_firstlineno:
            a = node.args
            if [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs] == params:
                found.append(node)
    if len(found) > 1 and hasattr(code, "co_positions"):
        cols = {p[2] for p in code.co_positions() if p[2] is not None}
        found = [n for n in found if n.body.col_offset in cols] or found
    return found[0] if len(found) == 1 else None


def parse_function(fn: Any) -> Parsed:
    """Parse ``fn``'s source. Raises ``TransformError`` when there is no usable source."""
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
    if code is None:
        raise TransformError(
            f"{name!r} has no Python source (a built-in or C function); chainrule.grad needs "
            "the source of a Python function, or a rule registered with chainrule.defvjp",
            construct="no source",
        )
    filename = code.co_filename
    if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn) or \
            inspect.isasyncgenfunction(fn):
        kind = "generator" if inspect.isgeneratorfunction(fn) else "coroutine"
        raise TransformError(
            f"{kind} function {name!r} cannot be differentiated; make it return its value",
            filename=filename, lineno=code.co_firstlineno, construct=kind,
        )
    lines = linecache.getlines(filename, fn.__globals__)
    if not lines and not filename.startswith("<") and not os.path.exists(filename):
        raise TransformError(
            f"cannot read the source of {name!r}: its file {filename} no longer exists; "
            "re-import the function from its current file",
            filename=filename, lineno=code.co_firstlineno, construct="no source",
        )
    if not lines:
        raise TransformError(
            f"cannot read the source of {name!r} (defined in {filename}); functions defined "
            "in a REPL or with exec have no source file: put the function in a .py file",
            filename=filename, lineno=code.co_firstlineno, construct="no source",
        )
    if fn.__name__ == "<lambda>":
        try:
            tree = ast.parse("".join(lines))
        except SyntaxError as exc:
            raise TransformError(f"cannot parse {filename}: {exc.msg}", filename=filename,
                                 lineno=exc.lineno, construct="syntax") from None
        lam = _find_lambda(tree, code)
        if lam is None:
            raise TransformError(
                "cannot tell this lambda apart from another one on the same line; "
                "give it its own line or write a def",
                filename=filename, lineno=code.co_firstlineno, construct="lambda",
            )
        fdef = ast.FunctionDef(name="_lambda", args=lam.args,
                               body=[ast.Return(lam.body, lineno=lam.lineno,
                                                col_offset=lam.col_offset)],
                               decorator_list=[], returns=None, type_params=[],
                               lineno=lam.lineno, col_offset=lam.col_offset)
        ast.fix_missing_locations(fdef)
        source = ast.get_source_segment("".join(lines), lam) or ast.unparse(lam)
        node = gast.ast_to_gast(ast.Module(body=[fdef], type_ignores=[])).body[0]
    else:
        try:
            src_lines, start = inspect.getsourcelines(fn)
        except (OSError, TypeError) as exc:
            raise TransformError(
                f"cannot read the source of {name!r}: {exc}; put the function in a .py file",
                filename=filename, lineno=code.co_firstlineno, construct="no source",
            ) from None
        source = textwrap.dedent("".join(src_lines))
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise TransformError(
                f"cannot parse the source of {name!r}: {exc.msg} (did the file change on disk "
                "since the function was defined?)",
                filename=filename, lineno=start, construct="syntax",
            ) from None
        ast.increment_lineno(tree, start - 1)
        fdef = tree.body[0]
        if not isinstance(fdef, (ast.FunctionDef, ast.AsyncFunctionDef)) or \
                fdef.name != fn.__name__:
            raise TransformError(
                f"the source of {name!r} in {filename} does not define it (did the file "
                "change on disk since the function was defined?); reload the module",
                filename=filename, lineno=start, construct="stale source",
            )
        fdef.decorator_list = []
        node = gast.ast_to_gast(ast.Module(body=[fdef], type_ignores=[])).body[0]
    return Parsed(fn=fn, node=node, filename=filename, source=source,
                  globals=fn.__globals__, closure=_closure_of(fn))
