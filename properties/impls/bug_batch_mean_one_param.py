"""Buggy minibatch BPTT (mean over the batch): dW is not divided by N.

Contract "batch", BATCH_LOSS "mean".  The backward pass computes the
batch-summed gradients, then scales the loss and the gradients by 1/N in a
final loop over a hand-written list of keys.  BUG: "W" is missing from that
list, so dW is N times too large; dU, dV, db_h, db_y, every row of dh0 and
the loss are right.  Invisible when N = 1.
"""

import numpy as np

BUG = "mean_one_param"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "mean"


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
        q = q - q.max(axis=1, keepdims=True)
        logp = q - np.log(np.exp(q).sum(axis=1, keepdims=True))
        loss -= logp[rows, Y[:, t]].sum()
        probs.append(np.exp(logp))

    g = {
        "U": np.zeros_like(U),
        "W": np.zeros_like(W),
        "V": np.zeros_like(V),
        "b_h": np.zeros_like(b_h),
        "b_y": np.zeros_like(b_y),
    }
    dh = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[rows, Y[:, t]] -= 1.0
        g["V"] += dq.T @ hs[t + 1]
        g["b_y"] += dq.sum(axis=0)
        dp = (1.0 - hs[t + 1] ** 2) * (dq @ V + dh)
        g["U"] += dp.T @ X[:, t]
        g["W"] += dp.T @ hs[t]
        g["b_h"] += dp.sum(axis=0)
        dh = dp @ W
    g["h0"] = dh

    for k in ("U", "V", "b_h", "b_y", "h0"):  # BUG: "W" forgotten
        g[k] = g[k] / N
    g["loss"] = float(loss / N)
    return g
