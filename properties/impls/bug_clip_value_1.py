"""Buggy vanilla-RNN BPTT, min-char-rnn style, clipping every parameter gradient entry to [-1, 1].

BUG: as min-char-rnn's `np.clip(dparam, -5, 5, out=dparam)` but with c = 1:

    g_ij = clip(g_ij, -1, 1)   for g in dU, dW, dV, db_h, db_y

dh0 (returned from dhnext, not clipped) and the loss are right.

Wrong arrays: the entries of U, W, V, b_h, b_y whose exact value exceeds 1 in
absolute value.  Invisible when every exact entry is in [-1, 1].
"""

import numpy as np

BUG = "clip_value_1"
LOSS = "sum"
CLASS = "value_clipping"
EQUATION = "g = clip(g, -1, 1) entrywise for g in dU, dW, dV, db_h, db_y (dh0 not clipped)"


def grads(params, xs, ys, h0):
    Wxh, Whh, Why = params["U"], params["W"], params["V"]
    bh, by = params["b_h"].reshape(-1, 1), params["b_y"].reshape(-1, 1)
    inputs = np.asarray(xs, dtype=np.float64)
    targets = [int(y) for y in ys]
    x, hs, ps = {}, {}, {}
    hs[-1] = np.asarray(h0, dtype=np.float64).reshape(-1, 1).copy()
    loss = 0.0
    for t in range(len(inputs)):
        x[t] = inputs[t].reshape(-1, 1)
        hs[t] = np.tanh(np.dot(Wxh, x[t]) + np.dot(Whh, hs[t - 1]) + bh)
        o = np.dot(Why, hs[t]) + by
        e = np.exp(o - np.max(o))
        ps[t] = e / np.sum(e)
        loss += -np.log(ps[t][targets[t], 0])

    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, x[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -1, 1, out=dparam)  # BUG: clip to mitigate exploding gradients

    return {
        "U": dWxh,
        "W": dWhh,
        "V": dWhy,
        "b_h": dbh.ravel(),
        "b_y": dby.ravel(),
        "h0": dhnext.ravel(),
        "loss": float(loss),
    }
