"""Buggy vanilla-RNN BPTT, min-char-rnn style (dicts keyed by t, column vectors, dhnext).

BUG: the input-weight update reads xs[t-1] instead of xs[t] (0-based), so

    dU = sum_{t=1}^{T} dp_t x_{t-1}^T   with x_0 := x_T

(Python's xs[-1] at the first step wraps around to the last input).  The
forward pass, dW, dV, db_h, db_y, dh0 and the loss are right.

Wrong arrays: U only.  Invisible when all x_t are equal (e.g. T = 1, where
x_0 = x_T = x_1).
"""

import numpy as np

BUG = "dU_x_prev"
LOSS = "sum"
CLASS = "index_shift"
EQUATION = "dU = sum_t dp_t x_{t-1}^T with x_0 = x_T (x_{t-1} in place of x_t)"


def grads(params, xs, ys, h0):
    Wxh, Whh, Why = params["U"], params["W"], params["V"]
    bh, by = params["b_h"][:, None], params["b_y"][:, None]
    inputs = [np.asarray(x, dtype=np.float64)[:, None] for x in xs]
    targets = [int(y) for y in ys]

    hs, ps = {-1: np.asarray(h0, dtype=np.float64)[:, None]}, {}
    loss = 0.0
    for t in range(len(inputs)):
        hs[t] = np.tanh(Wxh @ inputs[t] + Whh @ hs[t - 1] + bh)
        o = Why @ hs[t] + by
        o = o - o.max()
        ps[t] = np.exp(o) / np.exp(o).sum()
        loss -= np.log(ps[t][targets[t], 0])

    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        dWhy += dy @ hs[t].T
        dby += dy
        dh = Why.T @ dy + dhnext
        dhraw = (1 - hs[t] ** 2) * dh
        dbh += dhraw
        dWxh += dhraw @ inputs[t - 1].T  # BUG: inputs[t] is meant
        dWhh += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw

    return {
        "U": dWxh,
        "W": dWhh,
        "V": dWhy,
        "b_h": dbh[:, 0],
        "b_y": dby[:, 0],
        "h0": dhnext[:, 0],
        "loss": float(loss),
    }
