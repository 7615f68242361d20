"""Buggy vanilla-RNN BPTT for a batch, averaged over the batch (CS231n temporal_softmax_loss style), einsum sums.

BUG: the recurrent-weight gradient is an einsum over the slices [:, 1:],

    dW = (1/N) sum_n sum_{t=2}^{T} dp_{n,t} h_{n,t-1}^T

(dp here already carries the 1/N).  The sum starts at t = 2: the first step's
term dp_{n,1} h_{n,0}^T is missing.  Everything else is right.

Wrong arrays: W only.  Invisible when h0 = 0 (every row).
"""

import numpy as np

BUG = "batch_dW_from_t2"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "mean"
CLASS = "loop_bound"
EQUATION = "dW = (1/N) sum_n sum_{t=2}^{T} dp_{n,t} h_{n,t-1}^T (the t = 1 terms dp_{n,1} h0_n^T are missing)"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    Y = np.asarray(ys, dtype=np.int64)
    N, T, _ = X.shape
    H = W.shape[0]

    S = np.zeros((N, T + 1, H))  # S[:, t] = h_t, S[:, 0] = h0
    S[:, 0] = h0
    for t in range(T):
        S[:, t + 1] = np.tanh(np.einsum("hd,nd->nh", U, X[:, t]) + np.einsum("hk,nk->nh", W, S[:, t]) + b_h)

    scores = np.einsum("kh,nth->ntk", V, S[:, 1:]) + b_y
    scores -= scores.max(axis=2, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=2, keepdims=True)
    n_idx, t_idx = np.indices((N, T))
    loss = -np.log(probs[n_idx, t_idx, Y]).sum() / N
    dscores = probs.copy()
    dscores[n_idx, t_idx, Y] -= 1.0
    dscores /= N

    dhout = np.einsum("ntk,kh->nth", dscores, V)
    dP = np.zeros((N, T, H))
    dh = np.zeros((N, H))
    for t in reversed(range(T)):
        dP[:, t] = (1.0 - S[:, t + 1] ** 2) * (dhout[:, t] + dh)
        dh = np.einsum("nh,hk->nk", dP[:, t], W)

    return {
        "U": np.einsum("nth,ntd->hd", dP, X),
        "W": np.einsum("nth,ntk->hk", dP[:, 1:], S[:, 1:-1]),  # BUG: dP[:, :] with S[:, :-1] is meant
        "V": np.einsum("ntk,nth->kh", dscores, S[:, 1:]),
        "b_h": dP.sum(axis=(0, 1)),
        "b_y": dscores.sum(axis=(0, 1)),
        "h0": dh,
        "loss": float(loss),
    }
