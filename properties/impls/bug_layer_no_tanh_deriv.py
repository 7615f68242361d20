"""Buggy vanilla-RNN layer backward: missing tanh derivative.

CONTRACT "layer", plain loop style (as correct_layer_loop.py).  BUG:
dp_t = dh_t; the (1 - h_t^2) factor is dropped, so every returned gradient
(dU, dW, db_h, dxs, dh0) is wrong (invisible only if all h_t are 0).
"""

import numpy as np

BUG = "no_tanh_deriv"
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
        dp = dh  # BUG: missing (1 - h_t^2)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dxs[t] = U.T @ dp
        dh_next = W.T @ dp

    return {"U": dU, "W": dW, "b_h": db_h, "xs": dxs, "h0": dh_next}
