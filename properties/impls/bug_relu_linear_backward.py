"""Buggy ReLU-RNN gradients: relu' taken as 1 everywhere (the backward pass of a linear RNN).

One sequence, sum loss; the forward pass is the ReLU RNN
h_t = max(U x_t + W h_{t-1} + b_h, 0), min-char-rnn style loop.

BUG: the backward pass has no mask:

    dp_t = dh_t          (relu'(p_t) = [p_t > 0] is missing)

so units that are off (p_t < 0) still pass gradient to U, W, b_h and back
through W^T.  The forward pass, the loss, dV and db_y are right.

Wrong arrays: U, W, b_h, h0.  Invisible when every p_t > 0 (no unit ever off).
"""

import numpy as np

BUG = "relu_linear_backward"
LOSS = "sum"
CELL = "relu"
CLASS = "relu_derivative"
EQUATION = "dp_t = dh_t: relu'(p_t) = [p_t > 0] is missing (taken as 1 everywhere: a linear RNN's backward pass)"


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = params["U"], params["W"], params["V"], params["b_h"], params["b_y"]
    hs = {-1: np.array(h0, dtype=float)}
    ys_hat = {}
    loss = 0.0
    for t in range(len(xs)):
        hs[t] = np.maximum(0.0, U @ xs[t] + W @ hs[t - 1] + b_h)
        logits = V @ hs[t] + b_y
        logits = logits - logits.max()
        ys_hat[t] = np.exp(logits) / np.sum(np.exp(logits))
        loss += -np.log(ys_hat[t][ys[t]])

    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    db_h, db_y = np.zeros_like(b_h), np.zeros_like(b_y)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(len(xs))):
        dy = ys_hat[t].copy()
        dy[ys[t]] -= 1.0
        dV += np.outer(dy, hs[t])
        db_y += dy
        dh = V.T @ dy + dh_next
        draw = dh  # BUG: dh * (hs[t] > 0) is meant
        dU += np.outer(draw, xs[t])
        dW += np.outer(draw, hs[t - 1])
        db_h += draw
        dh_next = W.T @ draw
    return {"U": dU, "W": dW, "V": dV, "b_h": db_h, "b_y": db_y, "h0": dh_next, "loss": float(loss)}
