"""How far round-off can move the loss and its gradient: Monte Carlo arithmetic.

Two correct implementations of the same equations differ only by round-off, and how much
depends on the problem: errors committed at one step are carried by the recurrence to every
later step (forward) and every earlier step (backward), grown or damped by the same signed
Jacobians T^t W that make the gradient. Worst-case bounds that take absolute values (Higham,
ch. 3) replace those Jacobians by |W| and grow like ||W||^t even where the real errors do
not, so they are useless beyond a few dozen steps. We use Monte Carlo arithmetic instead
(Parker, Pierce and Eggert, 2000): run the forward and backward passes again with every
intermediate perturbed by random errors of the size one rounding can make, in the arithmetic
of the code under test (`precision.Precision`: eps, and sum_eps for the sums inside dot products),

    p_t   += xi (eps (|U x_t| + |W h_{t-1}| + |b_h|) + sum_eps ((D+2) |U||x_t| + (H+2) |W||h_{t-1}|))
    h_t    = tanh(p_t) (1 + xi ULPS eps) + xi tiny               (tanh's own error; underflow)
    q_t   += xi (eps (|V h_t| + |b_y|) + sum_eps (H+2) |V||h_t|)
    log yhat_t += xi eps (|s_t| + |log yhat_t| + 2 ULPS + sqrt(K+2)) + xi sum_eps (K+2)
    dq_t  += xi eps (ULPS+2) w_t (sigma_t yhat_t + y_t)          (the terms that cancel in dq)
    dh_t  += xi (eps (|V^T dq_t| + |W^T dp_{t+1}| + |dhs_t|) + sum_eps ((K+2) |V^T||dq_t| + (H+2) |W^T||dp_{t+1}|))
    1 - h_t^2 += xi 2 eps                                         (absolute, any formula)
    dp_t   = (1 - h_t^2) dh_t (1 + xi eps) + xi tiny

(xi uniform in [-1, 1], independent, except that two runs make the errors of tanh and of
1 - h_t^2 all of one sign), and measure how far the loss and each gradient entry move. That
spread, over SAMPLES runs with a fixed seed, is the round-off scale of each entry, taken as the
larger of two estimates: the entry's own spread, and the spreads of h_t, dq_t and dp_t carried
through the final sums over t with absolute values (which cannot be small by chance, as one
entry's spread over a few runs can).

The final sums over t (dW = sum_t dp_t h_{t-1}^T, ..., and E = sum_t w_t E_t) are often loops
that accumulate in the storage precision (`dW += ...`), in either order. Each of their T + 2
roundings errs by at most eps times a partial sum, itself at most S = sum_t |term_t|; as
independent errors (Higham and Mary, 2019, probabilistic rounding error analysis) they add up to
2 eps sqrt((T + 2) / 3) S in two standard deviations, which is what we add. With the
tolerance's factor 8 (compare.py) that also covers roundings that all err one way, (eps/2) T S,
for T up to 340.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .model import Forward, forward, log_softmax, step_losses
from .precision import Precision
from .problem import Problem

# Perturbed runs per problem. In two of them tanh and 1 - h^2 err the same way at every step
# (a library whose tanh rounds differently from another's does so at every step, and through
# a run of saturated units the products T^t W T^{t-1} ... compound such a bias step by step,
# which independent random errors would only do as a random walk); the other four draw at
# random, and the largest of four draws rarely falls below the median (probability 1/16).
SAMPLES = 6
SEED = 20261125  # fixed: the same problem always gets the same tolerance (no flaky checks)


class Spread(NamedTuple):
    loss: float  # how far round-off moves E
    grads: dict[str, np.ndarray]  # how far it moves each gradient entry (parameters, "h0", "xs"), and "hs"
    states: float  # how far round-off moves any h_t (|h_t| <= 1): the recurrence's conditioning
    magnitude: float  # the largest intermediate a correct implementation forms (sums of |terms|)
    # The parts of grads = max(own, carried) + sums, for the tests that pin each one:
    own: dict[str, np.ndarray] | None = None  # each entry's own spread over the runs
    carried: dict[str, np.ndarray] | None = None  # the spreads of h_t, dq_t, dp_t carried through the sums
    sums: dict[str, np.ndarray] | None = None  # the final sums' own rounding


class _Noise:
    """Random relative errors xi in [-1, 1]; with `coherent`, samples 0 and 1 err one way everywhere."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(SEED)

    def __call__(self, shape, coherent: float | None = None) -> np.ndarray:
        a = self.rng.uniform(-1.0, 1.0, shape)
        if coherent is not None:
            a[0], a[1] = coherent, -coherent
        return a


def direct_state_gradient(problem: Problem, dq: np.ndarray) -> np.ndarray:
    """dE_t/dh_t from outside the recurrence, (..., T, H): V^T dq_t, plus the layer's upstream dhs_t."""
    out = dq @ problem.params.V
    return out if problem.dhs is None else out + problem.dhs


def _output_error(problem: Problem, log_yhat: np.ndarray) -> np.ndarray:
    """dq = w_t (sigma_t yhat_t - y_t) for (..., T, K) log yhat (the round-off model's own copy)."""
    Y = problem.Y
    return problem.weights[:, None] * (Y.sum(axis=1, keepdims=True) * np.exp(log_yhat) - Y)


def backward(problem: Problem, hs: np.ndarray, dq: np.ndarray, local=None, xi=None, eps: float = 0.0, tiny=0.0):
    """dp (..., T, H) by dp_t = (1 - h_t^2) (dh_out_t + W^T dp_{t+1}), with noise when xi is given."""
    W = problem.params.W
    dh_out = direct_state_gradient(problem, dq)
    dp = np.empty_like(dh_out)
    carry = np.zeros_like(dh_out[..., 0, :])
    for t in range(dh_out.shape[-2] - 1, -1, -1):
        dh = dh_out[..., t, :] + carry
        deriv = 1.0 - hs[..., t + 1, :] ** 2
        if xi is not None:
            dh = dh + local[t] * xi(dh.shape)
            deriv = deriv + 2 * eps * xi(deriv.shape, coherent=1.0)
        dp[..., t, :] = deriv * dh
        if xi is not None:
            dp[..., t, :] *= 1 + eps * xi(dh.shape)
            dp[..., t, :] += tiny * xi(dh.shape)
        carry = dp[..., t, :] @ W
    return dp


def _noisy_forward(problem: Problem, fw: Forward, pr: Precision, xi: _Noise):
    """SAMPLES perturbed forward passes at once: hs (R, T+1, H), log yhat (R, T, K), E (R, T)."""
    (U, W, V, b_h, b_y), xs = problem.params, problem.xs
    (T, D), H, K = xs.shape, W.shape[0], V.shape[0]
    eps, acc, ulps = pr.eps, pr.sum_eps, pr.ulps
    ux, wh = xs @ U.T, fw.hs[:-1] @ W.T
    # The three partial results (U x_t, W h_{t-1}, b_h) and their sum round once each, by eps/2 of
    # their size: eps (|U x_t| + |W h| + |b_h|) bounds the lot; the dot products' own sums add
    # (n + 2) sum_eps times their |terms| (Higham's gamma_n, worst case).
    local_p = eps * (np.abs(ux) + np.abs(wh) + np.abs(b_h)) + acc * (
        (D + 2) * (np.abs(xs) @ np.abs(U).T) + (H + 2) * (np.abs(fw.hs[:-1]) @ np.abs(W).T)
    )
    hs = np.empty((SAMPLES, T + 1, H))
    hs[:, 0] = problem.h0 * (1 + eps * xi((SAMPLES, H)))
    pre = ux + b_h
    for t in range(T):
        p = pre[t] + hs[:, t] @ W.T + local_p[t] * xi((SAMPLES, H))
        hs[:, t + 1] = np.tanh(p) * (1 + ulps * eps * xi((SAMPLES, H), coherent=-1.0)) + pr.tiny * xi((SAMPLES, H))
    vh = fw.hs[1:] @ V.T
    local_q = eps * (np.abs(vh) + np.abs(b_y)) + acc * (H + 2) * (np.abs(fw.hs[1:]) @ np.abs(V).T)
    q = hs[:, 1:] @ V.T + b_y + local_q * xi((SAMPLES, T, K))
    # log yhat_k = s_k - log sum_j exp(s_j), s = q - max q: eps |s_k| and eps |log yhat_k| from the
    # two subtractions, the ulps of exp and log, and the sum of K exponentials (in sum_eps inside a
    # reduction, or a random walk in eps where it accumulates in the storage precision).
    s = np.abs(fw.q - fw.q.max(axis=1, keepdims=True))
    local_ly = eps * (s + np.abs(fw.log_yhat) + 2 * ulps + np.sqrt(K + 2)) + acc * (K + 2)
    log_yhat = log_softmax(q) + local_ly * xi(q.shape)
    E = step_losses(log_yhat, problem.Y)
    if problem.dhs is not None:
        E = E + np.sum(problem.dhs * hs[:, 1:], axis=-1)
    return hs, log_yhat, E


def _loop_sum_rounding(abs_terms_sum: np.ndarray, T: int, eps: float) -> np.ndarray:
    """The rounding of a sum over T steps with sum_t |term_t| = abs_terms_sum (module docstring)."""
    return 2 * eps * np.sqrt((T + 2) / 3) * abs_terms_sum


def _gradients(problem: Problem, hs, dq, dp) -> dict[str, np.ndarray]:
    """The final sums, for reference arrays (T, ...) or perturbed ones (R, T, ...)."""
    return {
        "V": np.einsum("...tk,...th->...kh", dq, hs[..., 1:, :]),
        "b_y": dq.sum(axis=-2),
        "W": np.einsum("...ti,...tj->...ij", dp, hs[..., :-1, :]),
        "U": np.einsum("...ti,tj->...ij", dp, problem.xs),
        "b_h": dp.sum(axis=-2),
        "h0": dp[..., 0, :] @ problem.params.W,
        "xs": dp @ problem.params.U,
    }


# The other cells' model (roundoff_cells.py) gives a standard deviation, a bound from its coherent
# runs and the sums' worst case; the tolerance is CELL_SAFETY standard deviations plus the bounds,
# expressed as a spread that compare.ROUNDOFF_SAFETY multiplies.
CELL_SAFETY = 6.0


def roundoff_spread(problem: Problem, pr: Precision, fw: Forward | None = None) -> Spread:
    """Round-off scale of E and of every gradient entry, in the arithmetic `pr` (module docstring);
    another cell's from its derivation (roundoff_cells.py)."""
    if problem.cell != "tanh":
        return _cell(problem, pr)
    fw = forward(problem) if fw is None else fw
    xi = _Noise()
    (U, W, V, _b_h, _b_y), xs, w = problem.params, problem.xs, problem.weights
    T, H, K = xs.shape[0], W.shape[0], V.shape[0]
    eps, acc = pr.eps, pr.sum_eps
    hs, log_yhat, E = _noisy_forward(problem, fw, pr, xi)
    dq_ref = _output_error(problem, fw.log_yhat)
    dp_ref = backward(problem, fw.hs, dq_ref)
    # dq = w (sigma yhat - y): the subtraction errs by eps times its operands, not its result
    # (yhat_t of the target class can be 1 - 1e-30, so dq is -1e-30 while the error is eps), and
    # yhat = exp(log yhat) inherits the absolute error of log yhat as a relative one (already in
    # the noisy log yhat above).
    operands = w[:, None] * (problem.Y.sum(axis=1, keepdims=True) * np.exp(fw.log_yhat) + problem.Y)
    dq = _output_error(problem, log_yhat) + eps * (pr.ulps + 2) * operands * xi((SAMPLES, T, K))
    a_dq, a_dp, a_hs = np.abs(dq_ref), np.abs(dp_ref), np.abs(fw.hs)
    dhs = 0.0 if problem.dhs is None else np.abs(problem.dhs)
    local_dh = eps * (np.abs(dq_ref @ V) + dhs) + acc * (K + 2) * (a_dq @ np.abs(V))
    local_dh[:-1] += eps * np.abs(dp_ref[1:] @ W) + acc * (H + 2) * (a_dp[1:] @ np.abs(W))
    dp = backward(problem, hs, dq, local_dh, xi, eps, pr.tiny)
    noisy, ref = _gradients(problem, hs, dq, dp), _gradients(problem, fw.hs, dq_ref, dp_ref)
    abs_sums = {  # sum_t |term_t| of each final sum over t
        "V": a_dq.T @ a_hs[1:],
        "b_y": a_dq.sum(axis=0),
        "W": a_dp.T @ a_hs[:-1],
        "U": a_dp.T @ np.abs(xs),
        "b_h": a_dp.sum(axis=0),
    }
    sums = {k: _loop_sum_rounding(v, T, eps) for k, v in abs_sums.items()}
    sums["h0"] = eps * np.abs(ref["h0"]) + acc * (H + 2) * (a_dp[0] @ np.abs(W))  # one dot product each
    sums["xs"] = eps * np.abs(ref["xs"]) + acc * (H + 2) * (a_dp @ np.abs(U))
    # Each entry's own spread over six runs can be small by chance (a search that steers toward
    # large errors finds such entries). The same errors carried through the final sums over t
    # with absolute values cannot cancel by chance: e(dW) <= sum_t e(dp_t) |h_{t-1}| + |dp_t| e(h_{t-1}).
    e_h, e_dp, e_dq = (np.max(np.abs(n - r[None]), axis=0) for n, r in ((hs, fw.hs), (dp, dp_ref), (dq, dq_ref)))
    carried = {
        "V": e_dq.T @ a_hs[1:] + a_dq.T @ e_h[1:],
        "b_y": e_dq.sum(axis=0),
        "W": e_dp.T @ a_hs[:-1] + a_dp.T @ e_h[:-1],
        "U": e_dp.T @ np.abs(xs),
        "b_h": e_dp.sum(axis=0),
        "h0": e_dp[0] @ np.abs(W),
        "xs": e_dp @ np.abs(U),
    }
    own = {k: np.max(np.abs(noisy[k] - ref[k]), axis=0) for k in ref}
    grads = {k: np.maximum(own[k], carried[k]) + sums[k] for k in ref}
    grads["hs"] = e_h[1:] + eps * a_hs[1:]
    loss_abs = float(np.abs(w) @ np.abs(fw.E))
    loss = float(np.max(np.abs((E - fw.E) @ w)) + _loop_sum_rounding(loss_abs, T, eps))
    magnitude = _magnitude(problem, fw, a_dq, a_dp, [*abs_sums.values(), loss_abs])
    return Spread(loss, grads, float(np.max(e_h)), magnitude, own, carried, sums)


def _cell(problem: Problem, pr: Precision) -> Spread:
    from .compare import ROUNDOFF_SAFETY
    from .roundoff_cells import cell_spread

    c = cell_spread(problem, pr)
    as_spread = lambda random, bound: (CELL_SAFETY * random + bound) / ROUNDOFF_SAFETY
    grads = {k: as_spread(v, c.bias[k] + c.sums.get(k, 0.0)) for k, v in c.grads.items()}
    return Spread(as_spread(c.loss, c.bias["loss"] + c.sums["loss"]), grads, c.states, c.magnitude)


def _magnitude(problem: Problem, fw: Forward, a_dq, a_dp, sums: list) -> float:
    """The largest sum of |terms| a correct implementation forms: pre-activations, logits, dh_t,
    and every final sum and the loss (range checks compare it with max)."""
    (U, W, V, b_h, b_y), xs = problem.params, problem.xs
    a_hs = np.abs(fw.hs)
    dhs = 0.0 if problem.dhs is None else np.abs(problem.dhs)
    sizes = [
        np.abs(xs) @ np.abs(U).T + a_hs[:-1] @ np.abs(W).T + np.abs(b_h),
        a_hs[1:] @ np.abs(V).T + np.abs(b_y),
        a_dq @ np.abs(V) + dhs + np.vstack([a_dp[1:] @ np.abs(W), np.zeros((1, W.shape[0]))]),
        *sums,
    ]
    return float(max(np.max(s) for s in sizes))
