"""Buggy batch BPTT: dh0 summed over the batch.

Contract "batch", BATCH_LOSS "sum".  Written as if the initial state were
one learned vector shared by all sequences (broadcast to the batch): the
gradient reaching h0 is summed over the batch, and then broadcast back to
(N, H) to match the shape of the h0 argument.  BUG: every row of the
returned "h0" is sum_n dE/dh0_n instead of sequence n's own dE/dh0_n.  The
parameter gradients and the loss are right.  Invisible when N = 1.
"""

import numpy as np

BUG = "h0_summed"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    Y = np.asarray(ys, dtype=np.int64)
    N, T, _ = X.shape
    rows = np.arange(N)
    hs = [np.asarray(h0, dtype=np.float64)]
    probs, loss = [], 0.0
    for t in range(T):
        hs.append(np.tanh(X[:, t] @ U.T + hs[-1] @ W.T + b_h))
        q = hs[-1] @ V.T + b_y
        e = np.exp(q - q.max(axis=1, keepdims=True))
        probs.append(e / e.sum(axis=1, keepdims=True))
        loss -= np.log(probs[-1][rows, Y[:, t]]).sum()

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[rows, Y[:, t]] -= 1.0
        dV += dq.T @ hs[t + 1]
        db_y += dq.sum(axis=0)
        dp = (1.0 - hs[t + 1] ** 2) * (dq @ V + dh)
        dU += dp.T @ X[:, t]
        dW += dp.T @ hs[t]
        db_h += dp.sum(axis=0)
        dh = dp @ W

    dh0_shared = dh.sum(axis=0)  # BUG: h0 treated as one shared vector
    dh0 = np.broadcast_to(dh0_shared, (N, dh0_shared.size)).copy()
    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh0, "loss": float(loss)}
