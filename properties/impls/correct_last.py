"""Correct many-to-one vanilla RNN: only the last step's loss E_T counts.

E = -log softmax(V h_T + b_y)[y_T].  Outputs at t < T are not used, so
dV, db_y come from step T only; the error flows back through the hidden
states.
"""

import numpy as np

BUG = None
LOSS = "last"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    states = [np.asarray(h0, dtype=np.float64)]
    for t in range(T):
        states.append(np.tanh(U @ xs[t] + W @ states[-1] + b_h))

    hT = states[-1]
    q = V @ hT + b_y
    z = q - q.max()
    logp = z - np.log(np.exp(z).sum())
    target = int(ys[T - 1])
    loss = -logp[target]
    dq = np.exp(logp)
    dq[target] -= 1.0

    dV = np.outer(dq, hT)
    db_y = dq
    dU, dW = np.zeros_like(U), np.zeros_like(W)
    db_h = np.zeros_like(b_h)
    dh = V.T @ dq
    for t in range(T, 0, -1):
        dp = dh * (1.0 - states[t] ** 2)
        dU += np.outer(dp, xs[t - 1])
        dW += np.outer(dp, states[t - 1])
        db_h += dp
        dh = W.T @ dp

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh, "loss": float(loss)}
