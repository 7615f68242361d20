"""Correct GRU layer (PyTorch's GRU), batch-layer contract, vectorised over the batch.

Row-vector form on a batch: A = X W_ih^T + b_ih, S = H_prev W_hh^T + b_hh
(N, 3H each; column blocks r, z, n); R = sigmoid(A_r + S_r), Z likewise,
Nc = tanh(A_n + R * S_n), H_t = (1 - Z) * Nc + Z * H_prev.  The time loop is
the only loop; every product is a matrix product over the batch.
L = sum_{n,t} dhs[n, t] . h[n, t]; returns W_ih, W_hh, b_ih, b_hh (summed over
the batch), xs (N, T, D), h0 (N, H) and hs (N, T, H).
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "gru"
CONTRACT = "batch-layer"
BATCH_LOSS = "sum"


def grads(params, xs, h0, dhs):
    W_ih, W_hh, b_ih, b_hh = params["W_ih"], params["W_hh"], params["b_ih"], params["b_hh"]
    N, T, _D = xs.shape
    H = W_hh.shape[1]
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))

    A = xs @ W_ih.T + b_ih  # (N, T, 3H): the input side for all steps at once
    hs = np.zeros((N, T + 1, H))
    hs[:, 0] = h0
    Rs, Zs, Ns, Sns = (np.zeros((N, T, H)) for _ in range(4))
    for t in range(T):
        S = hs[:, t] @ W_hh.T + b_hh
        Rs[:, t] = sig(A[:, t, :H] + S[:, :H])
        Zs[:, t] = sig(A[:, t, H : 2 * H] + S[:, H : 2 * H])
        Sns[:, t] = S[:, 2 * H :]
        Ns[:, t] = np.tanh(A[:, t, 2 * H :] + Rs[:, t] * Sns[:, t])
        hs[:, t + 1] = (1 - Zs[:, t]) * Ns[:, t] + Zs[:, t] * hs[:, t]

    dA = np.zeros((N, T, 3 * H))
    dS = np.zeros((N, T, 3 * H))
    carry = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dh = dhs[:, t] + carry
        r, z, n = Rs[:, t], Zs[:, t], Ns[:, t]
        dpn = dh * (1 - z) * (1 - n**2)
        dpz = dh * (hs[:, t] - n) * z * (1 - z)
        dpr = dpn * Sns[:, t] * r * (1 - r)
        dA[:, t] = np.concatenate([dpr, dpz, dpn], axis=1)
        dS[:, t] = np.concatenate([dpr, dpz, r * dpn], axis=1)
        carry = z * dh + dS[:, t] @ W_hh

    return {
        "W_ih": np.einsum("ntg,ntd->gd", dA, xs),
        "W_hh": np.einsum("ntg,nth->gh", dS, hs[:, :-1]),
        "b_ih": dA.sum(axis=(0, 1)),
        "b_hh": dS.sum(axis=(0, 1)),
        "xs": dA @ W_ih,
        "h0": carry,
        "hs": hs[:, 1:],
    }
