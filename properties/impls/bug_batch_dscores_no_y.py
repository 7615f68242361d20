"""Buggy vanilla-RNN BPTT for a batch, CS231n style: loss averaged over the batch (temporal_softmax_loss).

BUG: the softmax gradient forgets to subtract the one-hot target:

    dq_{n,t} = yhat_{n,t} / N      instead of (yhat_{n,t} - onehot(y_{n,t})) / N

Every gradient downstream of dq is wrong: dU, dW, dV, db_h, db_y and the
per-sequence dh0.  The loss is right.

Wrong arrays: U, W, V, b_h, b_y, h0.  Never invisible.
"""

import numpy as np

BUG = "batch_dscores_no_y"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "mean"
CLASS = "no_y_subtracted"
EQUATION = "dq_{n,t} = yhat_{n,t} / N (onehot(y_{n,t}) not subtracted)"


def temporal_softmax_loss(x, y):
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()  # BUG: dx_flat[np.arange(N * T), y_flat] -= 1 is missing
    dx_flat /= N
    return loss, dx_flat.reshape(N, T, V)


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.int64)
    N, T, _ = x.shape
    H = W.shape[0]
    h = np.zeros((N, T, H))
    prev = np.asarray(h0, dtype=np.float64)
    for t in range(T):
        prev = np.tanh(x[:, t] @ U.T + prev @ W.T + b_h)
        h[:, t] = prev
    scores = h @ V.T + b_y
    loss, dscores = temporal_softmax_loss(scores, y)

    dV = np.einsum("ntk,nth->kh", dscores, h)
    db_y = dscores.sum(axis=(0, 1))
    dh = dscores @ V
    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        prev_h = h[:, t - 1] if t > 0 else np.asarray(h0, dtype=np.float64)
        da = (dh[:, t] + dprev) * (1 - h[:, t] ** 2)
        dU += da.T @ x[:, t]
        dW += da.T @ prev_h
        db_h += da.sum(axis=0)
        dprev = da @ W
    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dprev, "loss": float(loss)}
