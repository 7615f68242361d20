"""Buggy GRU gradients: a correct PyTorch-style GRU, declared as Cho et al.'s GRU (CELL "gru_cho").

One sequence, sum loss.  The code computes, and differentiates exactly, the
GRU of torch.nn.GRU / cuDNN (Keras reset_after=True), with the reset gate
AFTER the recurrent matmul:

    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))

BUG: it is declared (and judged) as Cho et al. 2014's GRU, whose candidate is
n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn): the reset gate on
the wrong side of the matmul, forward and backward alike.  The code is
consistent with its own loss; against Cho's GRU the loss and every gradient
differ (the hidden states already differ at step 1 by (r_1 - 1) b_hn with h0 = 0).

Wrong arrays: W_ih, W_hh, b_ih, b_hh, V, b_y, h0, and the loss.
Invisible only where r_t = 1.
"""

import numpy as np

BUG = "gru_torch_declared_cho"
LOSS = "sum"
CELL = "gru_cho"
CLASS = "reset_side"
EQUATION = (
    "n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)): PyTorch's GRU (reset gate after the matmul) "
    "judged as Cho's (W_hn (r_t * h_{t-1})), forward and backward alike"
)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def grads(params, xs, ys, h0):
    W_ih, W_hh, b_ih, b_hh, V, b_y = (params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "b_y"))
    H = W_hh.shape[1]
    r_, z_, n_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    hs = [np.asarray(h0, dtype=np.float64)]
    steps = []
    loss = 0.0
    for t, x in enumerate(xs):
        gi = W_ih @ x + b_ih
        gh = W_hh @ hs[-1] + b_hh
        r = sigmoid(gi[r_] + gh[r_])
        z = sigmoid(gi[z_] + gh[z_])
        n = np.tanh(gi[n_] + r * gh[n_])
        hs.append((1 - z) * n + z * hs[-1])
        q = V @ hs[-1] + b_y
        q -= q.max()
        p = np.exp(q) / np.exp(q).sum()
        loss -= np.log(p[ys[t]])
        steps.append((r, z, n, gh[n_], p))

    out = {k: np.zeros_like(params[k]) for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "b_y")}
    dh_next = np.zeros(H)
    for t in reversed(range(len(xs))):
        r, z, n, ghn, p = steps[t]
        dq = p.copy()
        dq[ys[t]] -= 1
        out["V"] += np.outer(dq, hs[t + 1])
        out["b_y"] += dq
        dh = V.T @ dq + dh_next
        dgn = dh * (1 - z) * (1 - n**2)
        dgz = dh * (hs[t] - n) * z * (1 - z)
        dgr = dgn * ghn * r * (1 - r)
        dgi = np.concatenate([dgr, dgz, dgn])
        dgh = np.concatenate([dgr, dgz, dgn * r])
        out["W_ih"] += np.outer(dgi, xs[t])
        out["b_ih"] += dgi
        out["W_hh"] += np.outer(dgh, hs[t])
        out["b_hh"] += dgh
        dh_next = dh * z + W_hh.T @ dgh
    out["h0"] = dh_next
    out["loss"] = float(loss)
    return out
