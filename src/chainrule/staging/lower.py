"""Lowering: the code of a tape block (and of every function it calls) rewritten to run on
plain NumPy values, with the eager tape's meaning, so the source transformer can
differentiate it.

Inside a staged tape block every Tensor and Variable is replaced by its NumPy value, so the
calls that only make sense on Tensors are rewritten:

* the TensorFlow-named ops (``chainrule.reduce_sum``, ``chainrule.pow``, ``cast``, the
  ``chainrule.nn`` activations, ...) become the NumPy function, operator or primitive the
  tape records for them (:data:`OPS`);
* every way a value leaves the eager tape becomes
  :func:`~chainrule.staging.primitives.stop_gradient_value`, so the derivative is cut
  where the tape cuts it: ``x.numpy()``, ``x.item()``, ``float(x)``, ``int(x)``, the ``math``
  functions, ``np.array``/``np.asarray``, NumPy scalar constructors, ``stop_gradient``;
  an item assignment ``a[i] = v`` keeps the derivative only when ``a`` is a list at run
  time (the tape keeps Tensors stored in lists, and loses those written into arrays);
* a call to a Python function is a call to its lowered copy (made once per function, with
  the same name, compiled from generated source so the source transformer can read it);
  the Tensors and Variables it reads from its module or closure become keyword-only
  parameters (*captures*), passed along by its callers, so reading a Variable inside a
  called function is a source of the tape as it is eagerly.

Guarantees: lowering never changes what is computed, only how derivatives are cut; code
it cannot give the eager meaning to (creating or assigning Variables, custom gradients,
methods of objects, functions held in local variables, ...) raises
:class:`~chainrule.TransformError` with the user's file and line and the advice to run
eagerly. Lowered functions are registered in :mod:`linecache` under names like
``<chainrule staged f #3>``, and :func:`remap_error` turns an error the source transformer
raises on them back into the user's file and line.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import itertools
import linecache
import math
import operator
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gast
import numpy as np

from .. import nn as _nn
from .. import runtime as _runtime
from ..errors import TransformError
from ..rules import registry
from ..tape import custom as _custom
from ..tape import ops as _ops
from ..tape.tape import GradientTape
from ..tape.tensor import Tensor, _TensorLike, constant, convert_to_tensor
from ..tape.variable import Variable
from ..transform.astutil import call, clone, const, name, to_source
from ..transform.emit import Namespace
from ..transform.generate import prepare
from ..transform.parse import UNRESOLVED, Parsed, parse_function
from .primitives import axis_arg, stop_gradient_value

__all__ = ["ADVICE", "staging_error", "remap_error", "compile_generated", "Capture",
           "LoweredCallee", "Lowering", "Lowerer", "OPS", "stored_value"]

ADVICE = ("@chainrule.function cannot stage this; to run the function eagerly instead, "
          "remove the decorator (or call f.python_function(...))")


def staging_error(message: str, filename: str | None = None, lineno: int | None = None,
                  construct: str | None = None) -> TransformError:
    """A :class:`TransformError` whose message ends with the advice to run eagerly."""
    return TransformError(f"{message}. {ADVICE}", filename=filename, lineno=lineno,
                          construct=construct)


def _error(parsed: Parsed, node: Any, message: str, construct: str) -> TransformError:
    lineno = getattr(node, "lineno", None)
    if lineno is None:
        lineno = getattr(parsed.node, "lineno", None)
    return staging_error(message, parsed.filename, lineno, construct)


# ============================================================== generated source files

_FILES: dict[str, tuple[str, dict[int, int]]] = {}
_COUNTER = itertools.count(1)
_LOCK = threading.Lock()


def compile_generated(fdef: Any, namespace: Namespace, origin: str | None, label: str,
                      bind: bool = False) -> Any:
    """Compile the gast ``fdef`` in ``namespace`` from its source, registered in linecache
    under a fresh name, remembering which line of ``origin`` each generated line came from.
    The function's name stays bound in ``namespace`` only with ``bind=True``.
    """
    tree = gast.gast_to_ast(gast.Module(body=[fdef], type_ignores=[]))
    ast.fix_missing_locations(tree)
    source = ast.unparse(tree) + "\n"
    reparsed = ast.parse(source)
    lines: dict[int, int] = {}
    for old, new in zip(ast.walk(tree), ast.walk(reparsed)):
        old_line = getattr(old, "lineno", None)
        new_line = getattr(new, "lineno", None)
        if old_line is not None and new_line is not None and new_line not in lines:
            lines[new_line] = old_line
    with _LOCK:
        n = next(_COUNTER)
    filename = f"<chainrule staged {label} #{n}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    if origin is not None:
        _FILES[filename] = (origin, lines)
    code = compile(source, filename, "exec")
    had = dict.__contains__(namespace, fdef.name)
    previous = dict.get(namespace, fdef.name)
    exec(code, namespace)  # noqa: S102 - generated code
    fn = dict.__getitem__(namespace, fdef.name)
    if not bind:
        if had:
            dict.__setitem__(namespace, fdef.name, previous)
        else:
            dict.__delitem__(namespace, fdef.name)
    fn.__chainrule_staged_source__ = source
    return fn


def compile_closure(fdef: Any, fn: Any, helpers: dict[str, Any], label: str) -> Any:
    """Compile ``fdef`` (the rewritten body of the user's function ``fn``) as a function
    whose globals are ``fn``'s own module globals (a plain dict: live and fast), whose free
    variables are ``fn``'s closure cells (live) and, for the names of ``helpers``, new cells
    holding them. Registered in linecache with its line map, like :func:`compile_generated`.
    """
    code = fn.__code__
    names = sorted(set(code.co_freevars) | set(helpers))
    factory = gast.FunctionDef(
        name="__chainrule_factory__",
        args=gast.arguments(args=[], posonlyargs=[], vararg=None, kwonlyargs=[],
                            kw_defaults=[], kwarg=None, defaults=[]),
        body=([gast.Assign(targets=[gast.Name(id=n, ctx=gast.Store(), annotation=None,
                                              type_comment=None) for n in names],
                           value=gast.Constant(value=None, kind=None), type_comment=None)]
              if names else []) + [fdef, gast.Return(value=gast.Name(
                  id=fdef.name, ctx=gast.Load(), annotation=None, type_comment=None))],
        decorator_list=[], returns=None, type_comment=None, type_params=[])
    gast.copy_location(factory, fdef)
    for sub in factory.body:
        if getattr(sub, "lineno", None) is None:
            gast.copy_location(sub, fdef)
    scratch: dict[str, Any] = {"__builtins__": builtins}
    made = compile_generated(factory, Namespace(scratch), code.co_filename, label, bind=True)
    inner = next(c for c in made.__code__.co_consts if isinstance(c, types.CodeType)
                 and c.co_name == fdef.name)
    own = dict(zip(code.co_freevars, fn.__closure__ or ()))
    cells = tuple(own[n] if n in own else types.CellType(helpers[n])
                  for n in inner.co_freevars)
    wrapper = types.FunctionType(inner, fn.__globals__, fdef.name, fn.__defaults__, cells)
    wrapper.__kwdefaults__ = fn.__kwdefaults__
    wrapper.__chainrule_staged_source__ = to_source(fdef) + "\n"  # shown without the factory
    return wrapper


def remap_error(exc: TransformError, where: tuple[str, int | None] | None = None
                ) -> TransformError:
    """``exc`` with a generated file and line replaced by the user's, plus the advice.
    ``where`` is the user's location to give when the error is in code generated from
    generated code (a nested tape's derivative), which has no line of the user's own."""
    filename, lineno = exc.filename, exc.lineno
    entry = _FILES.get(filename) if filename is not None else None
    if entry is not None:
        filename = entry[0]
        lineno = entry[1].get(lineno, None) if lineno is not None else None
    elif where is not None and (filename is None or filename.startswith("<chainrule")):
        filename, lineno = where
    message = exc.message
    if ADVICE not in message:
        message = f"{message}. {ADVICE}"
    return type(exc)(message, filename=filename, lineno=lineno, construct=exc.construct)


# ===================================================================== captures

@dataclass
class Capture:
    """A Tensor or Variable a lowered function reads from its module or a closure cell."""

    key: tuple[Any, ...]
    label: str
    read: Callable[[], Any]


def _capture_of(fn: Any, var: str) -> Capture | None:
    code = fn.__code__
    if var in code.co_freevars and fn.__closure__:
        cell = fn.__closure__[code.co_freevars.index(var)]

        def read_cell() -> Any:
            return cell.cell_contents

        return Capture(("cell", id(cell)), var, read_cell)
    globs = fn.__globals__
    if var in globs:
        def read_global() -> Any:
            return globs[var]

        return Capture(("global", id(globs), var), var, read_global)
    return None


def _holds_tensors(value: Any) -> bool:
    if isinstance(value, _TensorLike):
        return True
    if type(value) in (list, tuple):
        return any(_holds_tensors(v) for v in value)
    return False


@dataclass
class LoweredCallee:
    """The lowered copy of a user function."""

    original: Any
    fn: Any = None
    captures: list[Capture] = field(default_factory=list)
    params: dict[tuple[Any, ...], str] = field(default_factory=dict)  # capture key -> param
    done: bool = False
    recursive: bool = False
    pending: list[tuple[Namespace, str]] = field(default_factory=list)


# ===================================================================== helpers

def stored_value(container: Any, value: Any) -> Any:
    """What ``container[i] = value`` keeps of ``value``'s derivative on the eager tape: all
    of it in a list, nothing in a NumPy array (the array converts the Tensor)."""
    if type(container) is list:
        return value
    return stop_gradient_value(value)


def _static_value(node: Any) -> Any:
    """The value of a literal argument, or ``UNRESOLVED``."""
    try:
        return ast.literal_eval(gast.gast_to_ast(node))
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return UNRESOLVED


def _is_literal(node: Any) -> bool:
    return _static_value(node) is not UNRESOLVED


_ESCAPE_TYPES = (float, int, complex)
_ARRAY_CONSTRUCTORS = (np.array, np.asarray, np.asanyarray, np.ascontiguousarray)


def _one_of(obj: Any, options: tuple[Any, ...]) -> bool:
    return any(obj is o for o in options)
_ASSIGN_METHODS = {"assign", "assign_add", "assign_sub", "scatter_update", "scatter_add",
                   "scatter_sub", "scatter_nd_update"}
_VALUE_METHODS = {"value", "read_value"}


# ===================================================================== the lowering

class Lowering:
    """State shared by the lowering of one staged function: the lowered callees."""

    def __init__(self) -> None:
        self.callees: dict[Any, LoweredCallee] = {}

    def callee(self, fn: Any, parsed_for_errors: Parsed, node: Any) -> LoweredCallee:
        """The lowered copy of ``fn``, made on first use."""
        entry = self.callees.get(fn)
        if entry is not None:
            if not entry.done:
                entry.recursive = True
            return entry
        entry = LoweredCallee(original=fn)
        self.callees[fn] = entry
        parsed = parse_function(fn)
        fdef = clone(parsed.node)
        if fdef.args.vararg is not None or fdef.args.kwarg is not None:
            raise _error(parsed, fdef, f"{fn.__name__} takes *args or **kwargs; a function "
                         "called inside a staged tape block must name its parameters",
                         "star-args")
        locals_ = _locals_of(fdef)
        free = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load)} - locals_
        taken = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)} | {fdef.name}
        ns = Namespace(fn.__globals__, parsed.closure, _cells(fn), reserved=taken, free=free)
        # Direct captures: free names bound to Tensors/Variables (or lists of them).
        for var in sorted(free):
            value = parsed.resolve(var)
            if value is not UNRESOLVED and _holds_tensors(value):
                cap = _capture_of(fn, var)
                if cap is not None:
                    entry.captures.append(cap)
                    entry.params[cap.key] = var
        lowerer = Lowerer(self, parsed, ns, locals_ | set(entry.params.values()), {},
                          capture_params=entry.params, taken=taken)
        fdef.body = lowerer.body(fdef.body)
        for cap in lowerer.extra_captures:
            if cap.key not in entry.params:
                entry.captures.append(cap)
                entry.params[cap.key] = lowerer.capture_param(cap)
        for cap in entry.captures:
            fdef.args.kwonlyargs.append(gast.Name(id=entry.params[cap.key], ctx=gast.Param(),
                                                  annotation=None, type_comment=None))
            fdef.args.kw_defaults.append(None)
        fdef.decorator_list = []
        fdef.returns = None
        for a in fdef.args.posonlyargs + fdef.args.args + fdef.args.kwonlyargs:
            a.annotation = None
        dict.__setitem__(ns, fdef.name, None)  # bound to the lowered function below
        entry.fn = compile_generated(fdef, ns, parsed.filename, fn.__name__, bind=True)
        if fn.__defaults__ is not None:
            entry.fn.__defaults__ = fn.__defaults__
        if fn.__kwdefaults__:
            entry.fn.__kwdefaults__ = {**fn.__kwdefaults__,
                                       **(entry.fn.__kwdefaults__ or {})}
        entry.done = True
        prepare(parse_function(entry.fn), fn.__name__)  # constructs the transformer rejects
        for pending_ns, bound in entry.pending:
            dict.__setitem__(pending_ns, bound, entry.fn)
        if entry.recursive and entry.captures:
            raise _error(parsed, fdef, f"{fn.__name__} is recursive and reads the Tensors or "
                         f"Variables {[c.label for c in entry.captures]} from outside; pass "
                         "them as arguments", "recursion")
        return entry


def _cells(fn: Any) -> dict[str, Any]:
    if not getattr(fn, "__closure__", None):
        return {}
    return dict(zip(fn.__code__.co_freevars, fn.__closure__))


def _locals_of(fdef: Any) -> set[str]:
    out = set()
    a = fdef.args
    for p in a.posonlyargs + a.args + a.kwonlyargs:
        out.add(p.id)
    for extra in (a.vararg, a.kwarg):
        if extra is not None:
            out.add(extra.id if isinstance(extra, gast.Name) else extra.arg)
    for sub in gast.walk(fdef):
        if isinstance(sub, gast.Name) and isinstance(sub.ctx, (gast.Store, gast.Del)):
            out.add(sub.id)
        elif isinstance(sub, (gast.FunctionDef, gast.ClassDef)) and sub is not fdef:
            out.add(sub.name)
    return out


class Lowerer(gast.NodeTransformer):
    """Lower the statements of one function body (a tape block's, or a callee's).

    ``local_names`` are the names that hold values at run time (never resolved statically);
    ``known`` maps some of them to the objects they are known to hold (the staged
    function's parameters that hold functions). ``capture_params`` maps the captures this
    body already receives as parameters to their names; captures needed by callees and not
    yet received are collected in :attr:`extra_captures` (the caller adds parameters).
    ``variable_inputs`` are local names known to hold Variables at run time.
    """

    def __init__(self, lowering: Lowering, parsed: Parsed, ns: Namespace,
                 local_names: set[str], known: dict[str, Any],
                 capture_params: dict[tuple[Any, ...], str] | None = None,
                 taken: set[str] | None = None, variable_inputs: set[str] | None = None,
                 tape_names: set[str] | None = None) -> None:
        self.lowering = lowering
        self.parsed = parsed
        self.ns = ns
        self.local_names = local_names
        self.known = known
        self.capture_params = capture_params if capture_params is not None else {}
        self.extra_captures: list[Capture] = []
        self.taken = set(taken or ()) | set(local_names)
        self.variable_inputs = variable_inputs or set()
        self.tape_names = tape_names or set()
        self._np: str | None = None

    # ------------------------------------------------------------------ names
    def ref(self, obj: Any, preferred: str) -> Any:
        return name(self.ns.bind(preferred, obj))

    def np_attr(self, attr: str) -> Any:
        if self._np is None:
            self._np = self.ns.bind("np", np)
        return gast.Attribute(value=name(self._np), attr=attr, ctx=gast.Load())

    def stop(self, node: Any) -> Any:
        return call(self.ref(stop_gradient_value, "stop_gradient"), node)

    def capture_param(self, cap: Capture) -> str:
        param = self.capture_params.get(cap.key)
        if param is None:
            base = cap.label
            param = base
            i = 0
            while param in self.taken or param in self.capture_params.values():
                i += 1
                param = f"{base}_{i}"
            self.capture_params[cap.key] = param
            self.taken.add(param)
            self.extra_captures.append(cap)
        return param

    def resolve(self, node: Any) -> Any:
        """The object ``node`` (a name or attribute chain) refers to, or ``UNRESOLVED``."""
        parts = []
        while isinstance(node, gast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, gast.Name):
            return UNRESOLVED
        if node.id in self.local_names:
            obj = self.known.get(node.id, UNRESOLVED)
        else:
            obj = self.parsed.resolve(node.id)
        for attr in reversed(parts):
            if obj is UNRESOLVED:
                return UNRESOLVED
            obj = getattr(obj, attr, UNRESOLVED)
        return obj

    def error(self, node: Any, message: str, construct: str) -> TransformError:
        return _error(self.parsed, node, message, construct)

    # ------------------------------------------------------------------ statements
    def body(self, stmts: list[Any]) -> list[Any]:
        out = []
        for s in stmts:
            new = self.visit(s)
            if new is None:
                continue
            out.extend(new if isinstance(new, list) else [new])
        return out

    def visit_Assign(self, node: Any) -> Any:
        node.value = self.visit(node.value)
        for t in node.targets:
            self._check_target(t)
        if len(node.targets) == 1 and isinstance(node.targets[0], gast.Subscript):
            target = node.targets[0]
            target.slice = self.visit(target.slice)
            node.value = call(self.ref(stored_value, "stored_value"), clone(target.value),
                              node.value)
        return node

    def visit_AugAssign(self, node: Any) -> Any:
        if isinstance(node.target, gast.Subscript):
            raise self.error(node, "an augmented assignment to an item (a[i] += ...) inside a "
                             "staged tape block: the eager tape rejects it for arrays", "item "
                             "assignment")
        self._check_target(node.target)
        node.value = self.visit(node.value)
        return node

    def visit_AnnAssign(self, node: Any) -> Any:
        if node.value is None:
            return None
        return self.visit_Assign(gast.Assign(targets=[node.target], value=node.value,
                                             type_comment=None))

    def _check_target(self, target: Any) -> None:
        if isinstance(target, gast.Attribute):
            raise self.error(target, "assigning an attribute inside a staged tape block",
                             "attribute assignment")
        if isinstance(target, (gast.Tuple, gast.List)):
            for t in target.elts:
                self._check_target(t)

    def visit_Global(self, node: Any) -> Any:
        raise self.error(node, "'global' inside a staged tape block or a function it calls",
                         "global")

    def visit_Nonlocal(self, node: Any) -> Any:
        raise self.error(node, "'nonlocal' inside a staged tape block or a function it calls",
                         "nonlocal")

    def visit_Try(self, node: Any) -> Any:
        raise self.error(node, "'try' inside a staged tape block or a function it calls", "try")

    def visit_With(self, node: Any) -> Any:
        raise self.error(node, "a 'with' statement that is not a GradientTape inside a staged "
                         "tape block or a function it calls", "with")

    def visit_ClassDef(self, node: Any) -> Any:
        raise self.error(node, "a class definition inside a staged tape block", "class")

    def visit_Delete(self, node: Any) -> Any:
        raise self.error(node, "'del' inside a staged tape block or a function it calls", "del")

    # ------------------------------------------------------------------ expressions
    def visit_Call(self, node: Any) -> Any:  # noqa: C901 - one case per kind of callee
        self.generic_visit(node)
        for a in node.args:
            if isinstance(a, gast.Starred):
                raise self.error(node, "a starred argument (*args) inside a staged tape block",
                                 "starred argument")
        for k in node.keywords:
            if k.arg is None:
                raise self.error(node, "a ** argument inside a staged tape block",
                                 "** argument")
        func = node.func
        obj = self.resolve(func)
        if obj is UNRESOLVED and isinstance(func, gast.Attribute):
            return self.method_call(node)
        if obj is UNRESOLVED:
            if isinstance(func, gast.Name) and func.id in self.local_names:
                raise self.error(node, f"calling {func.id!r}, a local variable, inside a staged "
                                 "tape block: the functions a tape block calls are resolved "
                                 "when it is staged; call a module-level function, or pass it "
                                 "as an argument of the staged function", "local callable")
            return node
        if isinstance(obj, _StagedLike):
            obj = obj.python_function
        handler = OPS.get(_key(obj))
        if handler is not None:
            return handler(self, _bind(self, obj, node), node)
        if _one_of(obj, _ESCAPE_TYPES) or obj is builtins.bool:
            if node.args:
                node.args[0] = self.stop(node.args[0])
            return node
        if isinstance(obj, types.BuiltinFunctionType) and getattr(obj, "__module__", "") == \
                "math" or (getattr(obj, "__self__", None) is math):
            node.args = [self.stop(a) for a in node.args]
            return node
        if _one_of(obj, _ARRAY_CONSTRUCTORS) or (isinstance(obj, type) and
                                                 issubclass(obj, np.generic)):
            return self.stop(node)
        if obj is Variable or (isinstance(obj, type) and issubclass(obj, Variable)):
            raise self.error(node, "creating a Variable inside a staged tape block", "Variable")
        if obj is GradientTape:
            raise self.error(node, "a GradientTape that is not the context of a 'with' "
                             "statement (write `with chainrule.GradientTape() as tape:`)",
                             "GradientTape")
        if getattr(obj, "__code__", None) is _CUSTOM_GRADIENT_CODE:
            raise self.error(node, "a chainrule.custom_gradient function inside a staged tape "
                             "block", "custom_gradient")
        if registry.primitive_of(obj) is not None:
            return node
        module = getattr(obj, "__module__", "") or ""
        if module.startswith("numpy") or isinstance(
                obj, (type, np.ufunc, types.BuiltinFunctionType)):
            return node
        if isinstance(obj, types.FunctionType):
            if hasattr(obj, "__wrapped__"):
                raise self.error(node, f"calling {_label(func)}, a decorated function, inside a "
                                 "staged tape block: its decorator would be skipped", "decorator")
            return self.user_call(node, obj)
        raise self.error(node, f"calling {_label(func)}, a method or callable object, inside a "
                         "staged tape block: only functions (def), chainrule ops and NumPy "
                         "functions are staged", "method call")

    def method_call(self, node: Any) -> Any:
        func = node.func
        attr = func.attr
        root = func.value
        while isinstance(root, gast.Attribute):
            root = root.value
        if isinstance(root, gast.Name) and root.id in self.tape_names:
            raise self.error(node, f"{_label(func)}(...) inside the tape's own block: call "
                             "tape.gradient after the 'with' block ends", "tape method")
        if attr == "numpy" and not node.args:
            return self.stop(func.value)
        if attr in ("item", "tolist"):
            func.value = self.stop(func.value)
            return node
        if attr in _VALUE_METHODS and not node.args and not node.keywords:
            return func.value
        if attr in _ASSIGN_METHODS:
            raise self.error(node, f"{_label(func)}(...) assigns a Variable inside a staged tape "
                             "block; assign after the block", "Variable assignment")
        if attr in ("ref", "deref", "experimental_ref"):
            raise self.error(node, f"{_label(func)}() inside a staged tape block", "ref")
        if attr == "get_shape" and not node.args:
            return call(self.np_attr("shape"), func.value)
        return node

    def user_call(self, node: Any, fn: Any) -> Any:
        lowered = self.lowering.callee(fn, self.parsed, node)
        func = node.func
        if isinstance(func, gast.Name) and func.id not in self.local_names:
            bound = func.id
            dict.__setitem__(self.ns, bound, lowered.fn)
        else:
            bound = self.ns.bind(fn.__name__, lowered.fn if lowered.fn is not None else lowered)
        if lowered.fn is None:  # a recursive call: bound once the callee is compiled
            lowered.pending.append((self.ns, bound))
        node.func = name(bound)
        for cap in lowered.captures:
            param = self.capture_param(cap)
            node.keywords.append(gast.keyword(arg=lowered.params[cap.key], value=name(param)))
        return node

    def visit_Lambda(self, node: Any) -> Any:
        self.generic_visit(node)
        return node


class _StagedLike:
    """Marker base class of :class:`chainrule.staging.function.StagedFunction`."""

    python_function: Any


_CUSTOM_GRADIENT_CODE = _custom.custom_gradient(lambda x: (x, None)).__code__


def _label(func: Any) -> str:
    try:
        return ast.unparse(gast.gast_to_ast(func))
    except Exception:  # noqa: BLE001 - a label only
        return "<expression>"


def _key(obj: Any) -> Any:
    try:
        hash(obj)
    except TypeError:
        return None
    return obj if isinstance(obj, (types.FunctionType, type)) else None


def _bind(lw: Lowerer, op: Any, node: Any) -> dict[str, Any]:
    try:
        sig = inspect.signature(op)
        bound = sig.bind(*node.args, **{k.arg: k.value for k in node.keywords})
    except (TypeError, ValueError) as exc:
        raise lw.error(node, f"call to {_label(node.func)}: {exc}", "call") from None
    return dict(bound.arguments)


# ============================================================ the TensorFlow-named ops

Handler = Callable[[Lowerer, dict[str, Any], Any], Any]
OPS: dict[Any, Handler] = {}


def _op(*fns: Any) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for fn in fns:
            OPS[fn] = handler
        return handler
    return register


def _t(lw: Lowerer, node: Any) -> Any:
    """A TF op's argument: a list or tuple literal becomes an array (stacked)."""
    if isinstance(node, (gast.List, gast.Tuple)):
        if _is_literal(node):
            return call(lw.np_attr("asarray"), node)
        return call(lw.np_attr("stack"), gast.List(elts=[_t(lw, e) for e in node.elts],
                                                   ctx=gast.Load()))
    return node


def _axis(lw: Lowerer, node: Any) -> Any:
    if node is None:
        return const(None)
    value = _static_value(node)
    if value is UNRESOLVED:
        return call(lw.ref(axis_arg, "axis_arg"), node)
    return const(axis_arg(value))


def _binary(op: Any) -> Handler:
    def lower(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
        x, y = list(a.values())[:2]
        return gast.BinOp(left=_t(lw, x), op=op(), right=_t(lw, y))
    return lower


_op(_ops.add)(_binary(gast.Add))
_op(_ops.subtract)(_binary(gast.Sub))
_op(_ops.multiply)(_binary(gast.Mult))
_op(_ops.divide)(_binary(gast.Div))
_op(_ops.pow)(_binary(gast.Pow))


@_op(_ops.negative)
def _negative(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    return gast.UnaryOp(op=gast.USub(), operand=_t(lw, a["x"]))


def _numpy_unary(attr: str) -> Handler:
    def lower(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
        return call(lw.np_attr(attr), _t(lw, next(iter(a.values()))))
    return lower


for _fn, _attr in ((_ops.abs, "abs"), (_ops.square, "square"), (_ops.sqrt, "sqrt"),
                   (_ops.exp, "exp"), (_ops.log, "log"), (_ops.sin, "sin"), (_ops.cos, "cos"),
                   (_ops.tan, "tan"), (_ops.tanh, "tanh")):
    _op(_fn)(_numpy_unary(_attr))


def _primitive_unary(prim: Any, label: str) -> Handler:
    def lower(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
        args = list(a.items())
        out = call(lw.ref(prim, label), _t(lw, args[0][1]))
        for k, v in args[1:]:
            out.keywords.append(gast.keyword(arg=k, value=v))
        return out
    return lower


_op(_ops.sigmoid)(_primitive_unary(_ops.sigmoid_value, "sigmoid"))
_op(_nn.relu)(_primitive_unary(_nn.relu_value, "relu"))
_op(_nn.softmax)(_primitive_unary(_nn.softmax_value, "softmax"))
_op(_nn.log_softmax)(_primitive_unary(_nn.log_softmax_value, "log_softmax"))


@_op(_nn.linear)
def _linear(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    return a["x"]


def _numpy_binary(attr: str) -> Handler:
    def lower(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
        x, y = list(a.values())[:2]
        return call(lw.np_attr(attr), _t(lw, x), _t(lw, y))
    return lower


_op(_ops.maximum)(_numpy_binary("maximum"))
_op(_ops.minimum)(_numpy_binary("minimum"))


@_op(_ops.where)
def _where(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    if "x" not in a and "y" not in a:
        return call(lw.np_attr("argwhere"), _t(lw, a["condition"]))
    if "x" not in a or "y" not in a:
        raise lw.error(node, "where: give both x and y, or neither", "call")
    return call(lw.np_attr("where"), _t(lw, a["condition"]), _t(lw, a["x"]), _t(lw, a["y"]))


@_op(_ops.matmul)
def _matmul(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    x, y = _t(lw, a["a"]), _t(lw, a["b"])
    for flag, which in (("transpose_a", "x"), ("transpose_b", "y")):
        if flag in a:
            value = _static_value(a[flag])
            if value is UNRESOLVED:
                raise lw.error(node, f"matmul's {flag} must be a literal True or False in a "
                               "staged tape block", "call")
            if value:
                swapped = call(lw.np_attr("swapaxes"), x if which == "x" else y, const(-1),
                               const(-2))
                if which == "x":
                    x = swapped
                else:
                    y = swapped
    return gast.BinOp(left=x, op=gast.MatMult(), right=y)


def _reduction(attr: str) -> Handler:
    def lower(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
        out = call(lw.np_attr(attr), _t(lw, a["input_tensor"]))
        if "axis" in a:
            out.keywords.append(gast.keyword(arg="axis", value=_axis(lw, a["axis"])))
        if "keepdims" in a:
            out.keywords.append(gast.keyword(arg="keepdims", value=a["keepdims"]))
        return out
    return lower


for _fn, _attr in ((_ops.reduce_sum, "sum"), (_ops.reduce_mean, "mean"),
                   (_ops.reduce_max, "max"), (_ops.reduce_min, "min"),
                   (_ops.reduce_prod, "prod")):
    _op(_fn)(_reduction(_attr))


@_op(_ops.reshape)
def _reshape(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    shape = a["shape"]
    value = _static_value(shape)
    if value is UNRESOLVED:
        shape = call(lw.ref(axis_arg, "axis_arg"), shape)
    else:
        shape = const(tuple(int(s) for s in np.ravel(value)))
    return call(lw.np_attr("reshape"), _t(lw, a["tensor"]), shape)


@_op(_ops.transpose)
def _transpose(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    out = call(lw.np_attr("transpose"), _t(lw, a["a"]))
    if "perm" in a:
        out.args.append(_axis(lw, a["perm"]))
    return out


def _joining(attr: str) -> Handler:
    def lower(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
        values = a["values"]
        if isinstance(values, (gast.List, gast.Tuple)):
            values = gast.List(elts=[_t(lw, v) for v in values.elts], ctx=gast.Load())
        out = call(lw.np_attr(attr), values)
        if "axis" in a:
            out.keywords.append(gast.keyword(arg="axis", value=a["axis"]))
        return out
    return lower


_op(_ops.concat)(_joining("concatenate"))
_op(_ops.stack)(_joining("stack"))


@_op(_ops.cast)
def _cast(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    x = _t(lw, a["x"])
    if not isinstance(x, gast.Call):
        x = call(lw.np_attr("asarray"), x)
    return call(lw.ref(_runtime.astype, "astype"), x, a["dtype"])


def _creation(attr: str, default_dtype: Any = None) -> Handler:
    def lower(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
        first = next(iter(a.values()))
        out = call(lw.np_attr(attr), first)
        dtype = a.get("dtype")
        if dtype is None and default_dtype is not None:
            dtype = lw.np_attr(default_dtype)
        if dtype is not None:
            out.keywords.append(gast.keyword(arg="dtype", value=dtype))
        return call(lw.ref(stop_gradient_value, "stop_gradient"), out) if attr.endswith(
            "_like") else out
    return lower


_op(_ops.ones)(_creation("ones", "float64"))
_op(_ops.zeros)(_creation("zeros", "float64"))
_op(_ops.ones_like)(_creation("ones_like"))
_op(_ops.zeros_like)(_creation("zeros_like"))


@_op(_ops.linspace)
def _linspace(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    out = call(lw.np_attr("linspace"), _t(lw, a["start"]), _t(lw, a["stop"]), a["num"])
    if "axis" in a:
        out.keywords.append(gast.keyword(arg="axis", value=a["axis"]))
    return lw.stop(out)


@_op(_ops.range)
def _range(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    args = [a["start"]]
    if "limit" in a:
        args.append(a["limit"])
        if "delta" in a:
            args.append(a["delta"])
    elif "delta" in a:
        args = [const(0), a["start"], a["delta"]]
    out = call(lw.np_attr("arange"), *args)
    if "dtype" in a:
        out.keywords.append(gast.keyword(arg="dtype", value=a["dtype"]))
    return out


@_op(_ops.clip_by_value)
def _clip(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    return call(lw.np_attr("clip"), _t(lw, a["t"]), _t(lw, a["clip_value_min"]),
                _t(lw, a["clip_value_max"]))


@_op(_ops.stop_gradient)
def _stop(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    return lw.stop(a["input"])


def _eager_constant(lw: Lowerer, fn: Any, a: dict[str, Any]) -> Any:
    """``stop_gradient(chainrule.constant(...))``: a literal made exactly as eagerly."""
    out = call(lw.ref(fn, fn.__name__))
    for k, v in a.items():
        out.keywords.append(gast.keyword(arg=k, value=v))
    return lw.stop(out)


@_op(constant)
def _constant(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    value = a["value"]
    if _is_literal(value) or isinstance(value, (gast.List, gast.Tuple)) or "shape" in a:
        return _eager_constant(lw, constant, a)
    if isinstance(value, gast.Name) and value.id in lw.variable_inputs:
        return lw.stop(value)  # constant(Variable) copies the value: untracked
    return value  # constant(Tensor) is the Tensor itself


@_op(convert_to_tensor)
def _convert(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    value = a["value"]
    if _is_literal(value) or isinstance(value, (gast.List, gast.Tuple)):
        return _eager_constant(lw, convert_to_tensor, a)
    return value


@_op(Tensor)
def _tensor(lw: Lowerer, a: dict[str, Any], node: Any) -> Any:
    return _eager_constant(lw, constant, a)


# ``operator`` functions are their own primitives; the TF ops that only reshape arguments
# are all covered above. Keep the module importable when an op is missing in a variant.
del _fn, _attr
_ = operator
