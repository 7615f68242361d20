"""What a verify run found, in words: coverage, and the mistake behind a failure.

Diagnosis only reads: the outcomes of the search (each with its result, reference and
tolerance) and the evidence the oracle gathered after it (second calls, narrowed searches, the
failing problem's prefixes). It never calls the implementation.

A known mistake is named only when the implementation matches it to round-off on every failing
problem kept from the search (the first one found and the smallest): then the mistake explains
the numbers exactly, not approximately. In order, the report says:

1. that the forward pass (the loss) is not the model's, and which known variant it is;
2. the known backward mistakes that match (variants.py), batch mistakes, naive softmax,
   gradients accumulated between calls;
3. where the failing entries lie (one row, one column) and, by the failing problem's prefixes,
   the first step t whose dE_t/dθ differs and the lag from which contributions go wrong;
4. what the failure needs (h0 != 0, large logits, x_t[0] != 0), when narrowed searches show it.
"""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

from .bptt import bptt, truncated
from .compare import ROUNDOFF_SAFETY, Judgement, compare_array
from .contract import Case, combine, tolerance
from .model import forward
from .outcome import Evidence, Kind, Outcome, ProbeResult, Report
from .precision import PRECISIONS
from .problem import loss_weights
from .strategies import features, round_problem
from .variants import (
    DESCRIPTIONS,
    FORWARD_VARIANTS,
    VARIANTS,
    Mistake,
    batch_mixed,
    clipped,
    in_precision,
)

# A probe says "the failure needs X" only when it would be this unlikely to see the narrowed
# search pass every problem if X did not matter: with f failures among the n baseline problems
# and none among the m narrowed ones, that chance is C(n, f) / C(n + m, f) (the f failures all
# falling in the baseline, were the problems exchangeable). 1e-3 needs f >= 10 for n = m = 100:
# a condition that merely came along with a rare failure is not blamed.
PROBE_EVIDENCE = 1e-3

# --- coverage --------------------------------------------------------------------------------


def summarize(report: Report, evidence: Evidence) -> None:
    """Coverage, problems not judged (and why), the worst error/tol per array, repeated calls."""
    found, pr = report.search, report.options.precision
    seen = [o for o in found.seen if o.reference is not None] if found else []
    report.not_judged = {
        j.value: sum(o.judgement is j for o in seen) for j in (Judgement.ILL_CONDITIONED, Judgement.OUT_OF_RANGE)
    }
    for o in seen:
        for c in o.checks:
            report.worst[c.name] = max(report.worst.get(c.name, 0.0), c.ratio)
    if seen:
        report.coverage = _coverage(seen, pr)
    if evidence.repeats:
        r = evidence.repeats
        state = (
            "identical"
            if all(x.identical for x in r)
            else f"different at round-off level (worst {max(x.ratio for x in r):.2g} of the tolerance): the code is "
            "nondeterministic at round-off level"
            if all(x.ratio <= 1 for x in r)
            else "DIFFERENT"
        )
        failing = found is not None and found.final is not None
        roles = ["the failing problem" if failing and x.case is found.final.case else "the first problem" for x in r]
        report.repeats = f"{' and '.join(dict.fromkeys(roles))}, called twice: {state}"


def _coverage(outcomes: list[Outcome], pr) -> dict[str, Any]:
    """How many problems, which sizes, and how often each hard regime came up."""
    fs = []
    for o in outcomes:  # a case's features: the most extreme of its sequences
        per = [features(p) for p in o.case.problems]
        f = {k: max(x[k] for x in per) for k in per[0]}
        grads = [np.max(np.abs(v)) for k, v in o.reference.items() if k not in ("loss", "hs") and np.size(v)]
        fs.append(f | {"max_grad": float(max(grads, default=0.0)), "N": o.case.n})
    spans = {k: (min(f[k] for f in fs), max(f[k] for f in fs)) for k in ("D", "H", "K", "T", "N")}
    layer = outcomes[0].case.contract.layer
    out = {
        "problems": len(outcomes),
        "sizes": spans,
        "h0 != 0": sum(f["h0_nonzero"] > 0 for f in fs),
        "one-hot inputs": sum(f["one_hot"] > 0 for f in fs),
        "some x_t[0] != 0": sum(f["x0_nonzero"] > 0 for f in fs),
        f"saturated tanh (|p| > {pr.saturation:.3g})": sum(f["max_abs_p"] > pr.saturation for f in fs),
        f"large logits (|q| > {pr.large_logit:.4g})": sum(f["max_abs_logit"] > pr.large_logit for f in fs),
        "a gradient entry > 5": sum(f["max_grad"] > 5 for f in fs),
        "exploding (a gradient entry > 1e3)": sum(f["max_grad"] > 1e3 for f in fs),
        "max |logit|": max(f["max_abs_logit"] for f in fs),
        "max |gradient entry|": max(f["max_grad"] for f in fs),
    }
    if layer:  # the layer alone has no logits
        out = {k: v for k, v in out.items() if "logit" not in k}
    return out


# --- explaining a failure ---------------------------------------------------------------------


UNEXPLAINED = "no known mistake matches exactly"


def unexplained(report: Report) -> bool:
    """A numeric failure that no known mistake explains: narrowed searches may still say what it needs."""
    final = report.failure
    numeric = final is not None and final.kind in (Kind.MISMATCH, Kind.NONFINITE)
    return numeric and all(d == UNEXPLAINED for d in report.diagnosis)


def explain(report: Report, evidence: Evidence) -> None:
    """Fill report.diagnosis and report.notes for the failure in report.search (afresh)."""
    report.diagnosis, report.notes = [], []
    found, opts = report.search, report.options
    final = found.final
    if final.kind is Kind.CALLS_DIFFER:
        report.diagnosis += _repeat_findings(final, evidence)
        return
    if final.kind is Kind.SHAPE:
        report.diagnosis += _h0_summed_shape(final)
        return
    if final.kind is Kind.NONFINITE:
        report.diagnosis += _naive_softmax(final, evidence, opts)
    if final.kind is Kind.MISMATCH:
        kept = [o for o in (found.first, final) if o is not None and o.kind is Kind.MISMATCH]
        common: dict[Mistake, str] | None = None
        for o in kept:
            found_here = dict(_explanations(o, opts))
            common = found_here if common is None else {m: t for m, t in common.items() if m in found_here}
        common = common or {}
        if Mistake.LOWER_PRECISION in common:  # the loss too is right to that precision: no forward mistake
            common = {Mistake.LOWER_PRECISION: common[Mistake.LOWER_PRECISION]} if len(common) == 1 else common
        forward_words = [] if Mistake.LOWER_PRECISION in common else _forward_pass(final)
        named = [t for m, t in common.items() if m is not Mistake.LOWER_PRECISION]
        named = named or list(common.values())  # lower precision only when nothing else explains it
        report.diagnosis += forward_words + named
        if not report.diagnosis:
            report.diagnosis.append(UNEXPLAINED)
        report.notes += _patterns(final)
        if not (set(common) - LOCALISED) and not forward_words:
            report.notes += _per_step(evidence, opts)
    if unexplained(report):
        report.notes += _probe_notes(evidence)


def _fit(result: dict, candidate: dict, tol: dict, keys=None, ref: dict | None = None, slack: float = 0.0) -> float:
    """The worst error/tol of result against candidate on every key both hold (inf if none). With
    ref and slack: a candidate larger than the reference (a mistake that lets terms grow) is
    computed with round-off of its own size, which the reference's tolerance does not cover:
    slack x (|candidate| - |reference|) more is allowed where the candidate exceeds the reference."""
    keys = [k for k in (keys or result) if k in candidate and k in result and k != "hs"]

    def tol_of(k):
        if ref is None or k not in ref:
            return tol[k]
        return tol[k] + slack * np.maximum(0.0, np.abs(candidate[k]) - np.abs(ref[k]))

    return max((compare_array(k, result[k], candidate[k], tol_of(k)).ratio for k in keys), default=np.inf)


def _matches(result: dict, candidate: dict, tol: dict, keys=None, ref: dict | None = None, slack: float = 0.0) -> bool:
    """result equals candidate within tol on every key both hold (see _fit)."""
    return _fit(result, candidate, tol, keys, ref, slack) <= 1.0


def _variant(case: Case, fn) -> dict:
    """A per-sequence gradient function, combined over the case as its contract does."""
    return combine(case, [fn(p) for p in case.problems])


# Mistakes in the recursion itself, which per-step localisation can place; after any other
# finding (a loss, a scale, the batch) the per-step differences would only restate it.
LOCALISED = {
    Mistake.TRUNCATED,
    Mistake.NO_RECURRENT_TERM,
    Mistake.W_NOT_TRANSPOSED,
    Mistake.NO_TANH_DERIVATIVE,
    Mistake.H_T_FOR_H_PREV,
}


def _explanations(o: Outcome, opts) -> list[tuple[Mistake, str]]:
    """Every known mistake the result matches on this case; a finding that explains only some of
    the failing arrays is dropped when another explains them all."""
    failing = {c.name for c in o.checks if not c.ok}
    lower = _lower_precision(o, opts)
    if failing <= {"loss"}:  # the gradients are right: only the forward pass can be wrong
        return lower
    found = _gradient_explanations(o, opts, failing)
    whole = [f for f in found if f[2] >= failing - {"loss"}]
    return [(m, t) for m, t, _ in (whole or found)] + lower


# The coarser precisions code slips into: float32 in float64 code (a float32 array, torch's default
# dtype), half precision in float32 code (autocast). A coarser one still would "explain" any error
# of a few per cent, a wrong loss term included, and explain nothing.
LOWER = {"float64": ("float32",), "float32": ("float16", "bfloat16")}


def _lower_precision(o: Outcome, opts) -> list[tuple[Mistake, str]]:
    """The result (loss included) is the recursion computed in a coarser precision, inputs rounded."""
    for name in LOWER.get(opts.dtype, ()):
        pr = PRECISIONS[name]
        rounded = o.case.with_problems(tuple(round_problem(p, pr) for p in o.case.problems))
        candidate = combine(rounded, [in_precision(p, pr) for p in rounded.problems])
        if _matches(o.result, candidate, tolerance(rounded, pr).tol):
            return [
                (
                    Mistake.LOWER_PRECISION,
                    f"the arithmetic is {name} (the result is right to {name} precision "
                    f"only); if that is intended, run with --dtype {name}",
                )
            ]
    return []


def _gradient_explanations(o: Outcome, opts, failing: set[str]) -> list[tuple[Mistake, str, set[str]]]:
    """Known mistakes that match the gradients, each with the failing arrays it explains."""
    case, res, tol = o.case, {k: v for k, v in o.result.items() if k not in ("loss", "hs")}, o.tolerance
    ref, every = o.reference, set(res)
    # A variant's own round-off, where it exceeds the reference: ROUNDOFF_SAFETY eps (T + 2) of
    # the excess (a recursion that lets terms grow rounds at their size).
    slack = ROUNDOFF_SAFETY * opts.precision.eps * (case.sizes[3] + 2)
    matches = lambda candidate, keys=None: _matches(res, candidate, tol, keys, ref, slack)
    found = []
    for mistake, fn in VARIANTS.items():
        if matches(_variant(case, fn)):
            found.append((mistake, DESCRIPTIONS[mistake], every))
    T = case.sizes[3]
    if not case.contract.layer:
        for other in ("sum", "mean", "last"):
            if other == opts.loss:
                continue
            alt = case.with_problems(
                tuple(p._replace(weights=loss_weights(other, T), loss=other) for p in case.problems)
            )
            if matches(_variant(alt, bptt)):
                why = "divided by T: " if (other, opts.loss) == ("mean", "sum") else ""
                found.append(
                    (
                        Mistake.OTHER_LOSS,
                        f"the gradients are {why}those of the {other!r} loss, not {opts.loss!r} (use --loss {other})",
                        every,
                    )
                )
    fits = {}  # truncation at k terms: the run of k that match, each with its worst error/tol
    for k in range(1 if Mistake.NO_RECURRENT_TERM not in {f[0] for f in found} else 2, T):
        fit = _fit(res, _variant(case, lambda p, k=k: truncated(p, k)), tol, None, ref, slack)
        if fit <= 1.0:
            fits[k] = fit
        elif fits:
            break
    if fits:  # in a coarse precision neighbouring k can all fit: name the closest, and the run
        k = min(fits, key=fits.__getitem__)
        run = f" (k = {min(fits)} to {max(fits)} all fit within this precision's tolerance)" if len(fits) > 1 else ""
        found.append(
            (
                Mistake.TRUNCATED,
                f"truncated BPTT: the series is cut after k = {k} terms per step "
                f"(WildML-style bptt_truncate = {k - 1}){run}",
                every,
            )
        )
    found += _scalings(res, ref, tol, case, failing)
    found += _batch_mistakes(res, ref, tol, case)
    for k in failing & every:  # a square matrix returned transposed keeps its shape
        a = res[k]
        if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and compare_array(k, a.T, ref[k], tol[k].T).ok:
            found.append((Mistake.TRANSPOSED, f"{k} is returned transposed (its gradient is right, as {k}^T)", {k}))
    c = max((float(np.max(np.abs(v))) for v in res.values() if v.size), default=0.0)
    if c > 0 and any(np.max(np.abs(ref[k])) > c * (1 + 1e-9) for k in res) and matches(clipped(ref, c)):
        found.append((Mistake.CLIPPED, f"every gradient entry is clipped to [-{c:.6g}, {c:.6g}] (np.clip)", every))
    return found


def _scalings(res: dict, ref: dict, tol: dict, case: Case, failing: set[str]) -> list[tuple[Mistake, str, set[str]]]:
    """Gradients that are the reference times a constant: all alike, or failing ones each by its own."""
    factors = {}
    for k, a in res.items():
        r = np.asarray(ref[k], dtype=float)
        denom = float(np.sum(r * r))
        if denom > 0:
            c = float(np.sum(a * r)) / denom
            # a plausible stray factor (a 1e-4 slip, a clipping scale), not a near-zero result
            if abs(c - 1) > 1e-12 and 1e-3 <= abs(c) <= 1e3 and compare_array(k, a, c * r, tol[k]).ok:
                factors[k] = c
    if not factors:
        return []
    T, N = case.sizes[3], case.n
    same = len(factors) == len(res) and max(factors.values()) - min(factors.values()) <= 1e-12 * max(factors.values())
    if same:
        c = next(iter(factors.values()))
        if abs(c * T - 1) < 1e-9 or (case.contract.batch and N > 1 and min(abs(c * N - 1), abs(c / N - 1)) < 1e-9):
            return []  # the mean-loss and batch-scale diagnoses say it better
        return [
            (
                Mistake.SCALED_ALL,
                f"every gradient is the reference times {c:.10g} (global-norm clipping, or a stray factor)",
                set(res),
            )
        ]
    out = []
    for k, c in factors.items():
        if k not in failing:
            continue
        if case.contract.batch and N > 1 and min(abs(c * N - 1), abs(c / N - 1)) < 1e-9:
            continue  # said by _batch_mistakes
        out.append((Mistake.SCALED_ONE, f"{k} is the reference times {c:.10g} (relative error {c - 1:.3g})", {k}))
    return out


def _batch_mistakes(res: dict, ref: dict, tol: dict, case: Case) -> list[tuple[Mistake, str, set[str]]]:
    """One sequence's gradient only, a 1/N too many or too few, sequences mixed, h0 summed."""
    if not case.contract.batch or case.n < 2:
        return []
    out, N, params = [], case.n, [k for k in case.contract.parameters if k in res]
    for n in range(N):
        alone = combine(case.with_problems((case.problems[n],)), [bptt(case.problems[n])])
        alone = {k: case.weight * v for k, v in alone.items()} if case.batch_mean else alone
        if _matches(res, alone, tol, params):
            out.append(
                (
                    Mistake.BATCH_ONE_SEQUENCE,
                    f"the parameter gradients are those of sequence {n} alone, not of the whole batch of {N}",
                    set(params),
                )
            )
            break
    scaled = {k: c for k in params for c in (N, 1 / N) if compare_array(k, res[k], c * ref[k], tol[k]).ok}
    if scaled:
        missing = case.batch_mean and all(c == N for c in scaled.values())
        what = "the 1/N of the batch mean is missing" if missing else "divided by N (a mean where the sum belongs)"
        if len(scaled) < len(params):
            what += f" in {', '.join(scaled)} only (the other gradients are right)"
        out.append((Mistake.BATCH_SCALE, f"{what}: N = {N}", set(scaled)))
    mixed = batch_mixed(case.problems, case.weight)
    wrong_mixed = [
        k
        for k in ("W", "U", "V")
        if k in res
        and k in mixed
        and compare_array(k, res[k], mixed[k], tol[k]).ok
        and not compare_array(k, res[k], ref[k], tol[k]).ok
    ]
    if wrong_mixed:
        out.append(
            (
                Mistake.BATCH_MIXED,
                f"sequences are mixed up: d{wrong_mixed[0]} sums over the batch before "
                "the outer product (sum_t (sum_n dp_n,t)(sum_n h_n,t-1)^T), so one "
                "sequence's states enter another's gradient",
                set(wrong_mixed),
            )
        )
    if "h0" in res and res["h0"].ndim == 2:
        total = ref["h0"].sum(axis=0)
        if compare_array("h0", res["h0"], np.broadcast_to(total, ref["h0"].shape), tol["h0"] * N).ok:
            out.append(
                (
                    Mistake.H0_SUMMED,
                    "the h0 gradient is summed over the batch (every row is the sum): each "
                    "sequence has its own h0, and its own gradient",
                    {"h0"},
                )
            )
    return out


def _h0_summed_shape(o: Outcome) -> list[str]:
    """A batch's h0 gradient returned as (H,): is it the sum over the sequences?"""
    a = (o.result or {}).get("h0")
    if a is None or not o.case.contract.batch or a.shape != o.case.problems[0].h0.shape:
        return []
    total = sum(o.case.weight * bptt(p)["h0"] for p in o.case.problems)
    scale = float(np.max(np.abs(total))) or 1.0
    if np.max(np.abs(a - total)) <= 1e-6 * scale:
        return ["the h0 gradient is summed over the batch: each sequence has its own h0; return (N, H)"]
    return []


def _forward_pass(o: Outcome) -> list[str]:
    """The loss first: when it is not the model's, say so, and which known forward variant it is."""
    check = next((c for c in o.checks if c.name == "loss"), None)
    if check is None or check.ok:
        return []
    words = [
        f"the forward pass (the loss) is not the model's: loss {check.actual:.10g}, reference "
        f"{check.reference:.10g}; fix the loss before the gradients"
    ]
    got, tol = float(o.result["loss"]), float(o.tolerance["loss"])
    for name, fn in FORWARD_VARIANTS.items():
        value = o.case.weight * sum(fn(p) for p in o.case.problems)
        if np.isfinite(value) and abs(value - got) <= tol:
            words.append(f"the forward pass matches a known mistake: {name}")
            break
    return words


def _naive_softmax(o: Outcome, evidence: Evidence, opts) -> list[str]:
    """Non-finite values with logits past exp()'s overflow, and none without large logits."""
    pr = opts.precision
    top = max(float(np.max(forward(p).q)) for p in o.case.problems)
    no_large = next((p for p in evidence.probes if p.without == "no large logits"), None)
    if top <= pr.exp_overflow or (no_large is not None and no_large.failed):
        return []
    return [
        f"softmax is computed without the max shift: exp(q) overflows above {pr.exp_overflow:.1f} in "
        f"{pr} (this problem's logits reach {top:.4g}); subtract max_k q_k before exp, or run with "
        "--skip-regime large_logits to judge the rest"
    ]


def _repeat_findings(o: Outcome, evidence: Evidence) -> list[str]:
    """Two calls differ: the second result the first plus a new one means accumulated gradients."""
    r = next((x for x in evidence.repeats if x.case is o.case), None)
    if r is None or o.reference is None:
        return []
    keys = [k for k in r.first if k in r.second and k not in ("loss", "hs")]
    added = {k: r.second[k] - r.first[k] for k in keys}
    if keys and _matches(added, o.reference, {k: 2 * o.tolerance[k] for k in keys}, keys):
        return [
            "the second result is the first plus a new one: gradients accumulate between calls (they are not "
            "reset, e.g. a forgotten zero_grad() or accumulators kept from call to call)"
        ]
    return [
        "the results change from call to call beyond round-off (random noise, uninitialised memory, or "
        "state kept between calls)"
    ]


def _patterns(o: Outcome) -> list[str]:
    """Patterns in the failing entries: all in one row or one column of a matrix."""
    notes = []
    for k, a in (o.result or {}).items():
        if k in ("loss", "hs") or a.ndim != 2 or k not in o.reference:
            continue
        bad = np.abs(a - o.reference[k]) > o.tolerance[k]
        if bad.any() and bad.sum() < bad.size:
            rows, cols = np.nonzero(bad)
            if len(set(cols)) == 1 and a.shape[1] > 1:
                notes.append(f"every failing entry of {k} is in column {cols[0]}")
            elif len(set(rows)) == 1 and a.shape[0] > 1:
                notes.append(f"every failing entry of {k} is in row {rows[0]}")
    return notes


def _per_step(evidence: Evidence, opts) -> list[str]:
    """Per-step localisation from the failing case's prefixes: dE_t/dθ = g(t) - g(t - 1)."""
    if opts.loss != "sum":
        return [
            f"per-step localisation needs the sum loss (dE_t/dθ as differences of prefixes); not with --loss "
            f"{opts.loss}"
        ]
    pre = evidence.prefixes
    if not pre or any(o.result is None or o.reference is None for o in pre):
        return []
    keys = [k for k in ("W", "U", "b_h", "V", "b_y") if k in pre[0].result]
    zero = {k: np.zeros_like(pre[0].reference[k]) for k in keys}
    first = None
    for t in range(1, len(pre) + 1):
        now, before = pre[t - 1], (pre[t - 2] if t > 1 else None)
        diff = [
            k
            for k in keys
            if not compare_array(
                k,
                now.result[k] - (before.result[k] if before else zero[k]),
                now.reference[k] - (before.reference[k] if before else zero[k]),
                now.tolerance[k] + (before.tolerance[k] if before else zero[k]),
            ).ok
        ]
        if diff:
            first = (t, diff)
            break
    if first is None:
        return []
    t0, diff = first
    if t0 == 1:
        return [
            f"per step: dE_1/d{diff[0]} already differs, so the mistake is in every step's own terms, not in "
            "the back-propagation through time (per-step localisation does not narrow it further)"
        ]
    recurrent = [k for k in diff if k in ("W", "U", "b_h")]
    if not recurrent:
        return [f"per step: dE_t/d{diff[0]} agrees for t <= {t0 - 1} and differs from t = {t0}"]
    k = recurrent[0]
    now, before = pre[t0 - 1], pre[t0 - 2]
    got = now.result[k] - before.result[k]
    tol = now.tolerance[k] + before.tolerance[k]
    for lag in range(1, t0):
        cut = lambda c, lag=lag: combine(c, [truncated(p, lag) for p in c.problems])[k]
        if compare_array(k, got, cut(now.case) - cut(before.case), tol).ok:
            return [
                f"per step: dE_t/d{k} agrees for t <= {t0 - 1}; from t = {t0} contributions from {lag} or more "
                f"step{'s' * (lag > 1)} back are missing"
            ]
    return [
        f"per step: dE_t/d{k} agrees for t <= {t0 - 1}; from t = {t0} it differs: contributions from "
        f"{t0 - 1} step{'s' * (t0 > 2)} back (first reached at t = {t0}) are wrong"
    ]


def probe_chance(baseline: ProbeResult, probe: ProbeResult) -> float:
    """The chance of the narrowed search's clean pass if the condition did not matter (PROBE_EVIDENCE)."""
    f, n, m = baseline.failed, baseline.run, probe.run
    if probe.failed or f == 0:
        return 1.0
    return comb(n, f) / comb(n + m, f)


def _probe_notes(evidence: Evidence) -> list[str]:
    """What the failure needs, where the narrowed searches show it beyond reasonable doubt."""
    base, out = evidence.baseline, []
    if base is None:
        return out
    for p in evidence.probes:
        chance = probe_chance(base, p)
        if chance <= PROBE_EVIDENCE:
            out.append(
                f"it passes all {p.run} problems with {p.without}, while {base.failed} of {base.run} failed "
                f"without that restriction: the failure needs {p.condition} (chance {chance:.1g} otherwise)"
            )
    return out
