"""Buggy GRU gradients, batch contract: a correct Cho et al. (2014) GRU, declared as PyTorch's GRU (CELL "gru").

Vectorised over the batch (row vectors), BATCH_LOSS "sum".  The code is the
exact gradient of Cho's GRU, with the reset gate BEFORE the recurrent matmul:

    n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)

BUG: it is declared (and judged) as torch.nn.GRU, whose candidate is
n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn)): the reset gate on
the wrong side of the matmul, in the forward and backward pass alike.  The
code is consistent with its own loss; against nn.GRU the loss and every
gradient differ (dV, db_y too: the hidden states differ).  Tell-tale:
db_in = db_hn in this code (b_in and b_hn only enter through their sum).

Wrong arrays: W_ih, W_hh, b_ih, b_hh, V, b_y, h0, and the loss.
Invisible only where r_t = 1 (the variants agree there).
"""

import numpy as np

BUG = "gru_cho_declared_torch"
LOSS = "sum"
CELL = "gru"
CONTRACT = "batch"
BATCH_LOSS = "sum"
CLASS = "reset_side"
EQUATION = (
    "n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn): Cho's GRU (reset gate before the matmul) "
    "judged as PyTorch's (r_t * (W_hn h_{t-1} + b_hn)), forward and backward alike"
)


def grads(params, xs, ys, h0):
    W_ih, W_hh, b_ih, b_hh, V, b_y = (params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "b_y"))
    N, T, _ = xs.shape
    H = W_hh.shape[1]
    sig = lambda a: 1 / (1 + np.exp(-a))
    W_hrz, W_hn = W_hh[: 2 * H], W_hh[2 * H :]
    b = b_ih + b_hh

    X = xs @ W_ih.T + b  # (N, T, 3H)
    h = np.zeros((T + 1, N, H))
    h[0] = h0
    r, z, n, rh = (np.zeros((T, N, H)) for _ in range(4))
    for t in range(T):
        rz = sig(X[:, t, : 2 * H] + h[t] @ W_hrz.T)
        r[t], z[t] = rz[:, :H], rz[:, H:]
        rh[t] = r[t] * h[t]
        n[t] = np.tanh(X[:, t, 2 * H :] + rh[t] @ W_hn.T)
        h[t + 1] = (1 - z[t]) * n[t] + z[t] * h[t]
    logits = np.einsum("tnh,kh->tnk", h[1:], V) + b_y
    logits -= logits.max(axis=2, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=2, keepdims=True))
    onehot = np.zeros_like(logp)
    onehot[np.arange(T)[:, None], np.arange(N)[None, :], ys.T] = 1.0
    loss = -(onehot * logp).sum()
    dq = np.exp(logp) - onehot  # (T, N, K)

    dV = np.einsum("tnk,tnh->kh", dq, h[1:])
    db_y = dq.sum(axis=(0, 1))
    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(3 * H)
    carry = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dh = dq[t] @ V + carry
        dpn = dh * (1 - z[t]) * (1 - n[t] ** 2)
        dpz = dh * (h[t] - n[t]) * z[t] * (1 - z[t])
        drh = dpn @ W_hn
        dpr = drh * h[t] * r[t] * (1 - r[t])
        dp = np.concatenate([dpr, dpz, dpn], axis=1)
        dW_ih += dp.T @ xs[:, t]
        db += dp.sum(axis=0)
        dW_hh[: 2 * H] += dp[:, : 2 * H].T @ h[t]
        dW_hh[2 * H :] += dpn.T @ rh[t]
        carry = z[t] * dh + dp[:, : 2 * H] @ W_hrz + r[t] * drh
    return {
        "W_ih": dW_ih,
        "W_hh": dW_hh,
        "b_ih": db,
        "b_hh": db.copy(),
        "V": dV,
        "b_y": db_y,
        "h0": carry,
        "loss": float(loss),
    }
