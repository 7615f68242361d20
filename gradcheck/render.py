"""Printing a Report: the text verify, golden check and taylor print, and the JSON of --json."""

from __future__ import annotations

from typing import Any

import numpy as np

from .compare import NORM_LIMIT
from .contract import Case
from .outcome import Explained, Finding, Kind, Outcome, Report, Role

ORDER = ("U", "W", "V", "b_h", "b_y", "h0", "xs", "hs", "loss")  # arrays in the order reports list them


def ordered(names) -> list[str]:
    return sorted(names, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))


def case_sizes(case: Case) -> str:
    """A case's sizes and settings in words: "D=3 H=1 K=3 T=8, loss=sum, h0 != 0"."""
    D, H, K, T = case.sizes
    contract = case.contract
    h0 = "h0 = 0" if not any(np.any(p.h0) for p in case.problems) else "h0 != 0"
    n = f" N={case.n}" if contract.batch else ""
    sizes = f"D={D} H={H} T={T}{n}" if contract.layer else f"D={D} H={H} K={K} T={T}{n}"
    loss = "" if contract.layer else f", loss={case.problems[0].loss}"
    return f"{sizes}{loss}, {h0}"


def case_arguments(case: Case) -> dict[str, np.ndarray]:
    """The case's arguments by name (the parameters, then xs, ys, h0, or xs, h0, dhs for the layer)."""
    params, *rest = case.arguments()
    return {**params, **dict(zip(case.contract.inputs, rest, strict=True))}


def case_arrays(case: Case, indent: str = "    ") -> list[str]:
    """The case's arguments as numpy literals one can paste."""
    lines = []
    for k, a in case_arguments(case).items():
        text = np.array2string(np.asarray(a), precision=17, max_line_width=110, separator=", ", threshold=10_000)
        lines.append(f"{indent}{k} = np.array({text})".replace("\n", "\n" + indent))
    return lines


def failure_line(r: Report) -> str:
    """What failed, over every failure and every problem: each array that failed anywhere."""
    kinds = {e.failure.smallest.kind for e in r.failures}
    if kinds == {Kind.MISMATCH}:
        return f"gradients differ in {', '.join(ordered(r.failing_arrays))}"
    return "; ".join(dict.fromkeys(_headline(e) for e in r.failures))


def _headline(e: Explained) -> str:
    o = e.failure.smallest
    if o.kind is Kind.MISMATCH:
        return f"gradients differ in {', '.join(ordered(e.failure.arrays or o.failing))}"
    return o.message


def report_text(r: Report, debug: bool = False) -> str:
    lines = [
        f"gradcheck {r.command} {r.target}: {'AGREES' if r.ok else 'DISAGREES'}",
        f"  options: {r.options.describe()}",
    ]
    if r.refusal:
        return "\n".join([*lines, f"  {r.refusal}"])
    lines += _coverage_lines(r)
    if r.ok:
        worst = ", ".join(f"{k} {v:.2g}" for k, v in r.coverage.worst.items())
        if worst:
            lines.append(f"  worst error in units of the tolerance (<= 1 agrees): {worst}")
        norms = ", ".join(f"{k} {v:.2g}" for k, v in r.coverage.normwise.items())
        if norms:
            lines.append(f"  worst ||error|| / expected, normwise (<= {NORM_LIMIT:g} agrees): {norms}")
        return "\n".join(lines)
    lines.append(f"  FAILURE: {failure_line(r)}")
    many = len(r.failures) > 1
    for i, e in enumerate(r.failures, 1):
        if many:
            lines.append(f"  failure {i} of {len(r.failures)}: {_headline(e)}")
        lines += _failure_lines(e, debug, "    " if many else "  ")
    return "\n".join(lines)


def _failure_lines(e: Explained, debug: bool, pad: str) -> list[str]:
    f = e.failure
    o = f.smallest
    lines = _worst_entries(o, pad)
    lines += [f"{pad}{_label(x, e)}: {x.words()}" for x in e.diagnosis.findings]
    if f.found.name not in ("SHRUNK",):
        lines.append(f"{pad}note: {f.found.value}")
    c = f.clearest
    if c is not None and c.kind is Kind.MISMATCH and c.ratio > o.ratio and c.checks:
        w = max(c.checks, key=lambda x: x.ratio)
        idx = f"[{', '.join(map(str, w.index))}]" if w.index else ""
        lines.append(
            f"{pad}clearest failure seen: {case_sizes(c.case)}: {w.name}{idx} {w.actual:.6g} vs {w.reference:.6g}, "
            f"|error| {w.abs_error:.3g}, tol {w.tol:.3g} (error/tol {w.ratio:.3g})"
        )
    lines.append(f"{pad}{'smallest failing problem' if f.shrunk else 'failing problem'}: {case_sizes(o.case)}")
    lines += case_arrays(o.case, pad + "  ")
    if debug and o.traceback:
        lines += [f"{pad}traceback:", *(pad + "  " + t for t in o.traceback.rstrip().splitlines())]
    elif o.traceback:
        lines.append(f"{pad}(--debug shows the traceback)")
    return lines


def _label(f: Finding, e: Explained) -> str:
    if f.role is Role.NOTE:
        return "note"
    if f.role is Role.EQUAL:
        tied = sum(x.role is Role.EQUAL for x in e.diagnosis.findings)
        return f"diagnosis (one of {tied} that fit equally)"
    return "diagnosis"


def _coverage_lines(r: Report) -> list[str]:
    lines, cov = [], r.coverage.counts
    if cov:
        s = cov["sizes"]
        n_problems = cov["problems"]
        noun = "problem" if n_problems == 1 else "problems"
        what = f"exercised {n_problems} {noun}" if r.ok else f"failed after {n_problems} {noun}; those run"
        n = f", N {s['N'][0]}..{s['N'][1]}" if r.options.batch else ""
        k = "" if r.options.layer else f"K {s['K'][0]}..{s['K'][1]}, "
        lines.append(
            f"  {what}: D {s['D'][0]}..{s['D'][1]}, H {s['H'][0]}..{s['H'][1]}, {k}"
            f"T {s['T'][0]}..{s['T'][1]}{n}" + (f" ({r.seconds:.1f} s)" if r.seconds else "")
        )
        counts = [
            f"{k}: {v}" for k, v in cov.items() if k not in ("problems", "sizes", "max |logit|", "max |gradient entry|")
        ]
        lines.append("    " + "; ".join(counts))
        logit = f"max |logit| {cov['max |logit|']:.4g}; " if "max |logit|" in cov else ""
        lines.append(f"    {logit}max |gradient entry| {cov['max |gradient entry|']:.4g}")
    if any(r.coverage.not_judged.values()):
        total = sum(r.coverage.not_judged.values())
        why = "; ".join(f"{k}: {v}" for k, v in r.coverage.not_judged.items() if v)
        lines.append(f"  not judged: {total} ({why} in {r.options.dtype})")
    if r.options.skip_regimes:
        lines.append(f"  skipped regimes (not drawn): {', '.join(map(str, r.options.skip_regimes))}")
    if r.coverage.repeats:
        lines.append(f"  repeated calls: {r.coverage.repeats}")
    for k, v in r.extra.items():
        lines.append(f"  {k}: {v}")
    return lines


def _worst_entries(o: Outcome, pad: str) -> list[str]:
    bad = [c for c in o.checks if not c.ok]
    if not bad:
        return []
    lines = [f"{pad}worst entries (implementation vs reference):"]
    for c in bad:
        idx = f"[{', '.join(map(str, c.index))}]" if c.index else ""
        lines.append(
            f"{pad}  {c.name}{idx}: {c.actual:.10g} vs {c.reference:.10g}, |error| {c.abs_error:.3g}, "
            f"tol {c.tol:.3g}  ({c.failing} of {c.entries} entries over)"
        )
    return lines


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "mistake": f.mistake.name,
        "role": f.role.name,
        "text": f.text,
        "equation": f.equation,
        "arrays": ordered(f.arrays),
        "mutations": [
            {"kind": m.kind.name, "where": m.where, "path": list(m.path), "change": m.change, "forward": m.forward}
            for m in f.mutations
        ],
        "alternatives": list(f.alternatives),
        "values": {k: (list(v) if isinstance(v, tuple) else v) for k, v in f.values.items() if not hasattr(v, "name")}
        | {k: v.name for k, v in f.values.items() if hasattr(v, "name")},
        "words": f.words(),
    }


def _problem_json(case: Case) -> dict[str, Any]:
    params, *rest = case.arguments()
    names = case.contract.inputs
    return {
        "contract": case.contract.name,
        "cell": case.contract.cell,
        "params": {k: v.tolist() for k, v in params.items()},
        **{k: np.asarray(v).tolist() for k, v in zip(names, rest, strict=True)},
        "loss": case.problems[0].loss,
    }


def _failure_json(e: Explained) -> dict[str, Any]:
    f, o = e.failure, e.failure.smallest
    data = {
        "kind": o.kind.value,
        "message": o.message,
        "arrays": ordered(f.arrays),
        "found": f.found.name,
        "sizes": case_sizes(o.case),
        "problem": _problem_json(o.case),
        "checks": [c.__dict__ for c in o.checks],
        "findings": [finding_json(x) for x in e.diagnosis.findings],
        "traceback": o.traceback,
    }
    c = f.clearest
    if c is not None and c.ratio > o.ratio:
        data["clearest"] = {"sizes": case_sizes(c.case), "ratio": c.ratio, "checks": [x.__dict__ for x in c.checks]}
    return data


def report_json(r: Report) -> dict[str, Any]:
    first = r.failures[0].diagnosis if r.failures else None
    data: dict[str, Any] = {
        "command": r.command,
        "target": r.target,
        "agrees": r.ok,
        "options": {
            k: (list(map(str, v)) if k == "skip_regimes" else v)
            for k, v in r.options.__dict__.items()
            if k != "first_input_zero"
        },
        "kind": r.kind.value,
        "message": r.message,
        "failing_arrays": ordered(r.failing_arrays),
        "problems_run": r.coverage.counts.get("problems", 0),
        "coverage": r.coverage.counts,
        "not_judged": r.coverage.not_judged,
        "skipped_regimes": [str(x) for x in r.options.skip_regimes],
        "repeated_calls": r.coverage.repeats,
        "worst": r.coverage.worst,
        "normwise": r.coverage.normwise,
        "diagnosis": [x.words() for x in first.causes] if first else [],
        "notes": [x.words() for x in first.notes] if first else [],
        "failures": [_failure_json(e) for e in r.failures],
        "seconds": r.seconds,
        **({"extra": r.extra} if r.extra else {}),
    }
    if r.failures:  # the first failure's problem and checks, where a single-failure reader looks
        data["failure"] = data["failures"][0]
    return data
