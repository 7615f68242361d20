"""Known mistakes in BPTT code, written as gradient functions of their own.

Published implementations make these; the oracle names them when an implementation matches
one exactly, and the property tests plant them to show that every property can fail.

    no_tanh_derivative   dp_t = dh_t                          (the (1 - h_t^2) factor dropped)
    W_not_transposed     dh_t = V^T dq_t + W dp_{t+1}          (W where W^T belongs)
    no_recurrent_term    dh_t = V^T dq_t                       (W^T dp_{t+1} dropped)
    h_t_for_h_prev       dW = sum_t dp_t h_t^T                 (h_t where h_{t-1} belongs)
    mean_loss            every gradient divided by T           (E = mean_t E_t)
    truncated(k)         the series cut after k terms          (truncated BPTT)
    clipped(c)           every entry clipped to [-c, c]        (np.clip(g, -c, c))
    float32              the whole computation in float32
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .bptt import _as_dict, _bptt, output_error
from .model import forward
from .problem import GRAD_NAMES, Params, Problem

DESCRIPTIONS = {
    "no_tanh_derivative": "the tanh derivative (1 - h_t^2) is missing",
    "W_not_transposed": "W is used where W^T belongs (dh_t = V^T dq_t + W dp_{t+1})",
    "no_recurrent_term": "the recurrent term W^T dp_{t+1} is missing (no back-propagation through time)",
    "h_t_for_h_prev": "h_t is used where h_{t-1} belongs (dW = sum_t dp_t h_t^T)",
    "mean_loss": "the gradients are divided by T (the loss is the mean over steps, not the sum)",
    "float32": "the arithmetic is float32 (the result is right to float32 precision only)",
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
    dh_out = dq @ problem.params.V
    dp = np.empty_like(dh_out)
    carry = np.zeros(W.shape[0])
    for t in range(dq.shape[0] - 1, -1, -1):
        deriv = 1.0 - hs[t + 1] ** 2 if tanh_derivative else 1.0
        dp[t] = deriv * (dh_out[t] + carry)
        carry = dp[t] @ back if recurrent else 0.0 * carry
    states = hs[:-1] if prev_state else hs[1:]
    rec = {"W": dp.T @ states, "U": dp.T @ problem.xs, "b_h": dp.sum(axis=0), "h0": dp[0] @ back}
    return _as_dict(problem, dq, hs, rec, problem.weights @ fw.E)


def _float32(problem: Problem) -> dict:
    f = lambda a: np.asarray(a, dtype=np.float32)
    p32 = problem._replace(params=Params(*map(f, problem.params)), xs=f(problem.xs), Y=f(problem.Y), h0=f(problem.h0))
    p32 = p32._replace(weights=f(problem.weights))
    return {k: (np.asarray(v, dtype=np.float64) if k != "loss" else v) for k, v in _bptt(p32).items()}


def _scaled(problem: Problem, factor: float) -> dict:
    g = _bptt(problem)
    return {k: v * factor for k, v in g.items()}


VARIANTS: dict[str, Callable[[Problem], dict]] = {
    "no_tanh_derivative": lambda p: _mistaken_bptt(p, tanh_derivative=False),
    "W_not_transposed": lambda p: _mistaken_bptt(p, transpose_W=False),
    "no_recurrent_term": lambda p: _mistaken_bptt(p, recurrent=False),
    "h_t_for_h_prev": lambda p: _mistaken_bptt(p, prev_state=False),
    "mean_loss": lambda p: _scaled(p, 1.0 / p.xs.shape[0]),
    "float32": _float32,
}


def clipped(grads: dict, c: float) -> dict:
    """Every gradient entry clipped to [-c, c], as np.clip(g, -c, c) in min-char-rnn."""
    return {k: (np.clip(v, -c, c) if k in GRAD_NAMES else v) for k, v in grads.items()}
