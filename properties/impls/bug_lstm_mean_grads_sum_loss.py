"""Buggy LSTM gradients: averaging over the steps left on in the gradients, not in the loss.

One sequence, PyTorch's LSTM, LOSS "sum".  The code was written with a switch
for a per-step mean; the loss follows LOSS (sum_t E_t), but the backward pass
still scales the output gradient by 1/T:

    dq_t = (yhat_t - onehot(y_t)) / T

so every gradient is that of (1/T) sum_t E_t, T times too small, while the
returned "loss" is sum_t E_t.

Wrong arrays: W_ih, W_hh, b_ih, b_hh, V, b_y, h0, c0 (the loss is right).
Invisible when T = 1.
"""

import numpy as np

BUG = "lstm_mean_grads_sum_loss"
LOSS = "sum"
CELL = "lstm"
CLASS = "reduction_mismatch"
EQUATION = "gradients of (1/T) sum_t E_t (dq_t = (yhat_t - y_t) / T), but the returned loss is sum_t E_t"

AVERAGE_OVER_STEPS = True  # BUG: meant to follow LOSS ("sum"), which the loss does


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def grads(params, xs, ys, h0, c0):
    W_ih, W_hh, b_ih, b_hh, V, b_y = (params[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "b_y"))
    T, H = len(xs), W_hh.shape[1]
    scale = 1.0 / T if AVERAGE_OVER_STEPS else 1.0

    states = [(np.asarray(h0, float), np.asarray(c0, float))]
    steps = []
    for t in range(T):
        h_prev, c_prev = states[-1]
        pre = W_ih @ xs[t] + b_ih + W_hh @ h_prev + b_hh
        i, f, o = (sigmoid(pre[k * H : (k + 1) * H]) for k in (0, 1, 3))
        g = np.tanh(pre[2 * H : 3 * H])
        c = f * c_prev + i * g
        h = o * np.tanh(c)
        q = V @ h + b_y
        e = np.exp(q - q.max())
        steps.append((i, f, g, o, c, e / e.sum()))
        states.append((h, c))
    loss = -sum(np.log(steps[t][5][ys[t]]) for t in range(T))
    if LOSS == "mean":
        loss /= T

    grads_ = {k: np.zeros_like(params[k]) for k in ("W_ih", "W_hh", "b_ih", "b_hh", "V", "b_y")}
    dh_carry, dc_carry = np.zeros(H), np.zeros(H)
    for t in range(T - 1, -1, -1):
        i, f, g, o, c, prob = steps[t]
        h_prev, c_prev = states[t]
        dq = prob.copy()
        dq[ys[t]] -= 1
        dq *= scale
        grads_["V"] += np.outer(dq, states[t + 1][0])
        grads_["b_y"] += dq
        dh = V.T @ dq + dh_carry
        tc = np.tanh(c)
        dc = dc_carry + dh * o * (1 - tc**2)
        dpre = np.concatenate(
            [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g**2), dh * tc * o * (1 - o)]
        )
        grads_["W_ih"] += np.outer(dpre, xs[t])
        grads_["W_hh"] += np.outer(dpre, h_prev)
        grads_["b_ih"] += dpre
        grads_["b_hh"] += dpre
        dh_carry = W_hh.T @ dpre
        dc_carry = f * dc
    grads_.update(h0=dh_carry, c0=dc_carry, loss=float(loss))
    return grads_
