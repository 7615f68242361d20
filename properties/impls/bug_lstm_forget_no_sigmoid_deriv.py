"""Buggy LSTM gradients: the forget gate's sigmoid derivative is missing (batch contract, batch mean).

A vectorised numpy LSTM over a batch (PyTorch's LSTM, gates i, f, g, o;
row-vector form p = x W_ih^T + h W_hh^T + b_ih + b_hh), per-sequence loss
sum_t E_t, averaged over the N sequences (BATCH_LOSS "mean").

BUG: the forget gate's pre-activation gradient is taken as

    dp^f_t = c_{t-1} * dc_t        (the factor f_t (1 - f_t) is missing)

while the other three gates keep their sigma'/tanh'.  The forward pass, the
loss, dV and db_y are right.  The f rows of dW_ih, dW_hh, db_ih, db_hh are
wrong directly; through W_hh^T dp every earlier step, the other rows, dh0
and (for T >= 2) dc0 are wrong too.

Wrong arrays: W_ih, W_hh, b_ih, b_hh, h0, c0 (c0 only for T >= 2).
Invisible only when every c_{t-1} = 0 (c0 = 0 and T = 1).
"""

import numpy as np

BUG = "lstm_forget_no_sigmoid_deriv"
LOSS = "sum"
CELL = "lstm"
CONTRACT = "batch"
BATCH_LOSS = "mean"
CLASS = "forget_derivative"
EQUATION = "dp^f_t = c_{t-1} * dc_t: the forget gate's sigmoid derivative f_t (1 - f_t) is missing"


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def grads(params, xs, ys, h0, c0):
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    b = params["b_ih"] + params["b_hh"]
    V, b_y = params["V"], params["b_y"]
    N, T, _D = xs.shape
    H = W_hh.shape[1]
    K = V.shape[0]

    h = np.zeros((T + 1, N, H))
    c = np.zeros((T + 1, N, H))
    h[0], c[0] = h0, c0
    Ig, Fg, Gg, Og, TC = (np.zeros((T, N, H)) for _ in range(5))
    probs = np.zeros((T, N, K))
    rows = np.arange(N)
    loss = 0.0
    for t in range(T):
        p = xs[:, t] @ W_ih.T + h[t] @ W_hh.T + b  # (N, 4H)
        Ig[t] = _sigmoid(p[:, :H])
        Fg[t] = _sigmoid(p[:, H : 2 * H])
        Gg[t] = np.tanh(p[:, 2 * H : 3 * H])
        Og[t] = _sigmoid(p[:, 3 * H :])
        c[t + 1] = Fg[t] * c[t] + Ig[t] * Gg[t]
        TC[t] = np.tanh(c[t + 1])
        h[t + 1] = Og[t] * TC[t]
        q = h[t + 1] @ V.T + b_y
        q = q - q.max(axis=1, keepdims=True)
        logp = q - np.log(np.exp(q).sum(axis=1, keepdims=True))
        loss -= logp[rows, ys[:, t]].sum()
        probs[t] = np.exp(logp)
    loss /= N

    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(4 * H)
    dV, db_y = np.zeros_like(V), np.zeros_like(b_y)
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[rows, ys[:, t]] -= 1.0
        dq /= N
        dV += dq.T @ h[t + 1]
        db_y += dq.sum(axis=0)
        dh = dq @ V + dh_next
        dc = dc_next + dh * Og[t] * (1.0 - TC[t] ** 2)
        dpi = dc * Gg[t] * Ig[t] * (1.0 - Ig[t])
        dpf = dc * c[t]  # BUG: * Fg[t] * (1.0 - Fg[t]) is missing
        dpg = dc * Ig[t] * (1.0 - Gg[t] ** 2)
        dpo = dh * TC[t] * Og[t] * (1.0 - Og[t])
        dp = np.hstack([dpi, dpf, dpg, dpo])
        dW_ih += dp.T @ xs[:, t]
        dW_hh += dp.T @ h[t]
        db += dp.sum(axis=0)
        dh_next = dp @ W_hh
        dc_next = dc * Fg[t]

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
