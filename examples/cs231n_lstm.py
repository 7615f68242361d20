"""The LSTM layer as CS231n's assignment 3 writes it (rnn_layers.py), and an adapter to PyTorch's layout.

lstm_forward / lstm_backward work on a batch, x (N, T, D) and h0 (N, H), with one input matrix
Wx (D, 4H), one recurrent matrix Wh (H, 4H) and one bias b (4H,), gates in the order i, f, o, g,
and the cell state starting at c = 0:

    a = x Wx + prev_h Wh + b,   i, f, o = sigmoid(a_i, a_f, a_o),   g = tanh(a_g)
    next_c = f * prev_c + i * g,   next_h = o * tanh(next_c)

PyTorch (and gradcheck.cells) stacks the gates by rows in the order i, f, g, o, with two biases:
W_ih = P Wx^T, W_hh = P Wh^T, b_ih + b_hh = P b, where P swaps the last two blocks of H rows
(its own inverse, so the gradients map back with it too; db_ih = db_hh = P db). `grads` is the
recurrent layer's contract around the two functions (c0 must be 0, as CS231n's starts there).
"""

import numpy as np


def sigmoid(x):
    """A numerically stable version of the logistic sigmoid function (as given in rnn_layers.py)."""
    pos_mask = x >= 0
    neg_mask = x < 0
    z = np.zeros_like(x)
    z[pos_mask] = np.exp(-x[pos_mask])
    z[neg_mask] = np.exp(x[neg_mask])
    top = np.ones_like(x)
    top[neg_mask] = z[neg_mask]
    return top / (1 + z)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H : 2 * H])
    o = sigmoid(a[:, 2 * H : 3 * H])
    g = np.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dnext_c = dnext_c + dnext_h * o * (1 - tanh_c**2)
    do = dnext_h * tanh_c
    df = dnext_c * prev_c
    di = dnext_c * g
    dg = dnext_c * i
    dprev_c = dnext_c * f
    da = np.hstack((di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)))
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = np.sum(da, axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    prev_h, prev_c = h0, np.zeros((N, H))
    cache = []
    for t in range(T):
        prev_h, prev_c, cache_t = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        cache.append(cache_t)
    return h, cache


def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dprev_h, dprev_c, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def grads(params, xs, h0, c0, dhs):
    """The LSTM layer's contract, batched: params {"W_ih", "W_hh", "b_ih", "b_hh"}, xs, h0, c0, dhs."""
    assert not np.any(c0), "CS231n's lstm_forward starts from c = 0"
    P = lambda a: a.reshape(4, h0.shape[1], -1)[[0, 1, 3, 2]].reshape(a.shape)  # i,f,g,o <-> i,f,o,g
    b = P(params["b_ih"] + params["b_hh"])
    hs, cache = lstm_forward(xs, h0, P(params["W_ih"]).T, P(params["W_hh"]).T, b)
    dx, dh0, dWx, dWh, db = lstm_backward(dhs, cache)
    return {"W_ih": P(dWx.T), "W_hh": P(dWh.T), "b_ih": P(db), "b_hh": P(db), "xs": dx, "h0": dh0, "hs": hs}
