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
- large_logits:   a common logit offset past exp()'s overflow  naive softmax overflows
- exploding:      W gain 2..4 / sqrt(H), small inputs           back-propagated terms grow
- vanishing:      W gain 0.05..0.3 / sqrt(H)                   terms die within a few steps
- large_gradient: T >= 10, V ~ 3: sum-loss gradients above 5   clipping code kicks in

For a precision under test (`precision.Precision`), the regimes are scaled to it: the logit
offsets pass its exp() overflow, logit gaps keep every yhat a normal number, small scales stay
above its underflow, and `temper` weakens a recurrence that round-off in that precision could
flip (exploding, saturated) or whose sums would overflow it, until the judge can judge it. The
problem's numbers are then rounded to the precision, so the implementation receives exactly the
problem the reference solves.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from .compare import RANGE_HEADROOM
from .model import forward
from .precision import FLOAT64, Precision
from .problem import GradcheckError, Problem, loss_weights, make_layer_problem, make_problem
from .roundoff import Spread, conditioning, direct_state_gradient, roundoff_spread


class Regime(StrEnum):
    """The regimes of the module docstring (a StrEnum: it prints and compares as its name)."""

    MODERATE = "moderate"
    SMALL = "small"
    SATURATED = "saturated"
    LARGE_LOGITS = "large_logits"
    EXPLODING = "exploding"
    VANISHING = "vanishing"
    LARGE_GRADIENT = "large_gradient"


REGIMES: tuple[Regime, ...] = tuple(Regime)


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


# Without a precision (the property tests of the float64 core): float64's large-logit offsets.
FLOAT64_LOGIT_OFFSETS = (700.0, 1000.0)


def _scales(uniform, regime: Regime, pr: Precision | None) -> Scales:
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
    if regime is Regime.LARGE_GRADIENT:
        return Scales(f(0.5, 2.0), f(0.8, 1.5), f(2.0, 6.0), f(0.0, 1.0), 1.0, 0.0)
    return Scales(f(0.5, 2.0), f(0.5, 1.5), f(0.5, 3.0), f(0.0, 1.0), f(0.5, 2.0), 0.0)


def regime_scales(regime: Regime | str, rng: np.random.Generator, pr: Precision | None = None) -> Scales:
    """Scales for a regime drawn with numpy (for fixed sweeps outside Hypothesis)."""
    return _scales(lambda lo, hi: float(rng.uniform(lo, hi)), parse_regime(regime), pr)


def min_steps(regime: Regime) -> int:
    """large_gradient needs T >= 10 for sum-loss gradients above 5; every other regime T >= 1."""
    return 10 if regime is Regime.LARGE_GRADIENT else 1


class _Draw(NamedTuple):
    """The random parts of a batch of n sequences sharing one network."""

    params: dict[str, np.ndarray]
    V_common: np.ndarray
    b_y_common: np.ndarray
    inputs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (xs, ys, h0) per sequence


def _draw(sizes, scales: Scales, seed: int, n: int, flags: dict) -> _Draw:
    D, H, K, T = sizes
    rng = np.random.default_rng(seed)
    g = rng.standard_normal
    U = scales.u * g((H, D)) / np.sqrt(D)
    W = scales.w * g((H, H)) / np.sqrt(H)
    # A shared row u^T in V and a shared b_y offset move every class together: huge logits with
    # moderate gaps between classes. The varying part sets the gaps.
    u = rng.choice([-1.0, 1.0], H) / H
    V_common = scales.offset * np.outer(np.ones(K), u)
    V_vary = scales.v * g((K, H)) / np.sqrt(H)
    b_h, b_y_vary, b_y_common = scales.b * g(H), scales.b * g(K), np.full(K, scales.offset)
    if flags["no_bias"]:
        b_h, b_y_vary, b_y_common = np.zeros(H), np.zeros(K), np.zeros(K)
    inputs = []
    for _ in range(n):
        if flags["one_hot_inputs"]:
            xs = np.eye(D)[rng.integers(1 if flags["first_input_zero"] and D > 1 else 0, D, T)]
        else:
            xs = scales.x * g((T, D))
        if flags["first_input_zero"]:
            xs[:, 0] = 0.0
        h0 = np.zeros(H) if flags["zero_h0"] else rng.uniform(-1.0, 1.0, H)
        ys = rng.dirichlet(np.ones(K), T) if flags["soft_targets"] else rng.integers(0, K, T)
        inputs.append((xs, ys, h0))
    return _Draw({"U": U, "W": W, "V": V_vary, "b_h": b_h, "b_y": b_y_vary}, V_common, b_y_common, inputs)


def _network(d: _Draw, v_scale: float, w_scale: float) -> dict[str, np.ndarray]:
    p = d.params
    return {**p, "W": w_scale * p["W"], "V": d.V_common + v_scale * p["V"], "b_y": d.b_y_common + v_scale * p["b_y"]}


def _sequences(d: _Draw, params: dict, loss: str) -> tuple[Problem, ...]:
    return tuple(make_problem(params, xs, ys, h0, loss=loss) for xs, ys, h0 in d.inputs)


class Batch(NamedTuple):
    """Sequences through one network, and (when drawn for a precision) their round-off spreads in
    it, which the judge reuses for the tolerances."""

    problems: tuple[Problem, ...]
    spreads: tuple[Spread, ...] | None = None
    regime: Regime | None = None  # the regime drawn (for coverage counts)


def _judgeable(conditions: list[tuple[float, float]], pr: Precision) -> tuple[bool, bool]:
    """(states stable enough, sums in range), with a factor 4 of margin on the judge's limits, from
    each sequence's (Spread.states, Spread.magnitude)."""
    stable = all(states <= pr.ill_conditioned / 4 for states, _ in conditions)
    in_range = all(magnitude * RANGE_HEADROOM * 4 <= pr.max for _, magnitude in conditions)
    return stable, in_range


# Tempering: at most this many rounds, each multiplying W by 0.6 when round-off would move the
# states too far, and V and W by 0.6 and 0.9 when sums would overflow (a round costs the Monte
# Carlo forward runs, roundoff.conditioning, a few milliseconds at H = 64, T = 200). Problems
# still not judgeable after it are drawn anyway and counted as not judged.
TEMPER_ROUNDS = 12
TEMPER_FACTOR = 0.6


def build_problems(
    sizes: tuple[int, int, int, int],
    scales: Scales,
    seed: int,
    *,
    n: int = 1,
    precision: Precision | None = None,
    one_hot_inputs: bool = False,
    zero_h0: bool = False,
    no_bias: bool = False,
    soft_targets: bool = False,
    loss: str = "sum",
    first_input_zero: bool = False,
    layer: bool = False,
) -> Batch:
    """n sequences through one network, from sizes (D, H, K, T), regime scales and a seed; deterministic.

    With a precision: logit gaps capped (Precision.max_logit_gap), the recurrence tempered until
    that precision can judge it, and every number rounded to it (module docstring). layer: each
    sequence becomes the recurrent layer alone, with upstream dhs_t = V^T dq_t of the drawn
    output layer. first_input_zero makes every x_t[0] = 0.
    """
    flags = dict(
        one_hot_inputs=one_hot_inputs,
        zero_h0=zero_h0,
        no_bias=no_bias,
        soft_targets=soft_targets,
        first_input_zero=first_input_zero,
    )
    d = _draw(sizes, scales, seed, n, flags)
    v_scale, w_scale = 1.0, 1.0
    if precision is not None:  # shrink the varying part of the logits only; the common offset stays
        q = np.concatenate([forward(p).q for p in _sequences(d, _network(d, 1.0, 1.0), loss)])
        gap = float(np.max(q.max(axis=1) - q.min(axis=1)))
        v_scale = min(1.0, precision.max_logit_gap / gap) if gap > 0 else 1.0
    if precision is None:
        return Batch(_finish(_sequences(d, _network(d, v_scale, w_scale), loss), None, layer))
    for _ in range(TEMPER_ROUNDS):
        problems = _finish(_sequences(d, _network(d, v_scale, w_scale), loss), precision, layer)
        stable, in_range = _judgeable([conditioning(p, precision) for p in problems], precision)
        if stable and in_range:
            break
        w_scale *= TEMPER_FACTOR if not stable else 0.9
        v_scale *= 1.0 if in_range else TEMPER_FACTOR
    return Batch(problems, tuple(roundoff_spread(p, precision) for p in problems))


def round_problem(p: Problem, pr: Precision) -> Problem:
    """The problem with every number rounded to the precision (targets, weights and dhs too)."""
    params = p.params._replace(**{k: pr.round(v) for k, v in p.params._asdict().items()})
    return p._replace(
        params=params, xs=pr.round(p.xs), h0=pr.round(p.h0), dhs=None if p.dhs is None else pr.round(p.dhs)
    )


def _finish(problems: tuple[Problem, ...], pr: Precision | None, layer: bool) -> tuple[Problem, ...]:
    """The layer's problems (upstream dhs from the drawn output layer), rounded to the precision."""
    out = []
    for p in problems:
        if layer:
            dq = p.weights[:, None] * (p.Y.sum(axis=1, keepdims=True) * np.exp(forward(p).log_yhat) - p.Y)
            p = make_layer_problem(p.params._asdict(), p.xs, p.h0, direct_state_gradient(p, dq))
        out.append(round_problem(p, pr) if pr is not None else p)
    return tuple(out)


def pin_hypothesis_constants() -> None:
    """Make Hypothesis' draws depend on the seed and the strategies only, not on the modules loaded.

    Since 6.131 Hypothesis mixes into its draws literal constants that it collects from the source
    of every local module in sys.modules (`_get_local_constants` in
    hypothesis/internal/conjecture/providers.py, with hypothesis/internal/constants_ast.py): about
    one draw in twenty takes a constant from that pool, and which constant, and how much
    randomness choosing it consumes, depends on the pool. So the same seed drew other problems
    when the code under test, or a benchmark script, brought other literals along. No setting turns
    the collection off (checked up to Hypothesis 6.170); this pins the pool to empty, process-wide
    and once (Hypothesis' own global constants stay). An older Hypothesis without the feature is
    left as it is.
    """
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover (Hypothesis before 6.131)
        return
    if not hasattr(providers, "_get_local_constants") or getattr(providers._get_local_constants, "pinned", False):
        return
    empty = Constants()

    def no_local_constants() -> Constants:
        return empty

    no_local_constants.pinned = True  # type: ignore[attr-defined]
    no_local_constants.original = providers._get_local_constants  # type: ignore[attr-defined]
    providers._get_local_constants = no_local_constants
    providers.CONSTANTS_CACHE.cache.clear()  # pools filtered from the collected constants


def build_problem(sizes: tuple[int, int, int, int], scales: Scales, seed: int, **options) -> Problem:
    """One sequence: build_problems with n = 1."""
    return build_problems(sizes, scales, seed, n=1, **options).problems[0]


@st.composite
def batches(
    draw,
    *,
    max_D: int = 16,
    max_H: int = 16,
    max_K: int = 16,
    max_T: int = 50,
    min_H: int = 1,
    min_K: int = 1,
    min_T: int = 1,
    max_batch: int = 1,
    regimes: tuple[Regime, ...] = REGIMES,
    one_hot_inputs: bool | None = None,
    zero_h0: bool | None = None,
    no_bias: bool = False,
    same_io_dim: bool = False,
    soft_targets: bool | None = False,
    loss: str | None = "sum",
    precision: Precision | None = None,
    first_input_zero: bool = False,
    layer: bool = False,
) -> Batch:
    """Random batches of 1..max_batch sequences through one network; an argument left as None is
    drawn too (both modes get exercised). precision: the arithmetic of the code under test."""
    regime = draw(st.sampled_from(regimes))
    D = draw(st.integers(1, max_D))
    H = draw(st.integers(min_H, max_H))
    K = D if same_io_dim else draw(st.integers(min_K, max_K))
    T = draw(st.integers(max(min_T, min(min_steps(regime), max_T)), max_T))
    n = draw(st.integers(1, max_batch))
    scales = _scales(lambda lo, hi: draw(st.floats(lo, hi)), regime, precision)
    flags = {
        "one_hot_inputs": draw(st.booleans()) if one_hot_inputs is None else one_hot_inputs,
        "zero_h0": draw(st.booleans()) if zero_h0 is None else zero_h0,
        "soft_targets": draw(st.booleans()) if soft_targets is None else soft_targets,
        "loss": draw(st.sampled_from(("sum", "mean", "last"))) if loss is None else loss,
    }
    seed = draw(st.integers(0, 2**32 - 1))
    b = build_problems(
        (D, H, K, T),
        scales,
        seed,
        n=n,
        no_bias=no_bias,
        precision=precision,
        first_input_zero=first_input_zero,
        layer=layer,
        **flags,
    )
    return b._replace(regime=regime)


def problems(**options) -> st.SearchStrategy[Problem]:
    """Random single problems (one sequence); the options of `batches`."""
    return batches(**options).map(lambda b: b.problems[0])


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
