"""Correct vanilla-RNN BPTT whose time sums run in a random order.

The backward recursion is the usual one, but the per-step contributions to
dU, dW, db_h, dV, db_y and to the loss are stored per step and summed in
the order of np.random.permutation(T), a fresh order on every call (as a
shuffled / parallel reduction would).  The results are exact in exact
arithmetic; two calls on the same problem differ only at round-off level
(~1e-16 relative).  dh0 does not involve such a sum.  Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.asarray(h0, dtype=np.float64)]
    ps, E = [], np.zeros(T)
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ hs[-1] + b_h))
        q = V @ hs[-1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        E[t] = -logp[ys[t]]
        ps.append(np.exp(logp))

    terms = {"U": [None] * T, "W": [None] * T, "V": [None] * T, "b_h": [None] * T, "b_y": [None] * T}
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = ps[t].copy()
        dq[ys[t]] -= 1.0
        dp = (1.0 - hs[t + 1] ** 2) * (V.T @ dq + dh_next)
        terms["V"][t], terms["b_y"][t] = np.outer(dq, hs[t + 1]), dq
        terms["U"][t], terms["W"][t], terms["b_h"][t] = np.outer(dp, xs[t]), np.outer(dp, hs[t]), dp
        dh_next = W.T @ dp

    g = {}
    for k, parts in terms.items():
        acc = np.zeros_like(parts[0])
        for t in np.random.permutation(T):
            acc = acc + parts[t]
        g[k] = acc
    loss = 0.0
    for t in np.random.permutation(T):
        loss += E[t]
    g["h0"] = dh_next
    g["loss"] = float(loss)
    return g
