"""Buggy vanilla-RNN BPTT: naive softmax.

BUG: yhat = exp(q) / sum(exp(q)) without subtracting max(q) first, and the
loss is -log(yhat[y]).  Correct for moderate logits, but exp overflows for
large logits (q around 710 and above in float64), giving inf/inf = nan in
the gradients and the loss (and numpy overflow/invalid RuntimeWarnings).
"""

import numpy as np

BUG = "naive_softmax"
LOSS = "sum"


def softmax(v):
    e = np.exp(v)  # BUG: no max subtraction
    return e / np.sum(e)


def grads(params, xs, ys, h0):
    U, W, V = params["U"], params["W"], params["V"]
    b_h, b_y = params["b_h"], params["b_y"]
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    h_list = [np.array(h0, dtype=np.float64)]
    yhat_list = []
    E = 0.0
    for t in range(T):
        h = np.tanh(np.dot(U, xs[t]) + np.dot(W, h_list[-1]) + b_h)
        yhat = softmax(np.dot(V, h) + b_y)
        E += -np.log(yhat[int(ys[t])])
        h_list.append(h)
        yhat_list.append(yhat)

    g = {
        "U": np.zeros_like(U),
        "W": np.zeros_like(W),
        "V": np.zeros_like(V),
        "b_h": np.zeros_like(b_h),
        "b_y": np.zeros_like(b_y),
    }
    delta = np.zeros(W.shape[0])
    for t in range(T - 1, -1, -1):
        dq = yhat_list[t] - np.eye(len(b_y))[int(ys[t])]
        g["V"] += np.outer(dq, h_list[t + 1])
        g["b_y"] += dq
        dp = (np.dot(V.T, dq) + delta) * (1 - h_list[t + 1] ** 2)
        g["U"] += np.outer(dp, xs[t])
        g["W"] += np.outer(dp, h_list[t])
        g["b_h"] += dp
        delta = np.dot(W.T, dp)
    g["h0"] = delta
    g["loss"] = float(E)
    return g
