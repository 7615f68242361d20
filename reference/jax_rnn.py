"""The seed's RNN loss written again, independently, in JAX; gradients by `jax.grad`.

    p_t = U x_t + W h_{t-1} + b_h,  h_t = tanh(p_t),  q_t = V h_t + b_y,
    E = sum_t w_t E_t,  E_t = -sum_k y_{t,k} log softmax(q_t)_k  (+ dhs_t . h_t, the recurrent
    layer's loss for upstream gradients dhs)

Nothing here imports gradcheck: a mistake shared with the hand-derived code would cancel out.

Compilation is bounded by padding every problem into a shape bucket, so that one compiled
function serves many shapes and the gradients of the real entries are unchanged:
- steps t > T get weight w_t = 0 (they come after the real ones, so they change nothing);
- hidden units, inputs and classes are zero-padded: padded rows/columns of U, W, V, b_h are 0,
  so padded units stay at h = 0 and never reach a real unit;
- padded classes get the logit -1e300 (exp underflows to exactly 0) and target 0.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)  # the reference computes in float64
if os.environ.get("GRADCHECK_JAX_CACHE", "1") != "0" and not jax.config.jax_compilation_cache_dir:
    # Persistent cache: a second run reuses the compiled buckets from disk.
    jax.config.update(
        "jax_compilation_cache_dir",
        os.environ.get("GRADCHECK_JAX_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "gradcheck-jax")),
    )
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

PARAM_NAMES = ("U", "W", "V", "b_h", "b_y")
MASKED_LOGIT = -1e300  # exp(MASKED_LOGIT - max q) == 0 exactly, and 0 * MASKED_LOGIT == 0 (no NaN)
SIZE_FLOOR = 16  # max(D, H, K) up to 16 shares one bucket; above, the next power of two
STEP_FLOOR = 64  # T up to 64 shares one bucket; above, the next power of two


def bucket(n: int, floor: int) -> int:
    """The padded size for n: floor, or the next power of two above it."""
    return max(floor, 1 << (int(n) - 1).bit_length())


def _loss(params, xs, Y, h0, weights, class_mask, dhs):
    def step(h, inputs):
        x_t, y_t, dh_t = inputs
        h = jnp.tanh(params["U"] @ x_t + params["W"] @ h + params["b_h"])
        q = jnp.where(class_mask, params["V"] @ h + params["b_y"], MASKED_LOGIT)
        E_t = -jnp.sum(y_t * jax.nn.log_softmax(q))
        return h, (E_t, jnp.dot(dh_t, h))

    _, (E, upstream) = jax.lax.scan(step, h0, (xs, Y, dhs))
    return jnp.sum(weights * E) + jnp.sum(upstream)


_value_and_grad = jax.jit(jax.value_and_grad(_loss, argnums=(0, 1, 3)))


@jax.jit
def _jvp(params, xs, Y, h0, weights, class_mask, dhs, tangent_params, tangent_h0):
    """dE . v by JAX's forward mode (jax.jvp) in the parameters and h0."""
    f = lambda p, h: _loss(p, xs, Y, h, weights, class_mask, dhs)
    return jax.jvp(f, (params, h0), (tangent_params, tangent_h0))[1]


def _pad(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def _targets(ys, T: int, K: int) -> np.ndarray:
    ys = np.asarray(ys)
    if ys.ndim == 1:
        return np.eye(K)[ys.astype(int)]
    return ys.astype(np.float64)


def _weights(loss: str, T: int) -> np.ndarray:
    return {"sum": np.ones(T), "mean": np.full(T, 1.0 / T), "last": np.eye(T)[-1]}[loss]


class _Padded(NamedTuple):
    """A problem padded into its shape bucket: the arguments of _loss, and the true sizes."""

    params: dict
    args: tuple  # xs, Y, h0, weights, class_mask, dhs
    sizes: tuple[int, int, int, int]  # (D, H, K, T)
    shapes: dict  # the padded shape of each parameter


def _padded(params, xs, ys, h0, loss: str, dhs) -> _Padded:
    """One padded size for D, H and K together: a problem's bucket is (size, steps), so shapes up
    to 64 and T up to 256 make at most 3 x 3 = 9 compiled functions."""
    p = {k: np.asarray(params[k], dtype=np.float64) for k in PARAM_NAMES}
    xs = np.asarray(xs, dtype=np.float64)
    (H, D), K, T = p["U"].shape, p["V"].shape[0], xs.shape[0]
    h0 = np.zeros(H) if h0 is None else np.asarray(h0, dtype=np.float64)
    S, Tb = bucket(max(D, H, K), SIZE_FLOOR), bucket(T, STEP_FLOOR)
    shapes = {"U": (S, S), "W": (S, S), "V": (S, S), "b_h": (S,), "b_y": (S,)}
    upstream = np.zeros((T, H)) if dhs is None else np.asarray(dhs, dtype=np.float64)
    args = (_pad(xs, (Tb, S)), _pad(_targets(ys, T, K), (Tb, S)), _pad(h0, (S,)), _pad(_weights(loss, T), (Tb,)),
            np.arange(S) < K, _pad(upstream, (Tb, S)))  # fmt: skip
    return _Padded({k: _pad(p[k], shapes[k]) for k in PARAM_NAMES}, args, (D, H, K, T), shapes)


def jax_gradients(params, xs, ys, h0=None, *, loss: str = "sum", dhs=None) -> dict:
    """Gradients of E by JAX autodiff (contract form, as gradcheck.bptt_gradients).

    params {"U" (H, D), "W" (H, H), "V" (K, H), "b_h" (H,), "b_y" (K,)}, xs (T, D),
    ys (T,) int or (T, K) target distributions, h0 (H,) or None for zeros,
    loss "sum" | "mean" | "last", dhs (T, H) upstream gradients added as sum_t dhs_t . h_t.
    Returns numpy arrays under the parameter keys, "h0" and "xs" (dE/dx_t), and "loss".
    Inputs are read, never modified.
    """
    pad = _padded(params, xs, ys, h0, loss, dhs)
    (D, H, _K, T) = pad.sizes
    E, (g, g_xs, g_h0) = _value_and_grad(pad.params, *pad.args)
    out = {k: np.array(g[k])[tuple(slice(0, n) for n in np.shape(params[k]))] for k in PARAM_NAMES}
    out["h0"] = np.array(g_h0)[:H]
    out["xs"] = np.array(g_xs)[:T, :D]
    out["loss"] = float(E)
    return out


def jax_jvp(params, xs, ys, h0, tangents, *, loss: str = "sum", dhs=None) -> float:
    """dE . v by jax.jvp (forward mode), for a direction v: tangents {"U", "W", "V", "b_h", "b_y",
    "h0"} (a missing key is a zero tangent). Same arguments and padding as jax_gradients."""
    pad = _padded(params, xs, ys, h0, loss, dhs)
    H = pad.sizes[1]
    tangent = lambda k: np.asarray(tangents.get(k, np.zeros(np.shape(params[k]))), dtype=np.float64)
    v = {k: _pad(tangent(k), pad.shapes[k]) for k in PARAM_NAMES}
    v_h0 = _pad(np.asarray(tangents.get("h0", np.zeros(H)), dtype=np.float64), (pad.shapes["b_h"][0],))
    return float(_jvp(pad.params, *pad.args, v, v_h0))
