"""Buggy vanilla-RNN layer backward (CONTRACT "layer"), plain loop over the upstream dhs.

BUG: the input gradient is taken from the upstream dh_t, before the tanh
derivative:

    dx_t = U^T dh_t       instead of U^T dp_t = U^T ((1 - h_t^2) * dh_t)

dU, dW, db_h, dh0 and hs are right.

Wrong arrays: xs only.  Never invisible in practice.
"""

import numpy as np

BUG = "layer_dx_no_tanh_deriv"
LOSS = "sum"  # L = sum_t dhs_t . h_t
CONTRACT = "layer"
CLASS = "factor_dropped"
EQUATION = "dx_t = U^T dh_t (the tanh derivative (1 - h_t^2) is missing in dx only)"


def grads(params, xs, h0, dhs):
    U, W, b_h = params["U"], params["W"], params["b_h"]
    xs = np.asarray(xs, dtype=np.float64)
    dhs = np.asarray(dhs, dtype=np.float64)
    T, H = len(xs), W.shape[0]
    h = np.zeros((T + 1, H))
    h[0] = h0
    for t in range(T):
        h[t + 1] = np.tanh(U @ xs[t] + W @ h[t] + b_h)

    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros(H)
    dx = np.zeros_like(xs)
    dh_rec = np.zeros(H)
    for t in range(T - 1, -1, -1):
        dh = dhs[t] + dh_rec
        dp = dh * (1.0 - h[t + 1] ** 2)
        dx[t] = U.T @ dh  # BUG: U.T @ dp is meant
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, h[t])
        db_h += dp
        dh_rec = W.T @ dp

    return {"U": dU, "W": dW, "b_h": db_h, "xs": dx, "h0": dh_rec, "hs": h[1:]}
