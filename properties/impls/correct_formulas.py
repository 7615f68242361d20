"""Correct vanilla-RNN BPTT with the elementary functions written out, in any precision.

Where library code calls np.tanh and a log-softmax, this file writes the formulas as some
public code does: tanh(p) = 1 - 2 / (e^{2p} + 1) (the exponential form, safe when e^{2p}
overflows), the softmax as exp(z) / sum exp(z) with z = q - max q and E_t = -log yhat_t[y_t],
tanh' as (1 - h)(1 + h), and the sums over t accumulated forward in time from stored dp_t.
Each of these is accurate to a few units of eps in absolute terms, not relative ones (for
|p| << 1, tanh(p) = 1 - 2/(e^{2p}+1) loses the leading digits of a small h).

`grads` is float64; `grads_float32`, `grads_float16` and `grads_bfloat16` compute every
operation in that precision (numpy; ml_dtypes for bfloat16, with ndarray.dot because `@` on
bfloat16 returns float32). Sum loss.
"""

import numpy as np
from ml_dtypes import bfloat16

BUG = None
LOSS = "sum"
DTYPE = "float64"


def _grads(params, xs, ys, h0, f):
    U, W, V, b_h, b_y = (np.asarray(params[k]).astype(f) for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs).astype(f)
    one, two = f(1), f(2)
    T, H = len(xs), W.shape[0]
    hs = [np.asarray(h0).astype(f)]
    probs, loss = [], f(0)
    with np.errstate(over="ignore"):  # e^{2p} = inf gives h = 1 exactly
        for t in range(T):
            p = U.dot(xs[t]) + W.dot(hs[-1]) + b_h
            hs.append(one - two / (np.exp(two * p) + one))
            z = V.dot(hs[-1]) + b_y
            z = z - z.max()
            e = np.exp(z)
            yhat = e / e.sum()
            loss = loss - np.log(yhat[int(ys[t])])
            probs.append(yhat)
    dps, dqs = [None] * T, [None] * T
    dh_next = np.zeros(H, dtype=f)
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[int(ys[t])] -= one
        h = hs[t + 1]
        dps[t] = (one - h) * (one + h) * (V.T.dot(dq) + dh_next)
        dqs[t] = dq
        dh_next = W.T.dot(dps[t])
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    for t in range(T):  # forward in time
        dU += np.outer(dps[t], xs[t])
        dW += np.outer(dps[t], hs[t])
        db_h += dps[t]
        dV += np.outer(dqs[t], hs[t + 1])
        db_y += dqs[t]
    g = {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next}
    g = {k: v.astype(np.float64) for k, v in g.items()}
    g["loss"] = float(loss)
    return g


def grads(params, xs, ys, h0):
    return _grads(params, xs, ys, h0, np.float64)


def grads_float32(params, xs, ys, h0):
    return _grads(params, xs, ys, h0, np.float32)


def grads_float16(params, xs, ys, h0):
    return _grads(params, xs, ys, h0, np.float16)


def grads_bfloat16(params, xs, ys, h0):
    return _grads(params, xs, ys, h0, bfloat16)
