"""Render the rule registry as Markdown: ``python -m chainrule.rules.doc > docs/rules.md``.

Guarantees: :func:`render` is deterministic (sorted by name, no addresses or timestamps) and
lists every registered function with the source of each rule's formula, every
non-differentiable function, and every ndarray method and attribute mapping. The test suite
fails when ``docs/rules.md`` differs from a fresh rendering.
"""

from __future__ import annotations

import ast
import sys
from typing import Any

import gast

from .registry import (
    Primitive,
    Rule,
    qualified_name,
    registered_attrs,
    registered_methods,
    registered_primitives,
)

__all__ = ["render"]

COMMAND = "python -m chainrule.rules.doc > docs/rules.md"

_GROUPS = [
    ("numpy.linalg.", "NumPy linear algebra (`np.linalg`)"),
    ("numpy.fft.", "NumPy FFT (`np.fft`)"),
    ("numpy.", "NumPy"),
    ("math.", "Python `math`"),
    ("chainrule.runtime.", "chainrule.runtime helpers (for generated code)"),
    ("chainrule.", "chainrule"),
    ("operator.", "Python operators and builtins"),
]


_DISPLAY_ORDER = [2, 0, 1, 3, 6, 5, 4]  # NumPy first, runtime helpers last


def _group(name: str) -> str:
    for prefix, title in _GROUPS:
        if name.startswith(prefix):
            return title
    return "Python operators and builtins" if "." not in name else "Other"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _formula(rule: Rule, multi: list[tuple[str, str]], label: str) -> str:
    tpl = rule.template()
    if tpl.expr is not None:
        return f"`{_cell(ast.unparse(gast.gast_to_ast(tpl.expr)))}`"
    multi.append((label, tpl.source))
    return f"`{rule.fn.__name__}` (below)"


def _argument(rule: Rule) -> str:
    tpl = rule.template()
    positional = tpl.params[2:len(tpl.params) - len(tpl.kwonly)]
    if rule.argnum < len(positional):
        return positional[rule.argnum]
    return f"{tpl.varargs}[{rule.argnum - len(positional)}]"


def _differentiable(prims: list[Primitive]) -> list[str]:
    lines: list[str] = []
    multi: list[tuple[str, str]] = []
    by_group: dict[str, list[Primitive]] = {}
    for prim in prims:
        by_group.setdefault(_group(prim.name), []).append(prim)
    order = [_GROUPS[i][1] for i in _DISPLAY_ORDER] + ["Other"]
    for title in sorted(by_group, key=order.index):
        lines += [f"### {title}", "", "| Function | Argument | VJP | JVP |", "|---|---|---|---|"]
        for prim in by_group[title]:
            note = " (broadcasting)" if prim.broadcasts else ""
            for argnum in sorted(prim.vjps.keys() | prim.jvps.keys()):
                cells = []
                for kind, table in (("VJP", prim.vjps), ("JVP", prim.jvps)):
                    rule = table.get(argnum)
                    cells.append("—" if rule is None else
                                 _formula(rule, multi, f"{prim.name}, {kind} of argument {argnum}"))
                some = prim.vjps.get(argnum) or prim.jvps[argnum]
                lines.append(f"| `{prim.name}`{note} | `{_argument(some)}` | "
                             f"{cells[0]} | {cells[1]} |")
        lines.append("")
    if multi:
        lines += ["### Rules written as several statements", ""]
        for label, source in multi:
            lines += [f"{label}:", "", "```python", source, "```", ""]
    return lines


def render() -> str:
    """The Markdown listing of the registry (what ``docs/rules.md`` holds)."""
    import chainrule  # noqa: F401  (registers the rules of every chainrule module)

    prims = sorted(registered_primitives(), key=lambda p: (p.name, repr(p.vjps.keys())))
    diff = [p for p in prims if p.vjps or p.jvps]
    nondiff = [p for p in prims if p.nondiff and not (p.vjps or p.jvps)]
    lines = [
        "# Supported functions",
        "",
        f"Generated from the rule registry by `{COMMAND}`; do not edit by hand.",
        "",
        f"{len(diff)} functions have derivative rules, {len(nondiff)} are marked "
        "non-differentiable. In each formula `g` is the incoming cotangent (VJP) or the "
        "argument's tangent (JVP), `ans` the function's output and the other names its "
        "parameters; rules of runtime helpers that have their own `g` call them `ct` and `out`. "
        "For a *broadcasting* function the engines sum each VJP result back to its "
        "argument's shape (`runtime.unbroadcast`) and broadcast each JVP contribution to the "
        "output's shape (`runtime.broadcast_like`). Arguments not listed carry no gradient. "
        "A multi-output function receives a tuple `g` (one cotangent per output) and its JVP "
        "returns a tuple of output tangents.",
        "",
        "## Differentiable functions",
        "",
    ]
    lines += _differentiable(diff)
    lines += ["## Non-differentiable functions", "",
              "Their outputs carry no gradient (the engines treat them as constants).", ""]
    lines += [", ".join(f"`{p.name}`" for p in nondiff), ""]
    lines += ["## ndarray methods", "", "`x.name(...)` means `function(x, ...)`.", "",
              "| Method | Function |", "|---|---|"]
    lines += [f"| `x.{m}(...)` | `{_name(fn)}` |" for m, fn in registered_methods().items()]
    lines += ["", "## ndarray attributes", "", "`x.name` means `function(x)`.", "",
              "| Attribute | Function |", "|---|---|"]
    lines += [f"| `x.{a}` | `{_name(fn)}` |" for a, fn in registered_attrs().items()]
    return "\n".join(lines) + "\n"


def _name(fn: Any) -> str:
    from .registry import primitive_of

    prim = primitive_of(fn)
    return prim.name if prim is not None else qualified_name(fn)


if __name__ == "__main__":
    sys.stdout.write(render())
