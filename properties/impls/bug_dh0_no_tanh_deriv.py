"""Buggy vanilla-RNN BPTT, plain loop; the initial-state gradient is formed after the loop.

BUG: after the backward loop, dh0 is computed from the last `dh` (which is dh_1,
before the tanh derivative) instead of dp_1:

    dh0 = W^T dh_1        instead of W^T dp_1 = W^T ((1 - h_1^2) * dh_1)

Inside the loop the recursion uses dp correctly, so dU, dW, dV, db_h, db_y and
the loss are right.

Wrong arrays: h0 only.  Invisible only when h_1 = 0.
"""

import numpy as np

BUG = "dh0_no_tanh_deriv"
LOSS = "sum"
CLASS = "factor_dropped"
EQUATION = "dh0 = W^T dh_1 (the tanh derivative (1 - h_1^2) is missing in dh0 only)"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs, loss = [], 0.0
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ hs[-1] + b_h))
        q = V @ hs[-1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        probs.append(np.exp(logp))
        loss -= logp[int(ys[t])]

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(b_h)
    dh = np.zeros_like(b_h)
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[int(ys[t])] -= 1.0
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dh = V.T @ dq + dh_next
        dp = (1.0 - hs[t + 1] ** 2) * dh
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.T @ dp
    dh0 = W.T @ dh  # BUG: W.T @ dp (= dh_next) is meant

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh0, "loss": float(loss)}
