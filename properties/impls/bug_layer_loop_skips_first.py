"""Buggy vanilla-RNN layer backward (CONTRACT "layer"), Coursera "step by step" style with caches.

BUG: rnn_backward loops `for t in reversed(range(1, T))` (0-based), so step 1 is
never back-propagated.  With L = sum_t dhs_t . h_t the code computes

    dU = sum_{t=2}^{T} dp_t x_t^T,  dW = sum_{t=2}^{T} dp_t h_{t-1}^T,  db_h = sum_{t=2}^{T} dp_t,
    dx_1 = 0,  dh0 = W^T dp_2 (0 when T = 1)

(dp_t for t >= 2 and dx_t for t >= 2 are right; hs is right).

Wrong arrays: U, W, b_h, xs (row 1), h0.  Never invisible in practice.
"""

import numpy as np

BUG = "layer_loop_skips_first"
LOSS = "sum"  # L = sum_t dhs_t . h_t
CONTRACT = "layer"
CLASS = "loop_bound"
EQUATION = "dU, dW, db_h summed over t = 2..T only (no dp_1 terms); dx_1 = 0; dh0 = W^T dp_2 instead of W^T dp_1"


def rnn_cell_forward(xt, a_prev, parameters):
    Wax, Waa, ba = parameters["Wax"], parameters["Waa"], parameters["ba"]
    a_next = np.tanh(np.dot(Wax, xt) + np.dot(Waa, a_prev) + ba)
    cache = (a_next, a_prev, xt, parameters)
    return a_next, cache


def rnn_forward(x, a0, parameters):
    caches = []
    T = x.shape[1]
    a = np.zeros((a0.shape[0], T))
    a_next = a0
    for t in range(T):
        a_next, cache = rnn_cell_forward(x[:, t], a_next, parameters)
        a[:, t] = a_next
        caches.append(cache)
    return a, (caches, x)


def rnn_cell_backward(da_next, cache):
    a_next, a_prev, xt, parameters = cache
    Wax, Waa = parameters["Wax"], parameters["Waa"]
    dtanh = (1 - a_next**2) * da_next
    dxt = np.dot(Wax.T, dtanh)
    dWax = np.outer(dtanh, xt)
    da_prev = np.dot(Waa.T, dtanh)
    dWaa = np.outer(dtanh, a_prev)
    dba = dtanh
    return {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def rnn_backward(da, caches):
    caches, x = caches
    n_x, T = x.shape
    n_a = da.shape[0]
    dx = np.zeros((n_x, T))
    dWax = np.zeros((n_a, n_x))
    dWaa = np.zeros((n_a, n_a))
    dba = np.zeros(n_a)
    da_prevt = np.zeros(n_a)
    for t in reversed(range(1, T)):  # BUG: reversed(range(T)) is meant
        g = rnn_cell_backward(da[:, t] + da_prevt, caches[t])
        dx[:, t] = g["dxt"]
        dWax += g["dWax"]
        dWaa += g["dWaa"]
        dba += g["dba"]
        da_prevt = g["da_prev"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


def grads(params, xs, h0, dhs):
    parameters = {"Wax": params["U"], "Waa": params["W"], "ba": params["b_h"]}
    x = np.asarray(xs, dtype=np.float64).T  # (n_x, T)
    a, caches = rnn_forward(x, np.asarray(h0, dtype=np.float64), parameters)
    g = rnn_backward(np.asarray(dhs, dtype=np.float64).T, caches)
    return {"U": g["dWax"], "W": g["dWaa"], "b_h": g["dba"], "xs": g["dx"].T, "h0": g["da0"], "hs": a.T}
