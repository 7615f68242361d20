"""Correct vanilla-RNN BPTT, array/einsum style.

All hidden states live in one (T+1, H) array.  Output logits, softmax and
dq are computed for every t at once; weight gradients are accumulated with
einsum over the time axis.  Only the dh recursion is a loop.  Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    X = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys).astype(np.int64)
    T, H = X.shape[0], W.shape[0]

    Hs = np.empty((T + 1, H))
    Hs[0] = h0
    XU = np.einsum("hd,td->th", U, X) + b_h
    for t in range(T):
        Hs[t + 1] = np.tanh(XU[t] + W @ Hs[t])

    Q = np.einsum("kh,th->tk", V, Hs[1:]) + b_y  # (T, K)
    Z = Q - Q.max(axis=1, keepdims=True)
    LSE = np.log(np.exp(Z).sum(axis=1, keepdims=True))
    logP = Z - LSE
    loss = -logP[np.arange(T), y].sum()

    dQ = np.exp(logP)
    dQ[np.arange(T), y] -= 1.0

    dV = np.einsum("tk,th->kh", dQ, Hs[1:])
    db_y = dQ.sum(axis=0)

    dH_out = dQ @ V  # V^T dq_t, row-wise
    dP = np.empty((T, H))
    carry = np.zeros(H)
    for t in range(T - 1, -1, -1):
        dP[t] = (1.0 - Hs[t + 1] ** 2) * (dH_out[t] + carry)
        carry = dP[t] @ W  # W^T dp_t
    dU = np.einsum("th,td->hd", dP, X)
    dW = np.einsum("th,tg->hg", dP, Hs[:-1])
    db_h = dP.sum(axis=0)

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": carry, "loss": float(loss)}
