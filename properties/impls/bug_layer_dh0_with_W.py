"""Buggy vanilla-RNN layer backward (CONTRACT "layer"), loop with a per-step cache list.

BUG: the loop carries dh_prev = W^T dp_t between steps correctly, but the
initial-state gradient is recomputed at the end from the cached dp_1 with W:

    dh0 = W dp_1          instead of W^T dp_1

dU, dW, db_h, dx and hs are right.

Wrong arrays: h0 only.  Invisible when W is symmetric.
"""

import numpy as np

BUG = "layer_dh0_with_W"
LOSS = "sum"  # L = sum_t dhs_t . h_t
CONTRACT = "layer"
CLASS = "dh0_with_W"
EQUATION = "dh0 = W dp_1 (W in place of W^T, in dh0 only)"


def grads(params, xs, h0, dhs):
    U, W, b_h = params["U"], params["W"], params["b_h"]
    xs = np.asarray(xs, dtype=np.float64)
    dhs = np.asarray(dhs, dtype=np.float64)
    T = len(xs)
    caches = []
    h = np.asarray(h0, dtype=np.float64)
    hs = []
    for t in range(T):
        h_new = np.tanh(U @ xs[t] + W @ h + b_h)
        caches.append({"x": xs[t], "h_prev": h, "h": h_new})
        hs.append(h_new)
        h = h_new

    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dxs = np.zeros_like(xs)
    dh_prev = np.zeros_like(b_h)
    for t in reversed(range(T)):
        c = caches[t]
        c["dp"] = (1.0 - c["h"] ** 2) * (dhs[t] + dh_prev)
        dU += np.outer(c["dp"], c["x"])
        dW += np.outer(c["dp"], c["h_prev"])
        db_h += c["dp"]
        dxs[t] = U.T @ c["dp"]
        dh_prev = W.T @ c["dp"]
    dh0 = W @ caches[0]["dp"]  # BUG: W.T is meant

    return {"U": dU, "W": dW, "b_h": db_h, "xs": dxs, "h0": dh0, "hs": np.array(hs)}
