"""Buggy vanilla-RNN BPTT: column 0 of dU dropped (treated as padding).

BUG: dU[:, 0] is set to zero before returning, as if input feature 0 were
a padding token.  Wrong whenever x_t[0] != 0 for some t; everything
else correct.
"""

import numpy as np

BUG = "x0_ignored"
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)

    hs = [np.array(h0, dtype=np.float64)]  # hs[t] = h_t, hs[0] = h0
    probs = []
    loss = 0.0
    for t in range(T):
        p = U @ xs[t] + W @ hs[-1] + b_h
        h = np.tanh(p)
        q = V @ h + b_y
        z = q - np.max(q)
        logp = z - np.log(np.sum(np.exp(z)))
        loss -= logp[int(ys[t])]
        hs.append(h)
        probs.append(np.exp(logp))

    dU = np.zeros_like(U)
    dW = np.zeros_like(W)
    dV = np.zeros_like(V)
    db_h = np.zeros_like(b_h)
    db_y = np.zeros_like(b_y)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[int(ys[t])] -= 1.0
        h, h_prev = hs[t + 1], hs[t]
        dV += np.outer(dq, h)
        db_y += dq
        dh = V.T @ dq + dh_next
        dp = (1.0 - h * h) * dh
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, h_prev)
        db_h += dp
        dh_next = W.T @ dp

    dU[:, 0] = 0.0  # BUG: 'padding' column zeroed
    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
