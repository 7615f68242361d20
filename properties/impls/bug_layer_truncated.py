"""Buggy vanilla-RNN layer backward: truncated BPTT with 4 terms.

CONTRACT "layer".  For each step t the upstream gradient dhs_t is pushed
back through at most k = 4 steps (the terms of steps t, t-1, t-2, t-3), in
the WildML double-loop style.  BUG: whatever would reach step t-4 or
earlier is dropped, so dU, dW, db_h, dxs and dh0 are wrong for T > 4
(exact for T <= 4); dh0 only receives the upstream gradients of steps
1..4.  The forward states are right and are returned as "hs".
"""

import numpy as np

BUG = "truncated_k4"
LOSS = "sum"  # L = sum_t dhs_t . h_t
CONTRACT = "layer"
K_TRUNC = 4


def grads(params, xs, h0, dhs):
    U, W, b_h = params["U"], params["W"], params["b_h"]
    x = np.asarray(xs, dtype=np.float64)
    T, H = x.shape[0], W.shape[0]
    s = np.zeros((T + 1, H))  # s[t] = h_t, s[0] = h0
    s[0] = h0
    for t in range(T):
        s[t + 1] = np.tanh(U.dot(x[t]) + W.dot(s[t]) + b_h)

    dU, dW, db_h = np.zeros(U.shape), np.zeros(W.shape), np.zeros(H)
    dx, dh0 = np.zeros(x.shape), np.zeros(H)
    for t in range(T):
        delta = dhs[t] * (1 - s[t + 1] ** 2)
        for step in range(t, max(-1, t - K_TRUNC), -1):  # BUG: truncated
            dU += np.outer(delta, x[step])
            dW += np.outer(delta, s[step])
            db_h += delta
            dx[step] += U.T.dot(delta)
            back = W.T.dot(delta)
            if step == 0:
                dh0 += back
            else:
                delta = back * (1 - s[step] ** 2)

    return {"U": dU, "W": dW, "b_h": db_h, "xs": dx, "h0": dh0, "hs": s[1:].copy()}
