"""Buggy vanilla-RNN BPTT, plain loop; the output error is kept in a variable `dy` across iterations.

BUG: inside the reversed loop the hidden-state gradient is formed BEFORE dy is
updated for the current step, so it uses the previous iteration's output error:

    dh_t = V^T dq_{t+1} + W^T dp_{t+1}     (dq_{T+1} := 0)

dV and db_y (accumulated after the update) are right, as is the loss; dU, dW,
db_h and dh0 are wrong.

Wrong arrays: U, W, b_h, h0.  Never invisible in practice.
"""

import numpy as np

BUG = "dh_uses_next_dq"
LOSS = "sum"
CLASS = "index_shift"
EQUATION = "dh_t = V^T dq_{t+1} + W^T dp_{t+1} with dq_{T+1} = 0 (dq_{t+1} in place of dq_t)"


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    h = np.asarray(h0, dtype=np.float64)
    states, probs = [h], []
    loss = 0.0
    for t in range(T):
        h = np.tanh(U @ xs[t] + W @ h + b_h)
        states.append(h)
        q = V @ h + b_y
        m = q.max()
        lse = m + np.log(np.sum(np.exp(q - m)))
        probs.append(np.exp(q - lse))
        loss += lse - q[int(ys[t])]

    grads_ = {
        "U": np.zeros_like(U),
        "W": np.zeros_like(W),
        "V": np.zeros_like(V),
        "b_h": np.zeros_like(b_h),
        "b_y": np.zeros_like(b_y),
    }
    dy = np.zeros_like(b_y)
    dh_next = np.zeros_like(b_h)
    for t in reversed(range(T)):
        dh = V.T @ dy + dh_next  # BUG: dy still holds step t+1's error here
        dy = probs[t].copy()
        dy[int(ys[t])] -= 1.0
        grads_["V"] += np.outer(dy, states[t + 1])
        grads_["b_y"] += dy
        dp = (1.0 - states[t + 1] ** 2) * dh
        grads_["U"] += np.outer(dp, xs[t])
        grads_["W"] += np.outer(dp, states[t])
        grads_["b_h"] += dp
        dh_next = W.T @ dp

    grads_["h0"] = dh_next
    grads_["loss"] = float(loss)
    return grads_
