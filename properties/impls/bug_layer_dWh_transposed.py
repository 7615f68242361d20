"""Buggy vanilla-RNN layer, CS231n assignment-3 layout, with dWh transposed in rnn_step_backward.

CS231n computes x Wx + prev_h Wh + b, so Wx = U^T and Wh = W^T; the adapter
`grads` (CONTRACT "batch-layer", summed over the batch) maps them back.

BUG: dWh = da^T prev_h instead of prev_h^T da, i.e. in the seed notation

    dW = sum_n sum_t h_{n,t-1} dp_{n,t}^T = (sum_n sum_t dp_{n,t} h_{n,t-1}^T)^T

(shapes agree because Wh is square).  dU, db_h, dx, dh0 and hs are right.

Wrong arrays: W only.  Invisible when the exact dW is symmetric (e.g. H = 1).
"""

import numpy as np

BUG = "layer_dWh_transposed"
LOSS = "sum"  # L = sum_{n,t} dh[n, t] . h[n, t]
CONTRACT = "batch-layer"
BATCH_LOSS = "sum"
CLASS = "transpose"
EQUATION = "dW = sum_n sum_t h_{n,t-1} dp_{n,t}^T (the transpose of the right dW)"


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = da.T.dot(prev_h)  # BUG: prev_h.T.dot(da) is meant
    db = np.sum(da, axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, Wh.shape[0]))
    cache = []
    prev_h = h0
    for t in range(T):
        prev_h, c = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(c)
    return h, cache


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    x0, _, Wx, Wh, _ = cache[0]
    dx = np.zeros((N, T, x0.shape[1]))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def grads(params, xs, h0, dhs):
    h, cache = rnn_forward(
        np.asarray(xs, dtype=np.float64),
        np.asarray(h0, dtype=np.float64),
        params["U"].T.copy(),
        params["W"].T.copy(),
        params["b_h"],
    )
    dx, dh0, dWx, dWh, db = rnn_backward(np.asarray(dhs, dtype=np.float64), cache)
    return {"U": dWx.T, "W": dWh.T, "b_h": db, "xs": dx, "h0": dh0, "hs": h}
