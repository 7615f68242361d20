"""How far round-off can move the loss and its gradient: Monte Carlo arithmetic.

Two correct implementations of the same equations differ only by round-off, and how much
depends on the problem: errors committed at one step are carried by the recurrence to every
later step (forward) and every earlier step (backward), grown or damped by the same signed
Jacobians T^t W that make the gradient. Worst-case bounds that take absolute values (Higham,
ch. 3) replace those Jacobians by |W| and grow like ||W||^t even where the real errors do
not, so they are useless beyond a few dozen steps. We use Monte Carlo arithmetic instead
(Parker, Pierce and Eggert, 2000): run the forward and backward passes again with every
intermediate perturbed by random relative errors of the size one rounding can make,

    p_t   += xi * gamma (|U| |x_t| (D+2) + |W| |h_{t-1}| (H+2) + 2 |b_h|)
    h_t   *= (1 + xi * ULPS eps)                              (tanh's own error)
    q_t   += xi * gamma (|V| |h_t| (H+2) + 2 |b_y|)
    dh_t  += xi * gamma (|V^T| |dq_t| (K+2) + |W^T| |dp_{t+1}| (H+2))
    1 - h_t^2 += xi * 2 eps                                   (absolute, any formula)

(xi uniform in [-1, 1], independent, except that two runs make the errors of tanh and of
1 - h_t^2 all of one sign; gamma = eps), and measure how far the loss and each
gradient entry move. That spread, over SAMPLES runs with a fixed seed, is the round-off
scale of each entry, taken as the larger of two estimates: the entry's own spread, and the
spreads of h_t, dq_t and dp_t carried through the final sums over t with absolute values
(which cannot be small by chance, as one entry's spread over a few runs can). The final sums
(dW = sum_t dp_t h_{t-1}^T ...) add the usual (T+2) eps times the sum of |terms|, a one-level
sum that no recurrence amplifies.

"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .bptt import backward_recursion, output_error
from .model import Forward, forward, log_softmax, step_losses
from .problem import Problem

# The perturbed runs stand for another implementation, so an elementary function's noise is
# the largest difference between two libraries' results: XLA's float64 tanh differs from
# numpy's by up to 6 ulps near saturation (and 1 - h^2 by up to 7 eps), exp by 2, log by 1
# (measured over 300,000 points in [-20, 20]); 8 covers them.
ULPS = 8.0
# Perturbed runs per problem. In two of them tanh and 1 - h^2 err the same way at every step
# (a library whose tanh rounds differently from another's does so at every step, and through
# a run of saturated units the products T^t W T^{t-1} ... compound such a bias step by step,
# which independent random errors would only do as a random walk); the other four draw at
# random, and the largest of four draws rarely falls below the median (probability 1/16).
SAMPLES = 6
SEED = 20261125  # fixed: the same problem always gets the same tolerance (no flaky checks)


class Spread(NamedTuple):
    loss: float  # how far round-off moves E
    grads: dict[str, np.ndarray]  # how far it moves each gradient entry (parameters and "h0")
    states: float  # how far round-off moves any h_t (|h_t| <= 1): the recurrence's conditioning


def _noisy_forward(problem: Problem, fw: Forward, eps: float, xi) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SAMPLES perturbed forward passes at once: hs (R, T+1, H), log yhat (R, T, K), E (R, T)."""
    (U, W, V, b_h, b_y), xs = problem.params, problem.xs
    (T, D), H, K = xs.shape, W.shape[0], V.shape[0]
    aU, aW, aV = np.abs(U), np.abs(W), np.abs(V)
    pre = xs @ U.T + b_h
    local_p = eps * ((D + 2) * (np.abs(xs) @ aU.T) + (H + 2) * (np.abs(fw.hs[:-1]) @ aW.T) + 2 * np.abs(b_h))
    hs = np.empty((SAMPLES, T + 1, H))
    hs[:, 0] = problem.h0 * (1 + eps * xi((SAMPLES, H)))
    for t in range(T):
        p = pre[t] + hs[:, t] @ W.T + local_p[t] * xi((SAMPLES, H))
        hs[:, t + 1] = np.tanh(p) * (1 + ULPS * eps * xi((SAMPLES, H), coherent=-1.0))
    local_q = eps * ((H + 2) * (np.abs(fw.hs[1:]) @ aV.T) + 2 * np.abs(b_y))
    q = hs[:, 1:] @ V.T + b_y + local_q * xi((SAMPLES, T, K))
    # log yhat_k = s_k - log sum_j exp(s_j), s = q - max q: |s_k| eps from s_k, and K terms
    # plus the ulps of exp and log from the sum (whose log lies in [0, log K]).
    s = np.abs(fw.q - fw.q.max(axis=1, keepdims=True))
    log_yhat = log_softmax(q) + eps * (s + K + 2 * ULPS) * xi(q.shape)
    return hs, log_yhat, step_losses(log_yhat, problem.Y)


def _noisy_backward(
    problem: Problem, hs: np.ndarray, dq: np.ndarray, dq_ref: np.ndarray, dp_ref: np.ndarray, eps: float, xi
) -> np.ndarray:
    """dp (R, T, H) of the perturbed runs, with the backward pass's own roundings added."""
    W, V = problem.params.W, problem.params.V
    T, H, K = dq.shape[1], W.shape[0], V.shape[0]
    local_dh = eps * (K + 2) * (np.abs(dq_ref) @ np.abs(V))
    local_dh[:-1] += eps * (H + 2) * (np.abs(dp_ref[1:]) @ np.abs(W))
    dh_out = dq @ V
    dp = np.empty((SAMPLES, T, H))
    carry = np.zeros((SAMPLES, H))
    for t in range(T - 1, -1, -1):
        dh = dh_out[:, t] + carry + local_dh[t] * xi((SAMPLES, H))
        deriv = 1.0 - hs[:, t + 1] ** 2 + 2 * eps * xi((SAMPLES, H), coherent=1.0)
        dp[:, t] = deriv * dh
        carry = dp[:, t] @ W
    return dp


def roundoff_spread(problem: Problem, eps: float, fw: Forward | None = None) -> Spread:
    """Round-off scale of E and of every gradient entry, for arithmetic with machine epsilon eps."""
    fw = forward(problem) if fw is None else fw
    rng = np.random.default_rng(SEED)

    def xi(shape, coherent: float | None = None):
        """Random relative errors; with `coherent`, samples 0 and 1 err the same way everywhere."""
        a = rng.uniform(-1.0, 1.0, shape)
        if coherent is not None:
            a[0], a[1] = coherent, -coherent
        return a

    hs, log_yhat, E = _noisy_forward(problem, fw, eps, xi)
    w, xs = problem.weights, problem.xs
    dq_ref = output_error(problem, fw.log_yhat)
    dp_ref = backward_recursion(dq_ref, fw.hs, problem.params.W, problem.params.V)
    dq = np.stack([output_error(problem, lsm) for lsm in log_yhat])
    # dq = w (sigma yhat - y): the subtraction errs by eps times its operands, not its result
    # (yhat_t of the target class can be 1 - 1e-30, so dq is -1e-30 while the error is eps),
    # and yhat = exp(log yhat) inherits the absolute error of log yhat as a relative one
    # (already in the noisy log yhat above).
    operands = problem.weights[:, None] * (problem.Y.sum(axis=1, keepdims=True) * np.exp(fw.log_yhat) + problem.Y)
    dq += eps * (ULPS + 2) * operands * xi(dq.shape)
    dp = _noisy_backward(problem, hs, dq, dq_ref, dp_ref, eps, xi)
    noisy = {
        "V": np.einsum("rtk,rth->rkh", dq, hs[:, 1:]),
        "b_y": dq.sum(axis=1),
        "W": np.einsum("rti,rtj->rij", dp, hs[:, :-1]),
        "U": np.einsum("rti,tj->rij", dp, xs),
        "b_h": dp.sum(axis=1),
        "h0": dp[:, 0] @ problem.params.W,
    }
    ref = {
        "V": dq_ref.T @ fw.hs[1:],
        "b_y": dq_ref.sum(axis=0),
        "W": dp_ref.T @ fw.hs[:-1],
        "U": dp_ref.T @ xs,
        "b_h": dp_ref.sum(axis=0),
        "h0": dp_ref[0] @ problem.params.W,
    }
    T, H = xs.shape[0], problem.params.W.shape[0]
    a_dq, a_dp, a_hs = np.abs(dq_ref), np.abs(dp_ref), np.abs(fw.hs)
    sums = {  # the final sums over t: (T + 2) eps sum_t |terms|
        "V": (T + 2) * (a_dq.T @ a_hs[1:]),
        "b_y": (T + 2) * a_dq.sum(axis=0),
        "W": (T + 2) * (a_dp.T @ a_hs[:-1]),
        "U": (T + 2) * (a_dp.T @ np.abs(xs)),
        "b_h": (T + 2) * a_dp.sum(axis=0),
        "h0": (H + 2) * (a_dp[0] @ np.abs(problem.params.W)),
    }
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
        "h0": e_dp[0] @ np.abs(problem.params.W),
    }
    grads = {k: np.maximum(np.max(np.abs(noisy[k] - ref[k]), axis=0), carried[k]) + eps * sums[k] for k in ref}
    loss_terms = (T + 2) * np.abs(w) @ np.abs(fw.E)
    loss = float(np.max(np.abs((E - fw.E) @ w)) + eps * loss_terms)
    return Spread(loss, grads, float(np.max(np.abs(hs - fw.hs[None]))))
