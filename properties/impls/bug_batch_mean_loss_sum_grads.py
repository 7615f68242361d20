"""Buggy vanilla-RNN BPTT for a batch, loss summed over the batch: the loss returned is the batch mean.

BUG: the gradients are those of the batch sum (BATCH_LOSS = "sum"), but the
"loss" returned is divided by N:

    loss = (1/N) sum_n sum_t E_{n,t},   the gradients are those of sum_n sum_t E_{n,t}

The loss and the gradients are of different reductions.

Wrong arrays: loss only (every gradient right).  Invisible when N = 1.
"""

import numpy as np

BUG = "batch_mean_loss_sum_grads"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "sum"
CLASS = "reduction_mismatch"
EQUATION = "loss = (1/N) sum_n sum_t E_{n,t} (the batch mean), but the gradients are those of the batch sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    Y = np.asarray(ys, dtype=np.int64)
    N, T, _ = X.shape
    H = W.shape[0]
    rows = np.arange(N)
    h = [np.asarray(h0, dtype=np.float64)]
    dq, total = [], 0.0
    for t in range(T):
        h.append(np.tanh(X[:, t] @ U.T + h[-1] @ W.T + b_h))
        s = h[-1] @ V.T + b_y
        s = s - s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        total += -np.log(p[rows, Y[:, t]]).sum()
        p[rows, Y[:, t]] -= 1.0
        dq.append(p)
    loss = total / N  # BUG: BATCH_LOSS is "sum"; the gradients below are not divided

    g = {k: np.zeros_like(params[k]) for k in ("U", "W", "V", "b_h", "b_y")}
    dnext = np.zeros((N, H))
    for t in reversed(range(T)):
        g["V"] += dq[t].T @ h[t + 1]
        g["b_y"] += dq[t].sum(axis=0)
        dp = (dq[t] @ V + dnext) * (1.0 - h[t + 1] ** 2)
        g["U"] += dp.T @ X[:, t]
        g["W"] += dp.T @ h[t]
        g["b_h"] += dp.sum(axis=0)
        dnext = dp @ W
    g["h0"] = dnext
    g["loss"] = float(loss)
    return g
