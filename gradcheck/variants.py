"""Known mistakes in BPTT code, written as gradient (or loss) functions of their own.

Published implementations make these; the oracle names them when an implementation matches
one exactly, and the property tests plant them to show that every property can fail. Each
backward mistake starts from `bptt.direct_state_gradient`, so it carries over to the recurrent
layer alone (upstream dhs in place of V^T dq).

    no_tanh_derivative   dp_t = dh_t                          (the (1 - h_t^2) factor dropped)
    W_not_transposed     dh_t = V^T dq_t + W dp_{t+1}          (W where W^T belongs)
    no_recurrent_term    dh_t = V^T dq_t                       (W^T dp_{t+1} dropped)
    h_t_for_h_prev       dW = sum_t dp_t h_t^T                 (h_t where h_{t-1} belongs)
    mean_loss            every gradient divided by T           (E = mean_t E_t)
    truncated(k)         the series cut after k terms          (truncated BPTT)
    clipped(c)           every entry clipped to [-c, c]        (np.clip(g, -c, c))
    lower precision      the whole computation in float32      (or float16, bfloat16)

Forward-pass mistakes change the loss itself (FORWARD_VARIANTS): the outputs read from the
previous state, a bias left out, h0 ignored, another nonlinearity. Batch mistakes
(`batch_mixed`) sum over the batch before an outer product.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import numpy as np

from .bptt import as_dict, bptt, direct_state_gradient, output_error
from .model import forward, log_softmax, step_losses
from .precision import Precision
from .problem import GRAD_NAMES, Params, Problem


class Mistake(Enum):
    """The kinds of mistake diagnosis can name (a finding on two problems must be of one kind)."""

    NO_TANH_DERIVATIVE = "no_tanh_derivative"
    W_NOT_TRANSPOSED = "W_not_transposed"
    NO_RECURRENT_TERM = "no_recurrent_term"
    H_T_FOR_H_PREV = "h_t_for_h_prev"
    OTHER_LOSS = "other loss"
    TRUNCATED = "truncated"
    SCALED_ALL = "every gradient scaled"
    SCALED_ONE = "one gradient scaled"
    TRANSPOSED = "transposed"
    CLIPPED = "clipped"
    LOWER_PRECISION = "lower precision"
    FORWARD = "forward pass"
    BATCH_ONE_SEQUENCE = "one sequence"
    BATCH_SCALE = "batch scale"
    BATCH_MIXED = "sequences mixed"
    H0_SUMMED = "h0 summed"
    NAIVE_SOFTMAX = "naive softmax"
    ACCUMULATES = "accumulates"


DESCRIPTIONS = {
    Mistake.NO_TANH_DERIVATIVE: "the tanh derivative (1 - h_t^2) is missing",
    Mistake.W_NOT_TRANSPOSED: "W is used where W^T belongs (W dp_{t+1} in dh_t, where W^T dp_{t+1} belongs)",
    Mistake.NO_RECURRENT_TERM: "the recurrent term W^T dp_{t+1} is missing (no back-propagation through time)",
    Mistake.H_T_FOR_H_PREV: "h_t is used where h_{t-1} belongs (dW = sum_t dp_t h_t^T)",
}


def _mistaken_bptt(
    problem: Problem,
    *,
    tanh_derivative: bool = True,
    transpose_W: bool = True,
    recurrent: bool = True,
    prev_state: bool = True,
) -> dict:
    """The backward recursion of bptt.py with one or more of its steps done wrong."""
    fw = forward(problem)
    dq = output_error(problem, fw.log_yhat)
    W, hs = problem.params.W, fw.hs
    back = W if transpose_W else W.T  # dp @ W is W^T dp (right); dp @ W.T is W dp (wrong)
    dh_out = direct_state_gradient(problem, dq)
    dp = np.empty_like(dh_out)
    carry = np.zeros(W.shape[0])
    for t in range(dq.shape[0] - 1, -1, -1):
        deriv = 1.0 - hs[t + 1] ** 2 if tanh_derivative else 1.0
        dp[t] = deriv * (dh_out[t] + carry)
        carry = dp[t] @ back if recurrent else 0.0 * carry
    states = hs[:-1] if prev_state else hs[1:]
    rec = {
        "W": dp.T @ states,
        "U": dp.T @ problem.xs,
        "b_h": dp.sum(axis=0),
        "h0": dp[0] @ back,
        "xs": dp @ problem.params.U,
    }
    return as_dict(problem, dq, hs, rec, problem.weights @ fw.E)


VARIANTS: dict[Mistake, Callable[[Problem], dict]] = {
    Mistake.NO_TANH_DERIVATIVE: lambda p: _mistaken_bptt(p, tanh_derivative=False),
    Mistake.W_NOT_TRANSPOSED: lambda p: _mistaken_bptt(p, transpose_W=False),
    Mistake.NO_RECURRENT_TERM: lambda p: _mistaken_bptt(p, recurrent=False),
    Mistake.H_T_FOR_H_PREV: lambda p: _mistaken_bptt(p, prev_state=False),
}


def mean_loss(problem: Problem) -> dict:
    """Every gradient divided by T: the mean over steps where the sum belongs."""
    return {k: v / problem.xs.shape[0] for k, v in bptt(problem).items()}


def in_precision(problem: Problem, pr: Precision) -> dict:
    """The recursion computed in a lower precision (float32 and float16 natively; bfloat16 through
    ml_dtypes), returned as float64."""
    f = lambda a: np.asarray(a, dtype=pr.dtype)
    low = problem._replace(
        params=Params(*map(f, problem.params)),
        xs=f(problem.xs),
        Y=f(problem.Y),
        h0=f(problem.h0),
        weights=f(problem.weights),
        dhs=None if problem.dhs is None else f(problem.dhs),
    )
    with np.errstate(all="ignore"):
        return {k: (np.asarray(v, dtype=np.float64) if k != "loss" else float(v)) for k, v in bptt(low).items()}


def clipped(grads: dict, c: float) -> dict:
    """Every gradient entry clipped to [-c, c], as np.clip(g, -c, c) in min-char-rnn."""
    return {k: (np.clip(v, -c, c) if k in GRAD_NAMES else v) for k, v in grads.items()}


# --- forward-pass mistakes: the loss of another model ------------------------------------------


def _forward_loss(
    problem: Problem, *, act=np.tanh, previous: bool = False, b_h: bool = True, b_y: bool = True, h0: bool = True
) -> float:
    """E of a mistaken forward pass (the same reduction over steps)."""
    U, W, V, bh, by = problem.params
    h = problem.h0 if h0 else np.zeros_like(problem.h0)
    hs = [h]
    for x in problem.xs:
        h = act(U @ x + W @ h + (bh if b_h else 0.0))
        hs.append(h)
    states = np.array(hs[:-1] if previous else hs[1:])
    with np.errstate(all="ignore"):
        E = step_losses(log_softmax(states @ V.T + (by if b_y else 0.0)), problem.Y)
    if problem.dhs is not None:
        E = E + np.sum(problem.dhs * np.array(hs[1:]), axis=1)
    return float(problem.weights @ E)


_sigmoid = lambda p: 1.0 / (1.0 + np.exp(-p))
FORWARD_VARIANTS: dict[str, Callable[[Problem], float]] = {
    "the outputs are computed from the previous state (q_t = V h_{t-1} + b_y)": lambda p: _forward_loss(
        p, previous=True
    ),
    "b_h is missing from the forward pass (p_t = U x_t + W h_{t-1})": lambda p: _forward_loss(p, b_h=False),
    "b_y is missing from the forward pass (q_t = V h_t)": lambda p: _forward_loss(p, b_y=False),
    "h0 is ignored in the forward pass (h_0 = 0)": lambda p: _forward_loss(p, h0=False),
    "the nonlinearity is a sigmoid, not tanh": lambda p: _forward_loss(p, act=_sigmoid),
    "the nonlinearity is a ReLU, not tanh": lambda p: _forward_loss(p, act=lambda a: np.maximum(a, 0.0)),
    "there is no nonlinearity (h_t = p_t)": lambda p: _forward_loss(p, act=lambda a: a),
}


# --- batch mistakes ---------------------------------------------------------------------------


def batch_mixed(problems: tuple[Problem, ...], weight: float) -> dict:
    """The batch summed before the outer products: dW = sum_t (sum_n dp_{n,t}) (sum_n h_{n,t-1})^T,
    and likewise dU (with x) and dV (with dq and h): sequences mixed into each other's gradients."""
    fws = [forward(p) for p in problems]
    dqs = [weight * output_error(p, fw.log_yhat) for p, fw in zip(problems, fws, strict=True)]
    dps = [bptt_dp(p, fw, dq) for p, fw, dq in zip(problems, fws, dqs, strict=True)]
    dp, dq = sum(dps), sum(dqs)
    hs, xs = sum(fw.hs for fw in fws), sum(p.xs for p in problems)
    return {"W": dp.T @ hs[:-1], "U": dp.T @ xs, "V": dq.T @ hs[1:]}


def bptt_dp(problem: Problem, fw, dq: np.ndarray) -> np.ndarray:
    """dp (T, H) of the recursion for a given dq."""
    from .bptt import backward_recursion

    return backward_recursion(direct_state_gradient(problem, dq), fw.hs, problem.params.W)
