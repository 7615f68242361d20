"""Buggy vanilla-RNN BPTT, vectorised numpy, with each parameter gradient clipped by its own L2 norm.

BUG: every parameter gradient g in (dU, dW, dV, db_h, db_y) is rescaled on its
own (torch clip_grad_norm_ called per parameter):

    g *= min(1, 5 / ||g||_2)      (Frobenius norm for the matrices)

dh0 (not a parameter) is left alone and is right, as is the loss.

Wrong arrays: those of U, W, V, b_h, b_y whose exact norm exceeds 5 (each by
its own factor).  Invisible when every parameter gradient's norm is <= 5.
"""

import numpy as np

BUG = "clip_each_norm"
LOSS = "sum"
CLASS = "norm_clipping"
EQUATION = "g *= min(1, 5 / ||g||_2) separately for g in dU, dW, dV, db_h, db_y (dh0 not clipped)"


def clip_by_norm(g, max_norm=5.0):
    norm = np.linalg.norm(g)
    return g * (max_norm / norm) if norm > max_norm else g


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
    Z = Q - Q.max(axis=1, keepdims=True)
    logP = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    loss = -logP[np.arange(T), y].sum()
    dQ = np.exp(logP)
    dQ[np.arange(T), y] -= 1.0
    dHout = dQ @ V
    dP = np.zeros((T, H))
    dh = np.zeros(H)
    for t in range(T - 1, -1, -1):
        dP[t] = (1.0 - Hs[t + 1] ** 2) * (dHout[t] + dh)
        dh = W.T @ dP[t]

    g = {"U": dP.T @ X, "W": dP.T @ Hs[:-1], "V": dQ.T @ Hs[1:], "b_h": dP.sum(0), "b_y": dQ.sum(0)}
    g = {k: clip_by_norm(v) for k, v in g.items()}  # BUG: clipping is not part of the gradient
    g["h0"] = dh
    g["loss"] = float(loss)
    return g
