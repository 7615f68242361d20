"""Correct vanilla-RNN layer, CS231n assignment-3 layout, with tanh written out with exponentials.

A copy of correct_layer_cs231n.py whose step computes tanh(a) = (e^a - e^-a) / (e^a + e^-a), as a
public numpy library does: accurate to a few eps in absolute terms, not relative ones (for a
small a the difference e^a - e^-a cancels: h = -7.3e-4 came out 4.2e-17 from the exact value).

rnn_step_forward / rnn_forward / rnn_step_backward / rnn_backward with
CS231n's names and shapes: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H),
b (H,), h (N, T, H); rnn_backward takes the upstream dh (N, T, H) and
returns dx, dh0, dWx, dWh, db.  CS231n computes x Wx + prev_h Wh + b, so
Wx = U^T and Wh = W^T; the adapter `grads` (CONTRACT "batch-layer") maps
them and returns U, W, b_h (summed over the batch), xs, h0 and hs.
"""

import numpy as np

BUG = None
LOSS = "sum"  # L = sum_{n,t} dh[n, t] . h[n, t]
CONTRACT = "batch-layer"
BATCH_LOSS = "sum"
# Where exp overflows (|p| > 709.8) the code returns NaN, a mistake verify names; judged elsewhere.
SKIP_REGIMES = ["huge_preactivations"]


def tanh(a):
    e_plus, e_minus = np.exp(a), np.exp(-a)
    return (e_plus - e_minus) / (e_plus + e_minus)


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    dx, dprev_h = da.dot(Wx.T), da.dot(Wh.T)
    dWx, dWh, db = x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, cache, prev_h = np.zeros((N, T, h0.shape[1])), [], h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    return h, cache


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def grads(params, xs, h0, dhs):
    h, cache = rnn_forward(xs, h0, params["U"].T, params["W"].T, params["b_h"])
    dx, dh0, dWx, dWh, db = rnn_backward(dhs, cache)
    return {"U": dWx.T, "W": dWh.T, "b_h": db, "xs": dx, "h0": dh0, "hs": h}
