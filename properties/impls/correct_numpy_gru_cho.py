"""Correct GRU gradients for Cho et al. (2014)'s GRU, hand-written numpy, one sequence.

The reset gate acts BEFORE the recurrent matmul of the candidate:
r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z likewise,
n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), h_t = (1 - z) n + z h_{t-1}.
Parameters in PyTorch's layout (W_ih (3H, D), W_hh (3H, H), blocks r, z, n).
Both biases enter every gate's pre-activation as a plain sum, so
db_ih = db_hh; the n rows of dW_hh take (r * h_{t-1})^T.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "gru_cho"


def grads(params, xs, ys, h0):
    W_ih, W_hh, b_ih, b_hh = params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"]
    V, b_y = params["V"], params["b_y"]
    H = W_hh.shape[1]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H : 2 * H], W_hh[2 * H :]
    b = b_ih + b_hh
    T = xs.shape[0]

    hs = np.zeros((T + 1, H))
    hs[0] = h0
    R, Z, N, RH = (np.zeros((T, H)) for _ in range(4))
    P = np.zeros((T, V.shape[0]))
    for t in range(T):
        ax = W_ih @ xs[t] + b
        R[t] = 1 / (1 + np.exp(-(ax[:H] + W_hr @ hs[t])))
        Z[t] = 1 / (1 + np.exp(-(ax[H : 2 * H] + W_hz @ hs[t])))
        RH[t] = R[t] * hs[t]
        N[t] = np.tanh(ax[2 * H :] + W_hn @ RH[t])
        hs[t + 1] = (1 - Z[t]) * N[t] + Z[t] * hs[t]
        q = V @ hs[t + 1] + b_y
        e = np.exp(q - np.max(q))
        P[t] = e / np.sum(e)
    loss = -np.sum(np.log(P[np.arange(T), ys]))

    dQ = P.copy()
    dQ[np.arange(T), ys] -= 1
    dV = dQ.T @ hs[1:]
    db_y = dQ.sum(axis=0)
    dW_ih = np.zeros_like(W_ih)
    dW_hh = np.zeros_like(W_hh)
    db = np.zeros(3 * H)
    dh_next = np.zeros(H)
    for t in reversed(range(T)):
        dh = V.T @ dQ[t] + dh_next
        dpn = dh * (1 - Z[t]) * (1 - N[t] ** 2)
        dpz = dh * (hs[t] - N[t]) * Z[t] * (1 - Z[t])
        drh = W_hn.T @ dpn
        dpr = drh * hs[t] * R[t] * (1 - R[t])
        dp = np.concatenate([dpr, dpz, dpn])
        dW_ih += np.outer(dp, xs[t])
        db += dp
        dW_hh[:H] += np.outer(dpr, hs[t])
        dW_hh[H : 2 * H] += np.outer(dpz, hs[t])
        dW_hh[2 * H :] += np.outer(dpn, RH[t])
        dh_next = Z[t] * dh + W_hr.T @ dpr + W_hz.T @ dpz + R[t] * drh

    return {
        "W_ih": dW_ih,
        "W_hh": dW_hh,
        "b_ih": db,
        "b_hh": db.copy(),
        "V": dV,
        "b_y": db_y,
        "h0": dh_next,
        "loss": float(loss),
    }
