"""The regimes where gradient code breaks, and the scales that reach them; no Hypothesis here.

Regimes (h_t = tanh(p_t), logits q_t):
- moderate:       W gain 0.5..1.5 / sqrt(H), |p| ~ 1           the everyday case
- small:          every scale 1e-3..1e-1                       near-linear, tiny gradients
- saturated:      |p| beyond 20                                tanh' underflows to 0
- large_logits:   a common logit offset past exp()'s overflow  naive softmax overflows
- exploding:      W gain 2..4 / sqrt(H), small inputs           back-propagated terms grow
- vanishing:      W gain 0.05..0.3 / sqrt(H)                   terms die within a few steps
- large_gradient: T >= 10, V ~ 3: sum-loss gradients above 5   clipping code kicks in
- huge_preactivations: |p| past exp()'s overflow               tanh written with exp() overflows

and for the cells that have them (cells.py):
- forget_open:    the LSTM's forget gate near 1 (b_f + 4..12)      the cell state carries far
- update_extreme: the GRU's update gate near 0 or 1 (b_z +-4..12)  h carries, or is replaced
- kinks:          ReLU's pre-activations exactly 0 (b = 0, h_0 = 0,
                  a run of zero inputs)                              relu'(0)'s convention shows

`strategies.py` draws the scales with Hypothesis; the coverage set and golden vectors draw them
with numpy (`regime_scales`). Both take the same `scales_for`, so a regime means one thing everywhere.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from .errors import GradcheckError
from .precision import FLOAT64, Precision

if TYPE_CHECKING:  # an annotation only: the command line's help reads the regimes without numpy
    import numpy as np


class Regime(StrEnum):
    """The regimes of the module docstring (a StrEnum: it prints and compares as its name)."""

    MODERATE = "moderate"
    SMALL = "small"
    SATURATED = "saturated"
    LARGE_LOGITS = "large_logits"
    EXPLODING = "exploding"
    VANISHING = "vanishing"
    LARGE_GRADIENT = "large_gradient"
    HUGE_PREACTIVATIONS = "huge_preactivations"
    FORGET_OPEN = "forget_open"
    UPDATE_EXTREME = "update_extreme"
    KINKS = "kinks"


# The regimes of one cell alone.
CELL_REGIMES = {
    Regime.FORGET_OPEN: ("lstm",),
    Regime.UPDATE_EXTREME: ("gru", "gru_cho"),
    Regime.KINKS: ("relu",),
}
REGIMES: tuple[Regime, ...] = tuple(r for r in Regime if r not in CELL_REGIMES)


def regimes_for(cell: str) -> tuple[Regime, ...]:
    """Every regime a cell's problems are drawn in: the common ones, and its own."""
    return (*REGIMES, *(r for r, cells in CELL_REGIMES.items() if str(cell) in cells))


def parse_regime(name: str | Regime) -> Regime:
    """The Regime of a name; an unknown name is an error that lists the known ones."""
    try:
        return Regime(name)
    except ValueError:
        raise GradcheckError(f"regime: {name!r} is not one of {', '.join(r.value for r in Regime)}") from None


class Scales(NamedTuple):
    u: float  # std of U entries times sqrt(D)
    w: float  # W gain: std of W entries times sqrt(H)
    v: float  # std of V entries times sqrt(H)
    b: float  # std of b_h, and of the varying part of b_y
    x: float  # std of real-valued inputs
    offset: float  # common logit offset (same for every class): overflows exp() in naive softmax
    gate: float = 0.0  # added to the input bias of the LSTM's forget gate, or the GRU's update gate
    kinks: bool = False  # biases 0, h_0 = 0 and a run of zero inputs: pre-activations exactly 0


# Without a precision (the property tests of the float64 core): float64's large-logit offsets.
FLOAT64_LOGIT_OFFSETS = (700.0, 1000.0)


def scales_for(uniform, regime: Regime, pr: Precision | None) -> Scales:
    """The scales of a regime; uniform(lo, hi) draws each (from Hypothesis or from numpy)."""
    f = uniform
    if regime is Regime.SMALL:
        # Gradient terms are products of three small scales (dW ~ V dq tanh' h): at scales above
        # tiny^(1/3) they stay normal numbers (float16: 0.039; the others: the 1e-3 floor).
        s = f(max(1e-3, 2 * pr.tiny ** (1 / 3)) if pr else 1e-3, 1e-1)
        return Scales(s, s, s, s, 1.0, 0.0)
    if regime is Regime.SATURATED:
        # Past float64's saturation (|p| > 18.7); a coarser precision saturates sooner, and larger
        # pre-activations would only add absolute round-off (eps |U x_t|) to the units near 0.
        c = min(1.0, pr.saturation / FLOAT64.saturation) if pr else 1.0
        return Scales(c * f(25.0, 60.0), c * f(5.0, 30.0), f(0.5, 3.0), c * f(0.0, 20.0), 1.0, 0.0)
    if regime is Regime.LARGE_LOGITS:
        return Scales(
            f(0.5, 2.0),
            f(0.5, 1.5),
            f(50.0, 400.0),
            f(0.0, 1.0),
            1.0,
            f(*(pr.logit_offsets if pr else FLOAT64_LOGIT_OFFSETS)),
        )
    if regime is Regime.EXPLODING:
        return Scales(f(0.05, 0.5), f(2.0, 4.0), f(0.5, 2.0), f(0.0, 0.1), 1.0, 0.0)
    if regime is Regime.VANISHING:
        return Scales(f(0.5, 2.0), f(0.05, 0.3), f(0.5, 2.0), f(0.0, 1.0), 1.0, 0.0)
    if regime is Regime.HUGE_PREACTIVATIONS:
        # |p| ~ u: some pre-activations pass exp()'s overflow (log max: 709.8, 88.7, 11.1), where
        # tanh written as (e^p - e^-p) / (e^p + e^-p) gives inf / inf = NaN; tanh itself is +-1.
        over = pr.exp_overflow if pr else FLOAT64.exp_overflow
        return Scales(over * f(0.6, 1.5), f(0.5, 1.5), f(0.5, 3.0), 0.0, 1.0, 0.0)
    if regime is Regime.LARGE_GRADIENT:
        return Scales(f(0.5, 2.0), f(0.8, 1.5), f(2.0, 6.0), f(0.0, 1.0), 1.0, 0.0)
    if regime is Regime.FORGET_OPEN:  # f = sigma(4..12 + ...): 0.98 to 0.99999
        return Scales(f(0.5, 2.0), f(0.5, 1.5), f(0.5, 3.0), f(0.0, 1.0), 1.0, 0.0, gate=f(4.0, 12.0))
    if regime is Regime.UPDATE_EXTREME:  # z near 1 (h carried) or near 0 (h replaced by n)
        sign = 1.0 if f(-1.0, 1.0) >= 0 else -1.0
        return Scales(f(0.5, 2.0), f(0.5, 1.5), f(0.5, 3.0), f(0.0, 1.0), 1.0, 0.0, gate=sign * f(4.0, 12.0))
    if regime is Regime.KINKS:
        return Scales(f(0.5, 2.0), f(0.5, 1.5), f(0.5, 3.0), 0.0, f(0.5, 2.0), 0.0, kinks=True)
    return Scales(f(0.5, 2.0), f(0.5, 1.5), f(0.5, 3.0), f(0.0, 1.0), f(0.5, 2.0), 0.0)


def regime_scales(regime: Regime | str, rng: np.random.Generator, pr: Precision | None = None) -> Scales:
    """Scales for a regime drawn with numpy (for fixed sweeps outside Hypothesis)."""
    return scales_for(lambda lo, hi: float(rng.uniform(lo, hi)), parse_regime(regime), pr)


def min_steps(regime: Regime) -> int:
    """large_gradient needs T >= 10 for sum-loss gradients above 5, forget_open T >= 20 for a cell
    state carried far, kinks T >= 2 for a zero step before the others; every other regime T >= 1."""
    return {Regime.LARGE_GRADIENT: 10, Regime.FORGET_OPEN: 20, Regime.KINKS: 2}.get(regime, 1)


__all__ = [
    "CELL_REGIMES",
    "FLOAT64_LOGIT_OFFSETS",
    "REGIMES",
    "Regime",
    "Scales",
    "min_steps",
    "parse_regime",
    "regime_scales",
    "regimes_for",
    "scales_for",
]
