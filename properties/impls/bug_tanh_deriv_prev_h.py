"""Buggy vanilla-RNN BPTT, plain loop over a list of states hs[0..T] (hs[0] = h0).

BUG: the tanh derivative is taken at the state before the step:

    dp_t = (1 - h_{t-1}^2) * dh_t        (h_{t-1} where h_t belongs; h_0 at t = 1)

so every gradient that goes through dp is wrong: dU, dW, db_h, dh0.  dV, db_y
and the loss are right.

Wrong arrays: U, W, b_h, h0.  Never invisible in practice.
"""

import numpy as np

BUG = "tanh_deriv_prev_h"
LOSS = "sum"
CLASS = "index_shift"
EQUATION = "dp_t = (1 - h_{t-1}^2) * dh_t (the tanh derivative at h_{t-1} instead of h_t)"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs, loss = [], 0.0
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ hs[t] + b_h))
        q = V @ hs[t + 1] + b_y
        q = q - q.max()
        p = np.exp(q) / np.exp(q).sum()
        probs.append(p)
        loss += -np.log(p[int(ys[t])])

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(b_h)
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[int(ys[t])] -= 1.0
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dh = V.T @ dq + dh_next
        dp = (1.0 - hs[t] ** 2) * dh  # BUG: hs[t + 1] is h_t
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
