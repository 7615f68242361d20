"""Buggy vanilla-RNN BPTT for a batch, loss summed over the batch; the output layer is done in a separate loop.

BUG: the output-weight loop is `for t in range(T - 1)`, so the code computes

    dV = sum_n sum_{t=1}^{T-1} dq_{n,t} h_{n,t}^T

The sum stops at T-1: the last step's term dq_T h_T^T is missing from dV only
(db_y, which is summed in vectorised form, is right, as are dU, dW, db_h,
the per-sequence dh0 and the loss).

Wrong arrays: V only.  For T = 1 dV is all zeros.  Never invisible in practice.
"""

import numpy as np

BUG = "batch_dV_stops_at_T_minus_1"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "sum"
CLASS = "loop_bound"
EQUATION = "dV = sum_n sum_{t=1}^{T-1} dq_{n,t} h_{n,t}^T (the t = T term is missing)"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    Y = np.asarray(ys, dtype=np.int64)
    N, T, _ = X.shape
    H = W.shape[0]
    rows = np.arange(N)

    h = np.zeros((T, N, H))
    prev = np.asarray(h0, dtype=np.float64)
    for t in range(T):
        prev = np.tanh(X[:, t] @ U.T + prev @ W.T + b_h)
        h[t] = prev

    dq = np.zeros((T, N, V.shape[0]))
    loss = 0.0
    for t in range(T):
        s = h[t] @ V.T + b_y
        s -= s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        loss -= logp[rows, Y[:, t]].sum()
        dq[t] = np.exp(logp)
        dq[t][rows, Y[:, t]] -= 1.0

    dV = np.zeros_like(V)
    for t in range(T - 1):  # BUG: range(T) is meant
        dV += dq[t].T @ h[t]
    db_y = dq.sum(axis=(0, 1))

    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dnext = np.zeros((N, H))
    for t in reversed(range(T)):
        h_prev = h[t - 1] if t > 0 else np.asarray(h0, dtype=np.float64)
        dp = (1.0 - h[t] ** 2) * (dq[t] @ V + dnext)
        dU += dp.T @ X[:, t]
        dW += dp.T @ h_prev
        db_h += dp.sum(axis=0)
        dnext = dp @ W

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dnext, "loss": float(loss)}
