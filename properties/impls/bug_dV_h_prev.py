"""Buggy vanilla-RNN BPTT for the MEAN loss E = (1/T) sum_t E_t, dict-of-states style (hs[-1] = h0).

BUG: the output-weight gradient reads hs[t-1]:

    dV = (1/T) sum_{t=1}^{T} dq_t h_{t-1}^T      (h_{t-1} where h_t belongs; h_0 at t = 1)

(dq_t here already carries the 1/T).  db_y, dU, dW, db_h, dh0 and the loss
are right.

Wrong arrays: V only.  Never invisible in practice.
"""

import numpy as np

BUG = "dV_h_prev"
LOSS = "mean"
CLASS = "index_shift"
EQUATION = "dV = (1/T) sum_t dq_t h_{t-1}^T (h_{t-1} in place of h_t)"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = {-1: np.asarray(h0, dtype=np.float64)}
    ps = {}
    loss = 0.0
    for t in range(T):
        hs[t] = np.tanh(U @ xs[t] + W @ hs[t - 1] + b_h)
        z = V @ hs[t] + b_y
        z = z - np.max(z)
        ps[t] = np.exp(z) / np.sum(np.exp(z))
        loss += -np.log(ps[t][int(ys[t])]) / T

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(T)):
        dq = ps[t].copy()
        dq[int(ys[t])] -= 1.0
        dq /= T
        dV += np.outer(dq, hs[t - 1])  # BUG: hs[t] is meant
        db_y += dq
        dp = (1.0 - hs[t] ** 2) * (V.T @ dq + dhnext)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t - 1])
        db_h += dp
        dhnext = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dhnext, "loss": float(loss)}
