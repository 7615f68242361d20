"""Correct vanilla-RNN BPTT that hard-codes h0 = 0.

The h0 argument is ignored (the initial state is always zeros) and no
"h0" gradient is returned.  Correct only when the caller's h0 is zero.
Written with dicts keyed by time step, hs[-1] = zeros.  Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"
REQUIRES = ["zero_h0"]


def grads(params, xs, ys, h0=None):
    Wxh, Whh, Why = params["U"], params["W"], params["V"]
    bh, by = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    hs, ps = {-1: np.zeros(Whh.shape[0])}, {}
    loss = 0.0
    for t in range(len(xs)):
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        ys_t = Why @ hs[t] + by
        shifted = ys_t - ys_t.max()
        log_norm = np.log(np.sum(np.exp(shifted)))
        ps[t] = np.exp(shifted - log_norm)
        loss += log_norm - shifted[int(ys[t])]

    dWxh, dWhh, dWhy = (np.zeros_like(a) for a in (Wxh, Whh, Why))
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(len(xs))):
        dy = ps[t].copy()
        dy[int(ys[t])] -= 1.0
        dWhy += np.outer(dy, hs[t])
        dby += dy
        dhraw = (1.0 - hs[t] ** 2) * (Why.T @ dy + dhnext)
        dbh += dhraw
        dWxh += np.outer(dhraw, xs[t])
        dWhh += np.outer(dhraw, hs[t - 1])
        dhnext = Whh.T @ dhraw

    return {"U": dWxh, "W": dWhh, "V": dWhy, "b_h": dbh, "b_y": dby, "loss": float(loss)}
