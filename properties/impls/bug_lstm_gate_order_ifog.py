"""Buggy LSTM gradients: the gate blocks are read in the order i, f, o, g (CS231n's) on PyTorch's layout.

One sequence, sum loss.  The parameters arrive in PyTorch's layout (row blocks
i, f, g, o), but the code slices the pre-activation as CS231n does:

    i = sigma(p[0:H]), f = sigma(p[H:2H]), o = sigma(p[2H:3H]), g = tanh(p[3H:4H])

BUG: PyTorch's g block (rows 2H:3H) is used as the output gate (through a
sigmoid) and its o block (rows 3H:4H) as the candidate (through tanh).  The
forward AND the backward pass read that order, so the code returns the exact
gradient of another model (its loss is consistent with its gradients; a
Taylor test on its own loss passes).  With the seed model's LSTM everything
differs: the loss, dV, db_y, every recurrent gradient, dh0, dc0.

Never invisible in practice (only if the g and o blocks of W_ih, W_hh and the
biases produce equal pre-activations, e.g. when those blocks are equal).
"""

import numpy as np

BUG = "lstm_gate_order_ifog"
LOSS = "sum"
CELL = "lstm"
CLASS = "gate_order"
EQUATION = (
    "o_t = sigma(p[2H:3H]), g_t = tanh(p[3H:4H]): the blocks read as i, f, o, g on parameters laid out "
    "i, f, g, o, in the forward and backward pass alike (the exact gradient of another model)"
)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def grads(params, xs, ys, h0, c0):
    Wx, Wh, V = params["W_ih"], params["W_hh"], params["V"]
    b, by = params["b_ih"] + params["b_hh"], params["b_y"]
    T, H = len(xs), Wh.shape[1]
    i_, f_, o_, g_ = (slice(k * H, (k + 1) * H) for k in range(4))  # BUG: PyTorch's order is i, f, g, o

    hs, cs, acts, ps = [np.array(h0, float)], [np.array(c0, float)], [], []
    loss = 0.0
    for t in range(T):
        a = Wx @ xs[t] + Wh @ hs[-1] + b
        act = np.empty_like(a)
        act[i_], act[f_], act[o_] = sigmoid(a[i_]), sigmoid(a[f_]), sigmoid(a[o_])
        act[g_] = np.tanh(a[g_])
        c = act[f_] * cs[-1] + act[i_] * act[g_]
        cs.append(c)
        hs.append(act[o_] * np.tanh(c))
        acts.append(act)
        s = V @ hs[-1] + by
        s = s - s.max()
        prob = np.exp(s) / np.exp(s).sum()
        loss -= np.log(prob[ys[t]])
        ps.append(prob)

    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dV, dby = np.zeros_like(V), np.zeros_like(by)
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    for t in reversed(range(T)):
        dy = ps[t].copy()
        dy[ys[t]] -= 1
        dV += np.outer(dy, hs[t + 1])
        dby += dy
        act = acts[t]
        tc = np.tanh(cs[t + 1])
        dh = V.T @ dy + dh_next
        dc = dc_next + dh * act[o_] * (1 - tc**2)
        da = np.empty(4 * H)
        da[i_] = dc * act[g_] * act[i_] * (1 - act[i_])
        da[f_] = dc * cs[t] * act[f_] * (1 - act[f_])
        da[o_] = dh * tc * act[o_] * (1 - act[o_])
        da[g_] = dc * act[i_] * (1 - act[g_] ** 2)
        dWx += np.outer(da, xs[t])
        dWh += np.outer(da, hs[t])
        db += da
        dh_next = Wh.T @ da
        dc_next = dc * act[f_]
    return {
        "W_ih": dWx,
        "W_hh": dWh,
        "b_ih": db,
        "b_hh": db.copy(),
        "V": dV,
        "b_y": dby,
        "h0": dh_next,
        "c0": dc_next,
        "loss": float(loss),
    }
