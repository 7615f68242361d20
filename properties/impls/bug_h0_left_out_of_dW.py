"""Buggy vanilla-RNN BPTT, KTH DD2424 assignment-4 lab style: states as matrix columns, gradients as products.

The lab stores H = [h_1 .. h_T] (m x T) and the per-step gradients G = [dp_1
.. dp_T] (T x m, rows), and computes grad_W = G^T [h_0 .. h_{T-1}]^T.

BUG: the matrix of previous states is built with a column of zeros where h_0
belongs (the forward pass does start from h0):

    dW = dp_1 0^T + sum_{t=2}^{T} dp_t h_{t-1}^T      (zeros in place of h_0)

so the t = 1 term dp_1 h_0^T is missing.  dU, dV, db_h, db_y, dh0 and the loss
are right.

Wrong arrays: W only.  Invisible when h0 = 0.
"""

import numpy as np

BUG = "h0_left_out_of_dW"
LOSS = "sum"
CLASS = "h0_left_out"
EQUATION = "dW = sum_t dp_t h'_{t-1}^T with h'_0 = 0 in place of h0 (the term dp_1 h_0^T is missing)"


def forward(RNN, X, h0):
    m, tau = RNN["W"].shape[0], X.shape[1]
    H = np.zeros((m, tau))
    P = np.zeros((RNN["V"].shape[0], tau))
    h = h0
    for t in range(tau):
        a = RNN["W"] @ h + RNN["U"] @ X[:, [t]] + RNN["b"]
        h = np.tanh(a)
        o = RNN["V"] @ h + RNN["c"]
        e = np.exp(o - o.max())
        H[:, [t]] = h
        P[:, [t]] = e / e.sum()
    return H, P


def grads(params, xs, ys, h0):
    RNN = {
        "U": params["U"],
        "W": params["W"],
        "V": params["V"],
        "b": params["b_h"].reshape(-1, 1),
        "c": params["b_y"].reshape(-1, 1),
    }
    X = np.asarray(xs, dtype=np.float64).T  # (d, tau), one column per step
    tau = X.shape[1]
    K = RNN["V"].shape[0]
    Y = np.zeros((K, tau))
    Y[np.asarray(ys, dtype=np.int64), np.arange(tau)] = 1.0
    h0 = np.asarray(h0, dtype=np.float64).reshape(-1, 1)
    H, P = forward(RNN, X, h0)
    loss = -np.sum(np.log(np.sum(Y * P, axis=0)))

    G = -(Y - P).T  # (tau, K): dL/do_t as rows
    grad_V = G.T @ H.T
    grad_c = G.sum(axis=0).reshape(-1, 1)
    dh = G[-1] @ RNN["V"]
    da = dh * (1 - H[:, -1] ** 2)
    dA = np.zeros((tau, H.shape[0]))
    dA[-1] = da
    for t in range(tau - 2, -1, -1):
        dh = G[t] @ RNN["V"] + da @ RNN["W"]
        da = dh * (1 - H[:, t] ** 2)
        dA[t] = da
    H_prev = np.hstack((np.zeros((H.shape[0], 1)), H[:, :-1]))  # BUG: h0 belongs in the first column
    grad_W = dA.T @ H_prev.T
    grad_U = dA.T @ X.T
    grad_b = dA.sum(axis=0).reshape(-1, 1)
    dh0 = RNN["W"].T @ dA[0]

    return {
        "U": grad_U,
        "W": grad_W,
        "V": grad_V,
        "b_h": grad_b.ravel(),
        "b_y": grad_c.ravel(),
        "h0": dh0,
        "loss": float(loss),
    }
