"""Correct BPTT whose softmax is exp(q - lse), lse = max q + log sum exp(q - max q), as public
code writes it (a blog's char-RNN, WildML's). Exact in real arithmetic; in floating point q - lse
rounds at |max q| twice, so large logits (q ~ 700) leave log yhat eps |max q| off, and dq, dV and
the loss with it. The round-off model's eps |max q| term is what lets it agree.
"""

import numpy as np

BUG = None
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    T, H = len(xs), len(h0)
    hs = np.zeros((T + 1, H))
    hs[0] = h0
    probs, loss = [], 0.0
    for t in range(T):
        hs[t + 1] = np.tanh(U @ xs[t] + W @ hs[t] + b_h)
        q = V @ hs[t + 1] + b_y
        m = np.max(q)
        lse = m + np.log(np.sum(np.exp(q - m)))
        probs.append(np.exp(q - lse))
        loss -= q[ys[t]] - lse
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y, carry = np.zeros_like(b_h), np.zeros_like(b_y), np.zeros(H)
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[ys[t]] -= 1.0
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = (1.0 - hs[t + 1] ** 2) * (V.T @ dq + carry)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        carry = W.T @ dp
    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": carry, "loss": loss}
