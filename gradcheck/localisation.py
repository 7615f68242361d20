"""Where a failure lies, when no mistake is named or to narrow one down: the failing entries' row or
column, the first step t whose dE_t/dθ differs (from the failing problem's prefixes), and what the
failure needs (narrowed searches that leave one condition out).
"""

from __future__ import annotations

from math import comb

import numpy as np

from .bptt import truncated
from .compare import compare_array
from .contract import combine
from .options import Options
from .outcome import Evidence, Finding, Mistake, Outcome, ProbeResult, Role

# A probe says "the failure needs X" only when it would be this unlikely to see the narrowed
# search pass every problem if X did not matter: with f failures among the n baseline problems
# and none among the m narrowed ones, that chance is C(n, f) / C(n + m, f) (the f failures all
# falling in the baseline, were the problems exchangeable). 1e-3 needs f >= 10 for n = m = 100:
# a condition that merely came along with a rare failure is not blamed.
PROBE_EVIDENCE = 1e-3


def _note(mistake: Mistake, text: str, arrays=frozenset(), **values) -> Finding:
    return Finding(mistake, text, frozenset(arrays), Role.NOTE, values=values)


def patterns(o: Outcome) -> list[Finding]:
    """Patterns in the failing entries: all in one row or one column of a matrix."""
    notes = []
    for k, a in (o.result or {}).items():
        if k in ("loss", "hs") or a.ndim != 2 or k not in o.reference:
            continue
        bad = np.abs(a - o.reference[k]) > o.tolerance[k]
        if bad.any() and bad.sum() < bad.size:
            rows, cols = np.nonzero(bad)
            if len(set(cols)) == 1 and a.shape[1] > 1:
                notes.append(
                    _note(
                        Mistake.PATTERN, f"every failing entry of {k} is in column {cols[0]}", {k}, column=int(cols[0])
                    )
                )
            elif len(set(rows)) == 1 and a.shape[0] > 1:
                notes.append(
                    _note(Mistake.PATTERN, f"every failing entry of {k} is in row {rows[0]}", {k}, row=int(rows[0]))
                )
    return notes


def per_step(ev: Evidence, opts: Options) -> list[Finding]:
    """Per-step localisation from the failing case's prefixes: dE_t/dθ = g(t) - g(t - 1)."""
    if opts.loss != "sum":
        return [
            _note(
                Mistake.PER_STEP,
                "per-step localisation needs the sum loss (dE_t/dθ as differences of prefixes); "
                f"not with --loss {opts.loss}",
            )
        ]
    pre = ev.prefixes
    if not pre or any(o.result is None or o.reference is None for o in pre):
        return []
    keys = [k for k in ("W", "U", "b_h", "V", "b_y") if k in pre[0].result]
    first = _first_step(pre, keys)
    if first is None:
        return []
    t0, diff = first
    if t0 == 1:
        text = (
            f"per step: dE_1/d{diff[0]} already differs, so the mistake is in every step's own terms, not in the "
            "back-propagation through time (per-step localisation does not narrow it further)"
        )
        return [_note(Mistake.PER_STEP, text, diff, step=1)]
    recurrent = [k for k in diff if k in ("W", "U", "b_h")]
    if not recurrent:
        return [
            _note(
                Mistake.PER_STEP,
                f"per step: dE_t/d{diff[0]} agrees for t <= {t0 - 1} and differs from t = {t0}",
                diff,
                step=t0,
            )
        ]
    k = recurrent[0]
    now, before = pre[t0 - 1], pre[t0 - 2]
    got = now.result[k] - before.result[k]
    tol = now.tolerance[k] + before.tolerance[k]
    for lag in range(1, t0):
        cut = lambda c, lag=lag: combine(c, [truncated(p, lag) for p in c.problems])[k]
        if compare_array(k, got, cut(now.case) - cut(before.case), tol).ok:
            text = (
                f"per step: dE_t/d{k} agrees for t <= {t0 - 1}; from t = {t0} contributions from {lag} or more "
                f"step{'s' * (lag > 1)} back are missing"
            )
            return [_note(Mistake.PER_STEP, text, {k}, step=t0, lag=lag)]
    text = (
        f"per step: dE_t/d{k} agrees for t <= {t0 - 1}; from t = {t0} it differs: contributions from {t0 - 1} "
        f"step{'s' * (t0 > 2)} back (first reached at t = {t0}) are wrong"
    )
    return [_note(Mistake.PER_STEP, text, {k}, step=t0)]


def _first_step(pre: tuple[Outcome, ...], keys: list[str]) -> tuple[int, list[str]] | None:
    """The first t whose dE_t/dθ differs, and in which arrays."""
    zero = {k: np.zeros_like(pre[0].reference[k]) for k in keys}
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
            return t, diff
    return None


def probe_chance(baseline: ProbeResult, probe: ProbeResult) -> float:
    """The chance of the narrowed search's clean pass if the condition did not matter (PROBE_EVIDENCE)."""
    f, n, m = baseline.failed, baseline.run, probe.run
    if probe.failed or f == 0:
        return 1.0
    return comb(n, f) / comb(n + m, f)


def needs(ev: Evidence) -> list[Finding]:
    """What the failure needs, where the narrowed searches show it beyond reasonable doubt."""
    base, out = ev.baseline, []
    if base is None:
        return out
    for p in ev.probes:
        chance = probe_chance(base, p)
        if chance <= PROBE_EVIDENCE:
            text = (
                f"it passes all {p.run} problems with {p.condition.without}, while {base.failed} of {base.run} failed "
                f"without that restriction: the failure needs {p.condition.needs} (chance {chance:.1g} otherwise)"
            )
            out.append(_note(Mistake.NEEDS, text, condition=p.condition, chance=chance))
    return out
