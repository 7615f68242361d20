"""Buggy vanilla-RNN BPTT, vectorised numpy: all dp_t first, then the sums.

BUG: the input-weight gradient is a matrix product over the slice [:-1],

    dU = sum_{t=1}^{T-1} dp_t x_t^T

so the last step's term dp_T x_T^T is missing (an off-by-one at the top of the
sum).  dW, dV, db_h, db_y, dh0 and the loss are correct.

Wrong arrays: U only.  Invisible only when dp_T x_T^T = 0 (e.g. x_T = 0); for
T = 1 dU is all zeros.
"""

import numpy as np

BUG = "dU_skips_last_step"
LOSS = "sum"
CLASS = "loop_bound"
EQUATION = "dU = sum_{t=1}^{T-1} dp_t x_t^T (the t = T term dp_T x_T^T is missing)"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    X = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.int64)
    T = X.shape[0]
    Hs = np.zeros((T + 1, W.shape[0]))  # Hs[t] = h_t, Hs[0] = h0
    Hs[0] = h0
    for t in range(1, T + 1):
        Hs[t] = np.tanh(U @ X[t - 1] + W @ Hs[t - 1] + b_h)

    Q = Hs[1:] @ V.T + b_y
    Q = Q - Q.max(axis=1, keepdims=True)
    logZ = np.log(np.exp(Q).sum(axis=1))
    loss = np.sum(logZ - Q[np.arange(T), y])
    dQ = np.exp(Q - logZ[:, None])
    dQ[np.arange(T), y] -= 1.0

    dHout = dQ @ V
    dP = np.zeros((T, W.shape[0]))
    carry = np.zeros(W.shape[0])
    for t in range(T - 1, -1, -1):
        dP[t] = (1.0 - Hs[t + 1] ** 2) * (dHout[t] + carry)
        carry = W.T @ dP[t]

    return {
        "U": dP[:-1].T @ X[:-1],  # BUG: [:-1] drops step T
        "W": dP.T @ Hs[:-1],
        "V": dQ.T @ Hs[1:],
        "b_h": dP.sum(axis=0),
        "b_y": dQ.sum(axis=0),
        "h0": carry,
        "loss": float(loss),
    }
