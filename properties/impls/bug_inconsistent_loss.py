"""Buggy vanilla-RNN BPTT: loss and gradients disagree on the reduction.

Written for a mean-over-steps loss: dq_t = (yhat_t - onehot(y_t)) / T, so
every returned gradient (dU, dW, dV, db_h, db_y, dh0) is the gradient of
(1/T) sum_t E_t.  BUG: the loss it reports (and LOSS claims) is the sum
sum_t E_t, so the returned loss and gradients are inconsistent with each
other (a Taylor test on the code's own loss fails) and the gradients are
T times too small for the declared loss.  Invisible when T = 1.
"""

import numpy as np

BUG = "inconsistent"
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = {-1: np.array(h0, dtype=np.float64)}
    ps, loss = {}, 0.0
    for t in range(T):
        hs[t] = np.tanh(U @ xs[t] + W @ hs[t - 1] + b_h)
        q = V @ hs[t] + b_y
        e = np.exp(q - q.max())
        ps[t] = e / e.sum()
        loss += -np.log(ps[t][ys[t]])  # BUG: reported as a sum, differentiated as a mean

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dhnext = np.zeros_like(hs[-1])
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[ys[t]] -= 1.0
        dy /= T
        dV += np.outer(dy, hs[t])
        db_y += dy
        dhraw = (1.0 - hs[t] ** 2) * (V.T @ dy + dhnext)
        dU += np.outer(dhraw, xs[t])
        dW += np.outer(dhraw, hs[t - 1])
        db_h += dhraw
        dhnext = W.T @ dhraw

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dhnext, "loss": float(loss)}
