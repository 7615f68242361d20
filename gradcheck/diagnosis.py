"""What a verify run found, in words: coverage, the smallest failure, and known mistakes.

A diagnosis names a mistake only when the implementation matches it to round-off on every
failing problem kept from the search (the first one found and the shrunk one): then the
mistake explains the numbers exactly, not approximately. Probes re-run the smallest failing
problem with one feature removed (h0 = 0, x_t[0] = 0, small logits) to say what the failure
needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .bptt import _bptt, _truncated
from .compare import EPS32, compare_array, roundoff_tolerance
from .oracle import EPS, Options, Outcome, Search, search
from .problem import Problem, loss_weights
from .strategies import features
from .variants import DESCRIPTIONS, VARIANTS, clipped

FLOAT32 = DESCRIPTIONS["float32"] + "; if that is intended, run with --dtype float32"
LARGE_LOGIT = {"float64": 500.0, "float32": 80.0}  # |q| above which a naive softmax is in trouble


@dataclass
class Report:
    target: str
    options: Options
    ok: bool
    kind: str = "agree"
    message: str = ""
    problems_run: int = 0
    coverage: dict[str, Any] = field(default_factory=dict)
    failure: Outcome | None = None
    first_failure: Outcome | None = None  # the first failure the search met, before shrinking
    diagnosis: list[str] = field(default_factory=list)
    probes: list[str] = field(default_factory=list)
    worst: list[dict] = field(default_factory=list)
    note: str = ""
    reference_label: str = ""  # what the reference was, when not opts.reference (golden check)

    def format(self, debug: bool = False) -> str:
        return format_report(self, debug)

    def to_json(self) -> dict:
        return report_json(self)


def coverage(outcomes: list[Outcome], opts: Options) -> dict[str, Any]:
    """How many problems, which sizes, and how often each hard regime came up."""
    fs = [features(o.problem) | {"max_grad": _ref_max(o.problem)} for o in outcomes]
    if not fs:
        return {}
    rng = {k: (min(f[k] for f in fs), max(f[k] for f in fs)) for k in "DHKT"}
    return {
        "problems": len(fs),
        "sizes": rng,
        "h0 != 0": sum(f["h0_nonzero"] > 0 for f in fs),
        "one-hot inputs": sum(f["one_hot"] > 0 for f in fs),
        "some x_t[0] != 0": sum(f["x0_nonzero"] > 0 for f in fs),
        "saturated tanh (|p| > 20)": sum(f["max_abs_p"] > 20 for f in fs),
        f"large logits (|q| > {LARGE_LOGIT[opts.dtype]:g})": sum(
            f["max_abs_logit"] > LARGE_LOGIT[opts.dtype] for f in fs
        ),
        "a gradient entry > 5": sum(f["max_grad"] > 5 for f in fs),
        "exploding (a gradient entry > 1e3)": sum(f["max_grad"] > 1e3 for f in fs),
        "ill-conditioned (not judged)": sum(o.kind == "ill-conditioned" for o in outcomes),
        "max |logit|": max(f["max_abs_logit"] for f in fs),
        "max |gradient entry|": max(f["max_grad"] for f in fs),
    }


def _ref_max(problem: Problem) -> float:
    g = _bptt(problem)
    return float(max(np.max(np.abs(v)) for k, v in g.items() if k != "loss"))


# --- diagnosis -------------------------------------------------------------------------------


def _matches(result: dict, candidate: dict, problem: Problem, eps: float) -> bool:
    tol = roundoff_tolerance(problem, eps)
    return all(compare_array(k, a, candidate[k], tol[k]).ok for k, a in result.items() if k in candidate)


def _explanations(problem: Problem, result: dict, opts: Options) -> list[str]:
    """Every known mistake the result matches on this problem."""
    eps, T = EPS[opts.dtype], problem.xs.shape[0]
    grads = {k: v for k, v in result.items() if k != "loss"}
    found = []
    for name, variant in VARIANTS.items():
        if name in ("float32", "mean_loss"):  # float32 below; mean_loss is the loss check below
            continue
        if _matches(grads, variant(problem), problem, eps):
            found.append(DESCRIPTIONS[name])
    for other in ("sum", "mean", "last"):
        if other != opts.loss:
            alt = problem._replace(weights=loss_weights(other, T), loss=other)
            if _matches(grads, _bptt(alt), alt, eps):
                why = "divided by T: " if (other, opts.loss) == ("mean", "sum") else ""
                found.append(f"the gradients are {why}those of the {other!r} loss, not {opts.loss!r} "
                             f"(use --loss {other})")  # fmt: skip
    for k in range(1, T):
        if _matches(grads, _truncated(problem, k), problem, eps):
            found.append(
                f"truncated BPTT: the series is cut after k = {k} terms per step (WildML-style bptt_truncate = {k - 1})"
            )
            break
    ref = _bptt(problem)
    found += _scalings(grads, ref, problem, eps, T)
    tol = roundoff_tolerance(problem, eps)
    for k, a in grads.items():  # a square matrix returned transposed keeps its shape
        if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and compare_array(k, a.T, ref[k], tol[k].T).ok:
            found.append(f"{k} is returned transposed (its gradient is right, as {k}^T)")
    c = max(float(np.max(np.abs(v))) for v in grads.values())
    if any(np.max(np.abs(ref[k])) > c * (1 + 1e-9) for k in grads) and _matches(grads, clipped(ref, c), problem, eps):
        found.append(f"every gradient entry is clipped to [-{c:.6g}, {c:.6g}] (np.clip)")
    # Any small error also fits float32 precision: diagnose() keeps this only when nothing else fits.
    if opts.dtype == "float64" and _matches(grads, ref, problem, EPS32):
        found.append(FLOAT32)
    return found


def _scalings(grads: dict, ref: dict, problem: Problem, eps: float, T: int) -> list[str]:
    """Gradients that are the reference times a constant: per parameter, or all alike."""
    factors = {}
    for k, a in grads.items():
        r = np.asarray(ref[k], dtype=float)
        denom = float(np.sum(r * r))
        if denom > 0:
            c = float(np.sum(a * r)) / denom
            # a plausible stray factor (a 1e-4 slip, a clipping scale), not a near-zero result
            if abs(c - 1) > 1e-12 and 1e-3 <= abs(c) <= 1e3 and _matches({k: a}, {k: c * r}, problem, eps):
                factors[k] = c
    if not factors:
        return []
    if len(factors) == len(grads) and max(factors.values()) - min(factors.values()) <= 1e-12 * max(factors.values()):
        c = next(iter(factors.values()))
        if abs(c * T - 1) < 1e-9:
            return []  # the mean-loss diagnosis says it better
        return [f"every gradient is the reference times {c:.10g} (global-norm clipping, or a stray factor)"]
    return [f"{k} is the reference times {c:.10g} (relative error {c - 1:.3g})" for k, c in factors.items()]


def diagnose(failures: list[Outcome], opts: Options) -> list[str]:
    """The known mistakes that match every kept failing problem (first found and smallest)."""
    mismatches = [o for o in failures if o.kind == "mismatch" and o.result is not None]
    if not mismatches:
        return []
    kept = [mismatches[0], mismatches[-1]] if len(mismatches) > 1 else mismatches
    common = None
    for o in kept:
        names = _explanations(o.problem, o.result, opts)
        common = names if common is None else [n for n in common if _same_kind(n, names)]
    common = common or []
    return [n for n in common if n != FLOAT32] or common  # float32 only when nothing else explains it


def _same_kind(name: str, names: list[str]) -> bool:
    """The same mistake found on another problem, possibly with another k, c or factor."""
    for sep in (": the series is cut", " is the reference times", "every gradient is the reference", "clipped to"):
        if sep in name:
            head = name.split(sep)[0] + sep
            return any(n.startswith(head) for n in names)
    return name in names


def where_it_fails(outcome: Outcome, opts: Options) -> list[str]:
    """Patterns in the failing entries: all in one row or one column of a matrix."""
    notes = []
    res, problem = outcome.result or {}, outcome.problem
    tol = roundoff_tolerance(problem, EPS[opts.dtype])
    ref = _bptt(problem)
    for k, a in res.items():
        if k == "loss" or a.ndim != 2:
            continue
        bad = np.abs(a - ref[k]) > tol[k]
        if bad.any() and bad.sum() < bad.size:
            rows, cols = np.nonzero(bad)
            if len(set(cols)) == 1 and a.shape[1] > 1:
                notes.append(f"every failing entry of {k} is in column {cols[0]}")
            elif len(set(rows)) == 1 and a.shape[0] > 1:
                notes.append(f"every failing entry of {k} is in row {rows[0]}")
    return notes


# Random problems per narrowed search: enough to meet every remaining regime a dozen times.
PROBE_EXAMPLES = 100


def probes(fn, opts: Options) -> list[str]:
    """What the failure needs: searches again with one feature taken away (h0, large logits,
    x_t[0]) and reports those under which the implementation then passes every problem."""
    trials = []
    if not opts.zero_h0:
        trials.append((replace(opts, zero_h0=True), "h0 = 0", "h0 != 0"))
    if "large_logits" in opts.regimes:
        rest = tuple(r for r in opts.regimes if r != "large_logits")
        trials.append((replace(opts, regimes=rest), "no large logits", "large logits (a common offset of hundreds)"))
    if not opts.first_input_zero:
        trials.append((replace(opts, first_input_zero=True), "x_t[0] = 0 for every t", "some x_t[0] != 0"))
    out = []
    for narrowed, given_, needs in trials:
        found = search(fn, replace(narrowed, examples=min(PROBE_EXAMPLES, opts.examples)), shrink=False)
        if found.final is None:
            out.append(f"it passes all {len(found.seen)} problems with {given_}: the failure needs {needs}")
    return out


# --- building and printing the report ---------------------------------------------------------


def build_report(name: str, fn, opts: Options, found: Search, run_probes: bool = True) -> Report:
    seen = found.seen[: found.before_failure] if found.before_failure else found.seen  # not the shrinking
    report = Report(name, opts, ok=found.final is None, problems_run=len(seen), note=found.note)
    report.coverage = coverage([o for o in seen if o.kind in ("agree", "mismatch", "ill-conditioned")], opts)
    report.worst = _worst(found.seen)
    if found.final is None:
        return report
    f = found.final
    report.failure, report.kind, report.message = f, f.kind, f.message
    report.first_failure = found.failures[0] if found.failures else f
    if f.kind in ("mismatch", "nonfinite"):
        report.diagnosis = diagnose([*found.failures, f], opts)
        report.probes = where_it_fails(f, opts) + ([] if report.diagnosis or not run_probes else probes(fn, opts))
    return report


def _worst(outcomes: list[Outcome]) -> list[dict]:
    """Per parameter, the worst error/tol over every compared problem."""
    worst: dict[str, dict] = {}
    for o in outcomes:
        for c in o.checks:
            if c.name not in worst or c.ratio > worst[c.name]["ratio"]:
                worst[c.name] = {"parameter": c.name, "ratio": c.ratio, "rel_error": c.rel_error}
    return list(worst.values())


def _sizes(problem: Problem) -> str:
    D, H, K, T = problem.sizes
    h0 = "h0 = 0" if not np.any(problem.h0) else "h0 != 0"
    return f"D={D} H={H} K={K} T={T}, loss={problem.loss}, {h0}"


def _arrays(problem: Problem) -> list[str]:
    from .oracle import contract_inputs

    params, xs, ys, h0 = contract_inputs(problem)
    items = [*params.items(), ("xs", xs), ("ys", ys), ("h0", h0)]
    lines = []
    for k, a in items:
        text = np.array2string(a, precision=17, max_line_width=110, separator=", ", threshold=10_000)
        lines.append(f"    {k} = np.array({text})".replace("\n", "\n" + " " * 4))
    return lines


def format_report(r: Report, debug: bool = False) -> str:
    head = f"gradcheck verify {r.target}: {'AGREES' if r.ok else 'DISAGREES'}"
    opts = r.options
    setting = f"  options: loss={opts.loss} dtype={opts.dtype} reference={opts.reference} seed={opts.seed}" + "".join(
        f" --{k.replace('_', '-')}" for k in ("no_bias", "zero_h0", "one_hot_inputs", "same_io_dim") if getattr(opts, k)
    )
    lines = [head, setting]
    if r.kind == "signature":
        return "\n".join([*lines, f"  {r.message}"])
    cov = r.coverage
    if cov:
        s = cov["sizes"]
        what = f"exercised {cov['problems']} problems" if r.ok else f"failed at problem {cov['problems']}; those run"
        lines.append(
            f"  {what}: D {s['D'][0]}..{s['D'][1]}, H {s['H'][0]}..{s['H'][1]}, "
            f"K {s['K'][0]}..{s['K'][1]}, T {s['T'][0]}..{s['T'][1]}"
        )
        counts = [f"{k}: {v}" for k, v in cov.items() if k not in ("problems", "sizes", "max |logit|",
                  "max |gradient entry|")]  # fmt: skip
        lines.append("    " + "; ".join(counts))
        lines.append(
            f"    max |logit| {cov['max |logit|']:.4g}; max |gradient entry| {cov['max |gradient entry|']:.4g}"
        )
    if r.ok:
        worst = ", ".join(f"{w['parameter']} {w['ratio']:.2g}" for w in r.worst)
        lines.append(f"  worst error in units of the tolerance (<= 1 agrees): {worst}")
        return "\n".join(lines)
    f = r.failure
    assert f is not None
    lines.append(f"  FAILURE: {f.message}")
    if f.checks:
        lines.append("  worst entries (implementation vs reference):")
        for c in f.checks:
            if not c.ok:
                idx = f"[{', '.join(map(str, c.index))}]" if c.index else ""
                lines.append(
                    f"    {c.name}{idx}: {c.actual:.10g} vs {c.reference:.10g}, |error| {c.abs_error:.3g}, "
                    f"tol {c.tol:.3g}  ({c.failing} of {c.entries} entries over)"
                )
    for d in r.diagnosis:
        lines.append(f"  diagnosis: {d}")
    if f.kind == "mismatch" and not r.diagnosis:
        lines.append("  diagnosis: no known mistake matches exactly")
    for p in r.probes:
        lines.append(f"  note: {p}")
    if r.note:
        lines.append(f"  note: {r.note}")
    label = "smallest failing problem" if "not shrunk" not in r.note else "failing problem"
    lines.append(f"  {label}: {_sizes(f.problem)}")
    lines += _arrays(f.problem)
    if debug and f.traceback:
        lines += ["  traceback:", *("    " + t for t in f.traceback.rstrip().splitlines())]
    elif f.traceback:
        lines.append("  (--debug shows the traceback)")
    return "\n".join(lines)


def report_json(r: Report) -> dict:
    from .oracle import contract_inputs

    data: dict[str, Any] = {
        "target": r.target,
        "agrees": r.ok,
        "options": r.options.__dict__,
        "kind": r.kind,
        "message": r.message,
        "problems_run": r.problems_run,
        "coverage": {k: v for k, v in r.coverage.items()},
        "worst": r.worst,
        "diagnosis": r.diagnosis,
        "notes": r.probes + ([r.note] if r.note else []),
    }
    if r.failure is not None:
        params, xs, ys, h0 = contract_inputs(r.failure.problem)
        data["failure"] = {
            "kind": r.failure.kind,
            "message": r.failure.message,
            "problem": {
                "params": {k: v.tolist() for k, v in params.items()},
                "xs": xs.tolist(),
                "ys": ys.tolist(),
                "h0": h0.tolist(),
                "loss": r.failure.problem.loss,
            },
            "checks": [c.__dict__ for c in r.failure.checks],
            "traceback": r.failure.traceback,
        }
    return data
