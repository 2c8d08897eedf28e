"""The benchmark suite's driver: checks, timings, targets, and the printed tables.

:func:`run` is what ``python -m benchmarks`` calls; :func:`check` runs only the correctness
checks of the quick suite (the hand-written gradients against finite differences, every
candidate against the hand-written gradient, the generated gradients of the
transformation-cost functions against finite differences) and is what
``tests/test_benchmarks.py`` calls.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import chainrule as cr

from . import codegen_cost, harness, memory
from .peers import PEERS, peer_candidates, versions
from .workloads import (
    WORKLOADS,
    Candidate,
    Workload,
    chainrule_candidates,
    check_result,
    finite_difference_check,
)

__all__ = ["COLUMNS", "TARGETS", "WorkloadReport", "check", "run", "format_text",
           "format_markdown", "environment"]

COLUMNS = ("chainrule", "chainrule forward", "chainrule tape", "chainrule @function",
           *PEERS)

# Median ratio of the generated code ("chainrule") to the hand-written gradient.
TARGETS = {"W1": 1.5, "W2": 1.3, "W3": 1.05, "W4": 1.3, "W5": 1.3, "W6": 1.5, "W6 HVP": 3.0,
           "W7": 1.3}
# The peers issue 9 names (with Tangent, which is not installable on Python 3.11).
BEAT = ("autograd", "PyTorch eager")
CODEGEN_COLD_50_S = 0.100
CODEGEN_CACHED_S = 20e-6


@dataclass
class WorkloadReport:
    workload: Workload
    results: list[harness.Result] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # candidate -> why there is no figure
    setup_s: dict[str, float] = field(default_factory=dict)  # candidate -> compile time
    checked: list[str] = field(default_factory=list)

    def by_name(self) -> dict[str, harness.Result]:
        return {r.candidate: r for r in self.results}


def _selected(only: Iterable[str] | None) -> list[Workload]:
    if not only:
        return list(WORKLOADS)
    wanted = set(only)
    unknown = wanted - {w.name for w in WORKLOADS} - {"codegen", "memory"}
    if unknown:
        raise ValueError(f"unknown workload(s): {', '.join(sorted(unknown))}")
    return [w for w in WORKLOADS if w.name in wanted]


def run_workload(w: Workload, quick: bool, timing: bool = True,
                 peers: tuple[str, ...] = PEERS, rounds: int | None = None,
                 log: Callable[[str], None] = print, chainrule: bool = True) -> WorkloadReport:
    """Check ``w`` (finite differences, then every candidate), then time it.
    ``chainrule=False`` leaves chainrule's own candidates out (to check peers alone)."""
    args = w.make_args()
    finite_difference_check(w, args)
    ours, notes = chainrule_candidates(w, args) if chainrule else ([], {})
    theirs, peer_notes = peer_candidates(w, args, quick=quick, include=peers)
    notes.update(peer_notes)
    report = WorkloadReport(w, notes=notes)
    baseline = w.baseline(args)
    want = baseline()
    cands: list[Candidate] = []
    for c in ours + theirs:
        try:
            got = c.fn()  # also the warm-up call (and code generation, tracing...)
        except c.soft_errors as exc:
            report.notes[c.name] = f"not supported yet: {str(exc).splitlines()[0]}"
            continue
        check_result(w.name, c.name, got, want)
        report.checked.append(c.name)
        if c.setup_s is not None:
            report.setup_s[c.name] = c.setup_s
        cands.append(c)
    log(f"{w.name}: checked {', '.join(report.checked)}")
    if timing:
        n = rounds or (3 if quick else w.rounds)
        report.results = harness.compare(w.name, baseline, {c.name: c.fn for c in cands},
                                         rounds=n, min_time=0.01 if quick else 0.05,
                                         warm_up=False)
    return report


def check(quick: bool = True, peers: tuple[str, ...] = PEERS,
          only: Iterable[str] | None = None, log: Callable[[str], None] = print,
          chainrule: bool = True) -> list[WorkloadReport]:
    """The quick suite's correctness checks, no timing (raises AssertionError on a
    disagreement). ``peers`` picks the other libraries to check where installed;
    ``chainrule=False`` checks only those (and skips the transformation-cost functions)."""
    reports = [run_workload(w, quick, timing=False, peers=peers, log=log, chainrule=chainrule)
               for w in _selected(only)]
    if chainrule and (not only or "codegen" in only):
        codegen_cost.measure(quick=quick, check_only=True)
        log("codegen: generated gradients agree with finite differences")
    return reports


def environment(quick: bool) -> dict[str, Any]:
    try:
        load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    return {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "chainrule": cr.__version__,
        **versions(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or ''}"
                   .rstrip(", "),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "load_average": load,
        "mode": "quick" if quick else "full",
    }


def run(quick: bool = False, only: Iterable[str] | None = None, rounds: int | None = None,
        peers: tuple[str, ...] = PEERS, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Check and time the selected workloads, then the transformation cost and memory."""
    start = time.perf_counter()
    env = environment(quick)
    reports = [run_workload(w, quick, peers=peers, rounds=rounds, log=log)
               for w in _selected(only)]
    codegen = memory_rows = None
    if not only or "codegen" in only:
        log("codegen: timing generation (the 200-line function takes a while)")
        codegen = codegen_cost.measure(quick=quick)
    if not only or "memory" in only:
        log("memory: W7 peak memory at 50 and 500 steps")
        memory_rows = memory.measure()
    env["elapsed_s"] = round(time.perf_counter() - start, 1)
    return {"environment": env, "reports": reports, "codegen": codegen,
            "memory": memory_rows, "targets": targets(reports, codegen)}


# --------------------------------------------------------------------------- targets
def targets(reports: list[WorkloadReport], codegen: list[dict[str, Any]] | None
            ) -> list[dict[str, Any]]:
    """Every target of issue 9 that this run measured: what, limit, measured, met."""
    rows: list[dict[str, Any]] = []
    for rep in reports:
        res = rep.by_name()
        name = rep.workload.name
        if name in TARGETS and "chainrule" in res:
            r = res["chainrule"].ratio
            rows.append({"target": f"{name}: chainrule / hand-written <= {TARGETS[name]}",
                         "limit": TARGETS[name], "measured": r, "met": r <= TARGETS[name]})
            named = [(p, res[p].ratio) for p in BEAT if p in res]
            if named:
                best = min(named, key=lambda t: t[1])
                detail = ", ".join(f"{p} {v:.2f}" for p, v in named)
                if "JAX jit" in res:
                    detail += f"; JAX jit (compiled, not a target) {res['JAX jit'].ratio:.2f}"
                beaten = " and ".join(p for p, _ in named)
                rows.append({"target": f"{name}: chainrule beats {beaten}",
                             "limit": best[1], "measured": r, "met": r < best[1],
                             "detail": detail})
        if name == "T1" and "chainrule tape" in res:
            tape = res["chainrule tape"]
            for peer, limit in (("autograd", 1.0), ("PyTorch eager", 2.0)):
                if peer in res:
                    med, lo, hi = harness.ratio_between(tape, res[peer])
                    rows.append({"target": f"T1: tape per-op time / {peer}'s <= {limit:g}",
                                 "limit": limit, "measured": med, "met": med <= limit,
                                 "detail": f"per-round spread [{lo:.2f}, {hi:.2f}]"})
    for row in codegen or []:
        if row["lines"] == 50:
            rows.append({"target": "codegen: 50-line gradient, cold, < 100 ms",
                         "limit": CODEGEN_COLD_50_S, "measured": row["cold_s"],
                         "met": row["cold_s"] < CODEGEN_COLD_50_S, "unit": "s"})
    if codegen:
        worst = max(r["cached_s"] for r in codegen)
        rows.append({"target": "codegen: cached lookup < 20 us (slowest size)",
                     "limit": CODEGEN_CACHED_S, "measured": worst,
                     "met": worst < CODEGEN_CACHED_S, "unit": "s"})
    return rows


# --------------------------------------------------------------------------- formatting
def _time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def _cell(r: harness.Result) -> str:
    return f"{r.ratio:.2f} [{r.spread[0]:.2f}, {r.spread[1]:.2f}]"


def _columns(reports: list[WorkloadReport]) -> list[str]:
    used = {r.candidate for rep in reports for r in rep.results}
    return [c for c in COLUMNS if c in used]


def _matrix(reports: list[WorkloadReport]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and footnotes of the ratio table."""
    cols = _columns(reports)
    header = ["workload", "hand-written", *cols]
    rows, foot = [], []
    for rep in reports:
        res = rep.by_name()
        if not res:
            continue
        base = res[harness.BASELINE]
        row = [rep.workload.name, f"1 ({_time(base.seconds)})"]
        for c in cols:
            if c in res:
                row.append(_cell(res[c]))
            else:
                row.append("-")
        rows.append(row)
        foot += [f"{rep.workload.name} / {c}: {why}" for c, why in rep.notes.items()]
    return header, rows, foot


def _times(reports: list[WorkloadReport]) -> tuple[list[str], list[list[str]]]:
    cols = _columns(reports)
    rows = []
    for rep in reports:
        res = rep.by_name()
        if res:
            rows.append([rep.workload.name, _time(res[harness.BASELINE].seconds),
                         *[_time(res[c].seconds) if c in res else "-" for c in cols]])
    return ["workload", "hand-written", *cols], rows


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return [line(header), line(["-" * w for w in widths]), *[line(r) for r in rows]]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *["| " + " | ".join(r) + " |" for r in rows]]


def _extras(report: dict[str, Any], table: Callable[..., list[str]]) -> list[str]:
    out: list[str] = []
    reps: list[WorkloadReport] = report["reports"]
    compile_rows = [[rep.workload.name, c, _time(s)] for rep in reps
                    for c, s in rep.setup_s.items()]
    if compile_rows:
        out += ["", "JAX jit compile time (not in the ratios):", "",
                *table(["workload", "candidate", "compile"], compile_rows)]
    t1 = next((rep for rep in reps if rep.workload.name == "T1" and rep.results), None)
    if t1 is not None:
        res = t1.by_name()
        ops = 1000
        rows = [[c, f"{res[c].seconds / ops * 1e6:.2f}"] for c in
                (harness.BASELINE, "chainrule tape", "chainrule", "chainrule forward",
                 "autograd", "PyTorch eager") if c in res]
        out += ["", "T1 per-op cost (record + backward, us per op; median over rounds):", "",
                *table(["candidate", "us/op"], rows)]
    by = {rep.workload.name: rep.by_name() for rep in reps}
    if "chainrule" in by.get("W6", {}) and "chainrule" in by.get("W6 HVP", {}):
        ratio = by["W6 HVP"]["chainrule"].seconds / by["W6"]["chainrule"].seconds
        out += ["", f"W6: chainrule.hvp / chainrule.grad (median times): {ratio:.2f}"]
    if report.get("codegen"):
        rows = [[str(r["lines"]), str(r["generated_lines"]),
                 f"{_time(r['cold_s'])} [{_time(r['cold_spread'][0])}, "
                 f"{_time(r['cold_spread'][1])}]", _time(r["cached_s"])]
                for r in report["codegen"]]
        out += ["", "Transformation cost (chainrule.grad):", "",
                *table(["lines", "generated lines", "cold [min, max]", "cached"], rows)]
    if report.get("memory"):
        rows = [[r["candidate"], *[f"{b / 2**20:.2f} MiB" for b in r["peak_bytes"]],
                 f"{r['growth']:.2f}x"] for r in report["memory"]]
        out += ["", f"Peak memory of the W7 gradient (tracemalloc; {memory.STEPS[0]} and "
                f"{memory.STEPS[1]} steps):", "",
                *table(["candidate", *[f"{s} steps" for s in memory.STEPS], "growth"], rows)]
    if report.get("targets"):
        rows = []
        for t in report["targets"]:
            fmt = _time if t.get("unit") == "s" else (lambda v: f"{v:.2f}")
            rows.append([t["target"], fmt(t["measured"]), "met" if t["met"] else "MISSED",
                         t.get("detail", "")])
        out += ["", "Targets:", "", *table(["target", "measured", "", "note"], rows)]
    return out


def _env_lines(env: dict[str, Any]) -> list[str]:
    return [f"date {env['date']}; Python {env['python']} ({env['implementation']}), NumPy "
            f"{env['numpy']}, chainrule {env['chainrule']}, autograd {env['autograd']}, JAX "
            f"{env['JAX']}, PyTorch {env['PyTorch']}",
            f"machine {env['machine']}; BLAS, PyTorch and XLA pinned to 1 thread; load "
            f"average at start {env['load_average']}; {env['mode']} run"
            + (f", {env['elapsed_s']} s" if "elapsed_s" in env else "")]


def format_text(report: dict[str, Any]) -> str:
    reps = report["reports"]
    out = ["", "# chainrule benchmarks", *_env_lines(report["environment"]), "",
           "Median per-round ratio to the hand-written NumPy gradient [min, max over rounds]; "
           "lower is better:", ""]
    header, rows, foot = _matrix(reps)
    out += _text_table(header, rows)
    if foot:
        out += ["", "Not timed:", *[f"  {f}" for f in foot]]
    header, rows = _times(reps)
    out += ["", "Median time per call:", "", *_text_table(header, rows)]
    out += _extras(report, _text_table)
    return "\n".join(out)


def format_markdown(report: dict[str, Any]) -> str:
    reps = report["reports"]
    env = report["environment"]
    out = [*(f"{line}." for line in _env_lines(env)), "",
           "Median per-round ratio to the hand-written NumPy gradient, [min, max] over "
           "rounds (lower is better):", ""]
    header, rows, foot = _matrix(reps)
    out += _md_table(header, rows)
    if foot:
        out += ["", "Not timed:", "", *[f"* {f}" for f in foot]]
    header, rows = _times(reps)
    out += ["", "Median time per call:", "", *_md_table(header, rows)]
    out += _extras(report, _md_table)
    return "\n".join(out)


def to_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report as plain data (for ``--json``)."""
    rows = []
    for rep in report["reports"]:
        for r in rep.results:
            rows.append({"workload": r.workload, "candidate": r.candidate,
                         "seconds": r.seconds, "ratio": r.ratio, "spread": list(r.spread),
                         "times": r.times})
    return {"environment": report["environment"], "results": rows,
            "notes": {rep.workload.name: rep.notes for rep in report["reports"]},
            "compile_s": {rep.workload.name: rep.setup_s for rep in report["reports"]},
            "codegen": report["codegen"], "memory": report["memory"],
            "targets": report["targets"]}

