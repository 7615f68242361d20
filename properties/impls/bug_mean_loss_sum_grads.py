"""Buggy vanilla-RNN BPTT for the MEAN loss E = (1/T) sum_t E_t: the 1/T is applied to the loss only.

BUG: the returned loss is (1/T) sum_t E_t, as LOSS = "mean" says, but the
backward pass is that of the sum (dq_t = yhat_t - onehot(y_t), no 1/T), so

    every gradient (dU, dW, dV, db_h, db_y, dh0) = T * d[(1/T) sum_t E_t]

The loss and the gradients are of different reductions.

Wrong arrays: U, W, V, b_h, b_y, h0 (loss right).  Invisible when T = 1.
"""

import numpy as np

BUG = "mean_loss_sum_grads"
LOSS = "mean"
CLASS = "reduction_mismatch"
EQUATION = "loss = (1/T) sum_t E_t, but the gradients are those of sum_t E_t (T times too large)"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs, losses = [], []
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ hs[t] + b_h))
        q = V @ hs[t + 1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        losses.append(-logp[int(ys[t])])
        probs.append(np.exp(logp))
    loss = np.mean(losses)

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(b_h)
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[int(ys[t])] -= 1.0  # BUG: the mean's dq_t also carries a factor 1/T
        dV += np.outer(dq, hs[t + 1])
        db_y += dq
        dp = (1.0 - hs[t + 1] ** 2) * (V.T @ dq + dh_next)
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dh_next = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
