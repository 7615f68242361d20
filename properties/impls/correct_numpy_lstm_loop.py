"""Correct LSTM gradients, hand-written numpy, one sequence, plain per-step loop.

PyTorch's LSTM: p_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh split into blocks
i, f, g, o (H rows each); c_t = f_t c_{t-1} + i_t g_t, h_t = o_t tanh(c_t);
q_t = V h_t + b_y, E = sum_t -log softmax(q_t)[y_t].  The forward loop keeps
lists of the states and gates; the backward loop carries dh_next (through
W_hh^T) and dc_next (through f_t).  b_ih and b_hh enter only through their
sum, so both get sum_t dp_t.  Returns dE/dh0 and dE/dc0.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "lstm"


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def grads(params, xs, ys, h0, c0):
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    b = params["b_ih"] + params["b_hh"]
    V, b_y = params["V"], params["b_y"]
    H = W_hh.shape[1]
    T = len(xs)

    h = {-1: np.asarray(h0, dtype=np.float64)}
    c = {-1: np.asarray(c0, dtype=np.float64)}
    i, f, g, o, tc, yhat = {}, {}, {}, {}, {}, {}
    loss = 0.0
    for t in range(T):
        p = W_ih @ xs[t] + W_hh @ h[t - 1] + b
        i[t] = sigmoid(p[0:H])
        f[t] = sigmoid(p[H : 2 * H])
        g[t] = np.tanh(p[2 * H : 3 * H])
        o[t] = sigmoid(p[3 * H : 4 * H])
        c[t] = f[t] * c[t - 1] + i[t] * g[t]
        tc[t] = np.tanh(c[t])
        h[t] = o[t] * tc[t]
        q = V @ h[t] + b_y
        e = np.exp(q - q.max())
        yhat[t] = e / e.sum()
        loss += -np.log(yhat[t][ys[t]])

    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(4 * H)
    dV, db_y = np.zeros_like(V), np.zeros_like(b_y)
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    for t in reversed(range(T)):
        dq = yhat[t].copy()
        dq[ys[t]] -= 1.0
        dV += np.outer(dq, h[t])
        db_y += dq
        dh = V.T @ dq + dh_next
        dc = dc_next + dh * o[t] * (1.0 - tc[t] ** 2)
        dpi = dc * g[t] * i[t] * (1.0 - i[t])
        dpf = dc * c[t - 1] * f[t] * (1.0 - f[t])
        dpg = dc * i[t] * (1.0 - g[t] ** 2)
        dpo = dh * tc[t] * o[t] * (1.0 - o[t])
        dp = np.concatenate([dpi, dpf, dpg, dpo])
        dW_ih += np.outer(dp, xs[t])
        dW_hh += np.outer(dp, h[t - 1])
        db += dp
        dh_next = W_hh.T @ dp
        dc_next = f[t] * dc

    return {
        "W_ih": dW_ih,
        "W_hh": dW_hh,
        "b_ih": db,
        "b_hh": db.copy(),
        "V": dV,
        "b_y": db_y,
        "h0": dh_next,
        "c0": dc_next,
        "loss": float(loss),
    }
