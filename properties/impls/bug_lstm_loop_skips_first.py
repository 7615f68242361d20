"""Buggy LSTM layer: the backward loop stops one step early (layer contract).

One sequence, L = sum_t dhs_t . h_t, PyTorch's LSTM, vectorised gates.

BUG: the backward loop is `for t in range(T - 1, 0, -1)`, so step 1 (index 0)
is never visited:

    every sum runs over t = T..2 (dW_ih, dW_hh, db_ih, db_hh miss their t = 1
    terms), dx_1 = 0, and the returned dh0 = W_hh^T dp_2, dc0 = f_2 dc_2 are
    the carries INTO step 1 (dh_1, dc_1 without dhs_1), not out of it

For T = 1 the loop is empty and every gradient is zero.  hs are right.

Wrong arrays: W_ih, W_hh, b_ih, b_hh, xs (row 1), h0, c0.  Never invisible.
"""

import numpy as np

BUG = "lstm_loop_skips_first"
LOSS = "sum"
CELL = "lstm"
CONTRACT = "layer"
CLASS = "loop_bound"
EQUATION = (
    "the backward loop runs t = T..2: every sum misses its t = 1 term, dx_1 = 0, and dh0 = W_hh^T dp_2, "
    "dc0 = f_2 dc_2 (the carries into step 1)"
)


def grads(params, xs, h0, c0, dhs):
    W_ih, W_hh, b_ih, b_hh = params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"]
    T, _D = xs.shape
    H = W_hh.shape[1]
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))
    hs = np.zeros((T + 1, H))
    hs[0] = h0
    cs = np.zeros((T + 1, H))
    cs[0] = c0
    ifgo = np.zeros((T, 4 * H))
    pre_x = xs @ W_ih.T + b_ih + b_hh
    for t in range(T):
        a = pre_x[t] + W_hh @ hs[t]
        ifgo[t] = np.concatenate([sig(a[: 2 * H]), np.tanh(a[2 * H : 3 * H]), sig(a[3 * H :])])
        i, f, g, o = np.split(ifgo[t], 4)
        cs[t + 1] = f * cs[t] + i * g
        hs[t + 1] = o * np.tanh(cs[t + 1])

    da = np.zeros((T, 4 * H))
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    for t in range(T - 1, 0, -1):  # BUG: range(T - 1, -1, -1) is meant
        i, f, g, o = np.split(ifgo[t], 4)
        tc = np.tanh(cs[t + 1])
        dh = dhs[t] + dh_next
        dc = dc_next + dh * o * (1 - tc * tc)
        da[t] = np.concatenate(
            [dc * g * i * (1 - i), dc * cs[t] * f * (1 - f), dc * i * (1 - g * g), dh * tc * o * (1 - o)]
        )
        dh_next = W_hh.T @ da[t]
        dc_next = f * dc
    return {
        "W_ih": da.T @ xs,
        "W_hh": da.T @ hs[:-1],
        "b_ih": da.sum(0),
        "b_hh": da.sum(0),
        "xs": da @ W_ih,
        "h0": dh_next,
        "c0": dc_next,
        "hs": hs[1:],
    }
