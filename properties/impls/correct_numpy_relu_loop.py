"""Correct ReLU-RNN gradients, hand-written numpy, one sequence (min-char-rnn style loop).

p_t = U x_t + W h_{t-1} + b_h, h_t = max(p_t, 0), q_t = V h_t + b_y.
Backward: dp_t = [p_t > 0] * dh_t (relu'(0) = 0), dhnext = W^T dp_t.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "relu"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = params["U"], params["W"], params["V"], params["b_h"], params["b_y"]
    ps, hs, yhats = {}, {-1: np.copy(h0)}, {}
    loss = 0.0
    for t in range(len(xs)):
        ps[t] = U @ xs[t] + W @ hs[t - 1] + b_h
        hs[t] = np.maximum(ps[t], 0.0)
        q = V @ hs[t] + b_y
        e = np.exp(q - np.max(q))
        yhats[t] = e / np.sum(e)
        loss += -np.log(yhats[t][ys[t]])

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(len(xs))):
        dy = np.copy(yhats[t])
        dy[ys[t]] -= 1
        dV += np.outer(dy, hs[t])
        db_y += dy
        dh = V.T @ dy + dhnext
        dp = dh * (ps[t] > 0)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t - 1])
        db_h += dp
        dhnext = W.T @ dp
    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dhnext, "loss": float(loss)}
