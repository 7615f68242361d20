"""Correct BPTT for the cross-entropy loss plus an L2 weight penalty.

NOT the seed loss (SEED_LOSS = False): the returned loss is
E + 0.5 * lam * (|U|^2 + |W|^2 + |V|^2 + |b_h|^2 + |b_y|^2) with
lam = 1e-2 (weight decay on every parameter, not on h0), and every
parameter gradient includes the matching lam * theta term; dh0 is the plain
BPTT one.  Loss and gradients are consistent with each other (a Taylor
test on the code's own loss passes); against the seed loss every parameter
gradient is off by lam * theta.  E is the sum over steps.
"""

import numpy as np

BUG = None
LOSS = "sum"
SEED_LOSS = False
LAMBDA = 1e-2


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs, loss = [], 0.0
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ hs[-1] + b_h))
        q = V @ hs[-1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        loss -= logp[ys[t]]
        probs.append(np.exp(logp))

    g = {k: np.zeros_like(params[k], dtype=np.float64) for k in ("U", "W", "V", "b_h", "b_y")}
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dq = probs[t].copy()
        dq[ys[t]] -= 1.0
        g["V"] += np.outer(dq, hs[t + 1])
        g["b_y"] += dq
        dp = (1.0 - hs[t + 1] ** 2) * (V.T @ dq + dh_next)
        g["U"] += np.outer(dp, xs[t])
        g["W"] += np.outer(dp, hs[t])
        g["b_h"] += dp
        dh_next = W.T @ dp

    for k in g:  # weight decay
        loss += 0.5 * LAMBDA * np.sum(params[k] ** 2)
        g[k] += LAMBDA * params[k]
    g["h0"] = dh_next
    g["loss"] = float(loss)
    return g
