"""Buggy vanilla-RNN BPTT: silently computes in float32.

BUG: every input is cast to float32 and all arithmetic runs in float32;
the results are cast back to float64, so they look like float64 but carry
only single-precision accuracy: relative error ~1e-7 on small well-scaled
problems, ~1e-5 when the logits are near +-1000, worse on long or
ill-conditioned problems.  Unlike correct_float32.py there is no DTYPE
constant: the file implicitly claims float64 accuracy.  Sum loss.
"""

import numpy as np

BUG = "float32"
LOSS = "sum"


def grads(params, xs, ys, h0):
    f = np.float32
    U, W, V = (np.asarray(params[k], dtype=f) for k in ("U", "W", "V"))
    b_h, b_y = (np.asarray(params[k], dtype=f) for k in ("b_h", "b_y"))
    xs = np.asarray(xs, dtype=f)
    T = len(xs)
    hs = [np.asarray(h0, dtype=f)]
    ps = []
    loss = f(0.0)
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
    for t in range(T - 1, -1, -1):
        dq = ps[t].copy()
        dq[int(ys[t])] -= f(1.0)
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = (f(1.0) - hs[t + 1] * hs[t + 1]) * (V.T @ dq + dh_next)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.T @ dp

    d64 = lambda a: np.asarray(a, dtype=np.float64)
    return {
        "U": d64(dU),
        "W": d64(dW),
        "V": d64(dV),
        "b_h": d64(db_h),
        "b_y": d64(db_y),
        "h0": d64(dh_next),
        "loss": float(loss),
    }
