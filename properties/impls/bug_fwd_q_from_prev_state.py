"""Buggy vanilla-RNN: the output reads the previous hidden state.

Forward-pass mistake (an off-by-one in the state list): q_t = V h_{t-1} +
b_y instead of V h_t + b_y, so y_t is predicted from h_0..h_{t-1} only.
The backward pass is the exact gradient of that wrong model: dV gets
outer(dq_t, h_{t-1}), V^T dq_t flows into h_{t-1} (into dh0 for t = 1), and
h_T receives no output gradient.  Loss and gradients are consistent with
each other but not with the seed model.  Sum loss.
"""

import numpy as np

BUG = "fwd_q_from_prev_state"
LOSS = "sum"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    hs = [np.array(h0, dtype=np.float64)]
    probs, loss = [], 0.0
    for t in range(T):
        q = V @ hs[-1] + b_y  # BUG: should use the new state h_t
        hs.append(np.tanh(U @ xs[t] + W @ hs[-1] + b_h))
        z = q - q.max()
        logp = z - np.log(np.exp(z).sum())
        loss -= logp[ys[t]]
        probs.append(np.exp(logp))

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh = np.zeros_like(hs[0])  # dE/dh_T: h_T feeds no output
    for t in reversed(range(T)):
        dp = (1.0 - hs[t + 1] ** 2) * dh
        dU += np.outer(dp, xs[t])
        dW += np.outer(dp, hs[t])
        db_h += dp
        dq = probs[t].copy()
        dq[ys[t]] -= 1.0
        dV += np.outer(dq, hs[t])
        db_y += dq
        dh = W.T @ dp + V.T @ dq  # dE/dh_{t-1}

    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh, "loss": float(loss)}
