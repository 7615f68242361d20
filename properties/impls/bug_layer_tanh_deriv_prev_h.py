"""Buggy vanilla-RNN layer, CS231n assignment-3 layout (rnn_step_forward / rnn_step_backward / rnn_backward).

CS231n computes x Wx + prev_h Wh + b, so Wx = U^T and Wh = W^T; the adapter
`grads` (CONTRACT "batch-layer", summed over the batch) maps them.

BUG: rnn_step_backward takes the tanh derivative at prev_h instead of next_h:

    da_t = (1 - h_{t-1}^2) * dh_t       (h_{t-1} where h_t belongs; h_0 at t = 1)

so dU, dW, db_h, dx and dh0 are all wrong (hs is right).

Wrong arrays: U, W, b_h, xs, h0.  Never invisible in practice.
"""

import numpy as np

BUG = "layer_tanh_deriv_prev_h"
LOSS = "sum"  # L = sum_{n,t} dh[n, t] . h[n, t]
CONTRACT = "batch-layer"
BATCH_LOSS = "sum"
CLASS = "index_shift"
EQUATION = "dp_t = (1 - h_{t-1}^2) * dh_t (the tanh derivative at h_{t-1} instead of h_t)"


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, _next_h = cache
    da = dnext_h * (1 - prev_h**2)  # BUG: next_h is meant
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, c = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(c)
    return h, cache


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx = np.zeros((D, H))
    dWh = np.zeros((H, H))
    db = np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def grads(params, xs, h0, dhs):
    h, cache = rnn_forward(
        np.asarray(xs, dtype=np.float64), np.asarray(h0, dtype=np.float64), params["U"].T, params["W"].T, params["b_h"]
    )
    dx, dh0, dWx, dWh, db = rnn_backward(np.asarray(dhs, dtype=np.float64), cache)
    return {"U": dWx.T, "W": dWh.T, "b_h": db, "xs": dx, "h0": dh0, "hs": h}
