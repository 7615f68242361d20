"""Correct LSTM gradients with all arithmetic in float32 (numpy), one sequence.

Every parameter and input is cast to np.float32 on entry and every
intermediate stays float32 (np.float32 scalars for constants); the results
are returned as float64 arrays.  PyTorch's LSTM (gates i, f, g, o), sum loss.
The gates of all steps are kept in (T, 4H) arrays.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "lstm"
DTYPE = "float32"

f32 = np.float32
ONE = f32(1.0)


def sigmoid(x):
    return ONE / (ONE + np.exp(-x))


def grads(params, xs, ys, h0, c0):
    W_ih, W_hh, b_ih, b_hh, V, b_y = (np.asarray(params[k], f32) for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "b_y"))
    xs = np.asarray(xs, f32)
    T, H = xs.shape[0], W_hh.shape[1]
    hs = np.zeros((T + 1, H), f32)
    cs = np.zeros((T + 1, H), f32)
    hs[0], cs[0] = np.asarray(h0, f32), np.asarray(c0, f32)
    gates = np.zeros((T, 4 * H), f32)  # activated: i, f, g, o
    tcs = np.zeros((T, H), f32)
    yh = np.zeros((T, V.shape[0]), f32)
    loss = f32(0.0)
    for t in range(T):
        p = W_ih @ xs[t] + b_ih + W_hh @ hs[t] + b_hh
        gates[t, : 2 * H] = sigmoid(p[: 2 * H])
        gates[t, 2 * H : 3 * H] = np.tanh(p[2 * H : 3 * H])
        gates[t, 3 * H :] = sigmoid(p[3 * H :])
        i, f, g, o = np.split(gates[t], 4)
        cs[t + 1] = f * cs[t] + i * g
        tcs[t] = np.tanh(cs[t + 1])
        hs[t + 1] = o * tcs[t]
        q = V @ hs[t + 1] + b_y
        q = q - q.max()
        e = np.exp(q)
        yh[t] = e / e.sum()
        loss = loss - (q[ys[t]] - np.log(e.sum()))

    dy = yh.copy()
    dy[np.arange(T), ys] -= ONE
    dV = dy.T @ hs[1:]
    db_y = dy.sum(axis=0)
    dP = np.zeros((T, 4 * H), f32)
    dh_next = np.zeros(H, f32)
    dc_next = np.zeros(H, f32)
    for t in range(T - 1, -1, -1):
        i, f, g, o = np.split(gates[t], 4)
        dh = V.T @ dy[t] + dh_next
        dc = dc_next + dh * o * (ONE - tcs[t] * tcs[t])
        dP[t] = np.concatenate(
            [dc * g * i * (ONE - i), dc * cs[t] * f * (ONE - f), dc * i * (ONE - g * g), dh * tcs[t] * o * (ONE - o)]
        )
        dh_next = W_hh.T @ dP[t]
        dc_next = dc * f
    db = dP.sum(axis=0)
    assert dP.dtype == np.float32 and dh_next.dtype == np.float32
    out = {
        "W_ih": dP.T @ xs,
        "W_hh": dP.T @ hs[:-1],
        "b_ih": db,
        "b_hh": db,
        "V": dV,
        "b_y": db_y,
        "h0": dh_next,
        "c0": dc_next,
    }
    out = {k: v.astype(np.float64) for k, v in out.items()}
    out["loss"] = float(loss)
    return out
