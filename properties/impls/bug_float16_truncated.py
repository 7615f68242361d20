"""Buggy vanilla-RNN BPTT in half precision: truncated to 3 steps.

Everything is np.float16 (as correct_numpy_float16.py).  BUG: truncated
BPTT.  The error of each output step t is pushed back through at most k = 3
steps (the terms of steps t, t-1, t-2); whatever would reach step t-3 or
earlier is dropped.  dU, dW, db_h and dh0 are therefore wrong for T > 3
(exact up to float16 round-off for T <= 3); dh0 only receives the errors of
steps 1..3.  dV, db_y and the loss are right.  Sum loss.
"""

import numpy as np

BUG = "truncated_k3"
LOSS = "sum"
DTYPE = "float16"
K_TRUNC = 3


def grads(params, xs, ys, h0):
    f = np.float16
    U, W, V = (np.asarray(params[k], dtype=f) for k in ("U", "W", "V"))
    b_h, b_y = np.asarray(params["b_h"], dtype=f), np.asarray(params["b_y"], dtype=f)
    xs = np.asarray(xs, dtype=f)
    T = len(xs)
    hs = {-1: np.asarray(h0, dtype=f)}
    ps = {}
    loss = f(0)
    for t in range(T):
        hs[t] = np.tanh(U @ xs[t] + W @ hs[t - 1] + b_h)
        q = V @ hs[t] + b_y
        e = np.exp(q - q.max())
        ps[t] = e / e.sum()
        loss = loss - np.log(ps[t][int(ys[t])])

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y, dh0 = np.zeros_like(b_h), np.zeros_like(b_y), np.zeros_like(hs[-1])
    for t in range(T):
        dq = ps[t].copy()
        dq[int(ys[t])] -= f(1)
        dV += np.outer(dq, hs[t])
        db_y += dq
        delta = (f(1) - hs[t] ** 2) * (V.T @ dq)
        for s in range(t, max(-1, t - K_TRUNC), -1):  # BUG: only K_TRUNC steps back
            dU += np.outer(delta, xs[s])
            dW += np.outer(delta, hs[s - 1])
            db_h += delta
            if s == 0:
                dh0 += W.T @ delta
            else:
                delta = (f(1) - hs[s - 1] ** 2) * (W.T @ delta)

    g = {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh0}
    g = {k: v.astype(np.float64) for k, v in g.items()}
    g["loss"] = float(loss)
    return g
