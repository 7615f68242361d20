"""Buggy vanilla-RNN BPTT, CS231n step-function style (rnn_step_forward / rnn_step_backward).

BUG: the backward loop is `for t in reversed(range(1, T))` (0-based), so step 1
is never processed.  The code computes, for every gradient,

    dV = sum_{t=2}^{T} dq_t h_t^T,  db_y = sum_{t=2}^{T} dq_t,
    dU = sum_{t=2}^{T} dp_t x_t^T,  dW = sum_{t=2}^{T} dp_t h_{t-1}^T,  db_h = sum_{t=2}^{T} dp_t,
    dh0 = W^T dp_2 (dh0 = 0 when T = 1)

where dp_t (t >= 2) is itself right.  The loss is correct.

Wrong arrays: U, W, V, b_h, b_y, h0.  Never invisible in practice.
"""

import numpy as np

BUG = "backward_loop_skips_first"
LOSS = "sum"
CLASS = "loop_bound"
EQUATION = (
    "every sum runs over t = 2..T: dV, db_y, dU, dW, db_h miss their t = 1 terms, "
    "and dh0 = W^T dp_2 (0 when T = 1) instead of W^T dp_1"
)


def rnn_step_forward(x, prev_h, U, W, b):
    next_h = np.tanh(U @ x + W @ prev_h + b)
    return next_h, (x, prev_h, next_h)


def rnn_step_backward(dnext_h, cache, U, W):
    x, prev_h, next_h = cache
    dp = (1.0 - next_h**2) * dnext_h
    return U.T @ dp, W.T @ dp, np.outer(dp, x), np.outer(dp, prev_h), dp


def softmax_loss(q, y):
    z = q - q.max()
    logp = z - np.log(np.exp(z).sum())
    dq = np.exp(logp)
    dq[y] -= 1.0
    return -logp[y], dq


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    caches, hs, loss = [], [], 0.0
    h = np.asarray(h0, dtype=np.float64)
    for t in range(T):
        h, cache = rnn_step_forward(xs[t], h, U, W, b_h)
        caches.append(cache)
        hs.append(h)

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dprev_h = np.zeros_like(b_h)
    for t in range(T):
        loss_t, _ = softmax_loss(V @ hs[t] + b_y, int(ys[t]))
        loss += loss_t
    for t in reversed(range(1, T)):  # BUG: should be reversed(range(T))
        _, dq = softmax_loss(V @ hs[t] + b_y, int(ys[t]))
        dV += np.outer(dq, hs[t])
        db_y += dq
        _, dprev_h, dU_t, dW_t, db_t = rnn_step_backward(V.T @ dq + dprev_h, caches[t], U, W)
        dU += dU_t
        dW += dW_t
        db_h += db_t

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dprev_h, "loss": float(loss)}
