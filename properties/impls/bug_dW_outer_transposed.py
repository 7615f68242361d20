"""Buggy vanilla-RNN BPTT, min-char-rnn style (column vectors), with the dWhh outer product transposed.

BUG: the recurrent-weight update multiplies in the wrong order:

    dW = sum_t h_{t-1} dp_t^T = (sum_t dp_t h_{t-1}^T)^T

(shapes agree because W is square).  dU, dV, db_h, db_y, dh0 and the loss are
right.

Wrong arrays: W only.  Invisible when the exact dW is symmetric (e.g. H = 1).
"""

import numpy as np

BUG = "dW_outer_transposed"
LOSS = "sum"
CLASS = "transpose"
EQUATION = "dW = sum_t h_{t-1} dp_t^T (the transpose of the right dW)"


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
        dWhh += np.dot(hs[t - 1], dhraw.T)  # BUG: np.dot(dhraw, hs[t - 1].T) is meant
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
