"""Pass 9, emit: generated gast to Python source, and source to a live function.

Guarantees: source is produced by the standard library's ``ast.unparse`` (never
astunparse, which writes invalid code for ``x[1:2, ...]`` on Python 3.11), with the
``# grad of:`` markers turned into comments; the same tree always gives the same text.
Compiled functions carry their source in :mod:`linecache`, so ``inspect.getsource`` and
tracebacks show generated lines. A generated function's globals are a :class:`Namespace`:
chainrule's own bindings first, then the user's module globals and closure cells, read
live, so a global the user rebinds later is seen by the generated code.
"""

from __future__ import annotations

import ast
import builtins
import itertools
import linecache
import threading
import types
from typing import Any

import gast

from .. import runtime
from .astutil import to_source

__all__ = ["Namespace", "render", "compile_function", "COMMENT_TAG"]

COMMENT_TAG = "__comment__"


class Namespace(dict):
    """Globals of generated code: own bindings, then the user's globals and closure, live."""

    def __init__(self, user_globals: dict[str, Any], closure: dict[str, Any] | None = None,
                 cells: dict[str, Any] | None = None, reserved: set[str] | None = None,
                 free: set[str] | None = None) -> None:
        super().__init__()
        self.user_globals = user_globals
        self.closure = dict(closure or {})
        self.cells = dict(cells or {})
        self.reserved = reserved if reserved is not None else set()  # live: local names
        self.free = set(free or ())  # names the user's code reads from its globals
        self.rules: dict[str, Any] = {}
        # how many times the code being generated has been through reverse mode already
        self.depth = getattr(user_globals, "depth", -1) + 1
        self["__builtins__"] = builtins
        if "__name__" in user_globals:
            self["__name__"] = user_globals["__name__"]

    def __missing__(self, key: str) -> Any:
        cell = self.cells.get(key)
        if cell is not None:
            try:
                return cell.cell_contents
            except ValueError:
                pass
        if key in self.user_globals:
            return self.user_globals[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.cells or key in self.user_globals

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def lookup(self, key: str) -> Any:
        return self[key]

    def _user_value(self, key: str) -> Any:
        if key in self.cells or key in self.user_globals:
            return self.__missing__(key)
        if hasattr(builtins, key):
            return getattr(builtins, key)
        return _ABSENT

    def bind(self, preferred: str, obj: Any) -> str:
        """Bind ``obj`` under ``preferred`` (or a fresh variant) and return the name used."""
        for i in itertools.count():
            cand = preferred if i == 0 else f"{preferred}_{i}"
            if dict.__contains__(self, cand):
                if dict.__getitem__(self, cand) is obj:
                    return cand
                continue
            if cand in self.reserved and cand not in self.free:
                continue
            user = self._user_value(cand)
            if user is not _ABSENT and user is not obj:
                continue
            dict.__setitem__(self, cand, obj)
            return cand
        raise AssertionError("unreachable")

    def runtime(self, helper: str) -> Any:
        return gast.Name(id=self.bind(helper, getattr(runtime, helper)), ctx=gast.Load(),
                         annotation=None, type_comment=None)

    def bind_rule(self, rule: Any, prim: Any) -> str:
        base = "vjp_" if rule.kind == "vjp" else "jvp_"
        base += "".join(c if c.isalnum() else "_" for c in prim.name) + f"_{rule.argnum}"
        bound = self.bind(base, rule.fn)
        self.rules[bound] = rule
        return bound


_ABSENT = object()
_COUNTER = itertools.count(1)
_LOCK = threading.Lock()


def render(fdef: Any) -> str:
    """Source text of a generated FunctionDef, with ``# grad of:`` comments."""
    text = to_source(fdef)
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.lstrip("'\"").startswith(COMMENT_TAG) and stripped[0] in "'\"":
            indent = line[: len(line) - len(line.lstrip())]
            body = ast.literal_eval(stripped)[len(COMMENT_TAG):].split("|", 1)[-1]
            out.append(f"{indent}# grad of: {body}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def compile_function(source: str, name: str, namespace: Namespace, label: str) -> Any:
    """Compile ``source`` (one ``def name``) in ``namespace``; register it with linecache."""
    with _LOCK:
        n = next(_COUNTER)
    filename = f"<chainrule {label} #{n}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    code = compile(source, filename, "exec")
    exec(code, namespace)  # noqa: S102 - generated code, the point of this library
    fn = dict.__getitem__(namespace, name)
    fn.__chainrule_source__ = source
    fn._repr_html_ = types.MethodType(_repr_html, fn)  # notebooks: chainrule.display
    return fn


def _repr_html(fn: Any) -> str:
    from ..display import function_html

    return function_html(fn)
