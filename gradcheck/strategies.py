"""Hypothesis strategies for RNN problems, reaching the regimes where gradient code breaks.

Sizes (D, H, K, T), the regime and its scales, the input and h_0 modes and the loss are drawn
by Hypothesis itself, so a failure shrinks to the smallest sizes and mildest regime that still
fail. The array entries come from a numpy Generator seeded by a drawn integer: drawing every
entry through Hypothesis makes large arrays slow to generate and mostly constant (its `fill`),
which hides bugs such as W used for W^T (a constant W is symmetric). Shrinking the seed is
meaningless, so the seed is drawn last and shrinks towards 0.

The regimes and their scales live in `regimes.py`.

For a precision under test (`precision.Precision`), the regimes are scaled to it: the logit
offsets pass its exp() overflow, logit gaps keep every yhat a normal number, small scales stay
above its underflow, and `temper` weakens a recurrence that round-off in that precision could
flip (exploding, saturated) or whose sums would overflow it, until the judge can judge it. The
problem's numbers are then rounded to the precision, so the implementation receives exactly the
problem the reference solves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

from .compare import RANGE_HEADROOM
from .layouts import GATES, has_cell_state, parse_cell
from .model import forward
from .precision import Precision
from .problem import Problem, loss_weights, make_layer_problem, make_problem
from .regimes import REGIMES, Regime, Scales, min_steps, scales_for
from .roundoff import Spread, conditioning, direct_state_gradient, roundoff_spread


class _Draw(NamedTuple):
    """The random parts of a batch of n sequences sharing one network."""

    params: dict[str, np.ndarray]
    V_common: np.ndarray
    b_y_common: np.ndarray
    inputs: list[tuple]  # (xs, ys, h0, c0) per sequence (c0 None but for the LSTM)
    cell: str = "tanh"


def _weights(cell: str, D: int, H: int, scales: Scales, g) -> dict[str, np.ndarray]:
    """The recurrent matrices of a cell: U (x u/sqrt(D)) and W (x w/sqrt(H)), or the gated cells'
    W_ih and W_hh by the same scales (G gates stacked by rows)."""
    G = GATES[parse_cell(cell)]
    names = ("U", "W") if G == 1 else ("W_ih", "W_hh")
    return {names[0]: scales.u * g((G * H, D)) / np.sqrt(D), names[1]: scales.w * g((G * H, H)) / np.sqrt(H)}


def _biases(cell: str, H: int, scales: Scales, g) -> dict[str, np.ndarray]:
    """b_h (x b), or b_ih and b_hh with the regime's gate bias added to the LSTM's forget gate
    (block 1 of i, f, g, o) or the GRU's update gate (block 1 of r, z, n)."""
    G = GATES[parse_cell(cell)]
    if G == 1:
        return {"b_h": scales.b * g(H)}
    b_ih = scales.b * g(G * H)
    b_ih[H : 2 * H] += scales.gate
    return {"b_ih": b_ih, "b_hh": scales.b * g(G * H)}


def _draw(sizes, scales: Scales, seed: int, n: int, flags: dict, cell: str = "tanh") -> _Draw:
    D, H, K, T = sizes
    rng = np.random.default_rng(seed)
    g = rng.standard_normal
    rec = _weights(cell, D, H, scales, g)
    # A shared row u^T in V and a shared b_y offset move every class together: huge logits with
    # moderate gaps between classes. The varying part sets the gaps.
    u = rng.choice([-1.0, 1.0], H) / H
    V_common = scales.offset * np.outer(np.ones(K), u)
    V_vary = scales.v * g((K, H)) / np.sqrt(H)
    rec |= _biases(cell, H, scales, g)
    b_y_vary, b_y_common = scales.b * g(K), np.full(K, scales.offset)
    if flags["no_bias"] or scales.kinks:
        rec = {k: (np.zeros_like(v) if k.startswith("b_") else v) for k, v in rec.items()}
        b_y_vary, b_y_common = (np.zeros(K), np.zeros(K)) if flags["no_bias"] else (b_y_vary, b_y_common)
    inputs = []
    for _ in range(n):
        if flags["one_hot_inputs"]:
            xs = np.eye(D)[rng.integers(1 if flags["first_input_zero"] and D > 1 else 0, D, T)]
        else:
            xs = scales.x * g((T, D))
        if flags["first_input_zero"]:
            xs[:, 0] = 0.0
        if scales.kinks:  # with h_0 = 0 and no bias, every p_t is exactly 0 until an input is not
            xs[: int(rng.integers(1, T))] = 0.0
        h0 = np.zeros(H) if flags["zero_h0"] or scales.kinks else rng.uniform(-1.0, 1.0, H)
        c0 = (np.zeros(H) if flags["zero_c0"] else rng.uniform(-1.0, 1.0, H)) if has_cell_state(cell) else None
        ys = rng.dirichlet(np.ones(K), T) if flags["soft_targets"] else rng.integers(0, K, T)
        inputs.append((xs, ys, h0, c0))
    return _Draw({**rec, "V": V_vary, "b_y": b_y_vary}, V_common, b_y_common, inputs, cell)


def _network(d: _Draw, v_scale: float, w_scale: float) -> dict[str, np.ndarray]:
    p, w = d.params, ("W" if "W" in d.params else "W_hh")  # tempering weakens the recurrent matrix
    return {**p, w: w_scale * p[w], "V": d.V_common + v_scale * p["V"], "b_y": d.b_y_common + v_scale * p["b_y"]}


def _sequences(d: _Draw, params: dict, loss: str) -> tuple[Problem, ...]:
    return tuple(make_problem(params, xs, ys, h0, loss=loss, cell=d.cell, c0=c0) for xs, ys, h0, c0 in d.inputs)


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
    cell: str = "tanh",
    zero_c0: bool = False,
) -> Batch:
    """n sequences through one network of the cell, from sizes (D, H, K, T), regime scales and a
    seed; deterministic.

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
        zero_c0=zero_c0,
    )
    d = _draw(sizes, scales, seed, n, flags, cell)
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
    optional = {k: None if getattr(p, k) is None else pr.round(getattr(p, k)) for k in ("dhs", "c0")}
    return p._replace(params=params, xs=pr.round(p.xs), h0=pr.round(p.h0), **optional)


def _finish(problems: tuple[Problem, ...], pr: Precision | None, layer: bool) -> tuple[Problem, ...]:
    """The layer's problems (upstream dhs from the drawn output layer), rounded to the precision."""
    out = []
    for p in problems:
        if layer:
            dq = p.weights[:, None] * (p.Y.sum(axis=1, keepdims=True) * np.exp(forward(p).log_yhat) - p.Y)
            dhs = direct_state_gradient(p, dq)
            p = make_layer_problem(p.recurrent, p.xs, p.h0, dhs, cell=p.cell, c0=p.c0)
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
    cell: str = "tanh",
    zero_c0: bool = False,
) -> Batch:
    """Random batches of 1..max_batch sequences through one network of the cell; an argument left as
    None is drawn too (both modes get exercised). precision: the arithmetic of the code under test."""
    regime = draw(st.sampled_from(regimes))
    D = draw(st.integers(1, max_D))
    H = draw(st.integers(min_H, max_H))
    K = D if same_io_dim else draw(st.integers(min_K, max_K))
    T = draw(st.integers(max(min_T, min(min_steps(regime), max_T)), max_T))
    n = draw(st.integers(1, max_batch))
    scales = scales_for(lambda lo, hi: draw(st.floats(lo, hi)), regime, precision)
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
        cell=cell,
        zero_c0=zero_c0,
        **flags,
    )
    return b._replace(regime=regime)


def problems(**options) -> st.SearchStrategy[Problem]:
    """Random single problems (one sequence); the options of `batches`."""
    return batches(**options).map(lambda b: b.problems[0])


def preactivations(problem: Problem, hs: np.ndarray) -> np.ndarray:
    """Every pre-activation, (T, G H): p_t of the seed's cell and relu, every gate's of the others
    (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh; for the GRU's n, its input part alone)."""
    rec = problem.recurrent
    if "U" in rec:
        return problem.xs @ rec["U"].T + hs[:-1] @ rec["W"].T + rec["b_h"]
    return problem.xs @ rec["W_ih"].T + rec["b_ih"] + hs[:-1] @ rec["W_hh"].T + rec["b_hh"]


def features(problem: Problem) -> dict[str, float]:
    """What a problem exercises, for coverage reports and hypothesis.event()/target()."""
    fw = forward(problem)
    D, H, K, T = problem.sizes
    p = preactivations(problem, fw.hs)
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
