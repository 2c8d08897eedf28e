"""Pass 2, fence: reject the Python that chainrule cannot differentiate, before any code runs.

Guarantees after this pass: the function body contains no ``try``, ``with``, ``yield``,
``await``, ``global``/``nonlocal``, ``del``, ``import``, class definitions, ``match``,
walrus, loop ``else`` clauses, starred call arguments, ``**`` call arguments, attribute
assignment, dict or set displays of computed values, unpacking (``*x``) in list or tuple
displays, nested functions or lambdas with ``*args``/``**kwargs`` or with defaults that
read local variables. Each rejection is a :class:`~chainrule.errors.TransformError` naming
the user's file, line and construct, and saying what to do instead.
"""

from __future__ import annotations

from typing import Any

import gast

from .astutil import walk
from .parse import Parsed

__all__ = ["fence"]

_ADVICE = {
    "try": "move the try outside the differentiated function",
    "with": "move the with block outside the differentiated function",
    "yield": "return the value instead of yielding it",
    "await": "differentiate a plain (non-async) function",
    "global": "pass the value in as an argument and return the result",
    "nonlocal": "pass the value in as an argument and return the result",
    "del": "remove the del statement",
    "import": "import at module level",
    "class": "define the class at module level",
    "match": "use if/elif/else",
    "walrus": "assign on a separate line",
    "loop else": "use a flag variable instead of the loop's else clause",
    "starred argument": "pass the arguments one by one",
    "** argument": "pass keyword arguments by name",
    "attribute assignment": "assign to a local variable and return it",
    "async": "differentiate a plain (non-async) function",
    "dict": "use separate variables, a tuple or a list (a dict's values carry no gradient)",
    "set": "use a tuple or a list",
    "star-args": "name each parameter",
    "nested default": "pass the value as an argument instead",
}


def _reject(parsed: Parsed, node: Any, construct: str, what: str | None = None) -> None:
    what = what or f"'{construct}' statements are"
    raise parsed.error(
        f"{what} not supported by chainrule.grad; {_ADVICE[construct]}",
        node, construct,
    )


def _constant(e: Any) -> bool:
    """A literal: ``1``, ``-2.5``, ``"axis"``, ``(0, 1)``, ``None``."""
    if isinstance(e, gast.Constant):
        return True
    if isinstance(e, gast.UnaryOp):
        return _constant(e.operand)
    if isinstance(e, (gast.Tuple, gast.List)):
        return all(_constant(x) for x in e.elts)
    return False


class _Fence(gast.NodeVisitor):
    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed
        self.depth = 0
        node = parsed.node
        self.local_names = {n.id for n in walk(node) if isinstance(n, gast.Name)
                            and isinstance(n.ctx, (gast.Store, gast.Param))}

    def visit_FunctionDef(self, node: Any) -> None:
        self._nested(node)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_Lambda(self, node: Any) -> None:
        self._nested(node)
        self.generic_visit(node)

    def _nested(self, node: Any) -> None:
        """A nested def or lambda is lambda-lifted: it gets no ``*args``/``**kwargs``, and
        its default values are evaluated where the lifted function is defined."""
        args = node.args
        if args.vararg is not None or args.kwarg is not None:
            _reject(self.parsed, node, "star-args", "nested functions and lambdas with *args "
                    "or **kwargs parameters are")
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            if any(isinstance(n, gast.Name) and n.id in self.local_names
                   for n in walk(default)):
                _reject(self.parsed, node, "nested default", "default values of nested "
                        "functions and lambdas that read local variables are")

    def visit_Dict(self, node: Any) -> None:
        if not all(_constant(e) for e in node.keys + node.values if e is not None):
            _reject(self.parsed, node, "dict", "dict displays of computed values are")
        self.generic_visit(node)

    def visit_Set(self, node: Any) -> None:
        if not all(_constant(e) for e in node.elts):
            _reject(self.parsed, node, "set", "set displays of computed values are")
        self.generic_visit(node)

    def visit_List(self, node: Any) -> None:
        for elt in node.elts:
            if isinstance(elt, gast.Starred) and isinstance(node.ctx, gast.Load):
                _reject(self.parsed, node, "starred argument",
                        "unpacking (*x) in list and tuple displays is")
        self.generic_visit(node)

    visit_Tuple = visit_List

    def visit_Try(self, node: Any) -> None:
        _reject(self.parsed, node, "try")

    visit_TryStar = visit_Try

    def visit_With(self, node: Any) -> None:
        _reject(self.parsed, node, "with")

    def visit_AsyncWith(self, node: Any) -> None:
        _reject(self.parsed, node, "async", "'async with' statements are")

    def visit_AsyncFor(self, node: Any) -> None:
        _reject(self.parsed, node, "async", "'async for' loops are")

    def visit_AsyncFunctionDef(self, node: Any) -> None:
        _reject(self.parsed, node, "async", "async functions are")

    def visit_Yield(self, node: Any) -> None:
        _reject(self.parsed, node, "yield", "'yield' expressions are")

    visit_YieldFrom = visit_Yield

    def visit_Await(self, node: Any) -> None:
        _reject(self.parsed, node, "await", "'await' expressions are")

    def visit_Global(self, node: Any) -> None:
        _reject(self.parsed, node, "global")

    def visit_Nonlocal(self, node: Any) -> None:
        _reject(self.parsed, node, "nonlocal")

    def visit_Delete(self, node: Any) -> None:
        _reject(self.parsed, node, "del")

    def visit_Import(self, node: Any) -> None:
        _reject(self.parsed, node, "import")

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node: Any) -> None:
        _reject(self.parsed, node, "class", "class definitions are")

    def visit_Match(self, node: Any) -> None:
        _reject(self.parsed, node, "match")

    def visit_NamedExpr(self, node: Any) -> None:
        _reject(self.parsed, node, "walrus", "assignment expressions (:=) are")

    def visit_For(self, node: Any) -> None:
        if node.orelse:
            _reject(self.parsed, node, "loop else", "'for ... else' clauses are")
        self.generic_visit(node)

    def visit_While(self, node: Any) -> None:
        if node.orelse:
            _reject(self.parsed, node, "loop else", "'while ... else' clauses are")
        self.generic_visit(node)

    def visit_Call(self, node: Any) -> None:
        for arg in node.args:
            if isinstance(arg, gast.Starred):
                if self.parsed.filename.startswith("<chainrule") and isinstance(
                        node.func, gast.Attribute) and node.func.attr == "einsum":
                    raise self.parsed.error(
                        "derivatives of np.einsum beyond the first are not supported: its "
                        "derivative is an einsum over *operands, which chainrule cannot "
                        "differentiate again; write the contraction with '@', np.tensordot "
                        "or np.sum of products, or take higher derivatives with nested "
                        "GradientTapes", node, "np.einsum")
                _reject(self.parsed, node, "starred argument", "starred arguments (*args) are")
        for kw in node.keywords:
            if kw.arg is None:
                _reject(self.parsed, node, "** argument", "'**' keyword arguments are")
        self.generic_visit(node)

    def visit_Assign(self, node: Any) -> None:
        for target in node.targets:
            self._check_target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: Any) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: Any) -> None:
        self._check_target(node.target)
        self.generic_visit(node)

    def _check_target(self, target: Any) -> None:
        if isinstance(target, gast.Attribute):
            _reject(self.parsed, target, "attribute assignment", "assignments to attributes are")
        if isinstance(target, (gast.Tuple, gast.List)):
            for elt in target.elts:
                if isinstance(elt, gast.Starred):
                    _reject(self.parsed, target, "starred argument",
                            "starred assignment targets are")
                self._check_target(elt)


def fence(parsed: Parsed) -> None:
    """Raise ``TransformError`` at the first unsupported construct of ``parsed``."""
    args = parsed.node.args
    if args.vararg is not None or args.kwarg is not None:
        raise parsed.error(
            "functions with *args or **kwargs parameters are not supported by chainrule.grad; "
            "name each parameter",
            parsed.node, "star-args",
        )
    checker = _Fence(parsed)
    for stmt in parsed.node.body:
        checker.depth = 0
        checker.visit(stmt)
