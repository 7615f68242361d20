"""Buggy vanilla-RNN BPTT, vectorised numpy; dh0 is computed separately from the stored dP.

BUG: the recursion inside the loop uses W^T correctly, but the initial-state
gradient returned is

    dh0 = W dp_1          instead of W^T dp_1

dU, dW, dV, db_h, db_y and the loss are right.

Wrong arrays: h0 only.  Invisible when W is symmetric.
"""

import numpy as np

BUG = "dh0_with_W"
LOSS = "sum"
CLASS = "dh0_with_W"
EQUATION = "dh0 = W dp_1 (W in place of W^T, in dh0 only)"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.int64)
    T, H = X.shape[0], W.shape[0]
    hs = np.empty((T + 1, H))
    hs[0] = h0
    for t in range(T):
        hs[t + 1] = np.tanh(U @ X[t] + W @ hs[t] + b_h)

    logits = hs[1:] @ V.T + b_y
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(T), y].sum()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(T), y] -= 1.0

    dh_out = dlogits @ V
    dP = np.zeros((T, H))
    for t in reversed(range(T)):
        dh = dh_out[t] + (W.T @ dP[t + 1] if t + 1 < T else 0.0)
        dP[t] = (1.0 - hs[t + 1] ** 2) * dh

    return {
        "U": dP.T @ X,
        "W": dP.T @ hs[:-1],
        "V": dlogits.T @ hs[1:],
        "b_h": dP.sum(axis=0),
        "b_y": dlogits.sum(axis=0),
        "h0": W @ dP[0],  # BUG: W.T @ dP[0] is meant
        "loss": float(loss),
    }
