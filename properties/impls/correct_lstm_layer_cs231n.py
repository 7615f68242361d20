"""Correct LSTM layer in CS231n assignment-3 style (lstm_step_forward / lstm_forward /
lstm_step_backward / lstm_backward), batch-layer contract.

CS231n writes the LSTM on a batch with row vectors, a = x Wx + prev_h Wh + b,
Wx (D, 4H), Wh (H, 4H), one bias b (4H,), with the gate blocks of columns in the
order i, f, o, g, and starts the cell state at zero (REQUIRES zero_c0: the c0
argument is ignored and no "c0" is returned).  The adapter `grads` maps
PyTorch's layout (rows i, f, g, o) with the permutation P that swaps the last
two blocks: Wx = (P W_ih)^T, Wh = (P W_hh)^T, b = P (b_ih + b_hh), and back:
dW_ih = P dWx^T, dW_hh = P dWh^T, db_ih = db_hh = P db.  L = sum_{n,t} dh . h.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "lstm"
CONTRACT = "batch-layer"
BATCH_LOSS = "sum"
REQUIRES = ["zero_c0"]


def sigmoid(x):
    """A numerically stable sigmoid: exp of a non-positive number only."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H : 2 * H])
    o = sigmoid(a[:, 2 * H : 3 * H])
    g = np.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dnext_c = dnext_c + dnext_h * o * (1 - tanh_c**2)
    do = dnext_h * tanh_c
    di = dnext_c * g
    df = dnext_c * prev_c
    dg = dnext_c * i
    dprev_c = dnext_c * f
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)])
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _D = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    prev_h, prev_c = h0, np.zeros_like(h0)
    cache = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(step_cache)
    return h, cache


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def _swap_go(a):
    """P: rows (or entries) i, f, g, o <-> i, f, o, g (its own inverse)."""
    H = a.shape[0] // 4
    return np.concatenate([a[: 2 * H], a[3 * H :], a[2 * H : 3 * H]])


def grads(params, xs, h0, c0, dhs):  # c0 is ignored: CS231n starts from c = 0
    Wx = _swap_go(params["W_ih"]).T
    Wh = _swap_go(params["W_hh"]).T
    b = _swap_go(params["b_ih"] + params["b_hh"])
    h, cache = lstm_forward(xs, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = lstm_backward(dhs, cache)
    db_pt = _swap_go(db)
    return {
        "W_ih": _swap_go(dWx.T),
        "W_hh": _swap_go(dWh.T),
        "b_ih": db_pt,
        "b_hh": db_pt.copy(),
        "xs": dx,
        "h0": dh0,
        "hs": h,
    }
