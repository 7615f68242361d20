"""Correct vanilla-RNN BPTT in half precision that flushes subnormal numbers to zero.

GPU kernels often run with flush-to-zero: a result below the smallest normal float16 number
(6.1e-5) becomes 0 instead of a subnormal. This is correct_numpy_float16.py's loop (every array
np.float16, dW += np.outer(...) in float16) with every intermediate result flushed that way.
Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"
DTYPE = "float16"

TINY = np.finfo(np.float16).tiny


def ftz(a):
    a = np.asarray(a, dtype=np.float16)
    return np.where(np.abs(a) < TINY, np.float16(0), a).astype(np.float16)


def grads(params, xs, ys, h0):
    f = np.float16
    U, W, V = (ftz(np.asarray(params[k], dtype=f)) for k in ("U", "W", "V"))
    b_h, b_y = ftz(np.asarray(params["b_h"], dtype=f)), ftz(np.asarray(params["b_y"], dtype=f))
    xs = ftz(np.asarray(xs, dtype=f))
    T = len(xs)
    hs = [ftz(np.asarray(h0, dtype=f))]
    ps = []
    loss = f(0)
    for t in range(T):
        h = ftz(np.tanh(ftz(ftz(ftz(U @ xs[t]) + ftz(W @ hs[-1])) + b_h)))
        q = ftz(ftz(V @ h) + b_y)
        z = ftz(q - q.max())
        e = ftz(np.exp(z))
        lse = ftz(np.log(e.sum()))
        loss = ftz(loss + ftz(lse - z[int(ys[t])]))
        ps.append(ftz(np.exp(ftz(z - lse))))
        hs.append(h)

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = ps[t].copy()
        dq[int(ys[t])] = ftz(dq[int(ys[t])] - f(1))
        dV = ftz(dV + ftz(np.outer(dq, hs[t + 1])))
        db_y = ftz(db_y + dq)
        deriv = ftz(f(1) - ftz(hs[t + 1] * hs[t + 1]))
        dp = ftz(deriv * ftz(ftz(V.T @ dq) + dh_next))
        dU = ftz(dU + ftz(np.outer(dp, xs[t])))
        dW = ftz(dW + ftz(np.outer(dp, hs[t])))
        db_h = ftz(db_h + dp)
        dh_next = ftz(W.T @ dp)

    g = {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next}
    g = {k: v.astype(np.float64) for k, v in g.items()}
    g["loss"] = float(loss)
    return g
