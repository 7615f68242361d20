"""Correct vanilla-RNN layer backward (no loss head), plain loop style.

CONTRACT "layer": grads(params {"U", "W", "b_h"}, xs (T, D), h0 (H,),
dhs (T, H)), where dhs[t] is the upstream dL/dh_t and L = sum_t dhs_t . h_t.
Forward stores h_0..h_T in a list; backward walks t = T..1 with
dh_t = dhs_t + W^T dp_{t+1}, dp_t = (1 - h_t^2) dh_t.  Returns U, W, b_h
and the input / initial-state gradients xs (T, D) and h0 (H,).
"""

import numpy as np

BUG = None
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
        dh_next = W.T @ dp

    return {"U": dU, "W": dW, "b_h": db_h, "xs": dxs, "h0": dh_next}
