"""Hand-derived gradients of E = sum_t w_t E_t: the recursion, the seed's series, truncation.

Output layer, the seed's closed forms (with dq_t = w_t (yhat_t - y_t); for a target y_t that
is not a distribution, (sum_k y_{t,k}) yhat_t - y_t):

    dE/dV = sum_t dq_t h_t^T          dE/db_y = sum_t dq_t

Recurrent layer. The seed writes dh_t/dW as a series over the earlier steps k = t, t-1, .., 1:

    dh_t/dW_ij = sum_k (T^t W T^{t-1} W ... W T^k)_{mi} h_{k-1, j}     T^k = diag(1 - h_k^2)

and the same with x_{k,j} for U, with 1 for b_h, and (T^t W ... T^1 W) for h_0. Three
implementations of it live here:

- `series_gradients`: the series literally, term by term, O(T^2 H^3);
- `bptt_gradients`: the backward recursion, O(T H^2) time and O(T H) memory. With
  dp_{T+1} = 0, for t = T..1:

      dh_t = V^T dq_t + W^T dp_{t+1}     dp_t = (1 - h_t^2) * dh_t
      dW = sum_t dp_t h_{t-1}^T   dU = sum_t dp_t x_t^T   db_h = sum_t dp_t   dh_0 = W^T dp_1

- `truncated_gradients`: the series cut after k terms per step (truncated BPTT), O(k T H^2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import GradcheckError
from .model import forward
from .problem import PARAM_NAMES, Problem, make_problem

# The literal series costs about T^2/2 * (2 H^3 + H^2 D) flops (counted as T^2 (2 H^3 + H^2 D)
# below, for margin) and runs at about 2.3 GFLOP/s on a 2-core machine (T=100, H=64 took
# 2.3 s; `python benchmarks/bench.py`). Beyond this budget, about 10 s, it refuses and points at
# the recursion: T = 1000 at H = 16 passes, T = 200 at H = 64 does not.
SERIES_FLOP_LIMIT = 2e10


def output_error(problem: Problem, log_yhat: np.ndarray) -> np.ndarray:
    """dq (T, K): dE/dq_t = w_t ((sum_k y_{t,k}) yhat_t - y_t), the seed's (yhat_t - y_t)."""
    Y = problem.Y
    return problem.weights[:, None] * (Y.sum(axis=1, keepdims=True) * np.exp(log_yhat) - Y)


def direct_state_gradient(problem: Problem, dq: np.ndarray) -> np.ndarray:
    """dE_t/dh_t from outside the recurrence (T, H): V^T dq_t, or the layer's upstream dhs_t.

    Every recurrent-layer rule (the recursion, the series, truncation, the known mistakes) starts
    from this term, so each carries over to the layer alone (`problem.make_layer_problem`).
    """
    out = dq @ problem.params.V
    return out if problem.dhs is None else out + problem.dhs


def as_dict(problem: Problem, dq: np.ndarray, hs: np.ndarray, rec: dict, loss: float) -> dict:
    """The contract's dict from dq and the recurrent-layer gradients rec {"U", "W", "b_h", "h0", "xs"}.

    "xs" (dE/dx_t = U^T dp_t) is the layer contract's input gradient; the public functions drop it.
    """
    return {
        "U": rec["U"],
        "W": rec["W"],
        "V": dq.T @ hs[1:],
        "b_h": rec["b_h"],
        "b_y": dq.sum(axis=0),
        "h0": rec["h0"],
        "xs": rec["xs"],
        "loss": float(loss),
    }


def _public(grads: dict) -> dict:
    return {k: v for k, v in grads.items() if k != "xs"}


def backward_recursion(dh_out: np.ndarray, hs: np.ndarray, W: np.ndarray) -> np.ndarray:
    """dp (T, H) with dp_t = (1 - h_t^2) * (dh_out_t + W^T dp_{t+1}), dp_{T+1} = 0 (dh_out_t = V^T dq_t)."""
    dp = np.empty_like(dh_out)
    carry = np.zeros(W.shape[0], dtype=dh_out.dtype)  # W^T dp_{t+1}
    for t in range(dh_out.shape[0] - 1, -1, -1):
        dp[t] = (1.0 - hs[t + 1] ** 2) * (dh_out[t] + carry)
        carry = dp[t] @ W
    return dp


def cell_bptt(problem: Problem, k: int | None = None) -> dict:
    """Gradients of a Problem of another cell than the seed's (cells.run_backward; k: truncated
    to k terms per step), in the contract's names, plus "xs"."""
    from .cells import run_backward

    fw = forward(problem)
    dq = output_error(problem, fw.log_yhat)
    rec = run_backward(problem.cell, problem.recurrent, problem.xs, fw.traj, direct_state_gradient(problem, dq), k=k)
    return {**rec, "V": dq.T @ fw.hs[1:], "b_y": dq.sum(axis=0), "loss": float(problem.weights @ fw.E)}


def bptt(problem: Problem) -> dict:
    """Gradients of a validated Problem by the backward recursion, plus "xs" (see as_dict)."""
    if problem.cell != "tanh":
        return cell_bptt(problem)
    fw = forward(problem)
    dq = output_error(problem, fw.log_yhat)
    dp = backward_recursion(direct_state_gradient(problem, dq), fw.hs, problem.params.W)
    rec = {
        "W": dp.T @ fw.hs[:-1],
        "U": dp.T @ problem.xs,
        "b_h": dp.sum(axis=0),
        "h0": dp[0] @ problem.params.W,
        "xs": dp @ problem.params.U,
    }
    return as_dict(problem, dq, fw.hs, rec, problem.weights @ fw.E)


def bptt_gradients(params: Mapping[str, Any], xs: Any, ys: Any, h0: Any = None, *, loss: str = "sum") -> dict:
    """Gradients of E by the backward recursion (module docstring), O(T H^2).

    Contract form: params {"U", "W", "V", "b_h", "b_y"}, xs (T, D), ys (T,) int or (T, K),
    h0 (H,) (None means zeros). Returns {"U", "W", "V", "b_h", "b_y", "h0": arrays, "loss": E}.
    """
    return _public(bptt(make_problem(params, xs, ys, h0, loss=loss)))


def _dh_dtheta(problem: Problem, hs: np.ndarray, t: int, k: int | None) -> dict:
    """The seed's series for dh_t/dθ, literally: tensors J[m, i, j] = dh_{t,m} / dθ_ij.

    Term k (k = t, t-1, .., and at most `k` terms) is P_k = T^t W T^{t-1} ... W T^k times
    h_{k-1,j} (W), x_{k,j} (U) or 1 (b_h); h_0 gets P_1 W when the series reaches step 1, and the
    input x_k gets P_k U.
    Steps are 1-based as in the seed: h_k is hs[k], x_k is xs[k-1].
    """
    W, xs = problem.params.W, problem.xs
    H, D = problem.params.U.shape
    J = {
        "W": np.zeros((H, H, H)),
        "U": np.zeros((H, H, D)),
        "b_h": np.zeros((H, H)),
        "h0": np.zeros((H, H)),
        "xs": np.zeros((H, xs.shape[0], D)),
    }
    P = np.diag(1.0 - hs[t] ** 2)  # P_t = T^t
    first = 1 if k is None else max(1, t - k + 1)
    for step in range(t, first - 1, -1):
        J["W"] += P[:, :, None] * hs[step - 1][None, None, :]
        J["U"] += P[:, :, None] * xs[step - 1][None, None, :]
        J["b_h"] += P
        J["xs"][:, step - 1, :] = P @ problem.params.U  # dh_t/dx_k = P_k U
        if step == 1:
            J["h0"] = P @ W
        else:
            P = P @ W @ np.diag(1.0 - hs[step - 1] ** 2)  # P_{k-1} = P_k W T^{k-1}
    return J


def series(problem: Problem, k: int | None = None) -> dict:
    """The seed's series for a validated Problem (all terms, or the first k per step)."""
    D, H, _K, T = problem.sizes
    terms = T * min(T, k or T)  # T^2 for the full series, T k for a truncated one
    if terms * (2 * H**3 + H**2 * D) > SERIES_FLOP_LIMIT:
        raise GradcheckError(
            f"series_gradients: T={T}, H={H} needs about {terms * (2 * H**3 + H**2 * D):.1e} flops "
            f"(O(T^2 H^3)), over the limit {SERIES_FLOP_LIMIT:.0e}; use bptt_gradients for this size"
        )
    fw = forward(problem)
    dq = output_error(problem, fw.log_yhat)
    g = direct_state_gradient(problem, dq)  # g_t = V^T dq_t: dE_t/dh_t, with the weight w_t
    rec = {"W": np.zeros((H, H)), "U": np.zeros((H, D)), "b_h": np.zeros(H), "h0": np.zeros(H), "xs": np.zeros((T, D))}
    for t in range(1, T + 1):
        J = _dh_dtheta(problem, fw.hs, t, k)
        for name in rec:  # dE_t/dθ_ij = sum_m g_{t,m} dh_{t,m}/dθ_ij
            rec[name] += np.tensordot(g[t - 1], J[name], axes=1)
    return as_dict(problem, dq, fw.hs, rec, problem.weights @ fw.E)


def series_gradients(params: Mapping[str, Any], xs: Any, ys: Any, h0: Any = None, *, loss: str = "sum") -> dict:
    """Gradients of E from the seed's explicit series over earlier steps, term by term.

    O(T^2 H^3): meant for short sequences; sizes over SERIES_FLOP_LIMIT raise GradcheckError.
    Same contract as `bptt_gradients`.
    """
    return _public(series(make_problem(params, xs, ys, h0, loss=loss)))


def truncated(problem: Problem, k: int) -> dict:
    """The series cut after k terms (validated Problem), for all t at once: one pass per lag j = 0..k-1.

    At lag j, G[s] = dE_t/dh_s for t = s + j (0-based s), so that
    dp = (1 - h_s^2) * G adds dp h_{s-1}^T to dW, and G for lag j+1 is W^T dp_{s+1}.
    """
    if problem.cell != "tanh":
        return cell_bptt(problem, k)
    fw = forward(problem)
    dq = output_error(problem, fw.log_yhat)
    W, xs, hs = problem.params.W, problem.xs, fw.hs
    T, H = xs.shape[0], W.shape[0]
    rec = {
        "W": np.zeros((H, H)),
        "U": np.zeros((H, xs.shape[1])),
        "b_h": np.zeros(H),
        "h0": np.zeros(H),
        "xs": np.zeros(xs.shape),
    }
    G = direct_state_gradient(problem, dq)
    for j in range(min(k, T)):
        n = T - j
        dp = (1.0 - hs[1 : n + 1] ** 2) * G
        rec["W"] += dp.T @ hs[:n]
        rec["U"] += dp.T @ xs[:n]
        rec["b_h"] += dp.sum(axis=0)
        rec["xs"][:n] += dp @ problem.params.U
        rec["h0"] += dp[0] @ W  # the loss at t = j + 1 reaches h_0 at this lag
        G = dp[1:] @ W
    return as_dict(problem, dq, hs, rec, problem.weights @ fw.E)


def truncated_gradients(
    params: Mapping[str, Any], xs: Any, ys: Any, h0: Any = None, *, k: int, loss: str = "sum"
) -> dict:
    """Truncated BPTT: the seed's series for each dE_t kept to its first k terms (steps t..t-k+1).

    k >= T gives the full gradient. (Code written as `for s in range(t, max(0, t - n), -1)`
    or WildML's `bptt_truncate = n` keeps n or n + 1 terms; this k counts terms.)
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise GradcheckError(f"k: {k!r} given, expected a whole number of series terms >= 1")
    return _public(truncated(make_problem(params, xs, ys, h0, loss=loss), int(k)))


def per_step(problem: Problem) -> dict:
    """dE_t/dθ for every t (unweighted) of a validated Problem, all T losses back-propagated together.

    G[s] = dE_s/dh_t for the losses s >= t still reaching step t; O(T^2 H^2).
    """
    fw = forward(problem)
    unweighted = problem._replace(weights=np.ones(problem.xs.shape[0]))
    dq = output_error(unweighted, fw.log_yhat)
    W, xs, hs = problem.params.W, problem.xs, fw.hs
    (T, D), H = xs.shape, W.shape[0]
    out = {"U": np.zeros((T, H, D)), "W": np.zeros((T, H, H)), "b_h": np.zeros((T, H)), "h0": np.zeros((T, H))}
    out["V"] = dq[:, :, None] * hs[1:, None, :]
    out["b_y"] = dq
    G = np.zeros((T, H))
    dh_out = direct_state_gradient(unweighted, dq)
    for t in range(T - 1, -1, -1):  # 0-based: state h_{t+1} = hs[t+1]
        G[t] += dh_out[t]
        dp = (1.0 - hs[t + 1] ** 2) * G[t:]
        out["W"][t:] += dp[:, :, None] * hs[t][None, None, :]
        out["U"][t:] += dp[:, :, None] * xs[t][None, None, :]
        out["b_h"][t:] += dp
        G[t:] = dp @ W
    out["h0"] = G
    out["loss"] = fw.E
    return out


def per_step_gradients(params: Mapping[str, Any], xs: Any, ys: Any, h0: Any = None) -> dict:
    """Per-step gradients dE_t/dθ (unweighted), each array with a leading T axis; "loss" holds E_t.

    sum_t w_t dE_t/dθ is the total gradient of E = sum_t w_t E_t.
    """
    return per_step(make_problem(params, xs, ys, h0))


__all__ = [
    "PARAM_NAMES",
    "as_dict",
    "backward_recursion",
    "bptt",
    "bptt_gradients",
    "direct_state_gradient",
    "output_error",
    "per_step",
    "per_step_gradients",
    "series",
    "series_gradients",
    "truncated",
    "truncated_gradients",
]
