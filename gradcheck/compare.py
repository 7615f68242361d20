"""Comparing gradients: the error metric, the tolerance model, and per-parameter verdicts.

The metric is the error in units of a per-entry tolerance, ratio_i = |a_i - r_i| / tol_i, with
the entry failing when ratio_i > 1. Each tol_i comes from an error model of that entry, and
the model includes the sum of |terms| that make the entry, so it stays meaningful where the
gradient cancels to (near) zero, where a relative error would explode:

- analytic vs analytic (JAX, the series, another implementation): round-off only,
  tol_i = ROUNDOFF_SAFETY * spread_i + bound_i, with spread_i the Monte Carlo standard deviation
  and bound_i the coherent runs' deviation plus the final sums' worst case
  (`roundoff.roundoff_spread`), in the arithmetic of the less precise side;
- finite differences vs analytic: truncation plus round-off of the difference,
  tol_i = FD_SAFETY * err_i + the round-off tolerance above, with err_i from `numeric`; an
  entry whose own error estimate is not small against its value is not judged (unresolved).

Beside the entries, each array is judged as a whole, LAPACK's way: the norm of its error against
the round-off expected of that norm, norm_ratio = ||a - r||_2 / (||tol||_2 / ROUNDOFF_SAFETY),
one number per array, failing above NORM_LIMIT (`compare_array`).

A tolerance is a non-negative number, or inf for an entry that is not judged; anything else
(negative, NaN) is a bug of ours and raises `InternalError`, never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

import numpy as np

from .errors import GradcheckError, InternalError
from .numeric import FDResult
from .precision import FLOAT64, Precision
from .problem import GRAD_NAMES, Problem
from .roundoff import Spread, roundoff_spread

# The Monte Carlo spread of an entry is a standard deviation over SAMPLES runs whose errors are
# each as large as one rounding can be (roundoff.py), not a bound. Six of them: over 7,300
# problems drawn at random in four precisions (sizes to 64, T to 200; correct numpy, torch, JAX
# and formula-written code, benchmarks/roundoff_campaign.py) the largest error of an entry whose
# tolerance the spread dominates was 2.3 spreads, and the largest error/tol anywhere 0.70; the
# steered campaigns of docs/campaigns.md push further. With 32 runs an entry's spread is
# underestimated by a factor 0.56 about once in 10^4 entries (chi distribution), which 6 still
# covers at 3.4 of the measured 2.3. The coherent runs and the final sums are bounds already and are
# added once (bound_i).
ROUNDOFF_SAFETY = 6.0
# The normwise test: ||a - r||_2 <= NORM_LIMIT x ||tol||_2 / ROUNDOFF_SAFETY for an array of two
# or more entries. Round-off that errs one way in every entry (a sum of equal terms, a biased
# tanh) fills the norm almost as much as the worst entry: over the same 7,300 problems the
# largest ||a - r|| / ||tol|| was 0.51 (bfloat16, a 35 x 35 dW whose worst entry was at 0.67),
# so the norm may take 0.75 of ||tol||, a factor 1.5 above it. An error spread evenly over the
# entries, each below its own tolerance, fails above 0.75 of every one. A single entry is judged
# by its own tolerance only (its norm is the entry).
NORM_LIMIT = 0.75 * ROUNDOFF_SAFETY
# The finite-difference error estimate (leading truncation term from D(2h) - D(h), plus
# round-off) is accurate to its leading order: over the same campaign the largest
# |analytic - central difference| was 0.264 x (8 x estimate), i.e. at most about twice the
# estimate; a later 20,000-example campaign (campaigns.md) saw 0.644 x (8 x estimate), dE/dh0
# in an exploding problem (W up to 2.25, T = 50), where the difference was 5.2 times its
# estimate. A factor 8 covers both; planted bugs are still caught by 1e3 or more.
FD_SAFETY = 8.0
# A finite-difference entry is judged only when FD_SAFETY x the error it measured about itself
# (numeric.FDResult.self_error: the truncation estimate |D(2h) - D(h)| / 3 beyond round-off) is
# at most this fraction of its value |D|: that part of its tolerance is then at most 10% of the
# value. An estimate whose self-measured error is of its own size must not grade itself: an
# estimator broken to give D(h) ~ 0 (a central difference multiplied by 2h where it should be
# divided) has |D(2h) - D(h)| / 3 of the size of the derivative, and a tolerance of 8 x that would
# pass it. Such entries are counted as unresolved, never passed. The round-off part of the error
# comes from the round-off model, not from the estimator, and does not count against an entry:
# an entry that is ~0 is still judged, to the absolute accuracy the arithmetic allows.
FD_RESOLVED = 0.1
# Intermediates must stay this far below the largest finite number of the precision: the range
# check (roundoff.Spread.magnitude) tracks sums of |terms|; an implementation may form a few
# partial results a few times larger (h^2 before 1 - h^2, two biases added, a product's operands).
RANGE_HEADROOM = 16.0


class Judgement(Enum):
    """Whether a problem can be judged in a precision, and if not, why."""

    JUDGED = "judged"
    ILL_CONDITIONED = "ill-conditioned"  # round-off moves a state so far that units can flip
    OUT_OF_RANGE = "out of range"  # a quantity a correct code must form overflows the precision


class Tolerance(NamedTuple):
    tol: dict[str, np.ndarray]  # per entry: parameters, "h0", "xs", "hs", and "loss" (a scalar)
    judgement: Judgement
    reason: str  # why not judged, in words ("" when judged)


@dataclass(frozen=True)
class ParamCheck:
    """The verdict for one parameter: its worst entry, in units of its tolerance."""

    name: str
    ok: bool
    ratio: float  # max_i |a_i - r_i| / tol_i  (> 1 fails; inf for NaN/inf or a shape mismatch)
    index: tuple[int, ...]  # the worst entry
    actual: float
    reference: float
    tol: float  # tol_i at the worst entry
    max_abs_error: float
    rel_error: float  # normwise: max_i |a_i - r_i| / max_i |r_i|
    entries: int
    failing: int  # entries with ratio > 1
    unresolved: int = 0  # entries with an infinite tolerance (finite differences could not judge)
    # LAPACK's test ratio: ||a - r||_2 over the judged entries, against the round-off expected of
    # that norm, ||tol||_2 / ROUNDOFF_SAFETY; above NORM_LIMIT fails (arrays of two entries or more).
    norm_ratio: float = 0.0

    @property
    def abs_error(self) -> float:
        return abs(self.actual - self.reference)


def compare_array(name: str, actual: np.ndarray, reference: np.ndarray, tol: np.ndarray) -> ParamCheck:
    """Compare one array entry by entry (shapes must match; NaN or inf in `actual` fails)."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), r.shape)
    if np.any(np.isnan(tol)) or np.any(tol < 0):
        bad = np.argwhere(np.isnan(tol) | (tol < 0))[0]
        raise InternalError(f"the tolerance of {name} at {bad.tolist()} is {tol[tuple(bad)]} (negative or NaN)")
    judged = np.isfinite(tol)  # an infinite tolerance: the entry is not judged
    err = np.where(judged, np.abs(a - r), 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(err == 0, 0.0, err / tol)
    ratio = np.where(np.isfinite(a) | ~judged, ratio, np.inf)
    i = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.size else ()
    worst = float(ratio[i]) if ratio.size else 0.0
    norm = _norm_ratio(err, tol, judged) if np.all(np.isfinite(ratio)) else np.inf
    return ParamCheck(
        name=name,
        ok=bool(worst <= 1.0 and (int(np.sum(judged)) < 2 or norm <= NORM_LIMIT)),
        ratio=worst,
        index=tuple(int(k) for k in i),
        actual=float(a[i]) if a.size else 0.0,
        reference=float(r[i]) if r.size else 0.0,
        tol=float(tol[i]) if r.size else 0.0,
        max_abs_error=float(np.max(np.where(np.isfinite(err), err, np.inf))) if err.size else 0.0,
        rel_error=_normwise(err, r),
        entries=int(r.size),
        failing=int(np.sum(ratio > 1.0)),
        unresolved=int(np.sum(~judged)),
        norm_ratio=norm,
    )


def _norm_ratio(err: np.ndarray, tol: np.ndarray, judged: np.ndarray) -> float:
    """||err||_2 / (||tol||_2 / ROUNDOFF_SAFETY) over the judged entries (0 when no error), scaled
    so that neither norm overflows or underflows."""
    e, t = err[judged], tol[judged]
    e_scale, t_scale = float(np.max(e, initial=0.0)), float(np.max(t, initial=0.0))
    if e_scale == 0:
        return 0.0
    if t_scale == 0:
        return np.inf
    with np.errstate(over="ignore"):
        return float(
            ROUNDOFF_SAFETY * (e_scale / t_scale) * (np.linalg.norm(e / e_scale) / np.linalg.norm(t / t_scale))
        )


def _normwise(err: np.ndarray, r: np.ndarray) -> float:
    if not err.size:
        return 0.0
    e, scale = float(np.max(np.where(np.isfinite(err), err, np.inf))), float(np.max(np.abs(r)))
    return e / scale if scale > 0 else (0.0 if e == 0 else np.inf)


def roundoff_check(problem: Problem, pr: Precision = FLOAT64, spread: Spread | None = None) -> Tolerance:
    """tol_i for two implementations that differ only by round-off in the arithmetic `pr`, and
    whether the problem can be judged at all in it.

    pr is the less precise of the two; spread, if given, is roundoff_spread(problem, pr) already
    computed. Not judged: round-off moves some hidden state h_t by more than pr.ill_conditioned
    (two correct codes may then disagree by O(1)), or a quantity that a correct implementation
    must form comes within RANGE_HEADROOM of the largest finite number.
    """
    spread = roundoff_spread(problem, pr) if spread is None else spread
    floor = pr.underflow_floor
    tol = {k: ROUNDOFF_SAFETY * v + spread.bound(k) + floor for k, v in spread.grads.items()}
    tol["loss"] = np.asarray(ROUNDOFF_SAFETY * spread.loss + spread.bound("loss") + floor)
    if spread.magnitude * RANGE_HEADROOM > pr.max:
        reason = f"out of range for {pr}: sums reach {spread.magnitude:.3g}, beyond {pr.max:.3g} / {RANGE_HEADROOM:g}"
        return Tolerance(tol, Judgement.OUT_OF_RANGE, reason)
    if not spread.states <= pr.ill_conditioned:  # (NaN states: not judged either)
        reason = f"ill-conditioned in {pr}: round-off moves a state by {spread.states:.2g} (> {pr.ill_conditioned:g})"
        return Tolerance(tol, Judgement.ILL_CONDITIONED, reason)
    return Tolerance(tol, Judgement.JUDGED, "")


def roundoff_tolerance(problem: Problem, pr: Precision = FLOAT64) -> dict[str, np.ndarray]:
    """The tolerances of roundoff_check alone (includes "loss", a scalar)."""
    return roundoff_check(problem, pr).tol


def fd_tolerance(
    problem: Problem, fd: FDResult, analytic: Mapping[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """tol_i for finite differences (any method) against an analytic gradient; inf where unresolved
    (the estimate's own error is not small against the gradient's scale: FD_RESOLVED). analytic:
    the analytic gradient's float64 round-off tolerance, when the caller has it."""
    if fd.error is None:
        raise GradcheckError("fd_tolerance: the finite differences were taken without error estimates")
    tol = roundoff_tolerance(problem) if analytic is None else analytic
    out = {}
    for k, err in fd.error.items():
        self_error = fd.self_error[k] if fd.self_error is not None else err
        with np.errstate(invalid="ignore"):
            resolved = np.isfinite(err) & (FD_SAFETY * self_error <= FD_RESOLVED * np.abs(fd.grads[k]))
        out[k] = np.where(resolved, FD_SAFETY * err + tol[k], np.inf)
    return out


def directional_check(d) -> ParamCheck:
    """<grad, v> (d.analytic) against one central difference (numeric.Directional), as a ParamCheck
    named "directional"; unresolved (an infinite tolerance) where FD_SAFETY x the difference's
    self-measured error exceeds FD_RESOLVED x its size, as for fd_tolerance."""
    resolved = np.isfinite(d.error) and FD_SAFETY * d.self_error <= FD_RESOLVED * abs(d.numeric)
    tol = FD_SAFETY * d.error if resolved else np.inf
    return compare_array("directional", np.array(d.analytic), np.array(d.numeric), np.array(tol))


def jvp_tolerance(grads: Mapping[str, np.ndarray], tol: Mapping[str, np.ndarray], v: Mapping[str, np.ndarray]) -> float:
    """The round-off tolerance of dE . v for a direction v: sum_i tol_i |v_i| over every gradient
    entry (either side is, to round-off, another implementation's gradient taken along v), plus
    the rounding of the sum of the P products itself, (P + 2) eps sum_i |g_i v_i|."""
    P = sum(np.size(v[n]) for n in GRAD_NAMES)
    terms = sum(float(np.sum(np.abs(grads[n] * v[n]))) for n in GRAD_NAMES)
    return sum(float(np.sum(tol[n] * np.abs(v[n]))) for n in GRAD_NAMES) + (P + 2) * FLOAT64.eps * terms


def compare_grads(
    actual: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    tol: Mapping[str, np.ndarray],
    names: tuple[str, ...] = GRAD_NAMES,
) -> list[ParamCheck]:
    """compare_array for each name (parameters, "h0", and "loss" if asked for)."""
    return [compare_array(n, np.asarray(actual[n]), np.asarray(reference[n]), np.asarray(tol[n])) for n in names]


def failures(checks: list[ParamCheck]) -> list[ParamCheck]:
    return [c for c in checks if not c.ok]


def describe(checks: list[ParamCheck]) -> str:
    """One line per parameter: worst entry, values, error and tolerance; the normwise ratio."""
    lines = []
    for c in checks:
        where = f"[{', '.join(map(str, c.index))}]" if c.index else ""
        lines.append(
            f"{'ok  ' if c.ok else 'FAIL'} {c.name}{where}: actual {c.actual:.10g}, reference {c.reference:.10g}, "
            f"|error| {c.abs_error:.2e}, tol {c.tol:.2e}, error/tol {c.ratio:.2e} "
            f"({c.failing}/{c.entries} entries over)"
            + (f", {c.unresolved} unresolved" if c.unresolved else "")
            + (f"; ||error|| / expected {c.norm_ratio:.2g} (limit {NORM_LIMIT:g})" if c.entries > 1 else "")
        )
    return "\n".join(lines)
