"""Buggy LSTM gradients: dh0 is the adjoint of h_1; W_hh^T dp_1 is never formed for it.

One sequence, sum loss, PyTorch's LSTM.  The backward loop keeps `dh`, the total
gradient reaching h_t (V^T dq_t plus the carry W_hh^T dp_{t+1}); the carry out of
the last iteration, W_hh^T dp_1, is dE/dh0.

BUG: the code returns the loop's last `dh` as "h0":

    dh0 = dh_1 = V^T dq_1 + W_hh^T dp_2      instead of   dh0 = W_hh^T dp_1

i.e. the step-1 backward map (the factor W_hh^T, applied to dp_1) is dropped in
dh0 only.  Every other output (dc0 = f_1 dc_1 included) is right.

Wrong arrays: h0 only.  Never invisible in practice.
"""

import numpy as np

BUG = "lstm_dh0_is_dh1"
LOSS = "sum"
CELL = "lstm"
CLASS = "factor_dropped"
EQUATION = "dh0 = dh_1 = V^T dq_1 + W_hh^T dp_2 (the adjoint of h_1: W_hh^T dp_1 is not formed, in dh0 only)"


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def grads(params, xs, ys, h0, c0):
    W_ih, W_hh, V, b_y = params["W_ih"], params["W_hh"], params["V"], params["b_y"]
    b = params["b_ih"] + params["b_hh"]
    T, H = xs.shape[0], W_hh.shape[1]

    H_ = np.zeros((T + 1, H))
    H_[0] = h0
    C_ = np.zeros((T + 1, H))
    C_[0] = c0
    gates = np.zeros((T, 4, H))
    Y = np.zeros((T, V.shape[0]))
    for t in range(T):
        p = (W_ih @ xs[t] + W_hh @ H_[t] + b).reshape(4, H)
        gates[t] = _sig(p)
        gates[t, 2] = np.tanh(p[2])
        i, f, g, o = gates[t]
        C_[t + 1] = f * C_[t] + i * g
        H_[t + 1] = o * np.tanh(C_[t + 1])
        q = V @ H_[t + 1] + b_y
        Y[t] = np.exp(q - q.max()) / np.exp(q - q.max()).sum()
    loss = -np.log(Y[np.arange(T), ys]).sum()

    dQ = Y.copy()
    dQ[np.arange(T), ys] -= 1
    dP = np.zeros((T, 4, H))
    dh_rec, dc = np.zeros(H), np.zeros(H)
    for t in range(T - 1, -1, -1):
        i, f, g, o = gates[t]
        tc = np.tanh(C_[t + 1])
        dh = V.T @ dQ[t] + dh_rec
        dc = dc + dh * o * (1 - tc**2)
        dP[t] = [dc * g * i * (1 - i), dc * C_[t] * f * (1 - f), dc * i * (1 - g**2), dh * tc * o * (1 - o)]
        dh_rec = W_hh.T @ dP[t].ravel()
        dc = dc * f
    dP = dP.reshape(T, 4 * H)
    return {
        "W_ih": dP.T @ xs,
        "W_hh": dP.T @ H_[:-1],
        "b_ih": dP.sum(0),
        "b_hh": dP.sum(0),
        "V": dQ.T @ H_[1:],
        "b_y": dQ.sum(0),
        "h0": dh,  # BUG: dh_rec (= W_hh^T dp_1) is dE/dh0; dh is dE/dh_1
        "c0": dc,
        "loss": float(loss),
    }
