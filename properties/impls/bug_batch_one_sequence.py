"""Buggy batch BPTT: parameter gradients of sequence 0 only.

Contract "batch", BATCH_LOSS "sum".  Loops over the N sequences with a
per-sequence BPTT helper and merges the results into one dict.  BUG: the
merge uses g.setdefault(k, v) (meant as "start at v, then add"), so only
the first sequence's dU, dW, dV, db_h, db_y survive.  The loss is the
correct batch sum and the per-sequence dh0 rows (N, H) are right (they are
collected in a separate list).  Invisible when N = 1.
"""

import numpy as np

BUG = "one_sequence"
LOSS = "sum"
CONTRACT = "batch"
BATCH_LOSS = "sum"


def _one(U, W, V, b_h, b_y, xs, ys, h0):
    hs, ps, loss = [h0], [], 0.0
    for t in range(len(xs)):
        hs.append(np.tanh(U @ xs[t] + W @ hs[-1] + b_h))
        q = V @ hs[-1] + b_y
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        loss -= logp[ys[t]]
        ps.append(np.exp(logp))
    g = {k: np.zeros_like(v) for k, v in (("U", U), ("W", W), ("V", V), ("b_h", b_h), ("b_y", b_y))}
    dh = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        dq = ps[t].copy()
        dq[ys[t]] -= 1.0
        g["V"] += np.outer(dq, hs[t + 1])
        g["b_y"] += dq
        dp = (1.0 - hs[t + 1] ** 2) * (V.T @ dq + dh)
        g["U"] += np.outer(dp, xs[t])
        g["W"] += np.outer(dp, hs[t])
        g["b_h"] += dp
        dh = W.T @ dp
    return g, dh, loss


def grads(params, xs, ys, h0):
    P = [params[k] for k in ("U", "W", "V", "b_h", "b_y")]
    xs, h0 = np.asarray(xs, dtype=np.float64), np.asarray(h0, dtype=np.float64)
    g, dh0s, loss = {}, [], 0.0
    for n in range(xs.shape[0]):
        gn, dh0, ln = _one(*P, xs[n], ys[n], h0[n])
        for k, v in gn.items():
            g.setdefault(k, v)  # BUG: should be g[k] = g.get(k, 0) + v
        dh0s.append(dh0)
        loss += ln
    g["h0"] = np.stack(dh0s)
    g["loss"] = float(loss)
    return g
