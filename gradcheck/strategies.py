"""Hypothesis strategies for RNN problems, reaching the regimes where gradient code breaks.

Sizes (D, H, K, T), the regime and its scales, the input and h_0 modes and the loss are drawn
by Hypothesis itself, so a failure shrinks to the smallest sizes and mildest regime that still
fail. The array entries come from a numpy Generator seeded by a drawn integer: drawing every
entry through Hypothesis makes large arrays slow to generate and mostly constant (its `fill`),
which hides bugs such as W used for W^T (a constant W is symmetric). Shrinking the seed is
meaningless, so the seed is drawn last and shrinks towards 0.

Regimes (h_t = tanh(p_t), logits q_t):
- moderate:       W gain 0.5..1.5 / sqrt(H), |p| ~ 1           the everyday case
- small:          every scale 1e-3..1e-1                       near-linear, tiny gradients
- saturated:      |p| beyond 20                                tanh' underflows to 0
- large_logits:   logits offset by hundreds, spread up to ~1e3 naive softmax overflows
- exploding:      W gain 2..4 / sqrt(H), small inputs           back-propagated terms grow
- vanishing:      W gain 0.05..0.3 / sqrt(H)                   terms die within a few steps
- large_gradient: T >= 10, V ~ 3: sum-loss gradients above 5   clipping code kicks in
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from .model import forward
from .problem import Problem, loss_weights, make_problem

REGIMES = ("moderate", "small", "saturated", "large_logits", "exploding", "vanishing", "large_gradient")


class Scales(NamedTuple):
    u: float  # std of U entries times sqrt(D)
    w: float  # W gain: std of W entries times sqrt(H)
    v: float  # std of V entries times sqrt(H)
    b: float  # std of b_h, and of the varying part of b_y
    x: float  # std of real-valued inputs
    offset: float  # common logit offset (same for every class): overflows exp() in naive softmax


# Common logit offsets of the large_logits regime: past exp()'s overflow (709.8 in float64,
# 88.7 in float32) so that a softmax without the max shift breaks, by dtype of the code tested.
LOGIT_OFFSETS = {"float64": (700.0, 1000.0), "float32": (90.0, 150.0)}


def _scales(uniform, regime: str, offsets: tuple[float, float] = LOGIT_OFFSETS["float64"]) -> Scales:
    """The scales of a regime; uniform(lo, hi) draws each (from Hypothesis or from numpy)."""
    f = uniform
    if regime == "small":
        s = f(1e-3, 1e-1)
        return Scales(s, s, s, s, 1.0, 0.0)
    if regime == "saturated":
        return Scales(f(25.0, 60.0), f(5.0, 30.0), f(0.5, 3.0), f(0.0, 20.0), 1.0, 0.0)
    if regime == "large_logits":
        return Scales(f(0.5, 2.0), f(0.5, 1.5), f(50.0, 400.0), f(0.0, 1.0), 1.0, f(*offsets))
    if regime == "exploding":
        return Scales(f(0.05, 0.5), f(2.0, 4.0), f(0.5, 2.0), f(0.0, 0.1), 1.0, 0.0)
    if regime == "vanishing":
        return Scales(f(0.5, 2.0), f(0.05, 0.3), f(0.5, 2.0), f(0.0, 1.0), 1.0, 0.0)
    if regime == "large_gradient":
        return Scales(f(0.5, 2.0), f(0.8, 1.5), f(2.0, 6.0), f(0.0, 1.0), 1.0, 0.0)
    return Scales(f(0.5, 2.0), f(0.5, 1.5), f(0.5, 3.0), f(0.0, 1.0), f(0.5, 2.0), 0.0)


def regime_scales(regime: str, rng: np.random.Generator, dtype: str = "float64") -> Scales:
    """Scales for a regime drawn with numpy (for fixed sweeps outside Hypothesis)."""
    return _scales(lambda lo, hi: float(rng.uniform(lo, hi)), regime, LOGIT_OFFSETS[dtype])


def build_problem(
    sizes: tuple[int, int, int, int],
    scales: Scales,
    seed: int,
    *,
    one_hot_inputs: bool = False,
    zero_h0: bool = False,
    no_bias: bool = False,
    soft_targets: bool = False,
    loss: str = "sum",
    max_logit_gap: float | None = None,
    first_input_zero: bool = False,
) -> Problem:
    """A problem from sizes (D, H, K, T), regime scales and a seed; deterministic.

    first_input_zero makes every x_t[0] = 0 (one-hot inputs never pick index 0 when D > 1).
    """
    D, H, K, T = sizes
    rng = np.random.default_rng(seed)
    n = rng.standard_normal
    U = scales.u * n((H, D)) / np.sqrt(D)
    W = scales.w * n((H, H)) / np.sqrt(H)
    # A shared row u^T in V and a shared b_y offset move every class together: huge logits with
    # moderate gaps between classes. The varying part sets the gaps.
    u = rng.choice([-1.0, 1.0], H) / H
    V_common = scales.offset * np.outer(np.ones(K), u)
    V_vary = scales.v * n((K, H)) / np.sqrt(H)
    b_h = scales.b * n(H)
    b_y_vary = scales.b * n(K)
    b_y_common = np.full(K, scales.offset)
    if one_hot_inputs:
        xs = np.eye(D)[rng.integers(1 if first_input_zero and D > 1 else 0, D, T)]
    else:
        xs = scales.x * n((T, D))
    if first_input_zero:
        xs[:, 0] = 0.0
    h0 = np.zeros(H) if zero_h0 else rng.uniform(-1.0, 1.0, H)
    ys = rng.dirichlet(np.ones(K), T) if soft_targets else rng.integers(0, K, T)
    if no_bias:
        b_h, b_y_vary, b_y_common = np.zeros(H), np.zeros(K), np.zeros(K)
    params = {"U": U, "W": W, "V": V_common + V_vary, "b_h": b_h, "b_y": b_y_common + b_y_vary}
    problem = make_problem(params, xs, ys, h0, loss=loss)
    if max_logit_gap is not None:
        q = forward(problem).q
        gap = float(np.max(q.max(axis=1) - q.min(axis=1)))
        if gap > max_logit_gap:  # shrink the varying part only; the common offset stays
            s = max_logit_gap / gap
            params = {**params, "V": V_common + s * V_vary, "b_y": b_y_common + s * b_y_vary}
            problem = make_problem(params, xs, ys, h0, loss=loss)
    return problem


@st.composite
def problems(
    draw,
    *,
    max_D: int = 16,
    max_H: int = 16,
    max_K: int = 16,
    max_T: int = 50,
    min_H: int = 1,
    min_T: int = 1,
    regimes: tuple[str, ...] = REGIMES,
    one_hot_inputs: bool | None = None,
    zero_h0: bool | None = None,
    no_bias: bool = False,
    same_io_dim: bool = False,
    soft_targets: bool | None = False,
    loss: str | None = "sum",
    max_logit_gap: float | None = None,
    dtype: str = "float64",
    first_input_zero: bool = False,
) -> Problem:
    """Random problems; an argument left as None is drawn too (both modes get exercised).

    dtype is the precision of the code under test: it sets the large-logit offsets.
    max_logit_gap caps max_k q_{t,k} - min_k q_{t,k} (see build_problem).
    """
    regime = draw(st.sampled_from(regimes))
    D = draw(st.integers(1, max_D))
    H = draw(st.integers(min_H, max_H))
    K = D if same_io_dim else draw(st.integers(1, max_K))
    T = draw(st.integers(max(min_T, min(10, max_T) if regime == "large_gradient" else 1), max_T))
    scales = _scales(lambda lo, hi: draw(st.floats(lo, hi)), regime, LOGIT_OFFSETS[dtype])
    flags = {
        "one_hot_inputs": draw(st.booleans()) if one_hot_inputs is None else one_hot_inputs,
        "zero_h0": draw(st.booleans()) if zero_h0 is None else zero_h0,
        "soft_targets": draw(st.booleans()) if soft_targets is None else soft_targets,
        "loss": draw(st.sampled_from(("sum", "mean", "last"))) if loss is None else loss,
    }
    seed = draw(st.integers(0, 2**32 - 1))
    return build_problem(
        (D, H, K, T), scales, seed, no_bias=no_bias, max_logit_gap=max_logit_gap, first_input_zero=first_input_zero,
        **flags,
    )  # fmt: skip


def features(problem: Problem) -> dict[str, float]:
    """What a problem exercises, for coverage reports and hypothesis.event()/target()."""
    fw = forward(problem)
    D, H, K, T = problem.sizes
    U, W, _, b_h, _ = problem.params
    p = problem.xs @ U.T + fw.hs[:-1] @ W.T + b_h
    return {
        "D": D,
        "H": H,
        "K": K,
        "T": T,
        "max_abs_p": float(np.max(np.abs(p))),  # |p| > 20: tanh'(p) < 1e-17, saturated
        "saturated_fraction": float(np.mean(1.0 - fw.hs[1:] ** 2 < 1e-15)),
        "max_abs_logit": float(np.max(np.abs(fw.q))),
        "h0_nonzero": float(np.any(problem.h0 != 0)),
        "one_hot": float(np.all((problem.xs == 0) | (problem.xs == 1)) and np.all(problem.xs.sum(axis=1) == 1)),
        "x0_nonzero": float(np.any(problem.xs[:, 0] != 0)),
        "mean_loss": float(np.allclose(problem.weights, loss_weights("mean", T))) if T > 1 else 0.0,
    }
