"""Correct vanilla-RNN BPTT for the MEAN loss E = (1/T) sum_t E_t.

Same recursion as the sum loss, with every dq_t scaled by 1/T.
"""

import numpy as np

BUG = None
LOSS = "mean"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.asarray(h0, dtype=np.float64)]
    ps = []
    total = 0.0
    for t in range(T):
        h = np.tanh(U @ xs[t] + W @ hs[t] + b_h)
        q = V @ h + b_y
        q = q - q.max()
        lse = np.log(np.exp(q).sum())
        total += lse - q[int(ys[t])]
        ps.append(np.exp(q - lse))
        hs.append(h)

    scale = 1.0 / T
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    carry = np.zeros(W.shape[0])
    for t in range(T - 1, -1, -1):
        dq = ps[t].copy()
        dq[int(ys[t])] -= 1.0
        dq *= scale
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = (V.T @ dq + carry) * (1.0 - hs[t + 1] ** 2)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        carry = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": carry, "loss": float(total * scale)}
