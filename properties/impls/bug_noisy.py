"""Buggy vanilla-RNN BPTT: multiplicative gradient noise.

Plain loop BPTT, correct in float64, but every returned gradient entry
(including dh0) is multiplied by (1 + 1e-6 * z) with z ~ N(0, 1), drawn
fresh from np.random on every call, as a stochastic "gradient noise"
regulariser would do.  BUG: relative error ~1e-6 per entry, and two calls
on the same problem disagree at the 1e-6 level.  The loss is exact.
Sum loss.
"""

import numpy as np

BUG = "noisy"
LOSS = "sum"
NOISE = 1e-6


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    hs = [np.asarray(h0, dtype=np.float64)]
    ps, loss = [], 0.0
    for t in range(len(xs)):
        hs.append(np.tanh(U @ xs[t] + W @ hs[-1] + b_h))
        q = V @ hs[-1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        loss -= logp[ys[t]]
        ps.append(np.exp(logp))

    g = {k: np.zeros_like(params[k], dtype=np.float64) for k in ("U", "W", "V", "b_h", "b_y")}
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(xs))):
        dq = ps[t].copy()
        dq[ys[t]] -= 1.0
        g["V"] += np.outer(dq, hs[t + 1])
        g["b_y"] += dq
        dp = (1.0 - hs[t + 1] ** 2) * (V.T @ dq + dh_next)
        g["U"] += np.outer(dp, xs[t])
        g["W"] += np.outer(dp, hs[t])
        g["b_h"] += dp
        dh_next = W.T @ dp
    g["h0"] = dh_next

    for k in g:  # BUG: gradient noise on every call
        g[k] = g[k] * (1.0 + NOISE * np.random.standard_normal(g[k].shape))
    g["loss"] = float(loss)
    return g
