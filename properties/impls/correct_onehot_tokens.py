"""Correct vanilla-RNN BPTT with token-index inputs (min-char-rnn style).

Assumes every x_t is one-hot: converts xs to indices with argmax and uses
the column U[:, idx] instead of U @ x_t.  dU is accumulated column by
column.  Only valid for one-hot inputs.  Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"
REQUIRES = ["one_hot_inputs"]


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    idx = np.argmax(np.asarray(xs), axis=1)
    T = len(idx)
    hs, ps = {}, {}
    hs[-1] = np.array(h0, dtype=np.float64)
    loss = 0.0
    for t in range(T):
        hs[t] = np.tanh(U[:, idx[t]] + W @ hs[t - 1] + b_h)
        q = V @ hs[t] + b_y
        e = np.exp(q - np.max(q))
        ps[t] = e / e.sum()
        loss += -(q[ys[t]] - np.max(q) - np.log(e.sum()))

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(T)):
        dy = np.copy(ps[t])
        dy[ys[t]] -= 1
        dV += np.outer(dy, hs[t])
        db_y += dy
        dh = V.T @ dy + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        db_h += dhraw
        dU[:, idx[t]] += dhraw
        dW += np.outer(dhraw, hs[t - 1])
        dhnext = W.T @ dhraw

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dhnext, "loss": float(loss)}
