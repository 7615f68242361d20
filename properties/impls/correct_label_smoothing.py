"""Correct BPTT for cross-entropy against label-smoothed targets.

NOT the seed loss (SEED_LOSS = False): each step's target is the smoothed
distribution y_s = (1 - eps) onehot(y_t) + eps / K with eps = 0.1, and
E_t = -sum_k y_s[k] log yhat_t[k].  The gradient is the consistent one,
dq_t = yhat_t - y_s, so a Taylor test on the code's own loss passes; against
the seed loss dV, db_y and everything upstream differ.  Vectorised softmax
over all steps, loop for the recursion.  E is the sum over steps.
"""

import numpy as np

BUG = None
LOSS = "sum"
SEED_LOSS = False
EPS = 0.1


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    T, H, K = X.shape[0], W.shape[0], V.shape[0]
    S = np.zeros((T + 1, H))
    S[0] = h0
    for t in range(T):
        S[t + 1] = np.tanh(U @ X[t] + W @ S[t] + b_h)

    Q = S[1:] @ V.T + b_y
    Q = Q - Q.max(axis=1, keepdims=True)
    logP = Q - np.log(np.exp(Q).sum(axis=1, keepdims=True))
    Ys = np.full((T, K), EPS / K)
    Ys[np.arange(T), ys] += 1.0 - EPS
    loss = -(Ys * logP).sum()
    dQ = np.exp(logP) - Ys

    dP = np.zeros((T, H))
    dh = np.zeros(H)
    for t in reversed(range(T)):
        dP[t] = (1.0 - S[t + 1] ** 2) * (V.T @ dQ[t] + dh)
        dh = W.T @ dP[t]

    return {
        "U": dP.T @ X,
        "W": dP.T @ S[:-1],
        "V": dQ.T @ S[1:],
        "b_h": dP.sum(axis=0),
        "b_y": dQ.sum(axis=0),
        "h0": dh,
        "loss": float(loss),
    }
