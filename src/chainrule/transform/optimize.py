"""Pass 8b, optimize: make generated code as short as the hand-written version would be.

Guarantees (each rewrite preserves what the code computes):

* *forward substitution in the primal*: a temporary that the three-address pass introduced,
  assigned once, read once by a later statement of the same block and never read by the
  adjoint code, is folded back into the expression that reads it (so the primal reads like
  the user's code, ``x = math.sin(x) * 0.9 + t3 * x``);
* *copy propagation in the adjoint*: ``b_a = b_b`` followed by reads of ``b_a`` is removed
  when ``b_a`` is assigned nowhere else and ``b_b`` does not change before the last read;
* one ``# grad of:`` comment per user statement: repeated markers of the same statement in
  a block are dropped.
"""

from __future__ import annotations

from typing import Any

import gast

from .astutil import load_counts, name_nodes, names_loaded, substitute, walk

__all__ = ["fold_primal", "propagate_copies", "dedupe_comments"]


def _count_stores(stmts: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in stmts:
        for sub in name_nodes(s):
            if isinstance(sub.ctx, (gast.Store, gast.Param)):
                counts[sub.id] = counts.get(sub.id, 0) + 1
    return counts


def _stores(s: Any) -> set[str]:
    return {n.id for n in name_nodes(s) if isinstance(n.ctx, gast.Store)}


def _is_push(s: Any, stack: str) -> bool:
    return (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
            and isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "append"
            and isinstance(s.value.func.value, gast.Name) and s.value.func.value.id == stack)


def _simple_value(value: Any) -> bool:
    """Values that are safe to move: no call to a generated helper (it may mutate)."""
    for sub in walk(value):
        if isinstance(sub, gast.Call) and isinstance(sub.func, gast.Name) and \
                sub.func.id.endswith("_fwd"):
            return False
    return True


def fold_primal(body: list[Any], temps: set[str], keep: set[str], stack: str) -> list[Any]:
    """Forward-substitute single-use temporaries (``temps`` not in ``keep``) in place."""
    loads = load_counts(body)
    stores = _count_stores(body)
    read_cache: dict[int, tuple[Any, set[str]]] = {}

    def reads(u: Any) -> set[str]:
        hit = read_cache.get(id(u))
        if hit is None or hit[0] is not u:
            hit = (u, set(names_loaded(u)))
            read_cache[id(u)] = hit
        return hit[1]

    def block(stmts: list[Any]) -> list[Any]:
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.AST):
                    setattr(s, field, block(inner))
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and s.targets[0].id in temps and s.targets[0].id not in keep
                    and stores.get(s.targets[0].id) == 1 and loads.get(s.targets[0].id) == 1
                    and _simple_value(s.value)):
                t = s.targets[0].id
                deps = set(names_loaded(s.value))
                for j in range(i + 1, len(stmts)):
                    u = stmts[j]
                    if t in reads(u):
                        if isinstance(u, gast.Assign) and t in names_loaded(u.value) and \
                                not isinstance(u.targets[0], gast.Tuple):
                            u.value = substitute(u.value, {t: s.value})
                            read_cache.pop(id(u), None)
                            del stmts[i]
                            i -= 1
                        break
                    if _is_push(u, stack):
                        continue
                    if isinstance(u, gast.Assign) and isinstance(u.targets[0], gast.Name) \
                            and not (_stores(u) & deps) and _simple_value(u.value):
                        continue
                    break
            i += 1
        return stmts

    return block(body)


def propagate_copies(adjoint: list[Any], adjoint_names: set[str]) -> list[Any]:
    """Remove ``b_a = b_b`` copies between adjoint variables where it is safe."""
    stores = _count_stores(adjoint)
    loads_total = load_counts(adjoint)
    facts: dict[int, tuple[Any, dict[str, int], set[str]]] = {}

    def fact(u: Any) -> tuple[dict[str, int], set[str]]:
        """(how often each name is read, names assigned) of a statement, cached."""
        hit = facts.get(id(u))
        if hit is None or hit[0] is not u:
            hit = (u, load_counts([u]), _stores(u))
            facts[id(u)] = hit
        return hit[1], hit[2]

    def block(stmts: list[Any]) -> list[Any]:
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.AST):
                    setattr(s, field, block(inner))
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                    and isinstance(s.value, gast.Name) and s.targets[0].id in adjoint_names
                    and s.value.id in adjoint_names and stores.get(s.targets[0].id) == 1):
                a, b = s.targets[0].id, s.value.id
                uses = [j for j in range(i + 1, len(stmts)) if a in fact(stmts[j])[0]]
                in_block = sum(fact(stmts[j])[0][a] for j in uses)
                if uses and in_block == loads_total.get(a, 0):
                    last = uses[-1]
                    safe = all(b not in fact(stmts[j])[1] for j in range(i + 1, last))
                    nested = any(not isinstance(stmts[j], (gast.Assign, gast.Expr))
                                 for j in uses)
                    if safe and not nested:
                        for j in uses:
                            stmts[j] = substitute(stmts[j], {a: gast.Name(
                                id=b, ctx=gast.Load(), annotation=None, type_comment=None)})
                        del stmts[i]
                        continue
            i += 1
        return stmts

    return block(adjoint)


def _comment_text(s: Any) -> str | None:
    if isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant) and \
            isinstance(s.value.value, str) and s.value.value.startswith("__comment__"):
        return s.value.value
    return None


def dedupe_comments(stmts: list[Any]) -> list[Any]:
    """Keep the first of consecutive-in-block markers for the same user statement, and drop
    markers left with no code under them."""
    out: list[Any] = []
    last = None
    for k, s in enumerate(stmts):
        text = _comment_text(s)
        if text is not None:
            if text == last:
                continue
            following = [u for u in stmts[k + 1:] if not (
                _is_marker(u) and not _comment_text(u))]
            if not following or _comment_text(following[0]) is not None:
                continue
            last = text
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.AST):
                setattr(s, field, dedupe_comments(inner))
        out.append(s)
    return out


_FOLD = {gast.Add: lambda a, b: a + b, gast.Sub: lambda a, b: a - b,
         gast.Mult: lambda a, b: a * b, gast.Pow: lambda a, b: a ** b}


def _number(node: Any) -> bool:
    return isinstance(node, gast.Constant) and type(node.value) in (int, float)


class _Simplify(gast.NodeTransformer):
    def visit_BinOp(self, node: Any) -> Any:
        self.generic_visit(node)
        left, right, op = node.left, node.right, type(node.op)
        if _number(left) and _number(right) and op in _FOLD:
            value = _FOLD[op](left.value, right.value)
            if isinstance(value, (int, float)) and abs(value) < 1e15:
                return gast.Constant(value=value, kind=None)
        if op is gast.Pow and _number(right) and right.value == 1:
            return left
        if op is gast.Mult and _number(right) and right.value == 1:
            return left
        if op is gast.Mult and _number(left) and left.value == 1:
            return right
        return node


def simplify(expr: Any) -> Any:
    """Fold arithmetic on constants in an inlined rule: ``x ** (2 - 1)`` becomes ``x``."""
    return _Simplify().visit(expr)


_IMPURE = {"pop", "append", "pop_grad", "seq_item_adjoint", "at"}


def _pure(expr: Any) -> bool:
    for sub in walk(expr):
        if isinstance(sub, gast.Call):
            func = sub.func
            fname = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
            if fname in _IMPURE:
                return False
    return True


def _mutated(s: Any) -> set[str]:
    """Names whose value ``s`` changes in place (receivers of pop/append, scatter targets)."""
    out: set[str] = set()
    for sub in walk(s):
        if isinstance(sub, gast.Call):
            func = sub.func
            if isinstance(func, gast.Attribute) and func.attr in ("pop", "append") and \
                    isinstance(func.value, gast.Name):
                out.add(func.value.id)
            fname = func.attr if isinstance(func, gast.Attribute) else getattr(func, "id", "")
            if fname in _IMPURE and sub.args and isinstance(sub.args[0], gast.Name):
                out.add(sub.args[0].id)
        if isinstance(sub, gast.Subscript) and isinstance(sub.ctx, gast.Store) and \
                isinstance(sub.value, gast.Name):
            out.add(sub.value.id)
        if isinstance(sub, gast.AugAssign) and isinstance(sub.target, gast.Subscript) and \
                isinstance(sub.target.value, gast.Name):
            out.add(sub.target.value.id)
    return out


def _simple_assign(s: Any) -> bool:
    return isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)


def _is_marker(s: Any) -> bool:
    return isinstance(s, gast.Expr) and isinstance(s.value, gast.Constant)


def compact(adjoint: list[Any], movable: set[str]) -> list[Any]:
    """Write each user statement's adjoint as few assignments as possible.

    Two rewrites, repeated until neither applies, both keeping the order and association
    of every floating-point operation:

    * a name in ``movable`` (an intermediate cotangent) assigned once and read once, later in
      the same block, has its expression substituted at the read;
    * ``v = A`` followed by ``v = v + B`` (nothing in between reads ``v``) becomes
      ``v = A + B``.

    Expressions move only past plain assignments that do not change what they read, and
    never when they pop, push or scatter.
    """
    stores = _count_stores(adjoint)
    loads = load_counts(adjoint)
    cache: dict[int, tuple[set[str], set[str], set[str]]] = {}

    def info(u: Any) -> tuple[set[str], set[str], set[str]]:
        """(names read, names assigned, names changed in place) of a statement, cached."""
        key = id(u)
        hit = cache.get(key)
        if hit is None or hit[3] is not u:
            read: set[str] = set()
            assigned: set[str] = set()
            for n in walk(u):
                if isinstance(n, gast.Name):
                    (read if isinstance(n.ctx, gast.Load) else assigned).add(n.id)
            hit = (read, assigned, _mutated(u), u)
            cache[key] = hit
        return hit[0], hit[1], hit[2]

    def movable_past(deps: set[str], between: list[Any]) -> bool:
        for u in between:
            if _is_marker(u):
                continue
            if not isinstance(u, (gast.Assign, gast.Expr, gast.AugAssign)):
                return False
            _, assigned, mutated = info(u)
            if assigned & deps or mutated & deps:
                return False
        return True

    def block(stmts: list[Any]) -> list[Any]:
        for s in stmts:
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.AST):
                    setattr(s, field, block(inner))
        i = 0
        while i < len(stmts):
            s = stmts[i]
            if not _simple_assign(s) or not _pure(s.value):
                i += 1
                continue
            v = s.targets[0].id
            deps = set(names_loaded(s.value))
            rewritten = False
            # rewrite 1: single-use intermediate
            if v in movable and stores.get(v) == 1 and loads.get(v) == 1:
                for j in range(i + 1, len(stmts)):
                    u = stmts[j]
                    if v in info(u)[0]:
                        if _simple_assign(u) and v in names_loaded(u.value) and \
                                movable_past(deps, stmts[i + 1:j]):
                            u.value = substitute(u.value, {v: s.value})
                            cache.pop(id(u), None)
                            del stmts[i]
                            stores[v] = 0
                            rewritten = True
                        break
            # rewrite 2: merge an accumulation into the assignment before it
            if not rewritten:
                for j in range(i + 1, len(stmts)):
                    u = stmts[j]
                    if _is_marker(u):
                        continue
                    if _simple_assign(u) and u.targets[0].id == v:
                        rhs = u.value
                        if (isinstance(rhs, gast.BinOp) and isinstance(rhs.op, gast.Add)
                                and isinstance(rhs.left, gast.Name) and rhs.left.id == v
                                and sum(1 for n in walk(rhs) if isinstance(n, gast.Name)
                                        and n.id == v) == 1
                                and movable_past(deps, stmts[i + 1:j])):
                            u.value = gast.BinOp(left=s.value, op=gast.Add(), right=rhs.right)
                            cache.pop(id(u), None)
                            del stmts[i]
                            rewritten = True
                        break
                    read, assigned, _ = info(u)
                    if v in read or v in assigned or not _simple_assign(u):
                        break
            if rewritten:
                i = max(i - 1, 0)
            else:
                i += 1
        return stmts

    return block(adjoint)


def recomputed(adjoint: list[Any], primal: list[Any]) -> set[str]:
    """Names the adjoint assigns that the primal never mentions: adjoint-only temporaries."""
    in_primal = {n.id for s in primal for n in walk(s) if isinstance(n, gast.Name)}
    return {n for n in _count_stores(adjoint) if n not in in_primal}


_SHAPE_ONLY = {  # runtime helper / NumPy function -> positions of arguments read for shape only
    "unbroadcast": (1,), "expand_reduced": (1,), "getitem_adjoint": (1,), "zeros_like": (0,),
    "ones_like": (0,), "grad_item": (2,), "size": (0,), "shape": (0,), "ndim": (0,),
}


def _order_of_definition(primal: list[Any]) -> dict[str, int]:
    order: dict[str, int] = {}
    for k, s in enumerate(primal):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            order.setdefault(s.targets[0].id, k)
    return order


def shape_substitution(primal: list[Any], adjoint: list[Any], same_shape: Any,
                       single: set[str]) -> list[Any]:
    """Where the adjoint reads a value only for its shape, read the earliest-defined value of
    the same shape class instead, so that later values can become dead primal code."""
    order = _order_of_definition(primal)
    candidates = [n for n in sorted(order, key=order.get) if n in single]

    def replacement(n: str) -> str:
        if n not in single or n not in order:
            return n
        for m in candidates:
            if order[m] >= order[n]:
                return n
            if same_shape(m, n):
                return m
        return n

    for s in adjoint:  # the arguments are replaced in place
        for node in walk(s):
            if not isinstance(node, gast.Call):
                continue
            f = node.func
            fname = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", None)
            for pos in _SHAPE_ONLY.get(fname, ()):
                if pos < len(node.args) and isinstance(node.args[pos], gast.Name):
                    node.args[pos] = gast.Name(id=replacement(node.args[pos].id),
                                               ctx=gast.Load(), annotation=None,
                                               type_comment=None)
    return adjoint


def scalar_reduction_peephole(adjoint: list[Any], same_shape: Any, expand: str) -> list[Any]:
    """``expand_reduced(s, X, None, False) * c * A`` with ``A`` shaped like ``X`` is
    ``s * c * A``: the scalar broadcasts, no array of copies of ``s`` is made."""

    def factors(node: Any) -> list[Any]:
        if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
            return factors(node.left) + factors(node.right)
        return [node]

    def is_full_expand(node: Any) -> bool:
        return (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)
                and node.func.id == expand and len(node.args) == 4
                and isinstance(node.args[1], gast.Name)
                and isinstance(node.args[2], gast.Constant) and node.args[2].value is None
                and isinstance(node.args[3], gast.Constant) and node.args[3].value is False)

    class Rewrite(gast.NodeTransformer):
        def visit_BinOp(self, node: Any) -> Any:
            if not isinstance(node.op, gast.Mult):
                return self.generic_visit(node)
            fs = factors(node)
            expands = [f for f in fs if is_full_expand(f)]
            if len(expands) == 1:
                x = expands[0].args[1].id
                others = [f for f in fs if f is not expands[0]]
                names = [f for f in others if isinstance(f, gast.Name)]
                if names and all(isinstance(f, gast.Constant) or
                                 (isinstance(f, gast.Name) and same_shape(f.id, x))
                                 for f in others):
                    scalar = expands[0].args[0]
                    return _replace_node(node, expands[0], scalar)
            return self.generic_visit(node)

    return [Rewrite().visit(s) for s in adjoint]


def _replace_node(tree: Any, old: Any, new: Any) -> Any:
    class R(gast.NodeTransformer):
        def visit(self, node: Any) -> Any:
            if node is old:
                return new
            return self.generic_visit(node)

    return R().visit(tree)


def _pure_primal(value: Any, modules: set[str]) -> bool:
    for sub in walk(value):
        if isinstance(sub, gast.Call):
            f = sub.func
            if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name)
                    and f.value.id in modules):
                return False
    return True


def eliminate_dead_primal(primal: list[Any], later: list[Any], modules: set[str]
                          ) -> list[Any]:
    """Drop top-level primal assignments of pure expressions whose value nothing reads.

    One backward pass suffices: a statement's operands are defined before it, so dropping it
    can only make earlier statements dead, and those are visited next."""
    loads = load_counts(primal + later)
    stores = _count_stores(primal + later)
    for k in range(len(primal) - 1, -1, -1):
        s = primal[k]
        if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                and loads.get(s.targets[0].id, 0) == 0
                and stores.get(s.targets[0].id, 0) == 1
                and _pure_primal(s.value, modules)):
            for n in walk(s.value):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                    loads[n.id] -= 1
            del primal[k]
    return primal
