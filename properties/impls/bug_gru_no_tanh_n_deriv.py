"""Buggy GRU gradients: the candidate's tanh derivative (1 - n_t^2) is missing.

One sequence, sum loss, PyTorch's GRU; Coursera-like per-step caches with the
gates as separate matrices (W_ir, W_iz, W_in, ... as views of W_ih / W_hh).

BUG: the candidate's pre-activation gradient is taken as

    dp^n_t = (1 - z_t) * dh_t          (the factor (1 - n_t^2) is missing)

so the n rows of every recurrent gradient, the r rows (dp^r = r(1 - r) s^n dp^n)
and, through the carry W_hh^T ds, every earlier step are wrong.  The forward
pass, the loss, dV and db_y are right.

Wrong arrays: W_ih, W_hh, b_ih, b_hh, h0.  Never invisible in practice.
"""

import numpy as np

BUG = "gru_no_tanh_n_deriv"
LOSS = "sum"
CELL = "gru"
CLASS = "factor_dropped"
EQUATION = "dp^n_t = (1 - z_t) * dh_t: the candidate's tanh derivative (1 - n_t^2) is missing"


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def gru_cell_forward(x, h_prev, p):
    r = sigmoid(p["W_ir"] @ x + p["b_ir"] + p["W_hr"] @ h_prev + p["b_hr"])
    z = sigmoid(p["W_iz"] @ x + p["b_iz"] + p["W_hz"] @ h_prev + p["b_hz"])
    hn = p["W_hn"] @ h_prev + p["b_hn"]
    n = np.tanh(p["W_in"] @ x + p["b_in"] + r * hn)
    h = (1 - z) * n + z * h_prev
    return h, (x, h_prev, r, z, n, hn)


def gru_cell_backward(dh, cache, p):
    x, h_prev, r, z, n, hn = cache
    dn = dh * (1 - z)  # BUG: * (1 - n ** 2) is missing
    dz = dh * (h_prev - n) * z * (1 - z)
    dhn = dn * r
    dr = dn * hn * r * (1 - r)
    d = {
        "W_ir": np.outer(dr, x),
        "W_iz": np.outer(dz, x),
        "W_in": np.outer(dn, x),
        "W_hr": np.outer(dr, h_prev),
        "W_hz": np.outer(dz, h_prev),
        "W_hn": np.outer(dhn, h_prev),
        "b_ir": dr,
        "b_iz": dz,
        "b_in": dn,
        "b_hr": dr,
        "b_hz": dz,
        "b_hn": dhn,
    }
    dh_prev = dh * z + p["W_hr"].T @ dr + p["W_hz"].T @ dz + p["W_hn"].T @ dhn
    return d, dh_prev


def grads(params, xs, ys, h0):
    p = {}
    for big, names in (
        ("W_ih", ("W_ir", "W_iz", "W_in")),
        ("W_hh", ("W_hr", "W_hz", "W_hn")),
        ("b_ih", ("b_ir", "b_iz", "b_in")),
        ("b_hh", ("b_hr", "b_hz", "b_hn")),
    ):
        p.update(zip(names, np.split(params[big], 3), strict=False))
    V, b_y = params["V"], params["b_y"]

    h, caches, hs, probs, loss = h0, [], [], [], 0.0
    for t, x in enumerate(xs):
        h, cache = gru_cell_forward(x, h, p)
        caches.append(cache)
        hs.append(h)
        q = V @ h + b_y
        e = np.exp(q - np.max(q))
        probs.append(e / np.sum(e))
        loss += -np.log(probs[-1][ys[t]])

    total = {k: np.zeros_like(v) for k, v in p.items()}
    dV, db_y = np.zeros_like(V), np.zeros_like(b_y)
    dh_next = np.zeros_like(h0, dtype=float)
    for t in reversed(range(len(xs))):
        dq = probs[t].copy()
        dq[ys[t]] -= 1
        dV += np.outer(dq, hs[t])
        db_y += dq
        d, dh_next = gru_cell_backward(V.T @ dq + dh_next, caches[t], p)
        for k in total:
            total[k] += d[k]
    return {
        "W_ih": np.concatenate([total["W_ir"], total["W_iz"], total["W_in"]]),
        "W_hh": np.concatenate([total["W_hr"], total["W_hz"], total["W_hn"]]),
        "b_ih": np.concatenate([total["b_ir"], total["b_iz"], total["b_in"]]),
        "b_hh": np.concatenate([total["b_hr"], total["b_hz"], total["b_hn"]]),
        "V": dV,
        "b_y": db_y,
        "h0": dh_next,
        "loss": float(loss),
    }
