"""Correct vanilla-RNN BPTT in float32, vectorised numpy style.

Every input is cast to float32 up front and all arithmetic stays float32.
Hidden states live in one (T+1, H) array; the input projection, logits,
softmax and dq are computed for all steps at once, and the weight gradients
are einsum contractions over the time axis; only the two recursions (h_t
forward, dh_t backward) loop.  Results are returned as float64.  Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"
DTYPE = "float32"


def grads(params, xs, ys, h0):
    f = np.float32
    U, W, V, b_h, b_y = (np.asarray(params[k], dtype=f) for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=f)
    y = np.asarray(ys, dtype=np.int64)
    T, H = X.shape[0], W.shape[0]
    steps = np.arange(T)

    S = np.zeros((T + 1, H), dtype=f)
    S[0] = np.asarray(h0, dtype=f)
    A = np.einsum("hd,td->th", U, X) + b_h
    for t in range(T):
        S[t + 1] = np.tanh(A[t] + W @ S[t])

    Q = np.einsum("kh,th->tk", V, S[1:]) + b_y
    Z = Q - Q.max(axis=1, keepdims=True)
    logP = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    loss = -logP[steps, y].sum()
    dQ = np.exp(logP)
    dQ[steps, y] -= f(1)

    G = dQ @ V  # row t is V^T dq_t
    dP = np.zeros((T, H), dtype=f)
    dh = np.zeros(H, dtype=f)
    for t in range(T - 1, -1, -1):
        dP[t] = (f(1) - S[t + 1] ** 2) * (G[t] + dh)
        dh = W.T @ dP[t]

    out = {
        "U": np.einsum("th,td->hd", dP, X),
        "W": np.einsum("th,tg->hg", dP, S[:-1]),
        "V": np.einsum("tk,th->kh", dQ, S[1:]),
        "b_h": dP.sum(axis=0),
        "b_y": dQ.sum(axis=0),
        "h0": dh,
    }
    out = {k: v.astype(np.float64) for k, v in out.items()}
    out["loss"] = float(loss)
    return out
