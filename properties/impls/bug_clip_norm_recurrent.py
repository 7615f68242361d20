"""Buggy vanilla-RNN BPTT, plain loop, with global-norm clipping applied to the recurrent layer's gradients only.

BUG: after BPTT, the joint L2 norm of (dU, dW, db_h) is clipped to 1.0
(tf.clip_by_global_norm style) and the clipped values are returned:

    g = sqrt(||dU||^2 + ||dW||^2 + ||db_h||^2);  if g > 1: dU, dW, db_h *= 1 / g

dV, db_y and dh0 are left alone (they are right), as is the loss.

Wrong arrays: U, W, b_h (all by the same factor 1/g).  Invisible when the
joint norm of the exact (dU, dW, db_h) is <= 1.
"""

import numpy as np

BUG = "clip_norm_recurrent"
LOSS = "sum"
CLASS = "norm_clipping"
EQUATION = "(dU, dW, db_h) *= min(1, 1 / ||(dU, dW, db_h)||_2) (joint norm clipped to 1.0; dV, db_y, dh0 not clipped)"

MAX_NORM = 1.0


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs, loss = [], 0.0
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ hs[t] + b_h))
        q = V @ hs[t + 1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        probs.append(np.exp(logp))
        loss -= logp[int(ys[t])]

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(b_h)
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

    # BUG: clip the recurrent gradients (to fight exploding gradients) before returning them
    recurrent = [dU, dW, db_h]
    global_norm = np.sqrt(sum(np.sum(g * g) for g in recurrent))
    if global_norm > MAX_NORM:
        for g in recurrent:
            g *= MAX_NORM / global_norm

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
