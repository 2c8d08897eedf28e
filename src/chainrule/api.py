"""The source-transformation API: ``grad``, ``value_and_grad``, ``vjp``, ``elementwise_grad``
and ``source``, with JAX's names and conventions.

Guarantees: each call returns a *generated* Python function whose source is readable via
:func:`source` and ``inspect.getsource``; the same function and options give the same
generated function object (cache, thread-safe) and byte-identical source in every
process; redefining the function gives new code. Errors in the user's code are
:class:`~chainrule.errors.TransformError` with file and line, raised before any code runs.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from .errors import TransformError
from .transform.export import standalone_module
from .transform.generate import Request, prepare
from .transform.parse import parse_function
from .transform.stages import stage_source

__all__ = ["grad", "value_and_grad", "vjp", "elementwise_grad", "source", "jvp", "make_jvp",
           "jacfwd", "jacrev", "hessian", "hvp"]

_CACHE: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()


def _check_callable(fun: Any, api: str) -> None:
    if not callable(fun):
        raise TypeError(f"chainrule.{api}: expected a function, got {type(fun).__name__}")
    if inspect.isclass(fun):
        raise TransformError(
            f"chainrule.{api} differentiates functions, not classes ({fun.__name__}); "
            "differentiate a function that uses the class's methods",
            construct="class")
    if not inspect.isfunction(fun):
        raise TransformError(
            f"chainrule.{api} needs a Python function with source; {fun!r} is a "
            f"{type(fun).__name__}. Wrap it in a def, or register a rule with chainrule.defvjp",
            construct="no source")


def _normalize_argnums(fun: Any, argnums: int | Sequence[int], api: str
                       ) -> tuple[tuple[int, ...], bool, list[str]]:
    code = fun.__code__
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        raise TransformError(
            f"functions with *args or **kwargs parameters are not supported by chainrule.{api}"
            "; name each parameter",
            filename=code.co_filename, lineno=code.co_firstlineno, construct="star-args")
    n = code.co_argcount
    params = list(code.co_varnames[:n])
    multiple = not isinstance(argnums, int)
    if multiple and not isinstance(argnums, (tuple, list)):
        raise TypeError(f"chainrule.{api}: argnums must be an int or a tuple of ints, got "
                        f"{argnums!r}")
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if multiple and not nums:
        raise ValueError(f"chainrule.{api}: argnums must not be empty")
    for a in nums:
        if not isinstance(a, int) or isinstance(a, bool):
            raise TypeError(f"chainrule.{api}: argnums must be ints, got {a!r}")
        if not -n <= a < n:
            raise ValueError(
                f"chainrule.{api}: argnums {a} is out of range for {fun.__name__}, which "
                f"takes {n} positional argument{'s' if n != 1 else ''} ({', '.join(params)})")
    nums = tuple(a % n for a in nums)
    return nums, multiple, [params[a] for a in nums]


def _cached(fun: Any, key: Any, build: Callable[[], Any]) -> Any:
    with _LOCK:
        try:
            per = _CACHE.setdefault(fun, {})
        except TypeError:
            per = {}
        hit = per.get(key)
        if hit is not None and hit[0] is fun.__code__:
            return hit[1]
        result = build()
        per[key] = (fun.__code__, result)
        return result


def _generate(fun: Any, wrt: list[str], kind: str, multiple: bool) -> Any:
    parsed = parse_function(fun)
    prep = prepare(parsed, fun.__name__)
    request = Request()
    prefix = {"grad": "grad", "value_and_grad": "value_and_grad",
              "elementwise": "elementwise_grad"}[kind]
    out_name = request.names.exact_or_fresh(f"{prefix}_{fun.__name__}".replace("<", "_")
                                            .replace(">", "_"))
    main = request.flat(prep, wrt, kind, out_name, multiple)
    request.compile()
    fn = main.fn
    fn.__chainrule_request__ = request
    fn.__chainrule_main__ = main
    fn.__chainrule_origin__ = (fun, wrt)
    fn.__qualname__ = out_name
    fn.__doc__ = fn.__doc__
    return fn


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0, mode: str = "reverse"
         ) -> Callable[..., Any]:
    """The gradient of a scalar-valued ``fun``, as generated Python source.

    ``argnums`` (an int, or a tuple for a tuple of gradients) picks the arguments to
    differentiate. The generated function takes ``fun``'s parameters (defaults included).
    """
    _check_callable(fun, "grad")
    if mode == "forward":
        from .forward_api import forward_grad

        return forward_grad(fun, argnums)
    if mode != "reverse":
        raise ValueError(f"chainrule.grad: mode must be 'reverse' or 'forward', not {mode!r}")
    nums, multiple, wrt = _normalize_argnums(fun, argnums, "grad")
    return _cached(fun, ("grad", nums, multiple), lambda: _generate(fun, wrt, "grad", multiple))


def value_and_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0
                   ) -> Callable[..., Any]:
    """Like :func:`grad`, but the generated function returns ``(value, gradient)``."""
    _check_callable(fun, "value_and_grad")
    nums, multiple, wrt = _normalize_argnums(fun, argnums, "value_and_grad")
    return _cached(fun, ("value_and_grad", nums, multiple),
                   lambda: _generate(fun, wrt, "value_and_grad", multiple))


def elementwise_grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0
                     ) -> Callable[..., Any]:
    """The gradient of ``sum(fun(x))``: for elementwise ``fun``, the derivative at each point."""
    _check_callable(fun, "elementwise_grad")
    nums, multiple, wrt = _normalize_argnums(fun, argnums, "elementwise_grad")
    return _cached(fun, ("elementwise", nums, multiple),
                   lambda: _generate(fun, wrt, "elementwise", multiple))


class _Pair:
    def __init__(self, fwd: Any, bwd: Any, request: Request) -> None:
        self.fwd = fwd
        self.bwd = bwd
        self.request = request


def _pair(fun: Any, nargs: int) -> _Pair:
    def build() -> _Pair:
        parsed = parse_function(fun)
        prep = prepare(parsed, fun.__name__)
        request = Request()
        wrt = prep.params[:nargs]
        base = fun.__name__.replace("<", "_").replace(">", "_")
        fwd_name = request.names.exact_or_fresh(f"{base}_fwd")
        bwd_name = request.names.exact_or_fresh(f"{base}_bwd")
        request.build_pair(prep, wrt, fwd_name, bwd_name)
        request.compile()
        fns = {g.name: g.fn for g in request.generated}
        return _Pair(fns[fwd_name], fns[bwd_name], request)

    return _cached(fun, ("vjp", nargs), build)


def vjp(fun: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """``(fun(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns one cotangent per primal.

    The pullback is generated code (``fun_fwd`` saves what ``fun_bwd`` needs); it may be
    called any number of times.
    """
    _check_callable(fun, "vjp")
    n = fun.__code__.co_argcount
    if len(primals) > n:
        raise TypeError(f"chainrule.vjp: {fun.__name__} takes {n} positional arguments but "
                        f"{len(primals)} primals were given")
    pair = _pair(fun, len(primals))
    out, saved = pair.fwd(*primals)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        return tuple(pair.bwd(cotangent, saved))

    vjp_fn.__chainrule_request__ = pair.request  # type: ignore[attr-defined]
    return out, vjp_fn


def source(fn: Callable[..., Any], standalone: bool = False, stage: str | None = None) -> str:
    """The generated source of a function chainrule made.

    With ``standalone=True``: a whole module (imports, runtime helpers, every generated
    helper function) that runs with NumPy alone and defines ``fn.__name__``.
    With ``stage`` (``"parsed"``, ``"normalized"``, ``"activity"``, ``"final"``): that stage
    of the pipeline for the function ``fn`` was generated from (or for ``fn`` itself, a
    plain Python function, differentiated with respect to its first argument).
    """
    if stage is not None and stage != "final":
        origin = getattr(fn, "__chainrule_origin__", None)
        if origin is None:
            _check_callable(fn, "source")
            origin = (fn, [fn.__code__.co_varnames[0]] if fn.__code__.co_argcount else [])
        return stage_source(origin[0], stage, origin[1])
    request = getattr(fn, "__chainrule_request__", None)
    if request is None:
        raise TypeError(f"{fn!r} was not generated by chainrule; pass a function returned by "
                        "chainrule.grad, value_and_grad, elementwise_grad, vjp, jvp, ...")
    if standalone:
        return standalone_module(request, fn)
    main = getattr(fn, "__chainrule_main__", None)
    if main is None:
        return "\n\n".join(g.source for g in request.generated)
    helpers = [g.source for g in request.generated if g is not main]
    return "\n\n".join(helpers + [main.source])


# Forward mode and higher-order derivatives (defined in forward_api, which uses this module).
from .forward_api import hessian, hvp, jacfwd, jacrev, jvp, make_jvp  # noqa: E402
