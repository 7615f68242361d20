"""Buggy vanilla-RNN layer backward: W not transposed.

CONTRACT "layer", plain loop style (as correct_layer_loop.py).  BUG: the
error is carried to the previous step as dh_next = W @ dp instead of
W.T @ dp, so dU, dW, db_h, dxs (all but the last step) and dh0 are wrong
unless W is symmetric.  For T = 1 only dh0 is wrong.
"""

import numpy as np

BUG = "W_not_transposed"
LOSS = "sum"  # L = sum_t dhs_t . h_t
CONTRACT = "layer"


def grads(params, xs, h0, dhs):
    U, W, b_h = params["U"], params["W"], params["b_h"]
    xs = np.asarray(xs, dtype=np.float64)
    dhs = np.asarray(dhs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ hs[-1] + b_h))

    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dxs = np.zeros_like(xs)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dh = dhs[t] + dh_next
        dp = (1.0 - hs[t + 1] ** 2) * dh
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dxs[t] = U.T @ dp
        dh_next = W @ dp  # BUG: should be W.T @ dp

    return {"U": dU, "W": dW, "b_h": db_h, "xs": dxs, "h0": dh_next}
