"""Buggy vanilla-RNN: the forward pass ignores h0.

Forward-pass mistake: the recurrence starts from h_0 = zeros, whatever h0
is passed.  The backward pass is the exact BPTT of that run, and "h0" is
still returned as W^T dp_1 (the gradient the initial state would have if
it were used).  All outputs equal the correct gradients at h0 = 0; they
are right exactly when h0 = 0.  Sum loss.
"""

import numpy as np

BUG = "fwd_h0_ignored"
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    T, H = X.shape[0], W.shape[0]
    Hs = np.zeros((T + 1, H))  # BUG: Hs[0] should be h0
    for t in range(T):
        Hs[t + 1] = np.tanh(U @ X[t] + W @ Hs[t] + b_h)

    Q = Hs[1:] @ V.T + b_y
    Q = Q - Q.max(axis=1, keepdims=True)
    logP = Q - np.log(np.exp(Q).sum(axis=1, keepdims=True))
    loss = -logP[np.arange(T), ys].sum()
    dQ = np.exp(logP)
    dQ[np.arange(T), ys] -= 1.0

    dP = np.zeros((T, H))
    dh = np.zeros(H)
    for t in range(T - 1, -1, -1):
        dP[t] = (1.0 - Hs[t + 1] ** 2) * (V.T @ dQ[t] + dh)
        dh = W.T @ dP[t]

    return {
        "U": dP.T @ X,
        "W": dP.T @ Hs[:-1],
        "V": dQ.T @ Hs[1:],
        "b_h": dP.sum(axis=0),
        "b_y": dQ.sum(axis=0),
        "h0": dh,
        "loss": float(loss),
    }
