"""Forward-mode differentiation: the seed's recursion for dh_t/dθ, run forward in time.

The seed unrolls dh_t/dW forward (real-time recurrent learning):

    dh_t/dW_ij = T^t_{mi} h_{t-1,j} + T^t W dh_{t-1}/dW_ij        T^t = diag(1 - h_t^2)

and the same with x_{t,j} for U, 1 for b_h, and dh_0/dh0 = I. For a direction v (one array per
parameter and h_0), the tangent s_t = (dh_t/dθ) v is carried forward,

    s_0 = v_h0,    s_t = T^t (v_U x_t + v_W h_{t-1} + v_b_h + W s_{t-1}),

and the loss's directional derivative collects dE/dq_t . (dq_t/dθ) v at every step:

    dE . v = sum_t dq_t . (v_V h_t + v_b_y + V s_t)   (+ dhs_t . s_t for the layer alone)

with dq_t = w_t (sigma_t yhat_t - y_t). `jvp` costs O(T H^2), like one forward pass; exact to
round-off, with no step to choose. `forward_gradients` carries every column of dh_t/dθ at once
(an H x P matrix, P the recurrent parameters and h_0): O(T H^2 P). This is a third analytic route
to the gradient that shares no code with the backward recursion (bptt.py) or the series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import GradcheckError
from .model import Forward, forward
from .problem import GRAD_NAMES, Problem, make_problem

# forward_gradients carries an H x P matrix through T steps: about 2 T H^2 P flops (P = H (H + D
# + 2)), at about 2 GFLOP/s here. Beyond this budget (about 10 s) it refuses and points at the
# recursion: T = 200, H = 32, D = 16 passes; T = 200, H = 64, D = 32 does not.
FORWARD_FLOP_LIMIT = 2e10


def _output_error(problem: Problem, fw: Forward) -> np.ndarray:
    """dq_t = w_t (sigma_t yhat_t - y_t), (T, K)."""
    Y = problem.Y
    return problem.weights[:, None] * (Y.sum(axis=1, keepdims=True) * np.exp(fw.log_yhat) - Y)


def jvp_problem(problem: Problem, tangents: Mapping[str, np.ndarray]) -> float:
    """dE . v for a validated Problem (module docstring); tangents as in `jvp`. Another cell than the
    seed's carries its tangents with cells.run_tangent."""
    fw = forward(problem)
    dq = _output_error(problem, fw)
    if problem.cell != "tanh":
        return _cell_jvp(problem, fw, dq, tangents)
    (U, W, V, b_h, b_y), hs, xs = problem.params, fw.hs, problem.xs
    v = {
        k: np.broadcast_to(np.asarray(tangents.get(k, 0.0), dtype=np.float64), shape)
        for k, shape in (
            ("U", U.shape),
            ("W", W.shape),
            ("V", V.shape),
            ("b_h", b_h.shape),
            ("b_y", b_y.shape),
            ("h0", problem.h0.shape),
        )
    }
    direct = xs @ v["U"].T + hs[:-1] @ v["W"].T + v["b_h"]  # v_U x_t + v_W h_{t-1} + v_b for every t
    deriv = 1.0 - hs[1:] ** 2
    s = np.empty_like(direct)
    carry = np.array(v["h0"])
    for t in range(xs.shape[0]):  # s_t = T^t (direct_t + W s_{t-1}): the only step that is sequential
        carry = deriv[t] * (direct[t] + W @ carry)
        s[t] = carry
    total = float(np.sum(dq * (hs[1:] @ v["V"].T + v["b_y"] + s @ V.T)))
    if problem.dhs is not None:
        total += float(np.sum(problem.dhs * s))
    return total


def _cell_jvp(problem: Problem, fw: Forward, dq: np.ndarray, tangents: Mapping[str, np.ndarray]) -> float:
    """dE . v = sum_t dq_t . (v_V h_t + v_b_y + V s_t) (+ dhs_t . s_t), s_t the tangent of h_t."""
    from .cells import run_tangent

    rec_v = {k: v for k, v in tangents.items() if k not in ("V", "b_y")}
    s = run_tangent(problem.cell, problem.recurrent, problem.xs, problem.h0, problem.c0, rec_v)
    zero = lambda k: np.zeros_like(getattr(problem.params, k))
    vV, vb = np.asarray(tangents.get("V", zero("V"))), np.asarray(tangents.get("b_y", zero("b_y")))
    total = float(np.sum(dq * (fw.hs[1:] @ vV.T + vb + s @ problem.params.V.T)))
    return total + (float(np.sum(problem.dhs * s)) if problem.dhs is not None else 0.0)


def jvp(
    params: Mapping[str, Any], xs: Any, ys: Any, h0: Any, tangents: Mapping[str, Any], *, loss: str = "sum"
) -> float:
    """dE . v by forward mode, O(T H^2) (contract form, as `bptt_gradients`).

    tangents: a direction v as a dict like params ({"U", "W", "V", "b_h", "b_y"}, arrays of the
    parameters' shapes), with "h0" optional; a missing key is a zero tangent.
    """
    problem = make_problem(params, xs, ys, h0, loss=loss)
    v = {}
    for k in tangents:
        if k not in GRAD_NAMES:
            raise GradcheckError(f"tangents: unknown key {k!r}; expected some of {list(GRAD_NAMES)}")
        shape = problem.h0.shape if k == "h0" else getattr(problem.params, k).shape
        a = np.asarray(tangents[k], dtype=np.float64)
        if a.shape != shape:
            raise GradcheckError(f"tangents[{k!r}]: shape {a.shape} given, expected {shape}")
        if not np.all(np.isfinite(a)):
            raise GradcheckError(f"tangents[{k!r}]: contains NaN or inf")
        v[k] = a
    return jvp_problem(problem, v)


def forward_sensitivities(problem: Problem) -> dict:
    """The full gradient of a validated Problem by forward mode (contract dict, with "xs").

    S_t = dh_t/dθ (H x P) for the recurrent parameters and h_0, columns [W (H H) | U (H D) | b_h (H)
    | h_0 (H)]: S_0 = [0 | 0 | 0 | I], S_t = T^t (B_t + W S_{t-1}) with B_t = [I (x) h_{t-1}^T |
    I (x) x_t^T | I | 0]; then dE/dθ = sum_t (V^T dq_t + dhs_t)^T S_t. dE/dx_t needs the columns of
    every x_t as well; it is taken as U^T applied to the forward-mode dE/dp_t, the sensitivity of
    E to p_t (the b_h columns, one step at a time).
    """
    D, H, _K, T = problem.sizes
    P = H * H + H * D + 2 * H
    if 2 * T * H * H * P > FORWARD_FLOP_LIMIT:
        raise GradcheckError(
            f"forward_gradients: T={T}, H={H}, D={D} needs about {2 * T * H * H * P:.1e} flops (O(T H^2 P)), over "
            f"the limit {FORWARD_FLOP_LIMIT:.0e}; use jvp for directional derivatives, or bptt_gradients"
        )
    fw = forward(problem)
    dq = _output_error(problem, fw)
    (_U, W, V, _b_h, _b_y), hs, xs = problem.params, fw.hs, problem.xs
    eye = np.eye(H)
    S = np.zeros((H, P))
    S[:, H * H + H * D + H :] = eye  # dh_0/dh_0
    g = np.zeros(P)
    for t in range(T):
        B = np.hstack([np.kron(eye, hs[t][None, :]), np.kron(eye, xs[t][None, :]), eye, np.zeros((H, H))])
        S = (1.0 - hs[t + 1] ** 2)[:, None] * (B + W @ S)
        dh_out = dq[t] @ V + (0.0 if problem.dhs is None else problem.dhs[t])
        g += dh_out @ S
    return {
        "U": g[H * H : H * H + H * D].reshape(H, D),
        "W": g[: H * H].reshape(H, H),
        "V": dq.T @ hs[1:],  # dq_t/dV_kl = delta_k h_t,l: the output layer is not recurrent
        "b_h": g[H * H + H * D : H * H + H * D + H],
        "b_y": dq.sum(axis=0),
        "h0": g[H * H + H * D + H :],
        "xs": _input_gradients(problem, fw, dq),
        "loss": float(problem.weights @ fw.E),
    }


def _input_gradients(problem: Problem, fw: Forward, dq: np.ndarray) -> np.ndarray:
    """dE/dx_t = U^T dE/dp_t, with dE/dp_t by forward mode: a unit tangent on p_t (all H at once)
    carried forward to every later loss."""
    (U, W, V, _b_h, _b_y), hs = problem.params, fw.hs
    T, H = problem.xs.shape[0], W.shape[0]
    out = np.zeros(problem.xs.shape)
    for k in range(T):
        S = np.diag(1.0 - hs[k + 1] ** 2)  # dh_k/dp_k
        g = np.zeros(H)
        for t in range(k, T):
            if t > k:
                S = (1.0 - hs[t + 1] ** 2)[:, None] * (W @ S)
            g += (dq[t] @ V + (0.0 if problem.dhs is None else problem.dhs[t])) @ S
        out[k] = g @ U
    return out


def forward_gradients(params: Mapping[str, Any], xs: Any, ys: Any, h0: Any = None, *, loss: str = "sum") -> dict:
    """Gradients of E by forward mode, the seed's recursion run forward (contract form, as
    `bptt_gradients`): O(T H^2 P); sizes over FORWARD_FLOP_LIMIT raise GradcheckError."""
    out = forward_sensitivities(make_problem(params, xs, ys, h0, loss=loss))
    return {k: v for k, v in out.items() if k != "xs"}
