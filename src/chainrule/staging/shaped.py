"""Shape-specialised pullbacks and training steps for the kept gradient plans of staged
tape blocks.

A staged block's pullback (``<block>_bwd``) is general: its runtime helpers
(``unbroadcast``, ``expand_reduced``, ``matmul_adjoint_x``/``_y``, ``grad_item``) and
``np.size``/``np.shape``/``np.ndim`` look at the shapes of their operands at every call. A
kept gradient plan (:meth:`~chainrule.staging.tape.StagedBlock._plan`) is only used again
with the very input objects that made it, and Tensors, Variables and arrays keep their
shapes and dtypes, so when the block's code is *shape-determined* every call of the
pullback sees the same shapes. :func:`specialise` then writes a copy of the pullback in
which those decisions are made once: ``unbroadcast(g, x)`` becomes ``g`` or
``g.sum(axis=0)``, ``matmul_adjoint_y(g, x, w)`` becomes ``x.T @ g``,
``grad_item(b, 0, y)`` becomes ``b[0]``, ``np.size(t)`` becomes its number, ``np.mean`` of
a float64 array its own sum and division, and a reduction's cotangent
``expand_reduced(s, t, None, False)`` multiplied by an array of ``t``'s shape and dtype
becomes ``s`` (the scalar broadcasts). :func:`specialise_step` does the same to one
function made of the block's forward code followed by its pullback of ones (a training
step's gradients). The generated functions these call (the block's calls of user
functions) get a specialised copy per call site. What was made is kept on the
specialisation per kinds of operands (:func:`_meta`), so new input objects of the same
kinds reuse it.

Guarantees:

* it is only attempted when every generated function of the block is shape-determined
  (:func:`shape_determined`): no control flow, no ``and``/``or``/conditional expressions,
  subscripts with constant indices only, and calls only to NumPy ufuncs, an allow-list of
  NumPy functions whose result shape follows from their operands' shapes, ``math``,
  chainrule's own runtime helpers, rules and staging primitives, and the block's generated
  functions. Data can then not change a shape, a dtype or the type of a value, and nothing
  draws random numbers (the probe and its check run the code twice);
* each rewrite keeps the arithmetic the helper would do, operation for operation, so the
  specialised pullback gives bit-for-bit the results of the general one; the first run
  checks that it does, on the same inputs, and any difference (or any call site that saw
  two different kinds of operands) keeps the general pullback;
* what is specialised is a new function with its own source (``chainrule.source`` of the
  staged function lists it); the general pullback is unchanged.
"""

from __future__ import annotations

import builtins
import copy
import math
import threading
from collections.abc import Callable
from typing import Any

import gast
import numpy as np

from .. import runtime
from ..transform.astutil import call, const, name, walk
from ..transform.emit import compile_function, render
from .deps import _parse_generated

__all__ = ["ones_seed", "shape_determined", "specialise", "specialise_step"]

# NumPy functions whose results' shapes, dtypes and types follow from those of their
# operands (and from constant arguments): never from the values.
_SHAPE_FUNCTIONS = (
    "abs absolute all any amax amin argmax argmin around array asarray atleast_1d "
    "atleast_2d average broadcast_arrays broadcast_to clip concatenate conj conjugate copy "
    "cross cumprod cumsum diag diagonal diff dot einsum expand_dims eye flip fliplr flipud "
    "full full_like hstack inner imag kron matmul max mean min moveaxis ndim ones ones_like "
    "outer prod ravel real reshape result_type rot90 shape size sort squeeze stack std sum "
    "swapaxes take tensordot trace transpose tril triu var vdot vstack zeros zeros_like "
    "float64 float32 float16 complex128 complex64").split()
_LINALG_FUNCTIONS = "norm det inv solve slogdet cholesky pinv matrix_power".split()
_ALLOWED_OBJECTS = {id(getattr(np, n)) for n in _SHAPE_FUNCTIONS if hasattr(np, n)} | {
    id(getattr(np.linalg, n)) for n in _LINALG_FUNCTIONS if hasattr(np.linalg, n)} | {
    id(len), id(tuple), id(list)}
# chainrule's code that generated code calls: the runtime helpers, the built-in rules and
# the staging primitives (not, say, the initializers, which draw random numbers)
_OWN_MODULES = ("chainrule.runtime", "chainrule.rules.", "chainrule.staging.")
# methods and attributes of arrays with the same property
_METHODS = set("sum mean prod max min std var reshape transpose swapaxes squeeze ravel "
               "flatten copy astype conj dot cumsum T shape size ndim dtype real imag".split())

_HELPERS = {"unbroadcast": runtime.unbroadcast, "matmul_x": runtime.matmul_adjoint_x,
            "matmul_y": runtime.matmul_adjoint_y, "grad_item": runtime.grad_item,
            "expand": runtime.expand_reduced, "mean": np.mean}


def ones_seed(value: Any) -> Any:
    """The seed of a target (``ones_like``, a NumPy scalar for 0-d values)."""
    if isinstance(value, np.generic):
        one = _ONES.get(value.dtype)
        if one is None:
            one = _ONES[value.dtype] = value.dtype.type(1)
        return one
    g = np.ones_like(value)
    return g[()] if g.ndim == 0 else g


_ONES: dict[Any, Any] = {}


_RESULTS = {"size": np.size, "shape": np.shape, "ndim": np.ndim, "seed": ones_seed}
_KINDS = {id(fn): kind for kind, fn in (_HELPERS | _RESULTS).items()}


def _resolve(node: Any, namespace: Any, local: set[str]) -> Any:
    """The object a call's function expression names (None for a method of a local)."""
    if isinstance(node, gast.Name):
        if node.id in local:
            return None
        if node.id in namespace:
            return namespace.get(node.id)
        return getattr(builtins, node.id, None)
    if isinstance(node, gast.Attribute):
        base = _resolve(node.value, namespace, local)
        if base is None:
            return None
        return getattr(base, node.attr, None)
    return None


def _locals(fdef: Any) -> set[str]:
    out = {a.id for a in fdef.args.args}
    for n in walk(fdef):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            out.add(n.id)
    return out


def _constant_index(node: Any) -> bool:
    if isinstance(node, gast.Constant):
        return True
    if isinstance(node, gast.Slice):
        return all(p is None or isinstance(p, gast.Constant)
                   for p in (node.lower, node.upper, node.step))
    if isinstance(node, gast.Tuple):
        return all(_constant_index(e) for e in node.elts)
    return False


_NODES_OK = (gast.FunctionDef, gast.arguments, gast.Assign, gast.Return, gast.Expr,
             gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare, gast.Tuple,
             gast.List, gast.Call, gast.keyword, gast.Attribute, gast.Subscript, gast.Slice,
             gast.expr_context, gast.operator, gast.unaryop, gast.cmpop)


def _function_ok(fdef: Any, namespace: Any, generated: set[int]) -> bool:
    local = _locals(fdef)
    for n in walk(fdef):
        if not isinstance(n, _NODES_OK):
            return False
        if isinstance(n, gast.Subscript) and not _constant_index(n.slice):
            return False
        if isinstance(n, gast.Attribute) and _resolve(n.value, namespace, local) is None and \
                n.attr not in _METHODS:
            return False
        if isinstance(n, gast.Call):
            obj = _resolve(n.func, namespace, local)
            if obj is None:
                if not (isinstance(n.func, gast.Attribute) and n.func.attr in _METHODS):
                    return False
            elif obj is np.where:
                if len(n.args) != 3:
                    return False
            elif obj is slice:  # an index the adjoint code spells out: constant bounds only
                if not all(isinstance(a, gast.Constant) for a in n.args) or n.keywords:
                    return False
            elif not (isinstance(obj, np.ufunc) or id(obj) in _ALLOWED_OBJECTS or
                      id(obj) in generated or
                      getattr(obj, "__module__", None) == "math" or
                      str(getattr(obj, "__module__", "")).startswith(_OWN_MODULES)):
                return False
    return True


def shape_determined(request: Any) -> bool:
    """Whether the shapes, dtypes and types of every value the generated functions of
    ``request`` compute follow from those of their inputs (see the module docstring)."""
    generated = {id(g.fn) for g in request.generated}
    for g in request.generated:
        if not _function_ok(_parse_generated(g.source), g.namespace, generated):
            return False
    return True


# ------------------------------------------------------------------------- recording

def _meta(v: Any) -> Any:
    t = type(v)
    if t is np.ndarray:
        return ("A", v.shape, v.dtype)
    if isinstance(v, np.generic):
        return ("S", v.dtype)
    if t is int or t is bool:
        return (t, v)
    if t is float or t is complex:
        return (t,)
    if v is None:
        return None
    if t is tuple or t is list:
        return (t, tuple(_meta(e) for e in v))
    return ("O", t)


class _Sites:
    """Which nodes of the pullback's tree to look at: helper calls, shape queries, and
    the factors of products with a reduction's cotangent."""

    def __init__(self, fdef: Any, namespace: Any) -> None:
        local = _locals(fdef)
        self.kinds: dict[int, str] = {}  # id(call) -> helper kind
        for n in walk(fdef):
            if isinstance(n, gast.Call) and not n.keywords:
                kind = _KINDS.get(id(_resolve(n.func, namespace, local)))
                if kind is not None:
                    self.kinds[id(n)] = kind
        inner = {id(c) for n in walk(fdef) if _is_product(n) for c in (n.left, n.right)
                 if _is_product(c)}
        self.products = {id(n) for n in walk(fdef) if _is_product(n) and id(n) not in inner
                         and any(self.kinds.get(id(f)) == "expand" for f in _factors(n))}


def _is_product(node: Any) -> bool:
    return isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult)


def _factors(node: Any) -> list[Any]:
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _probed(fdef: Any, sites: _Sites, recorder: str, prefix: tuple[int, ...],
            children: dict[int, str]) -> Any:
    """A copy of ``fdef`` in which each looked-at operand ``e`` reads
    ``recorder(key, e)`` (keys are ``(prefix + (position of the node in walk order,),
    slot)``) and each call of a generated function in ``children`` (by node id) calls the
    named probed copy of it instead, passing the recorder on."""
    twin = copy.deepcopy(fdef)
    order, original = {}, {}
    for i, (a, b) in enumerate(zip(walk(fdef), walk(twin))):
        order[id(b)] = prefix + (i,)
        original[id(b)] = a

    def rec(key: Any, node: Any) -> Any:
        return call(name(recorder), const(key), node)

    class Probe(gast.NodeTransformer):
        def visit_Call(self, node: Any) -> Any:
            key = order.get(id(node))
            source = original.get(id(node))
            kind = sites.kinds.get(id(source))
            self.generic_visit(node)
            if id(source) in children:
                node.func = name(children[id(source)])
                node.args.append(name(recorder))
            elif kind in _HELPERS:
                node.args = [rec((key, i), a) for i, a in enumerate(node.args)]
            elif kind in _RESULTS:
                return rec((key, "r"), node)
            return node

        def visit_BinOp(self, node: Any) -> Any:
            key = order.get(id(node))
            product = id(original.get(id(node))) in sites.products
            self.generic_visit(node)
            if product:
                _wrap_factors(node, lambda j, f: rec((key, "f", j), f))
            return node

    twin = Probe().visit(twin)
    twin.args.args.append(gast.Name(id=recorder, ctx=gast.Param(), annotation=None,
                                    type_comment=None))
    return twin


def _wrap_factors(node: Any, wrap: Any) -> None:
    """Replace each factor ``f`` (the ``j``-th, left to right) of the product ``node`` by
    ``wrap(j, f)``, in place."""
    count = [0]

    def visit(n: Any) -> None:
        for side in ("left", "right"):
            child = getattr(n, side)
            if _is_product(child):
                visit(child)
            else:
                setattr(n, side, wrap(count[0], child))
                count[0] += 1
    visit(node)


# -------------------------------------------------------------------------- rewriting

def _one(metas: dict[Any, list[Any]], key: Any) -> Any:
    """The operand kind recorded at ``key``: ``_MISSING`` unless seen once or alike."""
    seen = metas.get(key)
    if not seen or any(m != seen[0] for m in seen):
        return _MISSING
    return seen[0]


_MISSING = object()


def _scalar(m: Any) -> bool:
    return m is not _MISSING and m is not None and (
        m[0] == "S" or m[0] in (float, int, complex))


def _sum(node: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    axis = const(axes[0]) if len(axes) == 1 else gast.Tuple(
        elts=[const(a) for a in axes], ctx=gast.Load())
    kw = {"axis": axis}
    if keepdims:
        kw["keepdims"] = const(True)
    return call(gast.Attribute(value=node, attr="sum", ctx=gast.Load()), **kw)


def _attr(node: Any, attr: str) -> Any:
    return gast.Attribute(value=node, attr=attr, ctx=gast.Load())


def _rewrite(fdef: Any, sites: _Sites, metas: dict[Any, list[Any]],
             bind: Callable[[str, Any], str], prefix: tuple[int, ...],
             children: dict[int, str]) -> tuple[Any, int]:
    """``fdef`` with each helper call whose operands were seen decided in place, and each
    call of a generated function in ``children`` (by node id) calling the named
    specialised copy; the count of rewrites. ``bind(preferred, value)`` names a constant
    in the generated code."""
    order = {id(n): prefix + (i,) for i, n in enumerate(walk(fdef))}
    done = [0]

    def helper(node: Any, kind: str, key: Any) -> Any:
        ms = [_one(metas, (key, i)) for i in range(len(node.args))]
        if any(m is _MISSING for m in ms):
            return node
        a = node.args
        if kind == "unbroadcast" and len(a) == 2:
            mg, mx = ms
            if mg is not None and mx is not None and mg[0] == "A" and mx[0] == "A":
                if mg[1] == mx[1]:
                    return a[0]
                plan = runtime._unbroadcast_plan(mg[1], mx[1])
                if not plan:
                    return node
                lead, axes, reshape = plan
                out = a[0]
                if lead:
                    out = _sum(out, lead, False)
                if axes:
                    out = _sum(out, axes, True)
                if reshape:
                    out = call(_attr(out, "reshape"), gast.Tuple(
                        elts=[const(d) for d in mx[1]], ctx=gast.Load()))
                return out
            if _scalar(mg) and _scalar(mx):
                return a[0]
        elif kind in ("matmul_x", "matmul_y") and len(a) == 3:
            mg, mx, my = ms
            other = my if kind == "matmul_x" else mx
            if mg is not None and other is not None and mg[0] == "A" and other[0] == "A" \
                    and len(mg[1]) == 2 and len(other[1]) == 2:
                if kind == "matmul_x":
                    return gast.BinOp(left=a[0], op=gast.MatMult(), right=_attr(a[2], "T"))
                return gast.BinOp(left=_attr(a[1], "T"), op=gast.MatMult(), right=a[0])
        elif kind == "mean" and len(a) == 1 and isinstance(node.func, gast.Attribute):
            m = ms[0]
            if m is not None and m[0] == "A" and m[2] == np.float64 and 0 not in m[1]:
                # np.mean's own steps for a float64 array: the sum, then a division by
                # the count (without the Python-level checks around them)
                total = call(_attr(_attr(node.func.value, "add"), "reduce"), a[0],
                             axis=const(None))
                return gast.BinOp(left=total, op=gast.Div(),
                                  right=const(int(np.prod(m[1]))))
        elif kind == "grad_item" and len(a) == 3:
            mb = ms[0]
            index = a[1]
            if mb is not None and mb[0] in (tuple, list) and isinstance(index, gast.Constant) \
                    and type(index.value) is int and 0 <= index.value < len(mb[1]) and \
                    mb[1][index.value] is not None:
                return gast.Subscript(value=a[0], slice=const(index.value), ctx=gast.Load())
        return node

    def result(kind: str, key: Any, node: Any) -> Any:
        m = _one(metas, (key, "r"))
        if m is _MISSING or m is None:
            return node
        if kind in ("size", "ndim") and m[0] is int:
            return const(m[1])
        if kind == "shape" and m[0] is tuple and all(e is not None and e[0] is int
                                                     for e in m[1]):
            return gast.Tuple(elts=[const(e[1]) for e in m[1]], ctx=gast.Load())
        if kind == "seed" and m[0] == "S":  # the one of the target's dtype
            return name(bind(f"one_{m[1].name}", ones_seed(m[1].type(0))))
        return node

    def product(node: Any, key: Any, fs: list[Any]) -> Any:
        """``expand_reduced(s, t, None, False) * ...`` with every other factor a number or
        an array of ``t``'s shape and dtype: ``s * ...`` computes the same values."""
        expands = [(j, f) for j, f in enumerate(fs) if _is_full_expand_call(f)]
        if len(expands) != 1:
            return node
        j, e = expands[0]
        ms = [_one(metas, (key, "f", i)) for i in range(len(fs))]
        me = [_one(metas, (order[id(e)], i)) for i in range(2)]
        if any(m is _MISSING for m in ms + me) or me[1] is None or me[1][0] != "A":
            return node
        shape, dtype = me[1][1], me[1][2]
        if dtype.kind not in "fc":
            return node
        ms_ = me[0]
        if not (ms_ is not None and ((ms_[0] == "S" and ms_[1] == dtype) or (
                ms_[0] is float and dtype == np.float64))):
            return node
        arrays = 0
        for i, (f, m) in enumerate(zip(fs, ms)):
            if i == j:
                continue
            if isinstance(f, gast.Constant) and type(f.value) in (int, float):
                continue
            if m is None or m[0] != "A" or m[1] != shape or m[2] != dtype:
                return node
            arrays += 1
        if not arrays:
            return node
        _wrap_factors(node, lambda _, f: f.args[0] if f is e else f)
        done[0] += 1
        return node

    class Rewrite(gast.NodeTransformer):
        def visit_Call(self, node: Any) -> Any:
            key = order.get(id(node))
            kind = sites.kinds.get(id(node))
            child = children.get(id(node))
            self.generic_visit(node)
            if child is not None:
                node.func = name(child)
                return node
            if kind in _HELPERS and kind != "expand":
                new = helper(node, kind, key)
            elif kind in _RESULTS:
                new = result(kind, key, node)
            else:
                return node
            if new is not node:
                done[0] += 1
            return new

        def visit_BinOp(self, node: Any) -> Any:
            key = order.get(id(node))
            is_product = id(node) in sites.products
            self.generic_visit(node)
            if is_product:
                return product(node, key, _factors(node))
            return node

    # the expand calls keep their place in walk order: mark them before rewriting
    expand_calls = {id(n) for n in walk(fdef) if sites.kinds.get(id(n)) == "expand"}

    def _is_full_expand_call(f: Any) -> bool:
        return id(f) in expand_calls and isinstance(f, gast.Call) and len(f.args) == 4 and \
            isinstance(f.args[2], gast.Constant) and f.args[2].value is None and \
            isinstance(f.args[3], gast.Constant) and f.args[3].value is False

    return Rewrite().visit(fdef), done[0]


# ------------------------------------------------------------------------- the entry

_LOCK = threading.Lock()


def _same_result(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same_result(x, y) for x, y in zip(a, b))
    if type(a) is np.ndarray or isinstance(a, np.generic):
        return a.dtype == b.dtype and np.shape(a) == np.shape(b) and \
            np.asarray(a).tobytes() == np.asarray(b).tobytes()
    if type(a) is float:
        return a == b or (math.isnan(a) and math.isnan(b))
    return a is b or a == b


class _Tree:
    """A function to specialise (``fdef``, compiled in ``namespace``) and, one per call
    site, the block's generated functions it calls (at most ``budget`` in all): each call
    site gets its own specialised copy, as it may see other shapes than the next."""

    def __init__(self, fdef: Any, namespace: Any, request: Any, base: str,
                 prefix: tuple[int, ...], budget: list[int]) -> None:
        self.fdef, self.namespace, self.request, self.base = fdef, namespace, request, base
        self.prefix = prefix
        self.sites = _Sites(fdef, namespace)
        self.taken = {n.id for n in walk(fdef) if isinstance(n, gast.Name)} | {fdef.name}
        self.children: dict[int, _Tree] = {}
        generated = {id(g.fn): g for g in request.generated}
        local = _locals(fdef)
        for i, n in enumerate(walk(fdef)):
            if not isinstance(n, gast.Call) or n.keywords or budget[0] <= 0:
                continue
            g = generated.get(id(_resolve(n.func, namespace, local)))
            if g is not None:
                budget[0] -= 1
                self.children[id(n)] = _Tree(_parse_generated(g.source), g.namespace,
                                             request, g.name, prefix + (i,), budget)

    def bind(self, preferred: str, value: Any) -> str:
        """A global name for ``value`` in this namespace, not one of the function's own."""
        while True:
            bound = self.namespace.bind(preferred, value)
            if bound not in self.taken:
                return bound
            preferred += "_"

    def fresh(self, suffix: str) -> str:
        with _LOCK:
            return self.request.names.exact_or_fresh(f"{self.base}_{suffix}")

    def probe(self) -> Any:
        """The probed copy of this function (its recorder is its last parameter)."""
        children = {cid: self.bind(fn.__name__, fn)
                    for cid, fn in ((cid, child.probe()) for cid, child in
                                    self.children.items())}
        recorder = "record"
        while recorder in self.taken:
            recorder += "_"
        probed = _probed(self.fdef, self.sites, recorder, self.prefix, children)
        probed.name = self.fresh("probe")
        return compile_function(render(probed), probed.name, self.namespace, probed.name)

    def shaped(self, metas: dict[Any, list[Any]], made: list[Any]) -> Any:
        """The specialised copy (None when nothing in it or below it changed); each
        function made is appended to ``made``."""
        children = {}
        for cid, child in self.children.items():
            fn = child.shaped(metas, made)
            if fn is not None:
                children[cid] = self.bind(fn.__name__, fn)
        fdef, count = _rewrite(self.fdef, self.sites, metas, self.bind, self.prefix, children)
        if not count and not children:
            return None
        fdef.name = self.fresh("shaped")
        fn = compile_function(render(fdef), fdef.name, self.namespace, fdef.name)
        made.append(fn)
        return fn


def _specialised(fdef: Any, namespace: Any, request: Any, base: str,
                 run: Callable[[Any, tuple[Any, ...]], Any]) -> tuple[Any, Any, list[Any]]:
    """Probe ``fdef`` (compiled in ``namespace``) and the generated functions it calls once
    through ``run(fn, extra_args)``, rewrite them from what the probes saw, and check the
    rewrite on the same inputs: ``(the probe run's result, the specialised function or
    None, every function made)``."""
    tree = _Tree(fdef, namespace, request, base, (), [32])
    metas: dict[Any, list[Any]] = {}

    def record(key: Any, value: Any) -> Any:
        metas.setdefault(key, []).append(_meta(value))
        return value

    result = run(tree.probe(), (record,))
    made: list[Any] = []
    shaped_fn = tree.shaped(metas, made)
    if shaped_fn is None:
        return result, None, []
    with np.errstate(all="ignore"):  # the probe run has warned (or raised) already
        again = run(shaped_fn, ())
    if not _same_result(again, result):
        return result, None, []
    return result, shaped_fn, made


def _generated(request: Any, fn: Any) -> Any:
    return next((g for g in request.generated if g.name == fn.__name__), None)


def specialise(spec: Any, cotangents: tuple[Any, ...], saved: Any) -> tuple[Any, Any]:
    """Run ``spec.bwd(cotangents, saved)`` and return ``(its result, a specialised
    pullback or None)``. The specialised pullback is made from the shapes this run saw and
    is only valid for calls with the same kinds of operands (see the module docstring)."""
    key = ("bwd", _meta(cotangents), _meta(saved))
    if key in spec.shaped:  # made before, for operands of these kinds
        bwd = spec.shaped[key]
        return (bwd or spec.bwd)(cotangents, saved), bwd
    generated = _generated(spec.request, spec.bwd)
    if generated is None or not shape_determined(spec.request):
        result, bwd = spec.bwd(cotangents, saved), None
    else:
        result, bwd, made = _specialised(
            _parse_generated(generated.source), generated.namespace, spec.request,
            generated.name, lambda fn, extra: fn(cotangents, saved, *extra))
        _show(spec, made)
    _keep(spec, key, bwd)
    return result, bwd


def _keep(spec: Any, key: Any, fn: Any) -> None:
    """Keep what was made for operands of these kinds (specialising costs milliseconds: a
    new set of input objects of the same kinds, such as constants made in the function,
    reuses it)."""
    with _LOCK:
        if len(spec.shaped) > 64:
            spec.shaped.clear()
        spec.shaped[key] = fn


def _show(spec: Any, made: list[Any]) -> None:
    """List specialised functions with the block's code (``chainrule.source``)."""
    with _LOCK:
        spec.sources_text.extend(fn.__chainrule_source__ for fn in made)


def _step_tree(spec: Any, target: int, wrts: list[tuple[int, tuple[int, ...]]]
               ) -> tuple[Any, Any] | None:
    """One function doing the block's forward code, then its pullback of ones at output
    ``target``: ``(outputs, [gradient of each source])``, each ``(cotangent position, path
    inside it)`` of ``wrts``, with its namespace; None when the pullback works on a copy of
    what was saved (it restores values in place)."""
    fwd_g, bwd_g = _generated(spec.request, spec.fwd), _generated(spec.request, spec.bwd)
    if fwd_g is None or bwd_g is None or fwd_g.namespace is not bwd_g.namespace:
        return None
    fwd, bwd = _parse_generated(fwd_g.source), _parse_generated(bwd_g.source)
    ret = fwd.body[-1]
    if not (isinstance(ret, gast.Return) and isinstance(ret.value, gast.Tuple) and
            len(ret.value.elts) == 2):
        return None
    seed_name, saved_name = (a.id for a in bwd.args.args)
    body = list(bwd.body)
    while body and isinstance(body[0], gast.Expr):  # comments
        body.pop(0)
    if body and isinstance(body[0], gast.Assign) and isinstance(body[0].value, gast.Name) \
            and body[0].value.id == saved_name:
        body.pop(0)  # the saved names are the forward code's own names
    back = body.pop() if body else None
    if not (isinstance(back, gast.Return) and isinstance(back.value, gast.Tuple)) or any(
            isinstance(n, gast.Name) and n.id == saved_name for s in body for n in walk(s)):
        return None
    outputs = spec.outputs
    if not 0 <= target < len(outputs):
        return None
    taken = {n.id for t in (fwd, bwd) for n in walk(t) if isinstance(n, gast.Name)}
    outs_name = "outputs"
    while outs_name in taken:
        outs_name += "_"
    namespace = fwd_g.namespace
    seed_fn = namespace.bind("ones_seed", ones_seed)
    if seed_fn in taken:
        return None
    seed = [const(None) for _ in outputs]
    seed[target] = call(name(seed_fn), gast.Subscript(value=name(outs_name),
                                                      slice=const(target), ctx=gast.Load()))
    grads = []
    used: set[int] = set()
    for i, path in wrts:
        g = back.value.elts[i]
        if i in used:  # a source listed twice: each entry is a tree of its own
            g = copy.deepcopy(g)
        used.add(i)
        if path and not isinstance(g, gast.Name):
            return None
        for index in path:  # a leaf inside a list or tuple input
            g = gast.Subscript(value=name(g.id) if isinstance(g, gast.Name) else g,
                               slice=const(index), ctx=gast.Load())
        grads.append(g)
    tail = gast.Return(value=gast.Tuple(elts=[name(outs_name), gast.List(
        elts=grads, ctx=gast.Load())], ctx=gast.Load()))
    step = gast.FunctionDef(
        name=f"{spec.label}_step", args=fwd.args,
        body=fwd.body[:-1] + [
            gast.Assign(targets=[gast.Name(id=outs_name, ctx=gast.Store(), annotation=None,
                                           type_comment=None)],
                        value=ret.value.elts[0], type_comment=None),
            gast.Assign(targets=[gast.Name(id=seed_name, ctx=gast.Store(), annotation=None,
                                           type_comment=None)],
                        value=gast.Tuple(elts=seed, ctx=gast.Load()), type_comment=None)]
        + body + [tail],
        decorator_list=[], returns=None, type_comment=None, type_params=[])
    return step, namespace


def specialise_step(spec: Any, target: int, wrts: list[tuple[int, tuple[int, ...]]],
                    kinds: list[Any], args: list[Any]) -> tuple[Any, Any]:
    """One training step's gradients, from a function made for these very inputs: the
    block's forward code and pullback in one, with the pullback's (and ``np.mean``'s)
    shape decisions made (see the module docstring). Returns ``(result, step or None)``;
    ``result`` is ``step(*args)``: ``(outputs, gradients)`` with one gradient per entry of
    ``wrts`` (cotangent position, path inside it); None when no step function applies
    (the caller takes its general path).
    ``kinds`` gives the ``(shape, dtype)`` each gradient must have; a step is only
    returned when the gradients have them (arrays, or NumPy scalars for shape ``()``)."""
    key = ("step", target, tuple(wrts), tuple(kinds), _meta(args))
    if key in spec.shaped:
        step = spec.shaped[key]
        return (step(*args) if step is not None else None), step
    result, step = _make_step(spec, target, wrts, kinds, args)
    _keep(spec, key, step)
    return result, step


def _make_step(spec: Any, target: int, wrts: list[tuple[int, tuple[int, ...]]],
               kinds: list[Any], args: list[Any]) -> tuple[Any, Any]:
    if not shape_determined(spec.request):
        return None, None
    made = _step_tree(spec, target, wrts)
    if made is None:
        return None, None
    fdef, namespace = made
    result, step, made = _specialised(fdef, namespace, spec.request, fdef.name,
                                      lambda fn, extra: fn(*args, *extra))
    if step is None:
        return result, None
    for g, (shape, dtype) in zip(result[1], kinds):
        if not (type(g) is np.ndarray or (isinstance(g, np.generic) and shape == ())) or \
                g.shape != shape or g.dtype != dtype:
            return result, None
    _show(spec, made)
    return result, step
