"""Pass 8, saves: decide what the primal sweep must record for the adjoint sweep.

To-be-recorded analysis: a variable is *needed* when the adjoint code reads it. An
assignment pushes the old value of a needed variable on ``stack`` only when it can
overwrite a value the adjoint still needs: inside a loop, or when the variable has another
assignment (or is a parameter). Item assignments ``a[i] = v`` push the overwritten item.
Each push is matched by a pop right after the adjoint of the same statement, so the adjoint
sweep sees every variable as it was when its statement ran. Variables first bound inside a
loop are set to ``None`` before the loop so that their first push has a value.
"""

from __future__ import annotations

from typing import Any

import gast

from .astutil import (
    assign,
    call,
    clone,
    const,
    load_counts,
    name,
    names_loaded,
    names_stored,
    walk,
)
from .reverse import ReverseGen

__all__ = ["place_saves"]


def _marker_id(stmt: Any, kind: str) -> int | None:
    if isinstance(stmt, gast.Expr) and isinstance(stmt.value, gast.Constant):
        text = stmt.value.value
        if isinstance(text, str) and text.startswith(kind):
            return int(text[len(kind):])
    return None


def _mutated_names(body: list[Any]) -> set[str]:
    """Names assigned, subscript-assigned, used as loop targets or called methods on."""
    out: set[str] = set()
    for s in body:
        for sub in walk(s):
            if isinstance(sub, gast.Name) and isinstance(sub.ctx, gast.Store):
                out.add(sub.id)
            elif isinstance(sub, gast.Subscript) and isinstance(sub.ctx, gast.Store) and \
                    isinstance(sub.value, gast.Name):
                out.add(sub.value.id)
            elif isinstance(sub, gast.Call) and isinstance(sub.func, gast.Attribute) and \
                    isinstance(sub.func.value, gast.Name):
                out.add(sub.func.value.id)
    return out


def _mutated_in_place(body: list[Any]) -> set[str]:
    out: set[str] = set()
    for s in body:
        for sub in walk(s):
            if isinstance(sub, gast.Subscript) and isinstance(sub.ctx, gast.Store) and \
                    isinstance(sub.value, gast.Name):
                out.add(sub.value.id)
            elif isinstance(sub, gast.Call) and isinstance(sub.func, gast.Attribute) and \
                    isinstance(sub.func.value, gast.Name):
                out.add(sub.func.value.id)
    return out


def find_recompute(body: list[Any], needed: set[str], sites: dict[str, int], shapes: Any,
                   params: set[str]) -> tuple[dict[int, list[Any]], set[str]]:
    """Scalar arithmetic in loops, ``t = a op b``, recomputed in the adjoint instead of saved.

    Saving a scalar costs a push and a pop per iteration; recomputing it costs one float
    operation. Arrays are always saved (recomputing them costs as much as computing them).
    Applies when ``t`` is a Python scalar (shape analysis), is assigned once inside a loop
    and is not a parameter, every use follows it in the same block (the adjoint of a
    statement after the loop runs before the recomputation, and a pullback gets nothing it
    does not save), and no
    statement from its definition up to its last use changes ``a`` or ``b`` (the last use
    may, when it reads its own target: its old value is restored first). The recomputation
    is placed at the start of the adjoint of the last use, where ``a`` and ``b`` again hold
    the values they had when ``t`` was computed.
    """
    plan: dict[int, list[Any]] = {}
    names: set[str] = set()
    in_place = _mutated_in_place(body)
    read_cache: dict[int, set[str]] = {}
    everywhere = load_counts(body)

    def reads(u: Any) -> set[str]:
        hit = read_cache.get(id(u))
        if hit is None:
            hit = read_cache[id(u)] = set(names_loaded(u))
        return hit
    # The adjoint reads an operand at the recomputation as it is then: right for a value
    # the saves restore (needed), assigned outside every loop, or a loop index that only
    # its loop assigns (the reversed adjoint loop rebinds it); stale for a temporary of
    # the loop body that nothing saves.
    in_loops: set[str] = set()
    indices: set[str] = set()
    for sub in walk(gast.Module(body=body, type_ignores=[])):
        if isinstance(sub, (gast.For, gast.While)):
            in_loops |= set(names_stored(gast.Module(body=sub.body, type_ignores=[])))
            if isinstance(sub, gast.For) and isinstance(sub.target, gast.Name):
                in_loops.add(sub.target.id)
                if sites.get(sub.target.id, 0) == 1:
                    indices.add(sub.target.id)

    def visit(stmts: list[Any], in_loop: bool) -> None:
        for k, s in enumerate(stmts):
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    visit(inner, in_loop or isinstance(s, (gast.For, gast.While)))
            if not in_loop or not (isinstance(s, gast.Assign)
                                   and isinstance(s.targets[0], gast.Name)):
                continue
            t = s.targets[0].id
            value = s.value
            if t not in needed or sites.get(t, 0) != 1 or t in params:
                continue
            if shapes is None or not shapes.same(shapes.result.get(id(s)), "scalar"):
                continue
            if not isinstance(getattr(value, "op", None), (gast.Add, gast.Sub, gast.Mult,
                                                           gast.Div, gast.USub, gast.UAdd)):
                continue
            if isinstance(value, gast.BinOp):
                atoms = [value.left, value.right]
            elif isinstance(value, gast.UnaryOp) and isinstance(value.op, (gast.USub,
                                                                          gast.UAdd)):
                atoms = [value.operand]
            else:
                continue
            if not all(isinstance(a, (gast.Name, gast.Constant)) for a in atoms):
                continue
            deps = {a.id for a in atoms if isinstance(a, gast.Name)}
            if t in deps or t in in_place or deps & (in_place | names):
                continue
            if any(d in in_loops and d not in needed and d not in indices for d in deps):
                continue
            uses = [j for j in range(k + 1, len(stmts)) if t in reads(stmts[j])]
            if not uses:
                continue
            last = uses[-1]
            if load_counts(stmts[k + 1:last + 1]).get(t, 0) != everywhere.get(t, 0):
                continue  # also read before its definition or outside this block
            between = stmts[k + 1:last]
            if any(not isinstance(u, (gast.Assign, gast.Expr)) for u in stmts[k + 1:last + 1]):
                continue
            if any(set(names_stored(u)) & deps for u in between):
                continue
            u = stmts[last]
            if isinstance(u, gast.Assign) and isinstance(u.targets[0], gast.Name):
                target = u.targets[0].id
                if target in deps and target not in names_loaded(u.value):
                    continue
            elif set(names_stored(u)) & deps:
                continue
            plan.setdefault(id(u), []).append(s)
            names.add(t)

    visit(body, False)
    return plan, names


def find_remat(body: list[Any], needed: set[str], sites: dict[str, int], params: set[str]
               ) -> tuple[dict[int, list[Any]], set[str]]:
    """Loop-body reads ``t = a[i]`` of arrays that never change, indexed by the loop variable
    or unchanging names: recomputed at the top of each adjoint iteration, never saved.

    Only for a ``t`` that no statement outside the loop reads and that is not a parameter:
    the adjoint sweep reaches the statements after the loop before the loop's own adjoint
    (and a pullback gets nothing it does not save), and leaves the loop with ``t`` holding
    the first iteration's item, not the value the statements before the loop saw."""
    mutated = _mutated_names(body)
    plan: dict[int, list[Any]] = {}
    names: set[str] = set()
    everywhere = load_counts(body)

    def visit(stmts: list[Any]) -> None:
        for s in stmts:
            if isinstance(s, gast.For):
                in_loop = load_counts(s.body)
                for k, u in enumerate(s.body):
                    if not (isinstance(u, gast.Assign) and isinstance(u.targets[0], gast.Name)
                            and isinstance(u.value, gast.Subscript)
                            and isinstance(u.value.value, gast.Name)):
                        continue
                    t, a = u.targets[0].id, u.value.value.id
                    index_names = set(names_loaded(u.value.slice))
                    if (t in needed and sites.get(t, 0) == 1 and a not in mutated
                            and t not in params
                            and everywhere.get(t, 0) == in_loop.get(t, 0)
                            and all(n == s.target.id or n not in mutated for n in index_names)
                            and not any(t in names_loaded(p) for p in s.body[:k])):
                        plan.setdefault(id(s), []).append(u)
                        names.add(t)
            for field in ("body", "orelse"):
                inner = getattr(s, field, None)
                if isinstance(inner, list):
                    visit(inner)

    visit(body)
    return plan, names


class _Saves:
    def __init__(self, gen: ReverseGen, stack: str) -> None:
        self.gen = gen
        self.stack = stack
        self.restores: dict[int, list[Any]] = {}
        self.preinit: dict[int, list[str]] = {}
        self.used = False
        self.sites: dict[str, int] = {}
        self.needed: set[str] = set()
        self.remat: dict[int, list[Any]] = {}
        self.remat_names: set[str] = set()
        self.recompute: dict[int, list[Any]] = {}
        self.recompute_names: set[str] = set()
        self.in_place: set[str] = set()  # arrays the primal modifies in place
        self.remat_copies: set[int] = set()  # ids of statements the remat markers became
        self.preinit_nodes: set[int] = set()  # ids of the ``v = None`` before loops
        # names bound on every path to the statement being placed (``bound`` holds those
        # bound on some path), at the outermost loop around it, and the names pushed where
        # a path may leave them unbound: those start as None
        self.sure: set[str] = set()
        self.sure_at_loop: set[str] = set()
        self.top_preinit: list[str] = []
        user = gen.ctx.parsed.node
        self.user_names = {n.id for n in walk(user) if isinstance(n, gast.Name)}

    def unviewed(self, s: Any) -> None:
        """``t = a[1:]`` (a view) of an array modified in place later: a temporary the
        adjoint reads gets a copy, the value it had when the expression ran (the later write
        must not show through it, nor may restoring ``a`` be needed to undo that)."""
        t = s.targets[0].id
        value = s.value
        base = value.value if isinstance(value, (gast.Subscript, gast.Attribute)) else None
        if (isinstance(base, gast.Name) and base.id in self.in_place and t in self.needed
                and t not in self.user_names):
            s.value = call(self.gen.ns.runtime("snapshot"), value)

    def push(self, value: Any) -> Any:
        self.used = True
        return gast.Expr(value=call(gast.Attribute(value=name(self.stack), attr="append",
                                                   ctx=gast.Load()), value))

    def pop(self) -> Any:
        return call(gast.Attribute(value=name(self.stack), attr="pop", ctx=gast.Load()))

    def count_sites(self, stmts: list[Any]) -> None:
        for s in stmts:
            for sub in walk(s):
                if isinstance(sub, gast.Assign) and isinstance(sub.targets[0], gast.Name):
                    self.sites[sub.targets[0].id] = self.sites.get(sub.targets[0].id, 0) + 1
                elif isinstance(sub, gast.For) and isinstance(sub.target, gast.Name):
                    self.sites[sub.target.id] = self.sites.get(sub.target.id, 0) + 1

    def must_save(self, v: str, in_loop: bool, bound: set[str]) -> bool:
        if v not in self.needed or v in self.remat_names or v in self.recompute_names:
            return False
        if in_loop:
            return True
        reassigned = self.sites.get(v, 0) > 1 or v in self.gen.param_names
        return reassigned and v in bound

    def note_loop_var(self, v: str, loop: Any, bound_at_loop: set[str]) -> None:
        """A push in a loop reads ``v``: unbound on every path to the outermost loop, it
        starts as None right before that loop; bound on some paths only, at the top of the
        function (a None before the loop would replace the value the other paths bound)."""
        if loop is None:
            return
        if v not in bound_at_loop:
            names = self.preinit.setdefault(id(loop), [])
            if v not in names:
                names.append(v)
        elif v not in self.sure_at_loop and v not in self.top_preinit:
            self.top_preinit.append(v)

    def note_push(self, v: str) -> None:
        """A push outside loops reads ``v``: a path on which it is still unbound (a branch
        that did not assign it, a return taken earlier) must find it None, set at the top
        of the function, before anything can bind it."""
        if v not in self.sure and v not in self.top_preinit:
            self.top_preinit.append(v)

    def block(self, stmts: list[Any], in_loop: bool, bound: set[str], outer: Any,
              bound_outer: set[str]) -> list[Any]:
        out: list[Any] = []
        outside = self.sure
        self.sure = set(outside)
        for s in stmts:
            out += self.stmt(s, in_loop, bound, outer, bound_outer)
            bound |= set(names_stored(s))
            self.sure |= _bound_on_every_path(s)
        self.sure = outside
        return out

    def stmt(self, s: Any, in_loop: bool, bound: set[str], outer: Any,
             bound_outer: set[str]) -> list[Any]:
        gen = self.gen
        sid = id(s)
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            pre: list[Any] = []
            restores: list[Any] = []
            targets = [t]
            if sid in gen.call_saves:
                targets.append(gen.call_saves[sid])
            if sid not in gen.no_save:
                for v in targets:
                    if self.must_save(v, in_loop, bound):
                        if in_loop:
                            self.note_loop_var(v, outer, bound_outer)
                        else:
                            self.note_push(v)
                        pre.append(self.push(name(v)))
                        restores.insert(0, assign(v, self.pop()))
            self.restores[sid] = restores
            self.unviewed(s)
            if sid in gen.call_saves:
                value = s.value
                fwd_call = gast.Call(func=name(gen.call_fwd[sid]), args=value.args,
                                     keywords=value.keywords)
                tgt = gast.Tuple(elts=[gast.Name(id=v, ctx=gast.Store(), annotation=None,
                                                 type_comment=None) for v in targets],
                                 ctx=gast.Store())
                new = gast.Assign(targets=[tgt], value=fwd_call, type_comment=None)
                gast.copy_location(new, s)
                return pre + [new]
            return pre + [s]
        if isinstance(s, gast.Assign):  # a[index] = value
            a = s.targets[0].value.id
            if a in self.needed:
                item = gast.Subscript(value=name(a), slice=clone(s.targets[0].slice),
                                      ctx=gast.Load())
                target = clone(s.targets[0])
                self.restores[sid] = [assign(target, self.pop())]
                return [self.push(call(gen.ns.runtime("snapshot"), item)), s]
            self.restores[sid] = []
            return [s]
        if isinstance(s, gast.If):
            s.body = self.block(s.body, in_loop, set(bound), outer, bound_outer)
            s.orelse = self.block(s.orelse, in_loop, set(bound), outer, bound_outer)
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            pre = []
            restores: list[Any] = []
            outer_loop = outer if outer is not None else s
            at_loop = bound_outer if outer is not None else set(bound)
            if outer is None:
                self.sure_at_loop = set(self.sure)
            if isinstance(s, gast.For):
                v = s.target.id
                if self.must_save(v, in_loop, bound) or (
                        v in self.needed and self.sites.get(v, 0) > 1 and v in bound):
                    if in_loop:
                        self.note_loop_var(v, outer, bound_outer)
                    else:
                        self.note_push(v)
                    pre.append(self.push(name(v)))
                    restores.append(assign(v, self.pop()))
            counter = gen.counters.get(sid)
            body_bound = set(bound) | set(names_stored(s.target) if isinstance(s, gast.For)
                                          else [])
            s.body = self.block(s.body, True, body_bound, outer_loop, at_loop)
            if counter is not None:
                init = assign(counter, const(0))
                if in_loop and counter in self.needed:
                    self.note_loop_var(counter, outer, bound_outer)
                    pre.append(self.push(name(counter)))
                    restores.insert(0, assign(counter, self.pop()))  # pushed last, popped first
                incr = assign(counter, gast.BinOp(left=name(counter), op=gast.Add(),
                                                  right=const(1)))
                s.body.insert(0, incr)
                pre.append(init)
            self.restores[sid] = restores
            result = pre + [s]
            if outer is None and self.preinit.get(sid):
                inits = [assign(v, const(None)) for v in self.preinit[sid]]
                self.preinit_nodes |= {id(u) for u in inits}
                result = inits + result
            return result
        return [s]

    def fill(self, stmts: list[Any]) -> list[Any]:
        out: list[Any] = []
        for s in stmts:
            rid = _marker_id(s, "__restore__")
            if rid is not None:
                out += self.restores.get(rid, [])
                continue
            rid = _marker_id(s, "__recompute__")
            if rid is not None:
                out += [clone(u) for u in self.recompute.get(rid, [])]
                continue
            rid = _marker_id(s, "__remat__")
            if rid is not None:
                copies = [clone(u) for u in self.remat.get(rid, [])]
                self.remat_copies |= {id(u) for u in copies}
                out += copies
                continue
            for field in ("body", "orelse"):
                if hasattr(s, field) and isinstance(getattr(s, field), list):
                    setattr(s, field, self.fill(getattr(s, field)) or
                            ([gast.Pass()] if field == "body" else []))
            if isinstance(s, (gast.For, gast.While, gast.If)) and not self.effective(s.body) \
                    and not self.effective(s.orelse):
                continue  # only comments, or restores that restore nothing
            out.append(s)
        return out

    def effective(self, stmts: list[Any]) -> bool:
        return any(not (isinstance(u, gast.Pass) or id(u) in self.remat_copies or (
            isinstance(u, gast.Expr) and isinstance(u.value, gast.Constant))) for u in stmts)


def place_saves(gen: ReverseGen, body: list[Any], adjoint: list[Any], primal_locals: set[str],
                stack: str) -> tuple[list[Any], list[Any], bool, list[str]]:
    """Return (primal with pushes, adjoint with pops, whether a stack is used, needed names)."""
    saves = _Saves(gen, stack)
    loads = names_loaded(gast.Module(body=adjoint, type_ignores=[]))
    saves.needed = {n for n in loads if n in primal_locals}
    saves.count_sites(body)
    saves.in_place = _mutated_in_place(body)
    # a call's saved state holds references to the arrays passed to it: one the primal then
    # modifies in place must be restored before the call's pullback reads it
    for sub in walk(gast.Module(body=body, type_ignores=[])):
        saved = gen.call_saves.get(id(sub)) if isinstance(sub, gast.Assign) else None
        if saved is not None and saved in saves.needed:
            passed = list(sub.value.args) + [k.value for k in sub.value.keywords]
            saves.needed |= {n for a in passed for n in names_loaded(a)
                             if n in saves.in_place and n in primal_locals}
    saves.remat, saves.remat_names = find_remat(body, saves.needed, saves.sites,
                                                set(gen.param_names))
    saves.recompute, saves.recompute_names = find_recompute(body, saves.needed, saves.sites,
                                                            gen.shapes, set(gen.param_names))
    saves.sure = set(gen.param_names)
    primal = saves.block(body, False, set(gen.param_names), None, set())
    if saves.top_preinit:
        inits = [assign(v, const(None)) for v in saves.top_preinit]
        saves.preinit_nodes |= {id(u) for u in inits}
        primal = inits + primal
    adjoint = saves.fill(adjoint)
    primal, adjoint = _drop_unread_saves(primal, adjoint, stack, set(gen.param_names), saves)
    saves.used = any(_pushed(u, stack) is not None or _is_append(u, stack)
                     for u in gast.walk(gast.Module(body=primal, type_ignores=[])))
    rebuilt = saves.recompute_names | saves.remat_names  # the adjoint computes these itself
    needed = [n for n in names_loaded(gast.Module(body=adjoint, type_ignores=[]))
              if (n in primal_locals or n == stack) and n not in rebuilt]
    return primal, adjoint, saves.used, needed


def _bound_on_every_path(s: Any) -> set[str]:
    """The names ``s`` binds on every path through it: an assignment's targets, what both
    branches of an ``if`` bind; nothing for a loop (it may not run)."""
    if isinstance(s, gast.If):
        body: set[str] = set()
        for u in s.body:
            body |= _bound_on_every_path(u)
        orelse: set[str] = set()
        for u in s.orelse:
            orelse |= _bound_on_every_path(u)
        return body & orelse
    if isinstance(s, (gast.For, gast.While)):
        return set()
    return set(names_stored(s))


def _is_append(s: Any, stack: str) -> bool:
    return (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)
            and isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "append"
            and isinstance(s.value.func.value, gast.Name) and s.value.func.value.id == stack)


def _pushed(s: Any, stack: str) -> str | None:
    """``v`` of ``stack.append(v)``."""
    if _is_append(s, stack) and len(s.value.args) == 1 and isinstance(s.value.args[0], gast.Name):
        return s.value.args[0].id
    return None


def _popped(s: Any, stack: str) -> str | None:
    """``v`` of ``v = stack.pop()``."""
    if (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
            and isinstance(s.value, gast.Call) and isinstance(s.value.func, gast.Attribute)
            and s.value.func.attr == "pop" and isinstance(s.value.func.value, gast.Name)
            and s.value.func.value.id == stack and not s.value.args):
        return s.targets[0].id
    return None


def _drop_unread_saves(primal: list[Any], adjoint: list[Any], stack: str, params: set[str],
                       saves: _Saves) -> tuple[list[Any], list[Any]]:
    """Remove the pushes and pops of a variable that no adjoint statement reads any more.

    A branch or loop of the adjoint made only of restores is kept by the reverse pass (its
    restores may be needed) and dropped by ``fill`` when they restore nothing; what its test
    (or counter) saved for it is then read by nobody. Every push and every pop of such a
    variable go together, so the stack stays balanced. (Parameters are read after the
    adjoint sweep, by the returned gradients, and keep theirs.)"""
    loads = set(names_loaded(gast.Module(body=adjoint, type_ignores=[])))
    popped = {v for u in gast.walk(gast.Module(body=adjoint, type_ignores=[]))
              if (v := _popped(u, stack)) is not None}
    useless = popped - loads - params
    if not useless:
        return primal, adjoint

    def without(stmts: list[Any], drop: Any, prune: bool) -> list[Any]:
        out = []
        for u in stmts:
            if drop(u) in useless:
                continue
            for field in ("body", "orelse"):
                inner = getattr(u, field, None)
                if isinstance(inner, list):
                    setattr(u, field, without(inner, drop, prune))
            if isinstance(u, (gast.For, gast.While, gast.If)):
                if prune and not saves.effective(u.body) and not saves.effective(u.orelse):
                    continue
                u.body = u.body or [gast.Pass()]
            out.append(u)
        return out

    def pushed_or_preset(u: Any) -> str | None:
        if id(u) in saves.preinit_nodes:
            return u.targets[0].id
        return _pushed(u, stack)

    return (without(primal, pushed_or_preset, False),
            without(adjoint, lambda u: _popped(u, stack), True))
