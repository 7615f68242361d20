"""Correct vanilla-RNN BPTT for a batch of sequences, loss summed over the batch.

Contract "batch": xs (N, T, D), ys (N, T), h0 (N, H).  Vectorised over the
batch: states are an (N, T+1, H) array, each step is one (N, H) matrix
product, and the parameter gradients are sums over batch and time
(tensordot).  dh0 is returned per sequence, shape (N, H).  Each sequence's
loss is the sum of its per-step cross-entropies; the batch loss is the sum
over the N sequences.
"""

import numpy as np

BUG = None
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    Y = np.asarray(ys, dtype=np.int64)
    N, T, _ = X.shape
    Hd = W.shape[0]
    n_idx, t_idx = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")

    Hs = np.zeros((N, T + 1, Hd))
    Hs[:, 0] = h0
    for t in range(T):
        Hs[:, t + 1] = np.tanh(X[:, t] @ U.T + Hs[:, t] @ W.T + b_h)

    Q = Hs[:, 1:] @ V.T + b_y  # (N, T, K)
    Z = Q - Q.max(axis=2, keepdims=True)
    logP = Z - np.log(np.exp(Z).sum(axis=2, keepdims=True))
    loss = -logP[n_idx, t_idx, Y].sum()
    dQ = np.exp(logP)
    dQ[n_idx, t_idx, Y] -= 1.0

    dHout = dQ @ V  # (N, T, H)
    dP = np.zeros((N, T, Hd))
    dh = np.zeros((N, Hd))
    for t in range(T - 1, -1, -1):
        dP[:, t] = (1.0 - Hs[:, t + 1] ** 2) * (dHout[:, t] + dh)
        dh = dP[:, t] @ W

    return {
        "U": np.tensordot(dP, X, axes=([0, 1], [0, 1])),
        "W": np.tensordot(dP, Hs[:, :-1], axes=([0, 1], [0, 1])),
        "V": np.tensordot(dQ, Hs[:, 1:], axes=([0, 1], [0, 1])),
        "b_h": dP.sum(axis=(0, 1)),
        "b_y": dQ.sum(axis=(0, 1)),
        "h0": dh,
        "loss": float(loss),
    }
