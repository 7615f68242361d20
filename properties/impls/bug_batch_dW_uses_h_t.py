"""Buggy vanilla-RNN BPTT for a batch, loss summed over the batch; states in an (N, T+1, H) array, tensordot sums.

BUG: the recurrent-weight gradient contracts dP with the slice S[:, 1:] (the
states after each step) instead of S[:, :-1] (the states before it):

    dW = sum_n sum_{t=1}^{T} dp_{n,t} h_{n,t}^T      (h_t where h_{t-1} belongs)

Everything else (dU, dV, db_h, db_y, dh0, the loss) is right.

Wrong arrays: W only.  Never invisible in practice.
"""

import numpy as np

BUG = "batch_dW_uses_h_t"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "sum"
CLASS = "index_shift"
EQUATION = "dW = sum_n sum_t dp_{n,t} h_{n,t}^T (h_t in place of h_{t-1})"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    Y = np.asarray(ys, dtype=np.int64)
    N, T, _ = X.shape
    H = W.shape[0]
    n_idx, t_idx = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")

    S = np.zeros((N, T + 1, H))
    S[:, 0] = h0
    for t in range(T):
        S[:, t + 1] = np.tanh(X[:, t] @ U.T + S[:, t] @ W.T + b_h)

    Q = S[:, 1:] @ V.T + b_y
    Z = Q - Q.max(axis=2, keepdims=True)
    logP = Z - np.log(np.exp(Z).sum(axis=2, keepdims=True))
    loss = -logP[n_idx, t_idx, Y].sum()
    dQ = np.exp(logP)
    dQ[n_idx, t_idx, Y] -= 1.0

    dHout = dQ @ V
    dP = np.zeros((N, T, H))
    dh = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dP[:, t] = (1.0 - S[:, t + 1] ** 2) * (dHout[:, t] + dh)
        dh = dP[:, t] @ W

    return {
        "U": np.tensordot(dP, X, axes=([0, 1], [0, 1])),
        "W": np.tensordot(dP, S[:, 1:], axes=([0, 1], [0, 1])),  # BUG: S[:, :-1] is meant
        "V": np.tensordot(dQ, S[:, 1:], axes=([0, 1], [0, 1])),
        "b_h": dP.sum(axis=(0, 1)),
        "b_y": dQ.sum(axis=(0, 1)),
        "h0": dh,
        "loss": float(loss),
    }
