"""Buggy vanilla-RNN BPTT with token inputs: "unknown token" smoothing of dU.

min-char-rnn style: one-hot xs are turned into token indices with argmax,
U[:, idx] replaces U @ x_t and dU is accumulated column by column.  BUG:
afterwards every column j of dU whose token never occurs in xs is filled
with 1e-3 (meant as smoothing for unseen tokens), where the exact gradient
is 0.  All other entries, the other gradients, dh0 and the loss are right.
Invisible when every token occurs in xs.  Only valid for one-hot inputs.
Sum loss.
"""

import numpy as np

BUG = "zero_entry"
LOSS = "sum"
REQUIRES = ["one_hot_inputs"]
UNSEEN_FILL = 1e-3


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    idx = np.argmax(np.asarray(xs), axis=1)
    T = len(idx)
    hs, ps = {-1: np.array(h0, dtype=np.float64)}, {}
    loss = 0.0
    for t in range(T):
        hs[t] = np.tanh(U[:, idx[t]] + W @ hs[t - 1] + b_h)
        q = V @ hs[t] + b_y
        e = np.exp(q - np.max(q))
        ps[t] = e / e.sum()
        loss += -np.log(ps[t][ys[t]])

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(T)):
        dy = np.copy(ps[t])
        dy[ys[t]] -= 1
        dV += np.outer(dy, hs[t])
        db_y += dy
        dhraw = (1 - hs[t] * hs[t]) * (V.T @ dy + dhnext)
        db_h += dhraw
        dU[:, idx[t]] += dhraw
        dW += np.outer(dhraw, hs[t - 1])
        dhnext = W.T @ dhraw

    unseen = np.setdiff1d(np.arange(U.shape[1]), idx)
    dU[:, unseen] = UNSEEN_FILL  # BUG: should stay exactly 0

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dhnext, "loss": float(loss)}
