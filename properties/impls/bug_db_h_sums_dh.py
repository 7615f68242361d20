"""Buggy vanilla-RNN BPTT, CS231n step-function style (rnn_step_backward returns the per-step pieces).

BUG: the hidden bias gradient is accumulated from the upstream dh_t, before the
tanh derivative, instead of from dp_t:

    db_h = sum_t dh_t        instead of sum_t (1 - h_t^2) * dh_t

dU, dW, dV, db_y, dh0 and the loss are right.

Wrong arrays: b_h only.  Never invisible in practice.
"""

import numpy as np

BUG = "db_h_sums_dh"
LOSS = "sum"
CLASS = "factor_dropped"
EQUATION = "db_h = sum_t dh_t (the tanh derivative (1 - h_t^2) is missing in db_h only)"


def rnn_step_forward(x, prev_h, U, W, b):
    next_h = np.tanh(U @ x + W @ prev_h + b)
    return next_h, (x, prev_h, next_h)


def rnn_step_backward(dnext_h, cache, U, W):
    x, prev_h, next_h = cache
    dp = (1.0 - next_h**2) * dnext_h
    dx = U.T @ dp
    dprev_h = W.T @ dp
    dU = np.outer(dp, x)
    dW = np.outer(dp, prev_h)
    db = dnext_h  # BUG: dp is meant
    return dx, dprev_h, dU, dW, db


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    h = np.asarray(h0, dtype=np.float64)
    caches, dqs, hs = [], [], []
    loss = 0.0
    for t in range(T):
        h, cache = rnn_step_forward(xs[t], h, U, W, b_h)
        caches.append(cache)
        hs.append(h)
        q = V @ h + b_y
        q = q - q.max()
        p = np.exp(q)
        p /= p.sum()
        loss += -np.log(p[int(ys[t])])
        p[int(ys[t])] -= 1.0
        dqs.append(p)

    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dV = sum(np.outer(dqs[t], hs[t]) for t in range(T))
    db_y = sum(dqs)
    dprev_h = np.zeros_like(b_h)
    for t in reversed(range(T)):
        _, dprev_h, dU_t, dW_t, db_t = rnn_step_backward(V.T @ dqs[t] + dprev_h, caches[t], U, W)
        dU += dU_t
        dW += dW_t
        db_h += db_t

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dprev_h, "loss": float(loss)}
