"""Buggy vanilla-RNN BPTT, plain loop; the recurrent term enters dh_t with a minus sign.

BUG:

    dh_t = V^T dq_t - W^T dp_{t+1}      instead of V^T dq_t + W^T dp_{t+1}

dp_T is right (dp_{T+1} = 0); every earlier dp_t is wrong, hence dU, dW, db_h
and dh0 = W^T dp_1 (computed with the right sign from the wrong dp_1).  dV,
db_y and the loss are right.

Wrong arrays: U, W, b_h, h0.  Invisible when T = 1.
"""

import numpy as np

BUG = "recurrent_sign"
LOSS = "sum"
CLASS = "sign"
EQUATION = "dh_t = V^T dq_t - W^T dp_{t+1} (the recurrent term subtracted)"


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
        loss -= logp[int(ys[t])]
        probs.append(np.exp(logp))

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(b_h)
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[int(ys[t])] -= 1.0
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dh = V.T @ dq - dh_next  # BUG: + dh_next is meant
        dp = (1.0 - hs[t + 1] ** 2) * dh
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
