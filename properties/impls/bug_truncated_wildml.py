"""Buggy vanilla-RNN BPTT: truncated BPTT in the style of the WildML tutorial.

BUG: bptt_truncate = 3.  For each output step t (0-based) the error is
pushed back only through steps t, t-1, ..., max(0, t - 3) (at most 4
terms), as in WildML's `for bptt_step in np.arange(max(0, t -
self.bptt_truncate), t + 1)[::-1]`.  Contributions reaching further back
are dropped, so dU, dW, db_h and dh0 are wrong for T > 4 (exact for T <= 4,
since nothing is then truncated).  dV, db_y and the loss are correct.
dh0 receives only the terms of steps t <= 3.
"""

import numpy as np

BUG = "truncated_bptt_3"
LOSS = "sum"


def grads(params, xs, ys, h0, bptt_truncate=3):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    x = np.asarray(xs, dtype=np.float64)
    T = len(ys)
    # s[t] = hidden state after step t; s[-1] (the extra last row) holds h0,
    # exactly like the tutorial's s = np.zeros((T + 1, hidden_dim)).
    s = np.zeros((T + 1, W.shape[0]))
    s[-1] = h0
    o = np.zeros((T, V.shape[0]))
    loss = 0.0
    for t in np.arange(T):
        s[t] = np.tanh(U.dot(x[t]) + W.dot(s[t - 1]) + b_h)
        q = V.dot(s[t]) + b_y
        m = q.max()
        lse = m + np.log(np.sum(np.exp(q - m)))
        o[t] = np.exp(q - lse)
        loss += lse - q[int(ys[t])]

    dLdU, dLdV, dLdW = np.zeros(U.shape), np.zeros(V.shape), np.zeros(W.shape)
    dLdbh, dLdby = np.zeros(b_h.shape), np.zeros(b_y.shape)
    dLdh0 = np.zeros(W.shape[0])
    delta_o = o.copy()
    delta_o[np.arange(T), np.asarray(ys, dtype=int)] -= 1.0
    for t in np.arange(T)[::-1]:
        dLdV += np.outer(delta_o[t], s[t].T)
        dLdby += delta_o[t]
        delta_t = V.T.dot(delta_o[t]) * (1 - (s[t] ** 2))
        # BUG: truncated backpropagation through time
        for bptt_step in np.arange(max(0, t - bptt_truncate), t + 1)[::-1]:
            dLdW += np.outer(delta_t, s[bptt_step - 1])
            dLdU += np.outer(delta_t, x[bptt_step])
            dLdbh += delta_t
            back = W.T.dot(delta_t)
            if bptt_step == 0:
                dLdh0 += back
            else:
                delta_t = back * (1 - s[bptt_step - 1] ** 2)

    return {"U": dLdU, "W": dLdW, "V": dLdV, "b_h": dLdbh, "b_y": dLdby, "h0": dLdh0, "loss": float(loss)}
