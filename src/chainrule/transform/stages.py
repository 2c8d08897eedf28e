"""The pipeline's intermediate stages as readable source, for teaching and debugging.

``parsed`` is the function as gast read it; ``normalized`` is the three-address form after
desugaring and lowering of jumps; ``activity`` is that form with a comment before each
statement saying which variables it makes active (depend on the differentiated inputs and
reach the returned value); ``final`` is the generated derivative.
"""

from __future__ import annotations

from typing import Any

import gast

from .activity import analyse
from .astutil import to_source
from .emit import render
from .generate import prepare
from .parse import parse_function

__all__ = ["STAGES", "stage_source"]

STAGES = ("parsed", "normalized", "activity", "final")


def _with_return(prep: Any) -> Any:
    fdef = prep.fdef
    if prep.ret is not None:
        fdef.body = fdef.body + [gast.Return(value=prep.ret)]
    return fdef


def _mark(stmts: list[Any], activity: Any) -> list[Any]:
    out: list[Any] = []
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            t = s.targets[0].id
            note = f"active: {t}" if activity.is_active(t) else f"inactive: {t}"
            out.append(gast.Expr(value=gast.Constant(value=f"__note__{note}", kind=None)))
        for field in ("body", "orelse"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                setattr(s, field, _mark(inner, activity))
        out.append(s)
    return out


def stage_source(fn: Any, stage: str, wrt: list[str]) -> str:
    if stage not in STAGES[:-1]:
        raise ValueError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    parsed = parse_function(fn)
    if stage == "parsed":
        return to_source(parsed.node) + "\n"
    prep = prepare(parsed, fn.__name__)
    if stage == "normalized":
        return to_source(_with_return(prep)) + "\n"
    outputs = [prep.ret.id] if isinstance(prep.ret, gast.Name) else []
    activity = analyse(prep.fdef, prep.ctx, prep.local_names, wrt, outputs)
    fdef = _with_return(prep)
    fdef.body = _mark(fdef.body, activity)
    header = (f"# active = depends on {', '.join(wrt)} and reaches the returned value: "
              f"{', '.join(sorted(activity.active)) or '(none)'}")
    text = render(fdef).replace("# grad of: ", "# ")
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped[:1] in "'\"" and "__note__" in stripped:
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(f"{indent}# {stripped.strip(chr(39) + chr(34))[len('__note__'):]}")
        else:
            lines.append(line)
    return header + "\n" + "\n".join(lines) + "\n"
