"""Correct vanilla-RNN layer (CONTRACT "batch-layer") with tanh written out in exponentials; h0 = 0.

The layer's forward pass computes

    h_t = (exp(p_t) - exp(-p_t)) / (exp(p_t) + exp(-p_t)),   p_t = U x_t + W h_{t-1} + b_h

(mathematically tanh(p_t)) and the backward pass uses dp_t = (1 - h_t^2) * dh_t.
The initial state is always zeros (REQUIRES zero_h0): the h0 argument is
ignored and no "h0" key is returned.  Returns U, W, b_h (summed over the
batch), xs (N, T, D) and hs (N, T, H).

This is CORRECT code (BUG = None) for every |p| <= 709.78: the round-off of the
exponential form is a few ulp of |h_t| (about 1e-16 absolute near p = 0, where
exp(p) - exp(-p) cancels).  It is wrong only where exp overflows: for
|p| > 709.78 (log of the largest float64) exp(|p|) = inf and h_t = inf / inf =
NaN, and everything downstream is NaN.
"""

import numpy as np

BUG = None
LOSS = "sum"  # L = sum_{n,t} dhs[n, t] . h[n, t]
CONTRACT = "batch-layer"
BATCH_LOSS = "sum"
REQUIRES = ["zero_h0"]
# Where exp overflows the code returns NaN: judged correct elsewhere (test_oracle checks the overflow
# is found and named when the regime is not skipped).
SKIP_REGIMES = ["huge_preactivations"]


def tanh(p):
    ep, em = np.exp(p), np.exp(-p)
    return (ep - em) / (ep + em)


def grads(params, xs, h0, dhs):
    U, W, b_h = params["U"], params["W"], params["b_h"]
    X = np.asarray(xs, dtype=np.float64)
    dH = np.asarray(dhs, dtype=np.float64)
    N, T, _ = X.shape
    Hd = W.shape[0]
    hs = np.zeros((N, T, Hd))
    h = np.zeros((N, Hd))  # h0 = 0 always
    for t in range(T):
        h = tanh(X[:, t] @ U.T + h @ W.T + b_h)
        hs[:, t] = h

    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dX = np.zeros_like(X)
    carry = np.zeros((N, Hd))
    for t in reversed(range(T)):
        h_prev = hs[:, t - 1] if t > 0 else np.zeros((N, Hd))
        dp = (1.0 - hs[:, t] ** 2) * (dH[:, t] + carry)
        dU += dp.T @ X[:, t]
        dW += dp.T @ h_prev
        db_h += dp.sum(axis=0)
        dX[:, t] = dp @ U
        carry = dp @ W

    return {"U": dU, "W": dW, "b_h": db_h, "xs": dX, "hs": hs}
