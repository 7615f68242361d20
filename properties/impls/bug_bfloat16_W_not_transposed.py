"""Buggy vanilla-RNN BPTT in bfloat16: W not transposed.

As correct_numpy_bfloat16.py (every array ml_dtypes.bfloat16, accumulators
too). BUG: the recurrent error is carried back as dh_next = W @ dp instead of
W.T @ dp, so dU, dW, db_h and dh0 are wrong unless W is symmetric.  dV, db_y
and the loss are right.  Sum loss.  (A bfloat16 verdict's tolerances are wide,
docs/error-model.md; structural mistakes like this one must still be caught.)
"""

import numpy as np
from ml_dtypes import bfloat16

BUG = "W_not_transposed"
LOSS = "sum"
DTYPE = "bfloat16"


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
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = ps[t].copy()
        dq[int(ys[t])] -= one
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = (one - hs[t + 1] * hs[t + 1]) * (V.T.dot(dq) + dh_next)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.dot(dp)  # BUG: should be W.T.dot(dp)

    g = {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next}
    g = {k: v.astype(np.float64) for k, v in g.items()}
    g["loss"] = float(loss)
    return g
