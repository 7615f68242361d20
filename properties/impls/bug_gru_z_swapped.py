"""Buggy GRU layer: z and 1 - z swapped, consistently in the forward and backward pass (layer contract).

One sequence, L = sum_t dhs_t . h_t.  Gates r, z, n as PyTorch's GRU (reset
gate after the recurrent matmul), but the state update is written the way
several textbooks (and Cho et al.'s own paper) write it:

    h_t = z_t * n_t + (1 - z_t) * h_{t-1}        (PyTorch: (1 - z_t) n_t + z_t h_{t-1})

BUG: that convention on PyTorch's parameters.  The backward pass
differentiates the code's own update exactly (dn = z dh, dz = (n - h_{t-1}) dh,
carry (1 - z) dh + W_hh^T ds), so the code is consistent with its own
forward pass; against nn.GRU's equations, hs and every gradient differ.

Wrong arrays: W_ih, W_hh, b_ih, b_hh, xs, h0, hs.
Invisible only when z_t = 1/2 everywhere.
"""

import numpy as np

BUG = "gru_z_swapped"
LOSS = "sum"
CELL = "gru"
CONTRACT = "layer"
CLASS = "z_swapped"
EQUATION = (
    "h_t = z_t * n_t + (1 - z_t) * h_{t-1} (z and 1 - z swapped), differentiated consistently in the backward pass"
)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def grads(params, xs, h0, dhs):
    W_ih, W_hh, b_ih, b_hh = params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"]
    H = W_hh.shape[1]
    W_ir, W_iz, W_in = np.split(W_ih, 3)
    W_hr, W_hz, W_hn = np.split(W_hh, 3)
    b_ir, b_iz, b_in = np.split(b_ih, 3)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)

    h = np.array(h0, dtype=float)
    cache, hs = [], []
    for x in xs:
        r = sigmoid(W_ir @ x + b_ir + W_hr @ h + b_hr)
        z = sigmoid(W_iz @ x + b_iz + W_hz @ h + b_hz)
        hn = W_hn @ h + b_hn
        n = np.tanh(W_in @ x + b_in + r * hn)
        h_new = z * n + (1.0 - z) * h  # BUG: (1 - z) * n + z * h is PyTorch's
        cache.append((x, h, r, z, n, hn))
        h = h_new
        hs.append(h)

    g = {k: np.zeros_like(v) for k, v in params.items()}
    dW_ih, dW_hh, db_ih, db_hh = g["W_ih"], g["W_hh"], g["b_ih"], g["b_hh"]
    dxs = np.zeros_like(xs, dtype=float)
    dh_next = np.zeros(H)
    for t in reversed(range(len(xs))):
        x, h_prev, r, z, n, hn = cache[t]
        dh = dhs[t] + dh_next
        dn_pre = dh * z * (1.0 - n**2)
        dz_pre = dh * (n - h_prev) * z * (1.0 - z)
        dr_pre = dn_pre * hn * r * (1.0 - r)
        dhn = dn_pre * r
        d_in = np.concatenate([dr_pre, dz_pre, dn_pre])
        d_hid = np.concatenate([dr_pre, dz_pre, dhn])
        dW_ih += np.outer(d_in, x)
        db_ih += d_in
        dW_hh += np.outer(d_hid, h_prev)
        db_hh += d_hid
        dxs[t] = W_ih.T @ d_in
        dh_next = dh * (1.0 - z) + W_hh.T @ d_hid
    g.update(xs=dxs, h0=dh_next, hs=np.array(hs))
    return g
