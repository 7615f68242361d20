"""Printing a Report: the text verify, golden check and taylor print, and the JSON of --json."""

from __future__ import annotations

from typing import Any

import numpy as np

from .contract import Case
from .outcome import Kind, Outcome, Report


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
    names = ("xs", "h0", "dhs") if case.contract.layer else ("xs", "ys", "h0")
    return {**params, **dict(zip(names, rest, strict=True))}


def case_arrays(case: Case) -> list[str]:
    """The case's arguments as numpy literals one can paste."""
    lines = []
    for k, a in case_arguments(case).items():
        text = np.array2string(np.asarray(a), precision=17, max_line_width=110, separator=", ", threshold=10_000)
        lines.append(f"    {k} = np.array({text})".replace("\n", "\n" + " " * 4))
    return lines


def format_report(r: Report, debug: bool = False) -> str:
    lines = [
        f"gradcheck {r.command} {r.target}: {'AGREES' if r.ok else 'DISAGREES'}",
        f"  options: {r.options.describe()}",
    ]
    if r.kind is Kind.SIGNATURE:
        return "\n".join([*lines, f"  {r.message}"])
    lines += _coverage_lines(r)
    if r.ok:
        worst = ", ".join(f"{k} {v:.2g}" for k, v in r.worst.items())
        if worst:
            lines.append(f"  worst error in units of the tolerance (<= 1 agrees): {worst}")
        lines += [f"  note: {n}" for n in r.notes]
        return "\n".join(lines)
    f = r.failure
    assert f is not None
    lines.append(f"  FAILURE: {f.message}")
    lines += _worst_entries(f)
    lines += [f"  diagnosis: {d}" for d in r.diagnosis]
    lines += [f"  note: {n}" for n in r.notes]
    if r.search.note:
        lines.append(f"  note: {r.search.note}")
    clearest = r.search.clearest
    if clearest is not None and f.kind is Kind.MISMATCH and clearest.ratio > f.ratio:
        c = max(clearest.checks, key=lambda c: c.ratio)
        idx = f"[{', '.join(map(str, c.index))}]" if c.index else ""
        lines.append(
            f"  clearest failure seen: {case_sizes(clearest.case)}: {c.name}{idx} {c.actual:.6g} vs "
            f"{c.reference:.6g}, |error| {c.abs_error:.3g}, tol {c.tol:.3g} (error/tol {c.ratio:.3g})"
        )
    shrunk = r.search.shrunk and "not shrunk" not in r.search.note
    lines.append(f"  {'smallest failing problem' if shrunk else 'failing problem'}: {case_sizes(f.case)}")
    lines += case_arrays(f.case)
    if debug and f.traceback:
        lines += ["  traceback:", *("    " + t for t in f.traceback.rstrip().splitlines())]
    elif f.traceback:
        lines.append("  (--debug shows the traceback)")
    return "\n".join(lines)


def _coverage_lines(r: Report) -> list[str]:
    lines, cov = [], r.coverage
    if cov:
        s = cov["sizes"]
        what = (
            f"exercised {cov['problems']} problems" if r.ok else f"failed after {cov['problems']} problems; those run"
        )
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
    if any(r.not_judged.values()):
        total = sum(r.not_judged.values())
        why = "; ".join(f"{k}: {v}" for k, v in r.not_judged.items() if v)
        lines.append(f"  not judged: {total} ({why} in {r.options.dtype})")
    if r.options.skip_regimes:
        lines.append(f"  skipped regimes (not drawn): {', '.join(map(str, r.options.skip_regimes))}")
    if r.repeats:
        lines.append(f"  repeated calls: {r.repeats}")
    for k, v in r.extra.items():
        lines.append(f"  {k}: {v}")
    return lines


def _worst_entries(f: Outcome) -> list[str]:
    bad = [c for c in f.checks if not c.ok]
    if not bad:
        return []
    lines = ["  worst entries (implementation vs reference):"]
    for c in bad:
        idx = f"[{', '.join(map(str, c.index))}]" if c.index else ""
        lines.append(
            f"    {c.name}{idx}: {c.actual:.10g} vs {c.reference:.10g}, |error| {c.abs_error:.3g}, "
            f"tol {c.tol:.3g}  ({c.failing} of {c.entries} entries over)"
        )
    return lines


def report_json(r: Report) -> dict[str, Any]:
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
        "problems_run": r.coverage.get("problems", 0),
        "coverage": r.coverage,
        "not_judged": r.not_judged,
        "skipped_regimes": [str(x) for x in r.options.skip_regimes],
        "repeated_calls": r.repeats,
        "worst": r.worst,
        "diagnosis": r.diagnosis,
        "notes": r.notes + ([r.search.note] if r.search and r.search.note else []),
        "seconds": r.seconds,
        **({"extra": r.extra} if r.extra else {}),
    }
    f = r.failure
    if f is not None:
        params, *rest = f.case.arguments()
        names = ("xs", "h0", "dhs") if f.case.contract.layer else ("xs", "ys", "h0")
        data["failure"] = {
            "kind": f.kind.value,
            "message": f.message,
            "sizes": case_sizes(f.case),
            "problem": {
                "contract": f.case.contract.name,
                "params": {k: v.tolist() for k, v in params.items()},
                **{k: np.asarray(v).tolist() for k, v in zip(names, rest, strict=True)},
                "loss": f.case.problems[0].loss,
            },
            "checks": [c.__dict__ for c in f.checks],
            "traceback": f.traceback,
        }
        c = r.search.clearest
        if c is not None and c.ratio > f.ratio:
            data["clearest"] = {"sizes": case_sizes(c.case), "ratio": c.ratio, "checks": [x.__dict__ for x in c.checks]}
    return data
