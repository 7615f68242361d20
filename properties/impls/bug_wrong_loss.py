"""Vanilla-RNN BPTT with right gradients but a wrong loss value.

Plain loop style; all gradients (including dh0) are correct for the sum
loss.  BUG: the returned "loss" is accumulated inside the forward loop only
for t < T (an off-by-one when logging the loss), so it omits the last step's
E_T: loss = sum_{t=1}^{T-1} E_t (0.0 when T = 1).  Sum loss.
"""

import numpy as np

BUG = "wrong_loss"
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs = []
    loss = 0.0
    for t in range(T):
        h = np.tanh(U @ xs[t] + W @ hs[-1] + b_h)
        q = V @ h + b_y
        z = q - np.max(q)
        logp = z - np.log(np.sum(np.exp(z)))
        if t < T - 1:  # BUG: the last step's loss is never added
            loss -= logp[int(ys[t])]
        hs.append(h)
        probs.append(np.exp(logp))

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[int(ys[t])] -= 1.0
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = (1.0 - hs[t + 1] ** 2) * (V.T @ dq + dh_next)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
