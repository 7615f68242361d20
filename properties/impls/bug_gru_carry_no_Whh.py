"""Buggy GRU layer: the recurrent matmul's term is missing from the carry (layer contract).

One sequence, L = sum_t dhs_t . h_t, PyTorch's GRU.  h_{t-1} reaches h_t two
ways: directly (h_t = ... + z_t h_{t-1}) and through the matmul
s_t = W_hh h_{t-1} + b_hh that feeds r, z and n.

BUG: the carry to step t-1 keeps only the direct path:

    dh_{t-1} = dhs_{t-1} + z_t * dh_t          (W_hh^T ds_t is missing)

Each step's own gradients (da_t, ds_t given dh_t) are right; dh0 = z_1 dh_1.

Wrong arrays: W_ih, W_hh, b_ih, b_hh, xs, h0 (for T = 1 only h0).  hs are right.
Never invisible in practice.
"""

import numpy as np

BUG = "gru_carry_no_Whh"
LOSS = "sum"
CELL = "gru"
CONTRACT = "layer"
CLASS = "factor_dropped"
EQUATION = "dh_{t-1} = g_{t-1} + z_t * dh_t: the term W_hh^T ds_t is missing from the carry (dh0 = z_1 dh_1)"


def grads(params, xs, h0, dhs):
    W_ih, W_hh, b_ih, b_hh = params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"]
    T = len(xs)
    H = W_hh.shape[1]
    sig = lambda v: 1 / (1 + np.exp(-v))
    GI = xs @ W_ih.T + b_ih  # (T, 3H)
    h = np.zeros((T + 1, H))
    h[0] = h0
    gates = np.zeros((T, 3, H))  # r, z, n
    s_n = np.zeros((T, H))
    for t in range(T):
        gh = W_hh @ h[t] + b_hh
        r = sig(GI[t, :H] + gh[:H])
        z = sig(GI[t, H : 2 * H] + gh[H : 2 * H])
        s_n[t] = gh[2 * H :]
        n = np.tanh(GI[t, 2 * H :] + r * s_n[t])
        gates[t] = r, z, n
        h[t + 1] = (1 - z) * n + z * h[t]

    dGI = np.zeros((T, 3 * H))
    dGH = np.zeros((T, 3 * H))
    dh = np.zeros(H)
    for t in range(T - 1, -1, -1):
        r, z, n = gates[t]
        dh = dhs[t] + dh
        dpn = (1 - n**2) * (1 - z) * dh
        dpz = z * (1 - z) * (h[t] - n) * dh
        dpr = r * (1 - r) * s_n[t] * dpn
        dGI[t] = np.r_[dpr, dpz, dpn]
        dGH[t] = np.r_[dpr, dpz, r * dpn]
        dh = z * dh  # BUG: + W_hh.T @ dGH[t] is missing
    return {
        "W_ih": dGI.T @ xs,
        "W_hh": dGH.T @ h[:-1],
        "b_ih": dGI.sum(0),
        "b_hh": dGH.sum(0),
        "xs": dGI @ W_ih,
        "h0": dh,
        "hs": h[1:],
    }
