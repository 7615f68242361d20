"""Buggy vanilla-RNN BPTT: wrong signature.

BUG: defined as grads(params, xs, ys) -- there is no h0 parameter, so the
contract call grads(params, xs, ys, h0) raises TypeError.  Internally it
uses h0 = 0 and returns a correct "h0" gradient for that zero state.
"""

import numpy as np

BUG = "wrong_signature"
LOSS = "sum"


def grads(params, xs, ys):  # BUG: missing h0 argument
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.zeros(W.shape[0])]
    probs = []
    loss = 0.0
    for t in range(T):
        h = np.tanh(U @ xs[t] + W @ hs[-1] + b_h)
        q = V @ h + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        loss -= logp[int(ys[t])]
        hs.append(h)
        probs.append(np.exp(logp))

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros(W.shape[0])
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
