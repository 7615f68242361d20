"""Comparing gradients: the error metric, the tolerance model, and per-parameter verdicts.

The metric is the error in units of a per-entry tolerance, ratio_i = |a_i - r_i| / tol_i, with
the entry failing when ratio_i > 1. Each tol_i comes from an error model of that entry, and
the model includes the sum of |terms| that make the entry, so it stays meaningful where the
gradient cancels to (near) zero, where a relative error would explode:

- analytic vs analytic (JAX, the series, another implementation): round-off only,
  tol_i = ROUNDOFF_SAFETY * spread_i, with spread_i from Monte Carlo arithmetic
  (`roundoff.roundoff_spread`) in the arithmetic of the less precise side;
- finite differences vs analytic: truncation plus round-off of the difference,
  tol_i = FD_SAFETY * err_i + the round-off tolerance above, with err_i from `numeric`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .numeric import FDResult
from .problem import GRAD_NAMES, GradcheckError, Problem
from .roundoff import roundoff_spread

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
# The Monte Carlo spread is a typical size of round-off, not a bound. Over the 100,000-example
# steered fuzz campaign (README) the largest |analytic - JAX| seen was 0.17 x (8 x spread):
# a factor 8 keeps the worst case seen a factor 6 inside the tolerance, while float64
# tolerances stay near 1e-13 relative, so a 1e-4 relative error is still 1e9 times over.
ROUNDOFF_SAFETY = 8.0
# The finite-difference error estimate (leading truncation term from D(2h) - D(h), plus
# round-off) is accurate to its leading order: over the same campaign the largest
# |analytic - central difference| was 0.264 x (8 x estimate), i.e. at most about twice the
# estimate. A factor 8 covers the next order; planted bugs are still caught by 1e3 or more.
FD_SAFETY = 8.0
# Underflow: XLA on CPU flushes subnormal numbers to zero, numpy keeps them, so two correct
# implementations can differ by the smallest normal number (2.2e-308) wherever an entry
# underflows (yhat_t of a class 1e3 logits below the top is exp(-1e3) = 0). Later products
# can scale that up; 1/eps of headroom (a floor of 1e-292) is far below any error that matters.
UNDERFLOW_FLOOR = float(np.finfo(np.float64).tiny) / EPS64
# Ill-conditioned problems are not judged. In a saturated recurrence with a strong W one
# rounding can flip a unit to the other sign, and the flip propagates: two correct codes then
# follow different trajectories (seen: H = 90, T = 51, W gain 20, numpy and JAX differing by 2.0
# in a V entry of 3.9), and no tolerance separates a bug from round-off. The Monte Carlo runs
# show it directly as states that move under round-off; states are bounded by 1, so this is an
# absolute test. Well-conditioned float64 problems move states by 1e-15 to 1e-12, the exploding
# ones we do judge by up to 3e-8 (the report's W gain 4 problem), flipping ones by 2; float32
# is nine digits coarser.
ILL_CONDITIONED = {EPS64: 1e-6, EPS32: 1e-2}


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

    @property
    def abs_error(self) -> float:
        return abs(self.actual - self.reference)


def compare_array(name: str, actual: np.ndarray, reference: np.ndarray, tol: np.ndarray) -> ParamCheck:
    """Compare one array entry by entry (shapes must match; NaN or inf in `actual` fails)."""
    a, r = np.asarray(actual, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    err = np.abs(a - r)
    tol = np.broadcast_to(np.asarray(tol, dtype=np.float64), r.shape)
    err = np.where(np.isinf(tol), 0.0, err)  # entries with an infinite tolerance are not judged
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / tol)
    ratio = np.where(np.isfinite(a) | np.isinf(tol), ratio, np.inf)
    i = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.size else ()
    worst = float(ratio[i]) if ratio.size else 0.0
    return ParamCheck(
        name=name,
        ok=bool(worst <= 1.0),
        ratio=worst,
        index=tuple(int(k) for k in i),
        actual=float(a[i]) if a.size else 0.0,
        reference=float(r[i]) if r.size else 0.0,
        tol=float(tol[i]) if r.size else 0.0,
        max_abs_error=float(np.max(np.where(np.isfinite(err), err, np.inf))) if err.size else 0.0,
        rel_error=_normwise(err, r),
        entries=int(r.size),
        failing=int(np.sum(ratio > 1.0)),
        unresolved=int(np.sum(np.isinf(tol))),
    )


def _normwise(err: np.ndarray, r: np.ndarray) -> float:
    if not err.size:
        return 0.0
    e, scale = float(np.max(np.where(np.isfinite(err), err, np.inf))), float(np.max(np.abs(r)))
    return e / scale if scale > 0 else (0.0 if e == 0 else np.inf)


def roundoff_tolerance(problem: Problem, eps: float = EPS64) -> dict[str, np.ndarray]:
    """tol_i for two implementations that differ only by round-off in arithmetic with epsilon eps.

    Includes "loss" (a scalar). eps is the epsilon of the less precise of the two.
    """
    return roundoff_check(problem, eps)[0]


def roundoff_check(problem: Problem, eps: float = EPS64) -> tuple[dict[str, np.ndarray], bool]:
    """roundoff_tolerance, and whether the problem can be judged at all in this arithmetic.

    A problem cannot be judged when round-off moves some hidden state h_t by more than
    ILL_CONDITIONED (see there): two correct codes may then disagree by O(1).
    """
    spread = roundoff_spread(problem, eps)
    tol = {k: ROUNDOFF_SAFETY * v + UNDERFLOW_FLOOR for k, v in spread.grads.items()}
    tol["loss"] = np.asarray(ROUNDOFF_SAFETY * spread.loss + UNDERFLOW_FLOOR)
    return tol, spread.states <= ILL_CONDITIONED[eps]


def fd_tolerance(problem: Problem, fd: FDResult) -> dict[str, np.ndarray]:
    """tol_i for finite differences (any method) against an analytic gradient."""
    if fd.error is None:
        raise GradcheckError("fd_tolerance: the finite differences were taken without error estimates")
    tol = roundoff_tolerance(problem)
    return {k: FD_SAFETY * fd.error[k] + tol[k] for k in fd.error}


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
    """One line per parameter: worst entry, values, error and tolerance."""
    lines = []
    for c in checks:
        where = f"[{', '.join(map(str, c.index))}]" if c.index else ""
        lines.append(
            f"{'ok  ' if c.ok else 'FAIL'} {c.name}{where}: actual {c.actual:.10g}, reference {c.reference:.10g}, "
            f"|error| {c.abs_error:.2e}, tol {c.tol:.2e}, error/tol {c.ratio:.2e} "
            f"({c.failing}/{c.entries} entries over)" + (f", {c.unresolved} unresolved" if c.unresolved else "")
        )
    return "\n".join(lines)
