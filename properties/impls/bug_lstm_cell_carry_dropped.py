"""Buggy LSTM layer: the cell state's gradient is not carried back (layer contract).

One sequence, L = sum_t dhs_t . h_t; PyTorch's LSTM (gates i, f, g, o).  Step
functions with caches; the backward loop carries dh through W_hh^T dp and is
meant to carry dc through the forget gate.

BUG: lstm_step_backward ignores the incoming dnext_c, so at every step

    dc_t = o_t (1 - tanh^2 c_t) dh_t        (the carry f_{t+1} dc_{t+1} is dropped)

The step still returns dprev_c = f_t dc_t, so "c0" = f_1 dc_1 is computed from
the truncated dc_1.  hs are right.  Everything that depends on dc_t for t < T
is wrong: W_ih, W_hh, b_ih, b_hh, xs, h0, c0.

Invisible when T = 1 (there is nothing to carry).
"""

import numpy as np

BUG = "lstm_cell_carry_dropped"
LOSS = "sum"
CELL = "lstm"
CONTRACT = "layer"
CLASS = "cell_carry_dropped"
EQUATION = (
    "dc_t = o_t (1 - tanh^2 c_t) dh_t: the carry f_{t+1} dc_{t+1} from step t+1 is dropped "
    "(dc0 = f_1 dc_1 of that dc_1)"
)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_step_forward(x, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[0]
    gates = W_ih @ x + b_ih + W_hh @ h_prev + b_hh
    i = sigmoid(gates[:H])
    f = sigmoid(gates[H : 2 * H])
    g = np.tanh(gates[2 * H : 3 * H])
    o = sigmoid(gates[3 * H :])
    c = f * c_prev + i * g
    h = o * np.tanh(c)
    return h, c, (x, h_prev, c_prev, i, f, g, o, c)


def lstm_step_backward(dnext_h, dnext_c, cache, W_ih, W_hh):
    _x, h_prev, c_prev, i, f, g, o, c = cache
    tc = np.tanh(c)
    dc = dnext_h * o * (1 - tc**2)  # BUG: dnext_c + ... is meant
    dgates = np.concatenate(
        [
            dc * g * i * (1 - i),
            dc * c_prev * f * (1 - f),
            dc * i * (1 - g**2),
            dnext_h * tc * o * (1 - o),
        ]
    )
    return W_ih.T @ dgates, W_hh.T @ dgates, f * dc, dgates, h_prev


def grads(params, xs, h0, c0, dhs):
    W_ih, W_hh, b_ih, b_hh = params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"]
    h, c = np.asarray(h0, float), np.asarray(c0, float)
    hs, caches = [], []
    for x in xs:
        h, c, cache = lstm_step_forward(x, h, c, W_ih, W_hh, b_ih, b_hh)
        hs.append(h)
        caches.append(cache)

    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros_like(b_ih)
    dxs = np.zeros_like(xs, dtype=float)
    dh_prev, dc_prev = np.zeros_like(h), np.zeros_like(c)
    for t in reversed(range(len(xs))):
        dxs[t], dh_prev, dc_prev, dgates, h_before = lstm_step_backward(
            dhs[t] + dh_prev, dc_prev, caches[t], W_ih, W_hh
        )
        dW_ih += np.outer(dgates, xs[t])
        dW_hh += np.outer(dgates, h_before)
        db += dgates
    return {
        "W_ih": dW_ih,
        "W_hh": dW_hh,
        "b_ih": db,
        "b_hh": db.copy(),
        "xs": dxs,
        "h0": dh_prev,
        "c0": dc_prev,
        "hs": np.array(hs),
    }
