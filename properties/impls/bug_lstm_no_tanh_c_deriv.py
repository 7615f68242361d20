"""Buggy LSTM layer, Coursera "Building your RNN step by step" layout: tanh(c_t)'s derivative is missing.

Coursera's layout: one weight matrix per gate acting on concat = [a_prev; x_t],
Wf, Wi, Wc, Wo (n_a, n_a + n_x), biases bf, bi, bc, bo (n_a, 1); column
vectors over a batch, x (n_x, m, T_x), a0 (n_a, m); c starts at zero
(REQUIRES zero_c0; c0 is ignored and no "c0" is returned).  The adapter
`grads` (CONTRACT "batch-layer") maps PyTorch's blocks i, f, g, o to
Wi, Wf, Wc, Wo: Wf = [W_hf | W_if], bf = b_if + b_hf, and back.

BUG: lstm_cell_backward forms the cell-state gradient as

    dc_t = dc_next + o_t * da_t          (the factor (1 - tanh^2 c_t) is missing)

where h_t = o_t tanh(c_t) gives dc_t = dc_next + o_t (1 - tanh^2 c_t) da_t.
The output gate's gradient (da_t tanh(c_t) o_t (1 - o_t)) is right, and so
are hs.  Wrong arrays: W_ih, W_hh, b_ih, b_hh, xs, h0 (the o rows of the
weights only at the last step; every row through the carries).

Never invisible in practice (only where tanh(c_t) = 0).
"""

import numpy as np

BUG = "lstm_no_tanh_c_deriv"
LOSS = "sum"
CELL = "lstm"
CONTRACT = "batch-layer"
BATCH_LOSS = "sum"
REQUIRES = ["zero_c0"]
CLASS = "tanh_c_derivative"
EQUATION = "dc_t = f_{t+1} dc_{t+1} + o_t dh_t: the factor (1 - tanh^2 c_t) is missing in the path from h_t to c_t"


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    Wf, bf = parameters["Wf"], parameters["bf"]
    Wi, bi = parameters["Wi"], parameters["bi"]
    Wc, bc = parameters["Wc"], parameters["bc"]
    Wo, bo = parameters["Wo"], parameters["bo"]
    concat = np.concatenate((a_prev, xt), axis=0)
    ft = sigmoid(np.dot(Wf, concat) + bf)
    it = sigmoid(np.dot(Wi, concat) + bi)
    cct = np.tanh(np.dot(Wc, concat) + bc)
    c_next = ft * c_prev + it * cct
    ot = sigmoid(np.dot(Wo, concat) + bo)
    a_next = ot * np.tanh(c_next)
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, cache


def lstm_forward(x, a0, parameters):
    caches = []
    _n_x, m, T_x = x.shape
    n_a = a0.shape[0]
    a = np.zeros((n_a, m, T_x))
    a_next = a0
    c_next = np.zeros((n_a, m))
    for t in range(T_x):
        a_next, c_next, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t] = a_next
        caches.append(cache)
    return a, caches


def lstm_cell_backward(da_next, dc_next, cache):
    (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters) = cache
    n_a, _m = a_next.shape
    dc = dc_next + ot * da_next  # BUG: * (1 - np.tanh(c_next) ** 2) is missing
    dot = da_next * np.tanh(c_next) * ot * (1 - ot)
    dcct = dc * it * (1 - cct**2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate((a_prev, xt), axis=0)
    gradients = {
        "dWf": np.dot(dft, concat.T),
        "dWi": np.dot(dit, concat.T),
        "dWc": np.dot(dcct, concat.T),
        "dWo": np.dot(dot, concat.T),
        "dbf": np.sum(dft, axis=1, keepdims=True),
        "dbi": np.sum(dit, axis=1, keepdims=True),
        "dbc": np.sum(dcct, axis=1, keepdims=True),
        "dbo": np.sum(dot, axis=1, keepdims=True),
    }
    W = {k: parameters[k] for k in ("Wf", "Wi", "Wc", "Wo")}
    dconcat = np.dot(W["Wf"].T, dft) + np.dot(W["Wi"].T, dit) + np.dot(W["Wc"].T, dcct) + np.dot(W["Wo"].T, dot)
    gradients["da_prev"] = dconcat[:n_a]
    gradients["dxt"] = dconcat[n_a:]
    gradients["dc_prev"] = dc * ft
    return gradients


def lstm_backward(da, caches):
    n_a, m, T_x = da.shape
    n_x = caches[0][8].shape[0]
    dx = np.zeros((n_x, m, T_x))
    total = {k: np.zeros((n_a, n_a + n_x)) for k in ("dWf", "dWi", "dWc", "dWo")}
    total.update({k: np.zeros((n_a, 1)) for k in ("dbf", "dbi", "dbc", "dbo")})
    da_prevt = np.zeros((n_a, m))
    dc_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        gradients = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])
        dx[:, :, t] = gradients["dxt"]
        for k in total:
            total[k] += gradients[k]
        da_prevt = gradients["da_prev"]
        dc_prevt = gradients["dc_prev"]
    total["dx"] = dx
    total["da0"] = da_prevt
    return total


def grads(params, xs, h0, c0, dhs):  # c0 ignored: this layer starts from c = 0
    W_ih, W_hh = params["W_ih"], params["W_hh"]
    b = params["b_ih"] + params["b_hh"]
    H = W_hh.shape[1]
    blocks = {"i": slice(0, H), "f": slice(H, 2 * H), "c": slice(2 * H, 3 * H), "o": slice(3 * H, 4 * H)}
    parameters = {}
    for gate, rows in blocks.items():
        parameters["W" + gate] = np.hstack([W_hh[rows], W_ih[rows]])
        parameters["b" + gate] = b[rows][:, None]
    a, caches = lstm_forward(np.transpose(xs, (2, 0, 1)), np.asarray(h0, float).T, parameters)
    g = lstm_backward(np.transpose(dhs, (2, 0, 1)), caches)
    dW_ih, dW_hh, db = np.zeros_like(W_ih), np.zeros_like(W_hh), np.zeros(4 * H)
    for gate, rows in blocks.items():
        dW_hh[rows] = g["dW" + gate][:, :H]
        dW_ih[rows] = g["dW" + gate][:, H:]
        db[rows] = g["db" + gate][:, 0]
    return {
        "W_ih": dW_ih,
        "W_hh": dW_hh,
        "b_ih": db,
        "b_hh": db.copy(),
        "xs": np.transpose(g["dx"], (1, 2, 0)),
        "h0": g["da0"].T,
        "hs": np.transpose(a, (1, 2, 0)),
    }
