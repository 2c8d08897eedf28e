"""``@chainrule.function``: stage tape code into generated adjoint source (TF's ``tf.function``
with AutoGraph, for the GradientTape API).

At the first call with a new *input signature* the function is *traced*: its source is
parsed, every ``with <...>.GradientTape(...) as tape:`` block is planned (:mod:`.blocks`), and
a *wrapper* is compiled — the function's own code, with each tape block replaced by a call
to a :class:`~chainrule.staging.tape.StagedBlock` that runs generated code and binds the
block's results and a :class:`~chainrule.staging.tape.StagedTape`. Everything outside the
blocks (loops around them, ``Variable.assign_sub``, printing) runs as the Python it is, on
the real Tensors and Variables, but for training steps: ``opt.apply_gradients`` of staged
gradients goes through ``apply_checked``, and a ``for`` loop of a block, its gradient and
``apply_gradients`` becomes one ``StagedBlock.fused_loop`` call (see their docstrings).

Guarantees:

* The same results as calling the function eagerly (values, dtypes, ``None`` for
  unconnected sources, the same exceptions for misuse of a tape), with nothing recorded on
  any tape at run time. Code the stager cannot give the same meaning raises
  :class:`~chainrule.TransformError` at the first call (or the first run of a block), with
  the file, line and construct, and the advice to run eagerly.
* Staged code is cached per input signature, like ``tf.function``: Tensors, Variables and
  arrays by type, shape and dtype; Python scalars (``bool``, ``int``, ``float``, ``str``,
  ``None``) by value; lists, tuples and dicts element by element; other objects by
  identity. :meth:`StagedFunction.experimental_get_tracing_count` counts the traces.
* Called while an eager GradientTape records (e.g. as the loss of ``optimizer.minimize``),
  the function runs eagerly, so that tape sees its operations.
* ``chainrule.source(f)`` shows the code of the latest trace: the wrapper, each block's
  extracted function and its generated forward/backward pair with ``# grad of:`` comments.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import gast
import numpy as np

from ..errors import TransformError
from ..optimizers import Optimizer
from ..tape.state import STATE
from ..tape.tape import GradientTape
from ..tape.tensor import Tensor, _TensorLike
from ..tape.variable import Variable
from ..transform.astutil import call, clone, const, name, store
from ..transform.emit import Namespace
from ..transform.parse import UNRESOLVED, parse_function
from .analysis import loads, stores, tape_call_parts
from .blocks import GRADIENT_METHODS, Block, Stager, _chain, split_tape_with, tape_items
from .lower import Lowerer, Lowering, _StagedLike, compile_closure, remap_error, staging_error
from .tape import StagedBlock, apply_checked, tape_options

__all__ = ["function", "StagedFunction", "ConcreteFunction"]

F = TypeVar("F", bound=Callable[..., Any])
_TAPE_METHODS_AFTER = set(GRADIENT_METHODS) | {"watched_variables"}


# ====================================================================== signatures

def _signature(value: Any, keep: list[Any]) -> Any:
    t = type(value)
    if t is Tensor:
        return ("T", value._value.shape, value._value.dtype)
    if isinstance(value, Variable):
        return ("V", value._value.shape, value._value.dtype, value._trainable)
    if t is np.ndarray:
        return ("A", value.shape, value.dtype)
    if isinstance(value, np.generic):
        return ("S", value.dtype, value.item())
    if t in (bool, int, float, complex, str) or value is None:
        return (t, value)
    if t in (list, tuple):
        return (t, tuple(_signature(v, keep) for v in value))
    if t is dict:
        try:
            items = sorted(value.items())
        except TypeError:
            items = list(value.items())
        return (t, tuple((k, _signature(v, keep)) for k, v in items))
    keep.append(value)
    return ("id", id(value))


# Arguments whose signature is fixed for the object's lifetime: Tensors and Variables keep
# their shape, dtype (and trainability), and Python numbers and strings are immutable.
_FIXED_KINDS = (Tensor, Variable, bool, int, float, complex, str, type(None))


# ====================================================================== traces

@dataclass
class ConcreteFunction:
    """One trace of a staged function: its wrapper and blocks."""

    wrapper: Any
    blocks: list[StagedBlock]
    stager: Stager
    wrapper_source: str
    keep: list[Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.wrapper(*args, **kwargs)

    def source(self) -> str:
        parts = [self.wrapper_source]
        for block in self.blocks:
            for spec in block.block.specs.values():
                parts += spec.sources_text
        parts += [s for s in self.stager.sources if s not in parts]
        return "\n\n".join(p.rstrip("\n") + "\n" for p in parts)


class _SourceItem:
    def __init__(self, source: str) -> None:
        self.source = source


class _SourceView:
    """What :func:`chainrule.source` reads of a staged function."""

    def __init__(self, text: str) -> None:
        self.generated = [_SourceItem(text)]


class StagedFunction(_StagedLike):
    """A function decorated with :func:`chainrule.function`."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not inspect.isfunction(fn):
            raise TypeError(f"chainrule.function stages Python functions (def); got "
                            f"{type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self.python_function = fn
        self._concrete: dict[Any, ConcreteFunction] = {}
        self._latest: ConcreteFunction | None = None
        self._count = 0
        self._lock = threading.RLock()
        self._lowering = Lowering()
        # the arguments of the last call and their trace, when every argument is an object
        # whose signature cannot change (see _FIXED_KINDS)
        self._last_call: tuple[tuple[Any, ...], ConcreteFunction] | None = None

    def __repr__(self) -> str:
        return f"<chainrule.function {self.python_function.__qualname__}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return types.MethodType(self, obj)

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if STATE.ctx[0]:  # an eager tape records: let it see the operations
            return self.python_function(*args, **kwargs)
        concrete = self.get_concrete_function(*args, **kwargs)
        return concrete.wrapper(*args, **kwargs)

    def get_concrete_function(self, *args: Any, **kwargs: Any) -> ConcreteFunction:
        """The trace for these arguments (traced now if it is new)."""
        last = self._last_call
        if last is not None and not kwargs and len(args) == len(last[0]):
            for a, b in zip(args, last[0]):
                if a is not b:
                    break
            else:  # the very objects of the last call, none of which can change kind
                self._latest = last[1]
                return last[1]
        keep: list[Any] = []
        key = (_signature(args, keep), _signature(kwargs, keep)) if args or kwargs else ()
        concrete = self._concrete.get(key)
        if concrete is None:
            with self._lock:
                concrete = self._concrete.get(key)
                if concrete is None:
                    concrete = self._trace(args, kwargs, keep)
                    self._concrete[key] = concrete
                    self._count += 1
        self._latest = concrete
        if not kwargs and all(type(a) in _FIXED_KINDS for a in args):
            self._last_call = (args, concrete)
        return concrete

    def experimental_get_tracing_count(self) -> int:
        """How many times the function was traced (one per new input signature)."""
        return self._count

    @property
    def __chainrule_request__(self) -> _SourceView:
        if self._latest is None:
            raise TypeError(f"chainrule.source: {self.python_function.__qualname__} has not been "
                            "called yet; it is staged at its first call (per input signature)")
        return _SourceView(self._latest.source())

    # ------------------------------------------------------------------ tracing
    def _trace(self, args: tuple[Any, ...], kwargs: dict[str, Any], keep: list[Any]
               ) -> ConcreteFunction:
        fn = self.python_function
        try:
            return _Tracer(fn, args, kwargs, self._lowering, keep).trace()
        except TransformError as exc:
            raise remap_error(exc) from None


@overload
def function(func: F) -> StagedFunction: ...


@overload
def function(func: None = None) -> Callable[[F], StagedFunction]: ...


def function(func: Any = None) -> Any:
    """Stage ``func``'s GradientTape blocks into generated derivative code (``tf.function``).

    Use as ``@chainrule.function`` or ``@chainrule.function()``. See
    :mod:`chainrule.staging.function` for the guarantees and ``docs/function.md`` for
    what is supported.
    """
    if func is None:
        return StagedFunction
    return StagedFunction(func)


# ====================================================================== the tracer

def _is_static_object(value: Any) -> bool:
    """Objects a block refers to by name (modules, functions, classes), not values."""
    if isinstance(value, _TensorLike):
        return False
    return isinstance(value, (types.ModuleType, type)) or (
        callable(value) and not isinstance(value, (list, tuple, dict, np.ndarray)))


class _Tracer:
    def __init__(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 lowering: Lowering, keep: list[Any]) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.lowering = lowering
        self.keep = keep

    def trace(self) -> ConcreteFunction:
        fn = self.fn
        parsed = parse_function(fn)
        self.parsed = parsed
        fdef = clone(parsed.node)
        for sub in gast.walk(fdef):
            if isinstance(sub, (gast.Global, gast.Nonlocal)):
                kind = "global" if isinstance(sub, gast.Global) else "nonlocal"
                raise self.error(sub, f"'{kind}' in a staged function", kind)
        if "__class__" in fn.__code__.co_freevars:
            raise self.error(fdef, "super() (or __class__) in a staged function", "super")
        a = fdef.args
        params = {p.id for p in a.posonlyargs + a.args + a.kwonlyargs}
        for extra in (a.vararg, a.kwarg):
            if extra is not None:
                params.add(extra.id)
        self.local_names = params | stores(fdef.body)
        known = self._known(params, fdef)
        taken = {n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)} | {fdef.name}
        free = loads(fdef) - self.local_names
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        self.ns = Namespace(fn.__globals__, parsed.closure, cells, reserved=taken, free=free)
        block_ns = Namespace(fn.__globals__, parsed.closure, cells, reserved=taken, free=free)
        self.stager = Stager(parsed, self.ns, self.lowering, known, fn.__name__, block_ns)
        self.fdef = fdef
        self.blocks: list[StagedBlock] = []
        self.tape_names: set[str] = set()
        self._fused: dict[int, Block] = {}  # id of a fused statement -> its block
        self._applies: dict[int, tuple[Any, ...]] = {}  # id of an apply_checked `if` -> parts
        self._namer = _fresh_names(self.local_names | taken)
        fdef.body = self.statements(fdef.body)
        fdef.body = self.training_steps(fdef.body, False)
        self._check_tape_uses(fdef)
        fdef.decorator_list = []
        fdef.returns = None
        for p in a.posonlyargs + a.args + a.kwonlyargs:
            p.annotation = None
        helpers = {k: v for k, v in dict.items(self.ns)
                   if k not in ("__builtins__", "__name__")}
        wrapper = compile_closure(fdef, fn, helpers, fn.__name__)
        # Specialise each block for the kinds this call will most likely bring, so that
        # code the source transformer rejects is reported now, at the first call.
        return ConcreteFunction(wrapper, self.blocks, self.stager,
                                wrapper.__chainrule_staged_source__, self.keep)

    def error(self, node: Any, message: str, construct: str) -> TransformError:
        return staging_error(message, self.parsed.filename, getattr(node, "lineno", None),
                             construct)

    def _known(self, params: set[str], fdef: Any) -> dict[str, Any]:
        """Parameters holding functions, never reassigned: callable in a tape block."""
        try:
            bound = inspect.signature(self.fn).bind(*self.args, **self.kwargs)
            bound.apply_defaults()
        except TypeError:
            return {}
        assigned = stores(fdef.body)
        out = {}
        for k, v in bound.arguments.items():
            if k in params and k not in assigned and _is_static_object(v) and \
                    not isinstance(v, Optimizer):
                out[k] = v
        return out

    # ------------------------------------------------------------------ statements
    def statements(self, stmts: list[Any], extra_after: set[str] | None = None) -> list[Any]:
        out: list[Any] = []
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if isinstance(s, gast.With) and len(s.items) == 1 and i + 1 < len(stmts):
                items = tape_items(self.stager, s, self.local_names)
                if items and self._fusable(s, items[0][1], stmts[i + 1]):
                    out += self.tape_block(s, items[0], extra_after, fuse=stmts[i + 1])
                    i += 2
                    continue
            if isinstance(s, gast.With) and extra_after:
                items = tape_items(self.stager, s, self.local_names)
                if items:
                    out += self.tape_block(split_tape_with(self.stager, s, self.local_names),
                                           items[0], extra_after)
                    i += 1
                    continue
            out += self.statement(s)
            i += 1
        return out

    def _fusable(self, block_node: Any, tape: str | None, nxt: Any) -> bool:
        """``nxt`` is ``x = tape.gradient(...)`` and the tape is used nowhere else: the block
        and the gradient run as one call (no StagedTape is bound)."""
        if tape is None or not (isinstance(nxt, gast.Assign) and len(nxt.targets) == 1 and
                                tape_call_parts(nxt.value) == (tape, "gradient")):
            return False
        grad_call = nxt.value
        allowed = {id(grad_call.func.value)}
        for st in block_node.body:
            if isinstance(st, gast.Expr) and tape_call_parts(st.value) == (tape, "watch"):
                allowed.add(id(st.value.func.value))
        for sub in gast.walk(self.fdef):
            if isinstance(sub, gast.Name) and sub.id == tape and \
                    not isinstance(sub.ctx, gast.Store) and id(sub) not in allowed:
                return False
        names = ["target", "sources", "output_gradients", "unconnected_gradients"]
        if len(grad_call.args) > len(names) or any(
                isinstance(a, gast.Starred) for a in grad_call.args) or any(
                k.arg not in names for k in grad_call.keywords):
            return False
        bound = dict(zip(names, grad_call.args))
        for k in grad_call.keywords:
            if k.arg in bound:
                return False
            bound[k.arg] = k.value
        if "target" not in bound or "sources" not in bound:
            return False
        assigned = stores(block_node.body)
        targets = _names_in(bound["target"])
        if not targets or not _is_name_structure(bound["target"]) or \
                any(t not in assigned for t in targets):
            return False
        for key in ("sources", "output_gradients", "unconnected_gradients"):
            expr = bound.get(key)
            if expr is None:
                continue
            if loads(expr) & assigned or any(isinstance(sub, (gast.Call, gast.Lambda))
                                             for sub in gast.walk(expr)):
                return False
        return True

    def statement(self, s: Any) -> list[Any]:
        if isinstance(s, gast.With):
            items = tape_items(self.stager, s, self.local_names)
            if items:
                s = split_tape_with(self.stager, s, self.local_names)
                return self.tape_block(s, items[0])
            for item in s.items:
                value = self.stager.resolve(item.context_expr, set())
                if isinstance(item.context_expr, gast.Name) and isinstance(
                        self.stager.known.get(item.context_expr.id), GradientTape):
                    raise self.error(s, "entering a GradientTape passed as an argument",
                                     "GradientTape")
                del value
            s.body = self.statements(s.body)
            return [s]
        minimized = self.minimize(s)
        if minimized is not None:
            return self.statements(minimized, extra_after=loads(minimized[2:]))
        checked = self.apply_gradients(s)
        if checked is not None:
            return [checked]
        for field_name in ("body", "orelse", "finalbody"):
            sub = getattr(s, field_name, None)
            if isinstance(sub, list) and not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                setattr(s, field_name, self.statements(sub))
        if isinstance(s, gast.Try):
            for h in s.handlers:
                h.body = self.statements(h.body)
        if isinstance(s, (gast.FunctionDef, gast.ClassDef, gast.Lambda)):
            for sub in gast.walk(s):
                if isinstance(sub, gast.With) and tape_items(self.stager, sub, set()):
                    raise self.error(sub, "a GradientTape block inside a function defined in the "
                                     "staged function; decorate that function instead",
                                     "nested def")
        return [s]

    def _after_loads(self, block_node: Any) -> set[str]:
        inside = {id(n) for n in gast.walk(block_node)}
        return {n.id for n in gast.walk(self.fdef) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load) and id(n) not in inside}

    def candidate(self, n: str) -> bool:
        if n in self.local_names:
            return n not in self.stager.known
        value = self.parsed.resolve(n)
        return value is not UNRESOLVED and not _is_static_object(value)

    def tape_block(self, s: Any, item: tuple[Any, str | None],
                   extra_after: set[str] | None = None, fuse: Any = None) -> list[Any]:
        options, tape = item
        after = self._after_loads(s) | (extra_after or set())
        if fuse is not None:
            after |= loads(fuse)
        block = Block(self.stager, s, options, tape, self.candidate, after)
        block.targets = set()
        if tape is not None:
            self.tape_names.add(tape)
            calls = [sub for sub in gast.walk(self.fdef)
                     if tape_call_parts(sub) in [(tape, m) for m in GRADIENT_METHODS]
                     and self._refers_to_block(sub, s, tape)]
            if fuse is not None:
                calls.append(fuse.value)
            for sub in calls:
                if any(sub is n for n in gast.walk(s)):
                    continue
                src = sub.args[1] if len(sub.args) > 1 else next(
                    (k.value for k in sub.keywords if k.arg in ("sources", "source")), None)
                for n in _names_in(src):
                    if n in block.assigned:
                        block.request_probe(n, sub)
                target = sub.args[0] if sub.args else next(
                    (k.value for k in sub.keywords if k.arg == "target"), None)
                names = _names_in(target)
                if target is None or not _is_name_structure(target) or \
                        any(n not in block.assigned for n in names):
                    block.targets = None  # maybe another name for an output: all of them
                elif block.targets is not None:
                    block.targets |= set(names)
        block.captures = self.discover_captures(block)
        block.check()
        staged = StagedBlock(block)
        self.blocks.append(staged)
        block_name = self.ns.bind(f"run_{block.label}", staged)
        options_name = self.ns.bind("tape_options", tape_options)
        opts = gast.Call(func=name(options_name), args=list(options.args),
                         keywords=list(options.keywords))
        watches = gast.Tuple(elts=[clone(w) for w in block.entry_watches], ctx=gast.Load())
        if fuse is not None:
            return [self._fused_statement(s, block, block_name, opts, watches, fuse)]
        call_node = call(name(block_name), opts, watches, *[name(n) for n in block.inputs])
        tape_target = store(tape) if tape is not None else store(self.ns.bind("_", None))
        if block.outputs:
            target = gast.Tuple(elts=[tape_target, gast.Tuple(
                elts=[store(n) for n in block.outputs], ctx=gast.Store())], ctx=gast.Store())
            stmt = gast.Assign(targets=[target], value=call_node, type_comment=None)
        else:
            stmt = gast.Assign(targets=[tape_target], value=gast.Subscript(
                value=call_node, slice=const(0), ctx=gast.Load()), type_comment=None)
        gast.copy_location(stmt, s)
        return [stmt]

    def _fused_statement(self, s: Any, block: Block, block_name: str, opts: Any,
                         watches: Any, fuse: Any) -> Any:
        grad_call = fuse.value
        names = ["target", "sources", "output_gradients", "unconnected_gradients"]
        bound = dict(zip(names, grad_call.args))
        bound.update({k.arg: k.value for k in grad_call.keywords})

        def positions(node: Any) -> Any:
            if isinstance(node, gast.Name):
                return const(block.outputs.index(node.id))
            return type(node)(elts=[positions(e) for e in node.elts], ctx=gast.Load())

        method = gast.Attribute(value=name(block_name), attr="fused", ctx=gast.Load())
        args = [opts, watches, gast.Tuple(elts=[name(n) for n in block.inputs], ctx=gast.Load()),
                positions(bound["target"]), bound["sources"]]
        keywords = [gast.keyword(arg=k, value=bound[k])
                    for k in ("output_gradients", "unconnected_gradients") if k in bound]
        outs = gast.Tuple(elts=[store(n) for n in block.outputs], ctx=gast.Store())
        stmt = gast.Assign(targets=[gast.Tuple(elts=[outs, fuse.targets[0]], ctx=gast.Store())],
                           value=gast.Call(func=method, args=args, keywords=keywords),
                           type_comment=None)
        gast.copy_location(stmt, s)
        self._fused[id(stmt)] = block
        return stmt

    def _refers_to_block(self, node: Any, block_node: Any, tape: str) -> bool:
        """Whether a call on ``tape`` may be on this block's tape: when several blocks bind
        the name, the calls between this block and the next one binding it."""
        starts = sorted(getattr(w, "lineno", 0) or 0 for w in gast.walk(self.fdef)
                        if isinstance(w, gast.With) and any(
                            isinstance(i.optional_vars, gast.Name) and i.optional_vars.id == tape
                            for i in w.items))
        if len(starts) <= 1:
            return True
        here = getattr(block_node, "lineno", 0) or 0
        later = [x for x in starts if x > here]
        line = getattr(node, "lineno", 0) or 0
        return here < line and (not later or line < later[0])

    def discover_captures(self, block: Block) -> list[Any]:
        """The Tensors and Variables the functions called in ``block`` read from outside
        (and an early check of everything the lowering rejects)."""
        lowerer = Lowerer(self.lowering, self.parsed, self.stager.block_ns,
                          set(block.inputs) | stores(block.body) | self.local_names,
                          self.stager.known, capture_params={}, tape_names=set())
        tapes = {block.tape} if block.tape else set()

        def walk(stmts: list[Any]) -> None:
            for st in stmts:
                if isinstance(st, gast.With):
                    for item in st.items:
                        if isinstance(item.optional_vars, gast.Name):
                            tapes.add(item.optional_vars.id)
                    walk(st.body)
                    continue
                if isinstance(st, (gast.If, gast.For, gast.While)):
                    for expr in (getattr(st, "test", None), getattr(st, "iter", None)):
                        if expr is not None:
                            lowerer.visit(clone(expr))
                    walk(st.body)
                    walk(st.orelse)
                    continue
                if any(tape_call_parts(sub) is not None and tape_call_parts(sub)[0] in tapes
                       for sub in gast.walk(st)):
                    continue
                lowerer.visit(clone(st))

        walk(block.body)
        return list(lowerer.extra_captures)

    # ------------------------------------------------------------------ minimize
    def minimize(self, s: Any) -> list[Any] | None:
        """``optimizer.minimize(loss, var_list)`` as a staged tape block, when the optimizer
        is a chainrule optimizer known when tracing and ``loss`` a function."""
        value = s.value if isinstance(s, (gast.Expr, gast.Assign)) else None
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
                and value.func.attr == "minimize"):
            return None
        opt = self.stager.resolve(value.func.value, self.local_names)
        if not isinstance(opt, Optimizer) or type(opt).minimize is not Optimizer.minimize:
            return None
        try:
            bound = inspect.signature(Optimizer.minimize).bind(
                None, *value.args, **{k.arg: k.value for k in value.keywords})
        except TypeError:
            return None
        if "tape" in bound.arguments or "loss" not in bound.arguments or \
                "var_list" not in bound.arguments:
            return None
        loss = bound.arguments["loss"]
        loss_fn = self.stager.resolve(loss, self.local_names)
        if not (isinstance(loss_fn, (types.FunctionType, _StagedLike)) or
                isinstance(loss, gast.Lambda)):
            return None
        namer = _fresh_names(self.local_names | {n.id for n in gast.walk(self.fdef)
                                                 if isinstance(n, gast.Name)})
        tape, loss_value, variables, grads = (namer("minimize_tape"), namer("loss_value"),
                                              namer("var_list"), namer("grads"))
        self.local_names |= {tape, loss_value, variables, grads}
        tape_cls = self.ns.bind("GradientTape", GradientTape)
        listed = self.ns.bind("list", list)
        zipped = self.ns.bind("zip", zip)
        var_list = bound.arguments["var_list"]
        out = [gast.Assign(targets=[store(variables)], value=call(name(listed), var_list),
                           type_comment=None)]
        body = [gast.Expr(value=call(gast.Attribute(value=name(tape), attr="watch",
                                                    ctx=gast.Load()), name(variables))),
                gast.Assign(targets=[store(loss_value)], value=gast.Call(
                    func=loss, args=[], keywords=[]), type_comment=None)]
        out.append(gast.With(items=[gast.withitem(context_expr=call(name(tape_cls)),
                                                  optional_vars=store(tape))],
                             body=body, type_comment=None))
        out.append(gast.Assign(targets=[store(grads)], value=call(gast.Attribute(
            value=name(tape), attr="gradient", ctx=gast.Load()), name(loss_value),
            name(variables)), type_comment=None))
        apply = call(gast.Attribute(value=clone(value.func.value), attr="apply_gradients",
                                    ctx=gast.Load()), call(name(zipped), name(grads),
                                                           name(variables)))
        if isinstance(s, gast.Assign):
            out.append(gast.Assign(targets=s.targets, value=apply, type_comment=None))
        else:
            out.append(gast.Expr(value=apply))
        for st in out:
            for sub in gast.walk(st):
                if isinstance(sub, (gast.stmt, gast.expr)):
                    gast.copy_location(sub, s)
        return out

    # ------------------------------------------------------------ apply_gradients
    def apply_gradients(self, s: Any) -> Any:
        """``opt.apply_gradients(zip(grads, variables))`` or ``opt.apply_gradients([(grad,
        variable)])`` (names or attribute chains, the result unused) as ``if not
        apply_checked(opt, grads, variables, zipped): <the call as written>``: the update
        runs without re-checking what the staged gradients already guarantee, and the call
        as written runs whenever that guarantee does not hold (see ``apply_checked``)."""
        value = s.value if isinstance(s, gast.Expr) else None
        if not (isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute)
                and value.func.attr == "apply_gradients" and _is_chain(value.func.value)):
            return None
        args = list(value.args) + [k.value for k in value.keywords
                                   if k.arg == "grads_and_vars"]
        if len(args) != 1 or len(value.args) + len(value.keywords) != 1:
            return None
        pairs = args[0]
        if isinstance(pairs, gast.Call) and not pairs.keywords and len(pairs.args) == 2 and \
                isinstance(pairs.func, gast.Name) and all(map(_is_chain, pairs.args)) and \
                self.stager.resolve(pairs.func, self.local_names) is zip:
            grads, variables, zipped = pairs.args[0], pairs.args[1], True
        elif isinstance(pairs, (gast.List, gast.Tuple)) and len(pairs.elts) == 1 and \
                isinstance(pairs.elts[0], gast.Tuple) and len(pairs.elts[0].elts) == 2 and \
                all(map(_is_chain, pairs.elts[0].elts)):
            grads, variables, zipped = pairs.elts[0].elts[0], pairs.elts[0].elts[1], False
        else:
            return None
        helper = self.ns.bind("apply_checked", apply_checked)
        test = gast.UnaryOp(op=gast.Not(), operand=call(
            name(helper), clone(value.func.value), clone(grads), clone(variables),
            const(zipped)))
        out = gast.If(test=test, body=[s], orelse=[])
        for sub in gast.walk(test):
            if isinstance(sub, (gast.stmt, gast.expr)):
                gast.copy_location(sub, s)
        gast.copy_location(out, s)
        self._applies[id(out)] = (value.func.value, grads, variables, zipped, value)
        return out

    # -------------------------------------------------------------- training loops
    def _step_parts(self, fused: Any, check: Any) -> tuple[Any, ...] | None:
        """For a fused block and gradient ``fused`` followed by ``check``, an
        ``apply_checked`` of those gradients to the same sources: ``(call, block, opts,
        inputs, target, sources, opt, zipped, grads, fallback)``, or None when the pair is
        not a training step (watches, ``output_gradients``...: the general path)."""
        block = self._fused.get(id(fused))
        parts = self._applies.get(id(check))
        if block is None or parts is None or block.tape is None:
            return None
        call_node = fused.value
        if call_node.keywords or len(call_node.args) != 5:
            return None  # output_gradients / unconnected_gradients: the general path
        opts, watches, inputs, target, sources = call_node.args
        if not isinstance(watches, gast.Tuple) or watches.elts:
            return None
        opt, grads, variables, zipped, apply_call = parts
        grads_target = fused.targets[0].elts[1]
        if not (isinstance(grads_target, gast.Name) and isinstance(grads, gast.Name)
                and grads.id == grads_target.id
                and gast.dump(variables) == gast.dump(sources)):
            return None
        assigned = {grads_target.id} | set(block.outputs)
        if assigned & (loads(inputs) | loads(sources) | loads(opt) | loads(opts)):
            return None
        fallback = gast.Lambda(args=gast.arguments(
            args=[gast.Name(id=grads.id, ctx=gast.Param(), annotation=None, type_comment=None)],
            posonlyargs=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
            defaults=[]), body=clone(apply_call))
        return (call_node, block, opts, inputs, target, sources, opt, zipped, grads, fallback)

    def training_loop(self, loop: Any) -> list[Any] | None:
        """A ``for`` loop whose body is a fused tape block and gradient followed by
        ``opt.apply_gradients`` of those gradients to the sources, as one call::

            done = run_block.fused_loop(<iterable>, <options>, (<inputs>), <target>,
                                        <sources>, <opt>, <zipped>,
                                        lambda <grads>: <opt>.apply_gradients(...))
            if done is not None:
                <loop variable>, (<outputs>), <grads> = done

        (see ``StagedBlock.fused_loop``). Only when nothing the loop assigns is read by the
        block, the sources or the optimizer (so each step gets the same objects), the loop
        has no ``else``, and no ``try`` or ``with`` around it could observe a step that
        raised half-way."""
        if loop.orelse or len(loop.body) != 2 or not isinstance(loop.target, gast.Name):
            return None
        fused, check = loop.body
        parts = self._step_parts(fused, check)
        if parts is None:
            return None
        call_node, block, opts, inputs, target, sources, opt, zipped, grads, fallback = parts
        if loop.target.id in loads(inputs) | loads(sources) | loads(opt) | loads(opts):
            return None
        done = self._namer("done")
        self.local_names.add(done)
        method = gast.Attribute(value=clone(call_node.func.value), attr="fused_loop",
                                ctx=gast.Load())
        run = gast.Assign(targets=[store(done)], value=call(
            method, loop.iter, opts, inputs, target, sources, clone(opt), const(zipped),
            fallback), type_comment=None)
        bind = gast.If(test=gast.Compare(left=name(done), ops=[gast.IsNot()],
                                         comparators=[const(None)]),
                       body=[gast.Assign(targets=[gast.Tuple(elts=[
                           store(loop.target.id), fused.targets[0].elts[0], store(grads.id)],
                           ctx=gast.Store())], value=name(done), type_comment=None)],
                       orelse=[])
        for st in (run, bind):
            for sub in gast.walk(st):
                if isinstance(sub, (gast.stmt, gast.expr)):
                    gast.copy_location(sub, loop)
        return [run, bind]

    def training_steps(self, stmts: list[Any], guarded: bool) -> list[Any]:
        """Training loops as one ``fused_loop`` call (:meth:`training_loop`), and each other
        fused block and gradient followed by ``apply_checked`` of those gradients (a
        training step outside a training loop) as one ``fused_step`` call::

            (<outputs>), <grads> = run_block.fused_step(<options>, (<inputs>), <target>,
                                                        <sources>, <opt>, <zipped>,
                                                        lambda <grads>: ...)

        except inside a ``try`` or ``with`` (``guarded``: it could observe a step that
        raised after the gradients were bound, and in both calls they are bound at the
        end). Runs after :meth:`statements` made the fused calls and ``apply_checked``."""
        out: list[Any] = []
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if isinstance(s, gast.For) and not guarded:
                loop = self.training_loop(s)
                if loop is not None:
                    out += loop
                    i += 1
                    continue
            if not guarded and i + 1 < len(stmts):
                parts = self._step_parts(s, stmts[i + 1])
                if parts is not None:
                    call_node, _, opts, inputs, target, sources, opt, zipped, _, fallback = parts
                    method = gast.Attribute(value=clone(call_node.func.value),
                                            attr="fused_step", ctx=gast.Load())
                    step = gast.Assign(targets=s.targets, value=call(
                        method, opts, inputs, target, sources, clone(opt), const(zipped),
                        fallback), type_comment=None)
                    for sub in gast.walk(step):
                        if isinstance(sub, (gast.stmt, gast.expr)):
                            gast.copy_location(sub, s)
                    out.append(step)
                    i += 2
                    continue
            if not isinstance(s, (gast.FunctionDef, gast.ClassDef)):
                inner = guarded or isinstance(s, (gast.Try, gast.With))
                for field_name in ("body", "orelse", "finalbody"):
                    sub = getattr(s, field_name, None)
                    if isinstance(sub, list) and sub and isinstance(sub[0], gast.stmt):
                        setattr(s, field_name, self.training_steps(sub, inner))
                for h in getattr(s, "handlers", []) or []:
                    h.body = self.training_steps(h.body, True)
            out.append(s)
            i += 1
        return out

    # ------------------------------------------------------------------ checks
    def _check_tape_uses(self, fdef: Any) -> None:
        for sub in gast.walk(fdef):
            if isinstance(sub, gast.Call) and self.stager.resolve(
                    sub.func, self.local_names) is GradientTape:
                raise self.error(sub, "a GradientTape that is not the context of a 'with' "
                                 "statement (write `with chainrule.GradientTape() as tape:`)",
                                 "GradientTape")
            parts = tape_call_parts(sub)
            if parts is not None and parts[0] in self.tape_names and \
                    parts[1] not in _TAPE_METHODS_AFTER:
                raise self.error(sub, f"{parts[0]}.{parts[1]}(...) outside its tape block",
                                 "tape method")
            if isinstance(sub, gast.With):
                for item in sub.items:
                    ctx = item.context_expr
                    if isinstance(ctx, gast.Name) and ctx.id in self.tape_names:
                        raise self.error(sub, f"re-entering the tape {ctx.id!r}; use one block "
                                         "per tape (or a persistent tape for several "
                                         "gradients)", "tape re-entry")


def _names_in(node: Any) -> list[str]:
    if node is None:
        return []
    if isinstance(node, gast.Name):
        return [node.id]
    if isinstance(node, (gast.List, gast.Tuple)):
        out: list[str] = []
        for e in node.elts:
            out += _names_in(e)
        return out
    if isinstance(node, gast.Dict):
        out = []
        for v in node.values:
            out += _names_in(v)
        return out
    return []


def _is_chain(node: Any) -> bool:
    """A name or a chain of attributes of a name (``x``, ``self.model.params``)."""
    return _chain(node) is not None


def _is_name_structure(node: Any) -> bool:
    if isinstance(node, gast.Name):
        return True
    if isinstance(node, (gast.List, gast.Tuple)):
        return all(_is_name_structure(e) for e in node.elts)
    return False


def _fresh_names(taken: set[str]) -> Callable[[str], str]:
    used = set(taken)

    def fresh(base: str) -> str:
        cand, i = base, 0
        while cand in used:
            i += 1
            cand = f"{base}_{i}"
        used.add(cand)
        return cand

    return fresh
