"""Buggy vanilla-RNN BPTT for the MEAN loss E = (1/T) sum_t E_t: the loss returned is the sum.

BUG: the backward pass is that of the mean (dq_t scaled by 1/T), as LOSS =
"mean" says, but the "loss" value returned is the sum over steps:

    loss = sum_t E_t = T * (1/T) sum_t E_t,   the gradients are those of (1/T) sum_t E_t

The loss and the gradients are of different reductions.

Wrong arrays: loss only (every gradient right).  Invisible when T = 1.
"""

import numpy as np

BUG = "sum_loss_mean_grads"
LOSS = "mean"
CLASS = "reduction_mismatch"
EQUATION = "loss = sum_t E_t (T times too large), but the gradients are those of (1/T) sum_t E_t"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.int64)
    T, H = X.shape[0], W.shape[0]
    Hs = np.zeros((T + 1, H))
    Hs[0] = h0
    for t in range(T):
        Hs[t + 1] = np.tanh(U @ X[t] + W @ Hs[t] + b_h)
    Q = Hs[1:] @ V.T + b_y
    M = Q.max(axis=1, keepdims=True)
    lse = (M + np.log(np.exp(Q - M).sum(axis=1, keepdims=True)))[:, 0]
    step_losses = lse - Q[np.arange(T), y]
    loss = step_losses.sum()  # BUG: the mean, step_losses.mean(), is meant

    dQ = np.exp(Q - lse[:, None])
    dQ[np.arange(T), y] -= 1.0
    dQ /= T
    dHout = dQ @ V
    dP = np.zeros((T, H))
    carry = np.zeros(H)
    for t in range(T - 1, -1, -1):
        dP[t] = (1.0 - Hs[t + 1] ** 2) * (dHout[t] + carry)
        carry = W.T @ dP[t]
    return {
        "U": dP.T @ X,
        "W": dP.T @ Hs[:-1],
        "V": dQ.T @ Hs[1:],
        "b_h": dP.sum(0),
        "b_y": dQ.sum(0),
        "h0": carry,
        "loss": float(loss),
    }
