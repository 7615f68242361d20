"""Correct ReLU-RNN gradients whose relu' is 1 at p = 0 (np.heaviside(p, 1)); vectorised numpy.

p_t = U x_t + W h_{t-1} + b_h, h_t = max(p_t, 0).  The backward pass uses
relu'(p) = heaviside(p, 1) = [p >= 0], which differs from PyTorch's [p > 0]
only where some p_t is exactly 0.  ReLU has no derivative there; both are
subgradients, so this code is correct (docs/cells.md, "tanh and relu").  On a
problem with p_t = 0 exactly (zero inputs, zero b_h, h0 = 0) it returns the
other subgradient; continuous random problems never hit the kink.
States live in a (T+1, H) array; the output layer is done for all t at once.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "relu"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    T, H = len(xs), W.shape[0]
    h = np.zeros((T + 1, H))
    h[0] = h0
    pre = np.zeros((T, H))
    for t in range(T):
        pre[t] = U @ xs[t] + W @ h[t] + b_h
        h[t + 1] = np.maximum(pre[t], 0.0)
    logits = h[1:] @ V.T + b_y
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(T), ys].sum()

    dlogits = np.exp(logp)
    dlogits[np.arange(T), ys] -= 1.0
    dH = dlogits @ V  # (T, H): the direct gradient V^T dq_t of every h_t
    dpre = np.zeros((T, H))
    carry = np.zeros(H)
    for t in range(T - 1, -1, -1):
        dpre[t] = np.heaviside(pre[t], 1.0) * (dH[t] + carry)
        carry = W.T @ dpre[t]
    return {
        "U": dpre.T @ xs,
        "W": dpre.T @ h[:-1],
        "b_h": dpre.sum(axis=0),
        "V": dlogits.T @ h[1:],
        "b_y": dlogits.sum(axis=0),
        "h0": carry,
        "loss": float(loss),
    }
