"""Buggy vanilla-RNN BPTT in bfloat16: truncated to 3 steps.

As correct_numpy_bfloat16.py (every array ml_dtypes.bfloat16). BUG: truncated
BPTT: the error of each output step t is pushed back through at most k = 3
steps (the terms of steps t, t-1, t-2).  dU, dW, db_h and dh0 are wrong for
T > 3; dV, db_y and the loss are right.  Sum loss.
"""

import numpy as np
from ml_dtypes import bfloat16

BUG = "truncated_k3"
LOSS = "sum"
DTYPE = "bfloat16"
K_TRUNC = 3


def grads(params, xs, ys, h0):
    bf = bfloat16
    U, W, V = (np.asarray(params[k]).astype(bf) for k in ("U", "W", "V"))
    b_h, b_y = np.asarray(params["b_h"]).astype(bf), np.asarray(params["b_y"]).astype(bf)
    xs = np.asarray(xs).astype(bf)
    one = bf(1)
    T = len(xs)
    hs = [np.asarray(h0).astype(bf)]
    ps = []
    loss = bf(0)
    for t in range(T):
        h = np.tanh(U.dot(xs[t]) + W.dot(hs[-1]) + b_h)
        q = V.dot(h) + b_y
        z = q - q.max()
        lse = np.log(np.exp(z).sum())
        loss = loss + (lse - z[int(ys[t])])
        ps.append(np.exp(z - lse))
        hs.append(h)

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh0 = np.zeros_like(hs[0])
    for t in range(T):  # BUG: each step's error goes back K_TRUNC steps at most
        dq = ps[t].copy()
        dq[int(ys[t])] -= one
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dh = V.T.dot(dq)
        for s in range(t, max(-1, t - K_TRUNC), -1):
            dp = (one - hs[s + 1] * hs[s + 1]) * dh
            dU += np.outer(dp, xs[s])
            dW += np.outer(dp, hs[s])
            db_h += dp
            dh = W.T.dot(dp)
            if s == 0:
                dh0 += dh

    g = {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh0}
    g = {k: v.astype(np.float64) for k, v in g.items()}
    g["loss"] = float(loss)
    return g
