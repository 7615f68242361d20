"""Buggy vanilla-RNN: the forward pass leaves out the hidden bias.

Forward-pass mistake: p_t = U x_t + W h_{t-1} (b_h is never added).  The
backward pass is the exact BPTT of that bias-free model, and "b_h" is
returned as the usual sum_t dp_t, i.e. the gradient with respect to a
hidden bias evaluated at b_h = 0.  All outputs therefore equal the correct
gradients at b_h = 0; they are right exactly when b_h = 0 (option
"no_bias" style problems).  Sum loss.
"""

import numpy as np

BUG = "fwd_no_b_h"
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_y = params["U"], params["W"], params["V"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = {-1: np.array(h0, dtype=np.float64)}
    ps, loss = {}, 0.0
    for t in range(T):
        hs[t] = np.tanh(U @ xs[t] + W @ hs[t - 1])  # BUG: + b_h missing
        q = V @ hs[t] + b_y
        e = np.exp(q - q.max())
        ps[t] = e / e.sum()
        loss -= np.log(ps[t][ys[t]])

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros(W.shape[0]), np.zeros_like(b_y)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[ys[t]] -= 1.0
        dV += np.outer(dy, hs[t])
        db_y += dy
        dhraw = (1.0 - hs[t] ** 2) * (V.T @ dy + dhnext)
        dU += np.outer(dhraw, xs[t])
        dW += np.outer(dhraw, hs[t - 1])
        db_h += dhraw
        dhnext = W.T @ dhraw

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dhnext, "loss": float(loss)}
