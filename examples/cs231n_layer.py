"""The recurrent layer as CS231n's assignment 3 writes it (rnn_layers.py), judged with --layer.

rnn_forward / rnn_backward work on a batch, x (N, T, D) and h0 (N, H), with Wx (D, H), Wh (H, H)
and b (H,), computing next_h = tanh(prev_h Wh + x Wx + b); rnn_backward takes the upstream
gradient dh (N, T, H) of whatever loss sits on top. That is gradcheck's layer contract with a
batch axis, once the weights are transposed (U = Wx^T, W = Wh^T):

    python -m gradcheck verify examples/cs231n_layer.py:grads --layer --batch
"""

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(prev_h @ Wh + x @ Wx + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    draw = dnext_h * (1 - next_h**2)
    return draw @ Wx.T, draw @ Wh.T, x.T @ draw, prev_h.T @ draw, draw.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, caches, prev_h = np.zeros((N, T, h0.shape[1])), [], h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(cache)
    return h, caches


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def grads(params, xs, h0, dhs):
    """gradcheck's layer contract (--layer --batch), around the two functions above."""
    h, cache = rnn_forward(xs, h0, params["U"].T, params["W"].T, params["b_h"])
    dx, dh0, dWx, dWh, db = rnn_backward(dhs, cache)
    return {"U": dWx.T, "W": dWh.T, "b_h": db, "xs": dx, "h0": dh0, "hs": h}
