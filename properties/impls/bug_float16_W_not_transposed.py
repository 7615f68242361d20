"""Buggy vanilla-RNN BPTT in half precision: W not transposed.

Everything is np.float16 (as correct_numpy_float16.py), plain loop style.
BUG: the recurrent error is carried back as dh_next = W @ dp instead of
W.T @ dp, so dU, dW, db_h and dh0 are wrong unless W is symmetric (for
T = 1 only dh0 is wrong).  dV, db_y and the loss are right.  Sum loss.
"""

import numpy as np

BUG = "W_not_transposed"
LOSS = "sum"
DTYPE = "float16"


def grads(params, xs, ys, h0):
    f = np.float16
    U, W, V = (np.asarray(params[k], dtype=f) for k in ("U", "W", "V"))
    b_h, b_y = np.asarray(params["b_h"], dtype=f), np.asarray(params["b_y"], dtype=f)
    xs = np.asarray(xs, dtype=f)
    T = len(xs)
    hs = [np.asarray(h0, dtype=f)]
    ps = []
    loss = f(0)
    for t in range(T):
        h = np.tanh(U @ xs[t] + W @ hs[-1] + b_h)
        q = V @ h + b_y
        z = q - q.max()
        lse = np.log(np.exp(z).sum())
        loss = loss + (lse - z[int(ys[t])])
        ps.append(np.exp(z - lse))
        hs.append(h)

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = ps[t].copy()
        dq[int(ys[t])] -= f(1)
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = (f(1) - hs[t + 1] * hs[t + 1]) * (V.T @ dq + dh_next)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W @ dp  # BUG: should be W.T @ dp

    g = {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next}
    g = {k: v.astype(np.float64) for k, v in g.items()}
    g["loss"] = float(loss)
    return g
