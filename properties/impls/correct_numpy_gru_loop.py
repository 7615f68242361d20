"""Correct GRU gradients (PyTorch's GRU), hand-written numpy, one sequence.

a_t = W_ih x_t + b_ih, s_t = W_hh h_{t-1} + b_hh (blocks r, z, n);
r = sigmoid(a_r + s_r), z = sigmoid(a_z + s_z), n = tanh(a_n + r * s_n),
h_t = (1 - z) n + z h_{t-1}.  The reset gate multiplies the recurrent part of
n's pre-activation (b_hn included) AFTER the matmul, so the backward pass
keeps two pre-activation gradients: da (input side) and ds (recurrent side),
which differ in the n block by the factor r.  Per-step cache tuples.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "gru"


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _step(x, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[0]
    a = W_ih @ x + b_ih
    s = W_hh @ h_prev + b_hh
    r = _sigmoid(a[:H] + s[:H])
    z = _sigmoid(a[H : 2 * H] + s[H : 2 * H])
    n = np.tanh(a[2 * H :] + r * s[2 * H :])
    h = (1.0 - z) * n + z * h_prev
    return h, (x, h_prev, r, z, n, s[2 * H :])


def _step_back(dh, cache, W_hh):
    _x, h_prev, r, z, n, s_n = cache
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    dpn = dn * (1.0 - n * n)
    dpz = dz * z * (1.0 - z)
    dpr = dpn * s_n * r * (1.0 - r)
    da = np.concatenate([dpr, dpz, dpn])
    ds = np.concatenate([dpr, dpz, r * dpn])
    dh_prev = z * dh + W_hh.T @ ds
    return da, ds, dh_prev


def grads(params, xs, ys, h0):
    W_ih, W_hh, b_ih, b_hh = (params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh"))
    V, b_y = params["V"], params["b_y"]
    h = np.asarray(h0, dtype=np.float64)
    caches, hs, probs = [], [], []
    loss = 0.0
    for t, x in enumerate(xs):
        h, cache = _step(x, h, W_ih, W_hh, b_ih, b_hh)
        caches.append(cache)
        hs.append(h)
        q = V @ h + b_y
        q = q - q.max()
        logp = q - np.log(np.exp(q).sum())
        loss -= logp[ys[t]]
        probs.append(np.exp(logp))

    g = {k: np.zeros_like(params[k]) for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "b_y")}
    dh_carry = np.zeros_like(h)
    for t in range(len(xs) - 1, -1, -1):
        dq = probs[t].copy()
        dq[ys[t]] -= 1.0
        g["V"] += np.outer(dq, hs[t])
        g["b_y"] += dq
        da, ds, dh_carry = _step_back(V.T @ dq + dh_carry, caches[t], W_hh)
        g["W_ih"] += np.outer(da, caches[t][0])
        g["b_ih"] += da
        g["W_hh"] += np.outer(ds, caches[t][1])
        g["b_hh"] += ds
    g["h0"] = dh_carry
    g["loss"] = float(loss)
    return g
