"""Correct vanilla-RNN BPTT for a minibatch, CS231n style (loss / N).

Contract "batch": xs (N, T, D), ys (N, T), h0 (N, H).  As CS231n's
temporal_softmax_loss: the loss is the sum over all steps of all sequences
divided by N, and dlogits = (probs - onehot) / N, so every gradient
(including the per-sequence dh0, shape (N, H)) carries the 1/N.  Written
with (N, T, H) arrays and a time loop over (N, H) slices, as in
rnn_forward / rnn_backward.
"""

import numpy as np

BUG = None
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "mean"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.int64)
    N, T, _ = x.shape
    H = W.shape[0]

    h = np.zeros((N, T, H))
    prev = np.asarray(h0, dtype=np.float64)
    for t in range(T):
        prev = np.tanh(x[:, t, :] @ U.T + prev @ W.T + b_h)
        h[:, t, :] = prev

    scores = (h @ V.T + b_y).reshape(N * T, -1)
    y_flat = y.reshape(N * T)
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.sum(np.log(probs[np.arange(N * T), y_flat])) / N
    dscores = probs.copy()
    dscores[np.arange(N * T), y_flat] -= 1
    dscores /= N

    dV = dscores.T @ h.reshape(N * T, H)
    db_y = dscores.sum(axis=0)
    dh_out = (dscores @ V).reshape(N, T, H)

    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dnext = np.zeros((N, H))
    for t in reversed(range(T)):
        h_prev = h[:, t - 1, :] if t > 0 else np.asarray(h0, dtype=np.float64)
        da = (1 - h[:, t, :] ** 2) * (dh_out[:, t, :] + dnext)
        dU += da.T @ x[:, t, :]
        dW += da.T @ h_prev
        db_h += da.sum(axis=0)
        dnext = da @ W

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dnext, "loss": float(loss)}
