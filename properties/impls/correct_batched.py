"""Correct vanilla-RNN BPTT, batched style.

The core routine `_batched` works on a batch of sequences: X (B, T, D),
Y (B, T), H0 (B, H), with the loss summed over batch and time.  `grads`
calls it with B = 1.  Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"


def _batched(U, W, V, b_h, b_y, X, Y, H0):
    B, T, _ = X.shape
    Hdim = W.shape[0]
    hs = np.zeros((T + 1, B, Hdim))
    hs[0] = H0
    P = np.zeros((T, B, V.shape[0]))
    loss = 0.0
    rows = np.arange(B)
    for t in range(T):
        hs[t + 1] = np.tanh(X[:, t, :] @ U.T + hs[t] @ W.T + b_h)
        q = hs[t + 1] @ V.T + b_y  # (B, K)
        m = q.max(axis=1, keepdims=True)
        logp = q - m - np.log(np.exp(q - m).sum(axis=1, keepdims=True))
        loss -= logp[rows, Y[:, t]].sum()
        P[t] = np.exp(logp)

    g = {k: np.zeros_like(v) for k, v in (("U", U), ("W", W), ("V", V), ("b_h", b_h), ("b_y", b_y))}
    dh_next = np.zeros((B, Hdim))
    for t in range(T - 1, -1, -1):
        dq = P[t].copy()
        dq[rows, Y[:, t]] -= 1.0
        g["V"] += dq.T @ hs[t + 1]
        g["b_y"] += dq.sum(axis=0)
        dp = (dq @ V + dh_next) * (1.0 - hs[t + 1] ** 2)
        g["U"] += dp.T @ X[:, t, :]
        g["W"] += dp.T @ hs[t]
        g["b_h"] += dp.sum(axis=0)
        dh_next = dp @ W
    return g, dh_next, loss


def grads(params, xs, ys, h0):
    X = np.asarray(xs, dtype=np.float64)[None, :, :]
    Y = np.asarray(ys).astype(np.int64)[None, :]
    H0 = np.asarray(h0, dtype=np.float64)[None, :]
    g, dh0, loss = _batched(params["U"], params["W"], params["V"], params["b_h"], params["b_y"], X, Y, H0)
    out = dict(g)
    out["h0"] = dh0[0]
    out["loss"] = float(loss)
    return out
