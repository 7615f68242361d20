"""Buggy ReLU-RNN gradients, batch contract: tanh's derivative 1 - h^2 used for the relu.

Vectorised over the batch, BATCH_LOSS "sum"; forward h_t = max(p_t, 0).  The
backward pass was adapted from a tanh RNN and kept its derivative:

    dp_t = (1 - h_t^2) * dh_t        (relu' = [p_t > 0] is meant)

so off units (h = 0) pass the full gradient and on units are scaled by
1 - h^2.  The forward pass, the loss, dV and db_y are right.

Wrong arrays: U, W, b_h, h0.  Never invisible in practice (it would need every
unit on with h_t = 0, i.e. never).
"""

import numpy as np

BUG = "relu_tanh_derivative"
LOSS = "sum"
CELL = "relu"
CONTRACT = "batch"
BATCH_LOSS = "sum"
CLASS = "relu_derivative"
EQUATION = "dp_t = (1 - h_t^2) * dh_t: tanh's derivative in place of relu'(p_t) = [p_t > 0]"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    N, T, _D = xs.shape
    H = W.shape[0]
    hs = np.zeros((N, T + 1, H))
    hs[:, 0] = h0
    for t in range(T):
        hs[:, t + 1] = np.maximum(xs[:, t] @ U.T + hs[:, t] @ W.T + b_h, 0.0)
    scores = hs[:, 1:] @ V.T + b_y  # (N, T, K)
    scores -= scores.max(axis=-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=-1, keepdims=True)
    n_idx, t_idx = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
    loss = -np.log(probs[n_idx, t_idx, ys]).sum()
    dscores = probs.copy()
    dscores[n_idx, t_idx, ys] -= 1.0

    dV = np.tensordot(dscores, hs[:, 1:], axes=([0, 1], [0, 1]))
    db_y = dscores.sum(axis=(0, 1))
    dhs = dscores @ V  # (N, T, H)
    dp = np.zeros((N, T, H))
    dnext = np.zeros((N, H))
    for t in reversed(range(T)):
        dp[:, t] = (1.0 - hs[:, t + 1] ** 2) * (dhs[:, t] + dnext)  # BUG: (hs[:, t + 1] > 0) is relu'
        dnext = dp[:, t] @ W
    return {
        "U": np.tensordot(dp, xs, axes=([0, 1], [0, 1])),
        "W": np.tensordot(dp, hs[:, :-1], axes=([0, 1], [0, 1])),
        "b_h": dp.sum(axis=(0, 1)),
        "V": dV,
        "b_y": db_y,
        "h0": dnext,
        "loss": float(loss),
    }
