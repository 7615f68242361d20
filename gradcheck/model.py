"""The vanilla RNN of the seed, forward pass and per-step losses.

For t = 1..T (seed notation):

    p_t = U x_t + W h_{t-1} + b_h        h_t = tanh(p_t)
    q_t = V h_t + b_y                    yhat_t = softmax(q_t)
    E_t = -sum_k y_{t,k} log yhat_{t,k}  E = sum_t w_t E_t

and, for the recurrent layer alone (a problem with upstream gradients dhs), E_t = dhs_t . h_t.

Every function here is generic in the array dtype: float64 for the model, complex128 for the
complex-step derivative in `numeric.py` (tanh, exp and log are analytic).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .problem import Params, Problem


def log_softmax(q: np.ndarray) -> np.ndarray:
    """log yhat = q - log sum_k exp(q_k), shifted by max_k Re q_k so that exp never overflows.

    The shift m is a constant of the identity log sum exp(q) = m + log sum exp(q - m); taking it
    from the real part keeps the function analytic for the complex step.
    """
    m = np.max(q.real, axis=-1, keepdims=True)
    s = q - m
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


class Forward(NamedTuple):
    hs: np.ndarray  # (T+1, H): hs[0] = h_0, hs[t] = h_t
    q: np.ndarray  # (T, K): q[t-1] = q_t, the logits
    log_yhat: np.ndarray  # (T, K)
    E: np.ndarray  # (T,): the per-step losses E_t
    traj: object = None  # cells.Trajectory of another cell than the seed's (its gates, c_t)


def hidden_states(params: Params, xs: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """hs (T+1, H) with hs[0] = h_0 and hs[t] = tanh(U x_t + W h_{t-1} + b_h)."""
    pre = xs @ params.U.T + params.b_h  # U x_t + b_h for all t at once
    hs = np.empty((xs.shape[0] + 1, params.W.shape[0]), dtype=np.result_type(pre, params.W, h0))
    hs[0] = h0
    for t in range(xs.shape[0]):
        hs[t + 1] = np.tanh(pre[t] + params.W @ hs[t])
    return hs


def step_losses(log_yhat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """E_t = -sum_k y_{t,k} log yhat_{t,k}, for every leading index."""
    return -np.sum(Y * log_yhat, axis=-1)


def forward(problem: Problem) -> Forward:
    """The whole forward pass of a problem (another cell than the seed's: cells.run_forward)."""
    p, traj = problem.params, None
    if problem.cell == "tanh":
        hs = hidden_states(p, problem.xs, problem.h0)
    else:
        from .cells import run_forward

        traj = run_forward(problem.cell, problem.recurrent, problem.xs, problem.h0, problem.c0)
        hs = traj.hs
    q = hs[1:] @ p.V.T + p.b_y
    log_yhat = log_softmax(q)
    E = step_losses(log_yhat, problem.Y)
    if problem.dhs is not None:  # the layer's loss L = sum_t dhs_t . h_t (the dead output layer adds 0)
        E = E + np.sum(problem.dhs * hs[1:], axis=-1)
    return Forward(hs, q, log_yhat, E, traj)


def loss(problem: Problem) -> float:
    """E = sum_t w_t E_t."""
    return float(problem.weights @ forward(problem).E)
