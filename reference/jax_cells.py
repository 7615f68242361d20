"""Every recurrent cell's model written again, independently, in JAX; gradients by `jax.grad`.

The cells follow PyTorch's documentation of nn.RNN, nn.GRU and nn.LSTM (gate blocks stacked by
rows of W_ih (G H, D), W_hh (G H, H), b_ih, b_hh (G H,)), and Cho et al. (2014) for gru_cho:

    tanh, relu: h = act(U x + W h + b_h)
    gru:        r = sigma(W_ir x + b_ir + W_hr h + b_hr)    z = sigma(W_iz x + b_iz + W_hz h + b_hz)
                n = tanh(W_in x + b_in + r * (W_hn h + b_hn))           h' = (1 - z) * n + z * h
    gru_cho:    n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), the rest as gru
    lstm:       i, f, g, o = sigma, sigma, tanh, sigma of W_ih x + b_ih + W_hh h + b_hh
                c' = f * c + i * g    h' = o * tanh(c')

and the seed's output layer: q_t = V h_t + b_y, E = sum_t w_t E_t, E_t = -sum_k y_{t,k} log
softmax(q_t)_k, plus sum_t dhs_t . h_t (the layer's loss) when upstream gradients dhs are given.

Nothing here imports gradcheck. Compilation is bounded as in jax_rnn.py, one compiled function per
(cell, size bucket, step bucket): steps t > T get weight 0 and dhs_t = 0 (they come after the
real ones); D, H and K are zero-padded to one size S, gate by gate (each gate block of H rows
becomes S rows), so padded hidden units start at 0 and stay there: their rows of every weight and
bias are 0, which gives tanh/relu 0, a GRU unit h' = 0.5 * 0 + 0.5 * h = 0 (r = z = sigma(0),
n = tanh(0)) and an LSTM unit c' = 0.5 * c + 0.5 * tanh(0) = 0, h' = 0.5 tanh(0) = 0; their
columns multiply h = 0, so they never reach a real unit. Padded classes get the logit -1e300.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

# jax_rnn sets float64 and the persistent compilation cache; its bucket rule and masked logit
# are shared so that both references pad alike.
from .jax_rnn import MASKED_LOGIT, SIZE_FLOOR, STEP_FLOOR, bucket

GATES = {"tanh": 1, "relu": 1, "gru": 3, "gru_cho": 3, "lstm": 4}
RECURRENT = {
    "tanh": ("U", "W", "b_h"),
    "relu": ("U", "W", "b_h"),
    "gru": ("W_ih", "W_hh", "b_ih", "b_hh"),
    "gru_cho": ("W_ih", "W_hh", "b_ih", "b_hh"),
    "lstm": ("W_ih", "W_hh", "b_ih", "b_hh"),
}
OUTPUT = ("V", "b_y")


def cell_step(cell: str, params, x, h, c):
    """One step (h, c) -> (h', c') of the cell (module docstring); c passes through unchanged
    except for the LSTM."""
    if GATES[cell] == 1:
        p = params["U"] @ x + params["W"] @ h + params["b_h"]
        return (jnp.tanh(p) if cell == "tanh" else jax.nn.relu(p)), c
    gi = params["W_ih"] @ x + params["b_ih"]
    if cell == "lstm":
        i, f, g, o = jnp.split(gi + params["W_hh"] @ h + params["b_hh"], 4)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c), c
    i_r, i_z, i_n = jnp.split(gi, 3)
    W_hr, W_hz, W_hn = jnp.split(params["W_hh"], 3)
    b_hr, b_hz, b_hn = jnp.split(params["b_hh"], 3)
    r = jax.nn.sigmoid(i_r + W_hr @ h + b_hr)
    z = jax.nn.sigmoid(i_z + W_hz @ h + b_hz)
    if cell == "gru":
        n = jnp.tanh(i_n + r * (W_hn @ h + b_hn))
    else:
        n = jnp.tanh(i_n + W_hn @ (r * h) + b_hn)
    return (1.0 - z) * n + z * h, c


def _loss(cell, params, xs, Y, h0, c0, weights, class_mask, dhs):
    def step(carry, inputs):
        x_t, y_t, dh_t = inputs
        h, c = cell_step(cell, params, x_t, *carry)
        q = jnp.where(class_mask, params["V"] @ h + params["b_y"], MASKED_LOGIT)
        return (h, c), (-jnp.sum(y_t * jax.nn.log_softmax(q)), jnp.dot(dh_t, h))

    _, (E, upstream) = jax.lax.scan(step, (h0, c0), (xs, Y, dhs))
    return jnp.sum(weights * E) + jnp.sum(upstream)


_value_and_grad = jax.jit(jax.value_and_grad(_loss, argnums=(1, 2, 4, 5)), static_argnums=0)


def _jvp(cell, params, xs, Y, h0, c0, weights, class_mask, dhs, v_params, v_h0, v_c0):
    f = lambda p, h, c: _loss(cell, p, xs, Y, h, c, weights, class_mask, dhs)
    return jax.jvp(f, (params, h0, c0), (v_params, v_h0, v_c0))[1]


_jvp_jit = jax.jit(_jvp, static_argnums=0)


def _pad(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def _pad_param(name: str, a: np.ndarray, G: int, S: int) -> np.ndarray:
    """A parameter padded to size S: each of its G gate blocks of rows separately (V, b_y: G = 1)."""
    G = 1 if name in OUTPUT else G
    blocks = a.reshape(G, a.shape[0] // G, *a.shape[1:])
    return _pad(blocks, (G, S, *(S for _ in a.shape[1:]))).reshape(G * S, *(S for _ in a.shape[1:]))


def _unpad_param(name: str, a: np.ndarray, shape: tuple[int, ...], G: int, S: int) -> np.ndarray:
    G = 1 if name in OUTPUT else G
    blocks = np.asarray(a).reshape(G, S, *a.shape[1:])
    return blocks[(slice(None), slice(0, shape[0] // G), *(slice(0, n) for n in shape[1:]))].reshape(shape)


def _problem(cell, params, xs, Y, h0, c0, weights, dhs):
    """The padded arguments of _loss, and the true sizes (D, H, K, T)."""
    if cell not in GATES:
        raise ValueError(f"cell: {cell!r} is not one of {', '.join(GATES)}")
    xs, Y = np.asarray(xs, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    h0 = np.asarray(h0, dtype=np.float64)
    (T, D), K, H, G = xs.shape, Y.shape[1], h0.shape[0], GATES[cell]
    p = {k: np.asarray(params[k], dtype=np.float64) for k in RECURRENT[cell]}
    p["V"] = np.asarray(params.get("V", np.zeros((K, H))), dtype=np.float64)
    p["b_y"] = np.asarray(params.get("b_y", np.zeros(K)), dtype=np.float64)
    c0 = np.zeros(H) if c0 is None else np.asarray(c0, dtype=np.float64)
    dhs = np.zeros((T, H)) if dhs is None else np.asarray(dhs, dtype=np.float64)
    S, Tb = bucket(max(D, H, K), SIZE_FLOOR), bucket(T, STEP_FLOOR)
    padded = {k: _pad_param(k, a, G, S) for k, a in p.items()}
    args = (_pad(xs, (Tb, S)), _pad(Y, (Tb, S)), _pad(h0, (S,)), _pad(c0, (S,)),
            _pad(np.asarray(weights, dtype=np.float64), (Tb,)), np.arange(S) < K, _pad(dhs, (Tb, S)))  # fmt: skip
    return padded, args, (D, H, K, T), {k: a.shape for k, a in p.items()}, S


def jax_cell_gradients(cell: str, params, xs, Y, h0, c0, weights, dhs=None) -> dict:
    """Gradients of E = sum_t w_t E_t (+ sum_t dhs_t . h_t) by JAX autodiff, for every cell.

    params: the cell's recurrent parameters (tanh, relu: U (H, D), W (H, H), b_h (H,); gru, gru_cho,
    lstm: W_ih (G H, D), W_hh (G H, H), b_ih, b_hh (G H,)) and V (K, H), b_y (K,) (left out: zeros,
    for the layer alone, and no gradient returned for them). xs (T, D), Y (T, K) target
    distributions, h0 (H,), c0 (H,) (LSTM; None: zeros), weights (T,) w_t, dhs (T, H) or None.
    Returns numpy arrays under the parameter names, "h0", "c0" (LSTM), "xs", and "loss".
    """
    padded, args, (D, H, _K, T), shapes, S = _problem(cell, params, xs, Y, h0, c0, weights, dhs)
    E, (g, g_xs, g_h0, g_c0) = _value_and_grad(cell, padded, *args)
    G = GATES[cell]
    out = {k: _unpad_param(k, np.asarray(g[k]), shapes[k], G, S) for k in shapes if k in params or k not in OUTPUT}
    out["h0"], out["xs"], out["loss"] = np.array(g_h0)[:H], np.array(g_xs)[:T, :D], float(E)
    if cell == "lstm":
        out["c0"] = np.array(g_c0)[:H]
    return out


def jax_cell_jvp(cell: str, params, xs, Y, h0, c0, weights, tangents, dhs=None) -> float:
    """dE . v by jax.jvp for a direction v: tangents under the parameter names, "h0" and "c0" (a
    missing key is a zero tangent). Same arguments and padding as jax_cell_gradients."""
    padded, args, (_D, H, _K, _T), shapes, S = _problem(cell, params, xs, Y, h0, c0, weights, dhs)
    G = GATES[cell]
    tangent = lambda k, shape: np.asarray(tangents.get(k, np.zeros(shape)), dtype=np.float64)
    v = {k: _pad_param(k, tangent(k, shapes[k]), G, S) for k in shapes}
    v_h0, v_c0 = _pad(tangent("h0", (H,)), (S,)), _pad(tangent("c0", (H,)), (S,))
    return float(_jvp_jit(cell, padded, *args, v, v_h0, v_c0))


__all__ = ["GATES", "RECURRENT", "cell_step", "jax_cell_gradients", "jax_cell_jvp"]
