"""The one derivative-rule registry shared by the source transformer and the tape.

Guarantees:

* A *primitive* is any callable with at least one rule registered or marked
  non-differentiable. It is keyed by object identity, so ``np.sin``, ``math.sin`` and a
  user's function are all primitives alike.
* A VJP rule for argument ``i`` is a plain Python function ``rule(g, ans, *args, **kwargs)``
  taking the upstream cotangent ``g``, the primal output ``ans`` and the primal inputs
  exactly as the primitive receives them; it returns the cotangent of argument ``i``.
  A JVP rule has the same signature where ``g`` is the tangent of argument ``i``; it returns
  that argument's contribution to the output tangent.
* Rule parameters after ``g, ans`` mirror the primitive's parameters by name and default;
  the engines bind the user's arguments to them by name (keyword-only ones by keyword).
* A multi-output primitive (``np.linalg.eigh``, ``np.split``, ...) receives a tuple ``g``,
  one cotangent per output with zeros materialised, and its JVP rules return a tuple of
  output tangents. A list argument has a list cotangent.
* Broadcasting is undone in one place: primitives registered with ``broadcasts=True`` (all
  binary ufuncs by default) have every VJP result passed through
  :func:`chainrule.runtime.unbroadcast` by the engines, and every JVP contribution through
  :func:`chainrule.runtime.broadcast_like`. Rules never do it themselves.
* Rules are short enough to be *inlined*: :meth:`Rule.template` gives the parameter names,
  defaults and the body (one expression, or statements) of the rule as a gast AST, plus the
  objects its free names refer to, so generated code can show the formula itself.
* A missing rule is reported by :class:`~chainrule.errors.MissingRuleError` naming the
  function, the argument and how to register one.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from ..errors import MissingRuleError

__all__ = [
    "Primitive",
    "Rule",
    "RuleTemplate",
    "defvjp",
    "defjvp",
    "nondifferentiable",
    "defmethod",
    "defattr",
    "primitive_of",
    "is_nondifferentiable",
    "method_function",
    "attr_function",
    "registered_primitives",
    "qualified_name",
]


def qualified_name(fn: Any) -> str:
    """A stable human-readable name for a callable: ``numpy.sin``, ``math.exp``, ``mymod.f``."""
    if isinstance(fn, np.ufunc):
        return f"numpy.{fn.__name__}"
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if module.startswith("numpy"):
        for prefix in ("numpy.linalg", "numpy.fft"):
            if module.startswith(prefix):
                return f"{prefix}.{name}"
        return f"numpy.{name}"
    if module == "builtins":
        return name
    if module == "_operator":
        module = "operator"
    return f"{module}.{name}" if module else name


@dataclass
class RuleTemplate:
    """A rule as inlinable source.

    ``params`` are the rule's parameter names in order (``g``, ``ans`` then the primal
    arguments), ``defaults`` maps parameter name to its default value, ``expr`` is the
    returned expression when the body is one ``return`` (else ``None``), ``body`` the
    statements otherwise, and ``free`` maps each free name of the body to its object.
    ``kwonly`` lists the parameters (at the end of ``params``) that are keyword-only: they
    follow ``*varargs`` or a bare ``*`` and never take a positional argument.
    """

    params: list[str]
    defaults: dict[str, Any]
    varargs: str | None
    expr: Any | None
    body: list[Any]
    free: dict[str, Any]
    source: str
    kwonly: list[str] = field(default_factory=list)


@dataclass
class Rule:
    """One VJP or JVP rule of one argument of one primitive."""

    fn: Callable[..., Any]
    kind: str  # "vjp" or "jvp"
    argnum: int
    _template: RuleTemplate | None = field(default=None, repr=False)

    def template(self) -> RuleTemplate:
        if self._template is None:
            self._template = _make_template(self.fn)
        return self._template


@dataclass
class Primitive:
    """Everything the registry knows about one callable."""

    fn: Any
    name: str
    vjps: dict[int, Rule] = field(default_factory=dict)
    jvps: dict[int, Rule] = field(default_factory=dict)
    broadcasts: bool = False
    nondiff: bool = False
    nondiff_args: set[int] = field(default_factory=set)
    builtin: bool = False  # registered by chainrule itself
    _index_args: frozenset[int] | None = field(default=None, repr=False)

    def no_gradient(self, argnum: int) -> bool:
        """Whether argument ``argnum`` carries no gradient: declared so (a ``None`` rule),
        or, for chainrule's own rules, a parameter that holds an axis, a count, a shape, a
        flag, a dtype or a mode (see ``_INDEX_PARAMETERS``) and has no rule."""
        if argnum in self.nondiff_args:
            return True
        if not self.builtin:
            return False
        if self._index_args is None:
            self._index_args = _index_positions(self)
        return argnum in self._index_args

    def vjp(self, argnum: int) -> Rule:
        rule = self.vjps.get(argnum)
        if rule is None:
            raise _missing(self, argnum, "vjp")
        return rule

    def jvp(self, argnum: int) -> Rule:
        rule = self.jvps.get(argnum)
        if rule is None:
            raise _missing(self, argnum, "jvp")
        return rule


_LOCK = threading.RLock()
_PRIMITIVES: dict[int, Primitive] = {}
_KEEPALIVE: dict[int, Any] = {}
_METHODS: dict[str, Any] = {}
_ATTRS: dict[str, Any] = {}


def _missing(prim: Primitive, argnum: int, kind: str) -> MissingRuleError:
    which = "reverse-mode (VJP)" if kind == "vjp" else "forward-mode (JVP)"
    register = "defvjp" if kind == "vjp" else "defjvp"
    slots = ", ".join("None" if i != argnum else "rule" for i in range(argnum + 1))
    return MissingRuleError(
        f"no {which} rule for argument {argnum} of {prim.name}; register one with "
        f"chainrule.{register}({prim.name}, {slots}) where rule(g, ans, *args) returns "
        f"the {'cotangent' if kind == 'vjp' else 'tangent contribution'} of argument {argnum}",
        construct=prim.name,
    )


def _key(fn: Any) -> int:
    return id(fn)


def _entry(fn: Any, name: str | None) -> Primitive:
    with _LOCK:
        prim = _PRIMITIVES.get(_key(fn))
        if prim is None:
            prim = Primitive(fn=fn, name=name or qualified_name(fn), builtin=_BUILTIN)
            _PRIMITIVES[_key(fn)] = prim
            _KEEPALIVE[_key(fn)] = fn
        elif name:
            prim.name = name
        return prim


def _default_broadcasts(fn: Any) -> bool:
    return isinstance(fn, np.ufunc) and fn.nin >= 2


def _register(kind: str, fn: Any, rules: tuple[Any, ...], argnums: Iterable[int] | None,
              broadcasts: bool | None, name: str | None) -> Primitive:
    if not callable(fn):
        raise TypeError(f"chainrule.def{kind}: expected a callable, got {fn!r}")
    positions = list(argnums) if argnums is not None else list(range(len(rules)))
    if len(positions) != len(rules):
        raise ValueError(f"chainrule.def{kind}: {len(rules)} rules for argnums {positions}")
    prim = _entry(fn, name)
    table = prim.vjps if kind == "vjp" else prim.jvps
    with _LOCK:
        for pos, rule in zip(positions, rules, strict=True):
            if rule is None:
                prim.nondiff_args.add(pos)
                continue
            if not callable(rule):
                raise TypeError(f"chainrule.def{kind}: rule for argument {pos} is not callable")
            table[pos] = Rule(fn=rule, kind=kind, argnum=pos)
        prim._index_args = None  # the rules changed
        if broadcasts is not None:
            prim.broadcasts = broadcasts
        elif _default_broadcasts(fn):
            prim.broadcasts = True
        prim.nondiff = False
    return prim


# Parameters of the built-in rules that hold axes, counts, shapes, flags, dtypes, modes or
# output buffers: they never carry a gradient (a value there is an integer, a bool, a string
# or a tuple of those; a threshold such as ``rcond`` changes the result by jumps only).
# Higher-order code reads them from a pullback's saved tuple (the ``axis`` and ``keepdims``
# of a reduction's rule), which makes them look differentiated.
_INDEX_PARAMETERS = frozenset({
    "axis", "axes", "axis1", "axis2", "axisa", "axisb", "axisc", "source", "destination",
    "keepdims", "dtype", "out", "ddof", "order", "casting", "subok", "copy", "device", "ndmin",
    "kind", "side", "stable", "mode", "norm", "k", "n", "s", "offset", "shape", "newshape",
    "reps", "repeats", "shift", "indices_or_sections", "pad_width", "subscripts", "UPLO",
    "upper", "compute_uv", "full_matrices", "hermitian", "returned", "rcond", "rtol"})


def _index_positions(prim: Primitive) -> frozenset[int]:
    """The positions of :data:`_INDEX_PARAMETERS` in ``prim``'s rules that have no rule."""
    out = set()
    for rule in list(prim.vjps.values()) + list(prim.jvps.values()):
        try:
            params = rule.template().params[2:]
        except Exception:  # noqa: BLE001  (no inlinable source: nothing to read)
            continue
        for pos, param in enumerate(params):
            if param in _INDEX_PARAMETERS and pos not in prim.vjps and pos not in prim.jvps:
                out.add(pos)
    return frozenset(out)


def end_builtin_rules() -> None:
    """Called once chainrule's own rules are registered: what users register afterwards is
    taken as written (a missing rule for an argument stays an error)."""
    global _BUILTIN
    _BUILTIN = False


_BUILTIN = True


def defvjp(fn: Any, *rules: Callable[..., Any] | None, argnums: Iterable[int] | None = None,
           broadcasts: bool | None = None, name: str | None = None) -> Primitive:
    """Register reverse-mode rules for ``fn``, one per positional argument.

    ``rules[i]`` is ``rule(g, ans, *args, **kwargs) -> cotangent of argument i`` (or ``None``
    for an argument that carries no gradient). ``argnums`` gives the argument positions
    when they are not ``0, 1, ...``. ``broadcasts=True`` makes the engines undo NumPy
    broadcasting on each result (the default for binary ufuncs).

    Example::

        chainrule.defvjp(np.sin, lambda g, ans, x: g * np.cos(x))
    """
    return _register("vjp", fn, rules, argnums, broadcasts, name)


def defjvp(fn: Any, *rules: Callable[..., Any] | None, argnums: Iterable[int] | None = None,
           broadcasts: bool | None = None, name: str | None = None) -> Primitive:
    """Register forward-mode rules for ``fn``, one per positional argument.

    ``rules[i]`` is ``rule(g, ans, *args, **kwargs) -> contribution of argument i's tangent
    g to the output tangent``. The output tangent is the sum of the contributions.

    Example::

        chainrule.defjvp(np.sin, lambda g, ans, x: g * np.cos(x))
    """
    return _register("jvp", fn, rules, argnums, broadcasts, name)


def nondifferentiable(*fns: Any, name: str | None = None) -> None:
    """Mark callables whose outputs carry no gradient (comparisons, ``np.argmax``, ...)."""
    for fn in fns:
        prim = _entry(fn, name)
        with _LOCK:
            prim.nondiff = True


def defmethod(method: str, fn: Any) -> None:
    """Declare that ``x.method(*args, **kw)`` on an array means ``fn(x, *args, **kw)``."""
    _METHODS[method] = fn


def defattr(attr: str, fn: Any) -> None:
    """Declare that the attribute ``x.attr`` on an array means ``fn(x)``."""
    _ATTRS[attr] = fn


def method_function(method: str) -> Any | None:
    return _METHODS.get(method)


def attr_function(attr: str) -> Any | None:
    return _ATTRS.get(attr)


def primitive_of(fn: Any) -> Primitive | None:
    """The registry entry of ``fn``, or ``None`` when it has none."""
    return _PRIMITIVES.get(_key(fn))


def is_nondifferentiable(fn: Any) -> bool:
    prim = _PRIMITIVES.get(_key(fn))
    return prim is not None and prim.nondiff


def registered_primitives() -> list[Primitive]:
    """All entries, sorted by name (deterministic)."""
    with _LOCK:
        return sorted(_PRIMITIVES.values(), key=lambda p: p.name)


def registered_methods() -> dict[str, Any]:
    return dict(sorted(_METHODS.items()))


def registered_attrs() -> dict[str, Any]:
    return dict(sorted(_ATTRS.items()))


# --------------------------------------------------------------------------- templates

_MODULE_TREES: dict[str, Any] = {}


def _file_tree(filename: str) -> ast.Module | None:
    tree = _MODULE_TREES.get(filename)
    if tree is None:
        lines = linecache.getlines(filename)
        if not lines:
            return None
        try:
            tree = ast.parse("".join(lines))
        except SyntaxError:
            return None
        _MODULE_TREES[filename] = tree
    return tree


_FUNCTION_NODES: dict[tuple[str, int], dict[int, list[Any]]] = {}


def _function_nodes(filename: str, line: int) -> list[Any]:
    """The lambdas and defs of a file that start on ``line`` (a decorated def at its
    decorator's line). Only the top-level statements around ``line`` are searched, each
    once: rule files are long, and a generation reads a few of their rules."""
    tree = _file_tree(filename)
    if tree is None:
        return []
    found: list[Any] = []
    for k, stmt in enumerate(tree.body):
        decorators = getattr(stmt, "decorator_list", None) or []
        first = min([stmt.lineno] + [d.lineno for d in decorators])
        if first > line:
            break
        if (stmt.end_lineno or stmt.lineno) < line:
            continue
        nodes = _FUNCTION_NODES.get((filename, k))
        if nodes is None:
            nodes = {}
            for node in ast.walk(stmt):
                if isinstance(node, ast.Lambda):
                    start = node.lineno
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    start = node.decorator_list[0].lineno if node.decorator_list else \
                        node.lineno
                else:
                    continue
                nodes.setdefault(start, []).append(node)
            _FUNCTION_NODES[(filename, k)] = nodes
        found += nodes.get(line, [])
    return found


def _find_node(fn: Any) -> ast.AST | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    want_lambda = fn.__name__ == "<lambda>"
    params = list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])
    candidates = []
    for node in _function_nodes(code.co_filename, code.co_firstlineno):
        if want_lambda != isinstance(node, ast.Lambda):
            continue
        if not want_lambda and node.name != fn.__name__:
            continue
        args = node.args
        names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        if names == params:
            candidates.append(node)
    if len(candidates) > 1 and hasattr(code, "co_positions"):
        cols = {pos[2] for pos in code.co_positions() if pos[2] is not None}
        narrowed = [c for c in candidates if _body_col(c) in cols]
        if narrowed:
            candidates = narrowed
    if len(candidates) > 1:
        names = set(code.co_names)
        narrowed = [c for c in candidates if _names_in(c) == names]
        if narrowed:
            candidates = narrowed
    return candidates[0] if candidates else None


def _body_col(node: ast.AST) -> int | None:
    body = node.body
    if isinstance(body, list):
        body = body[0]
    return getattr(body, "col_offset", None)


def _names_in(node: ast.AST) -> set[str]:
    out = set()
    for sub in ast.walk(node.body if isinstance(node, ast.Lambda) else ast.Module(node.body, [])):
        if isinstance(sub, ast.Attribute):
            out.add(sub.attr)
        elif isinstance(sub, ast.Name):
            out.add(sub.id)
    return out


def _make_template(fn: Any) -> RuleTemplate:
    node = _find_node(fn)
    if node is None:
        try:
            src = textwrap.dedent(inspect.getsource(fn))
            node = ast.parse(src).body[0]
            if isinstance(node, ast.Expr):
                node = node.value
        except (OSError, TypeError, SyntaxError, IndexError) as exc:
            raise TypeError(
                f"cannot read the source of rule {fn!r}; define rules in a file, not in a REPL"
            ) from exc
    args = node.args
    params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    sig = inspect.signature(fn)
    defaults = {
        k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty
    }
    varargs = args.vararg.arg if args.vararg is not None else None
    if isinstance(node, ast.Lambda):
        expr_ast: ast.AST | None = node.body
        body_ast: list[ast.stmt] = [ast.Return(node.body)]
    else:
        stmts = list(node.body)
        if (stmts and isinstance(stmts[0], ast.Expr) and isinstance(stmts[0].value, ast.Constant)
                and isinstance(stmts[0].value.value, str)):
            stmts = stmts[1:]
        body_ast = stmts
        expr_ast = stmts[0].value if len(stmts) == 1 and isinstance(stmts[0], ast.Return) else None
    module = ast.Module(body=body_ast, type_ignores=[])
    gmod = gast.ast_to_gast(module)
    expr = gmod.body[0].value if expr_ast is not None else None
    free = _free_objects(fn, gmod, set(params) | ({varargs} if varargs else set()))
    return RuleTemplate(
        params=params,
        defaults=defaults,
        varargs=varargs,
        expr=expr,
        body=list(gmod.body),
        free=free,
        source=ast.unparse(node),
        kwonly=[a.arg for a in args.kwonlyargs],
    )


def _free_objects(fn: Any, tree: Any, bound: set[str]) -> dict[str, Any]:
    assigned = set(bound)
    loads: list[str] = []
    for sub in gast.walk(tree):
        if isinstance(sub, gast.Name):
            if isinstance(sub.ctx, (gast.Store, gast.Del)):
                assigned.add(sub.id)
            elif sub.id not in loads:
                loads.append(sub.id)
    closure = {}
    code = fn.__code__
    if fn.__closure__:
        cells = zip(code.co_freevars, fn.__closure__, strict=True)
        closure = {n: c.cell_contents for n, c in cells}
    import builtins

    free = {}
    for name in loads:
        if name in assigned:
            continue
        if name in closure:
            free[name] = closure[name]
        elif name in fn.__globals__:
            free[name] = fn.__globals__[name]
        elif hasattr(builtins, name):
            free[name] = getattr(builtins, name)
        else:
            raise TypeError(f"rule {fn!r} refers to undefined name {name!r}")
    return free
