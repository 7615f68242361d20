"""Buggy batch BPTT: sequences mixed up in dW.

Contract "batch", BATCH_LOSS "sum".  Vectorised over the batch with (N, H)
slices per step.  BUG: the recurrent-weight gradient is accumulated as
dW += outer(sum_n dp_{n,t}, sum_n h_{n,t-1}), i.e. the batch is summed
before the outer product, which adds the cross terms dp_{n,t} h_{m,t-1}^T
(n != m) that pair one sequence's error with another's state.  dU, dV,
db_h, db_y, dh0 (N, H) and the loss are right.  Invisible when N = 1.
"""

import numpy as np

BUG = "batch_mixed"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    Y = np.asarray(ys, dtype=np.int64)
    N, T, _ = X.shape
    rows = np.arange(N)
    S = np.zeros((T + 1, N, W.shape[0]))
    S[0] = h0
    P = np.zeros((T, N, V.shape[0]))
    loss = 0.0
    for t in range(T):
        S[t + 1] = np.tanh(X[:, t] @ U.T + S[t] @ W.T + b_h)
        q = S[t + 1] @ V.T + b_y
        m = q.max(axis=1, keepdims=True)
        logp = q - m - np.log(np.exp(q - m).sum(axis=1, keepdims=True))
        loss -= logp[rows, Y[:, t]].sum()
        P[t] = np.exp(logp)

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh = np.zeros((N, W.shape[0]))
    for t in reversed(range(T)):
        dq = P[t].copy()
        dq[rows, Y[:, t]] -= 1.0
        dV += dq.T @ S[t + 1]
        db_y += dq.sum(axis=0)
        dp = (1.0 - S[t + 1] ** 2) * (dq @ V + dh)
        dU += dp.T @ X[:, t]
        dW += np.outer(dp.sum(axis=0), S[t].sum(axis=0))  # BUG: should be dp.T @ S[t]
        db_h += dp.sum(axis=0)
        dh = dp @ W

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh, "loss": float(loss)}
