"""Buggy vanilla-RNN BPTT, min-char-rnn style (dicts keyed by t, column vectors, dhnext).

BUG: the dWhh accumulation is guarded by `if t > 0`, so the code computes

    dW = sum_{t=2}^{T} dp_t h_{t-1}^T

The sum starts at t = 2: the t = 1 term dp_1 h_0^T is missing.  Everything
else (dU, dV, db_h, db_y, dh0, the loss) is correct.

Wrong arrays: W only.  Invisible when h0 = 0 (then dp_1 h_0^T = 0).
"""

import numpy as np

BUG = "dW_sum_from_t2"
LOSS = "sum"
CLASS = "loop_bound"
EQUATION = "dW = sum_{t=2}^{T} dp_t h_{t-1}^T (the t = 1 term dp_1 h_0^T is missing)"


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
        scores = np.dot(Why, hs[t]) + by
        e = np.exp(scores - np.max(scores))
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
        if t > 0:  # BUG: the first step's term dhraw h0^T is never added
            dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)

    return {
        "U": dWxh,
        "W": dWhh,
        "V": dWhy,
        "b_h": dbh.ravel(),
        "b_y": dby.ravel(),
        "h0": dhnext.ravel(),
        "loss": float(loss),
    }
