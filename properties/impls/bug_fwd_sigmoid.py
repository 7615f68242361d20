"""Buggy vanilla-RNN: sigmoid hidden units instead of tanh.

Forward-pass mistake: h_t = sigmoid(p_t) = 1 / (1 + exp(-p_t)).  The
backward pass consistently uses the sigmoid derivative h_t (1 - h_t), so
the loss and gradients are those of a sigmoid RNN: consistent with each
other, wrong for the seed (tanh) model.  Sum loss.
"""

import numpy as np

BUG = "fwd_sigmoid"
LOSS = "sum"


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # overflow-free form of 1 / (1 + e^-a)


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs, loss = [], 0.0
    for t in range(T):
        hs.append(_sigmoid(U @ xs[t] + W @ hs[-1] + b_h))  # BUG: should be tanh
        q = V @ hs[-1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        loss -= logp[ys[t]]
        probs.append(np.exp(logp))

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[ys[t]] -= 1.0
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = hs[t + 1] * (1.0 - hs[t + 1]) * (V.T @ dq + dh_next)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
