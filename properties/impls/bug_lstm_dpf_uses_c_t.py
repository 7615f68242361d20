"""Buggy LSTM gradients, batch contract: the forget gate's gradient reads c_t instead of c_{t-1}.

A per-sequence loop over the batch (each sequence through the same hand-written
BPTT, gradients accumulated), BATCH_LOSS "sum"; PyTorch's LSTM.

BUG: with c_t = f_t c_{t-1} + i_t g_t, dE/df_t = dc_t * c_{t-1}; the code uses
the cell state of the same step:

    dp^f_t = f_t (1 - f_t) * c_t * dc_t       (c_t in place of c_{t-1})

The forward pass, loss, dV and db_y are right; the f rows of the weights
directly, and everything back-propagated through W_hh^T dp, are wrong.

Wrong arrays: W_ih, W_hh, b_ih, b_hh, h0, c0 (c0 only for T >= 2).
Never invisible in practice (c_t = c_{t-1} only if i_t g_t = (1 - f_t) c_{t-1}).
"""

import numpy as np

BUG = "lstm_dpf_uses_c_t"
LOSS = "sum"
CELL = "lstm"
CONTRACT = "batch"
BATCH_LOSS = "sum"
CLASS = "index_shift"
EQUATION = "dp^f_t = f_t (1 - f_t) c_t dc_t (c_t in place of c_{t-1})"


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _one_sequence(P, x, y, h0, c0):
    W_ih, W_hh, V, b_y = P["W_ih"], P["W_hh"], P["V"], P["b_y"]
    b = P["b_ih"] + P["b_hh"]
    H = W_hh.shape[1]
    T = len(x)
    h, c = [h0], [c0]
    cache = []
    loss = 0.0
    for t in range(T):
        z = W_ih @ x[t] + W_hh @ h[t] + b
        i, f, o = _sigmoid(z[:H]), _sigmoid(z[H : 2 * H]), _sigmoid(z[3 * H :])
        g = np.tanh(z[2 * H : 3 * H])
        c.append(f * c[t] + i * g)
        h.append(o * np.tanh(c[t + 1]))
        logits = V @ h[t + 1] + b_y
        m = logits.max()
        lse = m + np.log(np.sum(np.exp(logits - m)))
        loss += lse - logits[y[t]]
        cache.append((i, f, g, o, np.exp(logits - lse)))

    out = {k: np.zeros_like(P[k]) for k in ("W_ih", "W_hh", "V", "b_y")}
    db = np.zeros(4 * H)
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    for t in reversed(range(T)):
        i, f, g, o, prob = cache[t]
        dq = prob.copy()
        dq[y[t]] -= 1.0
        out["V"] += np.outer(dq, h[t + 1])
        out["b_y"] += dq
        dh = V.T @ dq + dh_next
        tc = np.tanh(c[t + 1])
        dc = dc_next + dh * o * (1.0 - tc**2)
        dz = np.concatenate(
            [
                dc * g * i * (1.0 - i),
                dc * c[t + 1] * f * (1.0 - f),  # BUG: c[t] (= c_{t-1}) is meant
                dc * i * (1.0 - g**2),
                dh * tc * o * (1.0 - o),
            ]
        )
        out["W_ih"] += np.outer(dz, x[t])
        out["W_hh"] += np.outer(dz, h[t])
        db += dz
        dh_next = W_hh.T @ dz
        dc_next = f * dc
    out["b_ih"], out["b_hh"] = db, db.copy()
    return out, dh_next, dc_next, loss


def grads(params, xs, ys, h0, c0):
    N = xs.shape[0]
    total = None
    dh0, dc0 = np.zeros_like(h0, dtype=float), np.zeros_like(c0, dtype=float)
    loss = 0.0
    for n in range(N):
        g, dh0[n], dc0[n], l_n = _one_sequence(params, xs[n], ys[n], h0[n], c0[n])
        loss += l_n
        total = g if total is None else {k: total[k] + g[k] for k in total}
    total.update(h0=dh0, c0=dc0, loss=float(loss))
    return total
