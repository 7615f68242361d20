"""The recurrent cells of cuDNN and PyTorch, hand-derived: forward pass, BPTT, truncation, forward mode.

Every cell maps (x_t, h_{t-1}[, c_{t-1}]) to h_t[, c_t] for t = 1..T. The output layer on top
is the seed's (q_t = V h_t + b_y, softmax, E = sum_t w_t E_t) and is not handled here: the
backward pass takes g_t = dL/dh_t from outside the recurrence (the seed's V^T dq_t, or a
layer's upstream dhs_t) and returns the gradients of L = sum_t g_t . h_t, g held constant.
(docs/cells.md writes all of this out.) Notation: * is elementwise, [a; b] stacks blocks,
sigma(p) = 1 / (1 + exp(-p)), and for the gated cells the input and recurrent parts

    a_t = W_ih x_t + b_ih        s_t = W_hh h_{t-1} + b_hh        (G H each, blocks per gate)

Forward equations.

- tanh (the seed) and relu, parameters U (H, D), W (H, H), b_h (H,):

      p_t = U x_t + W h_{t-1} + b_h        h_t = tanh(p_t)  or  max(p_t, 0)

- gru, torch.nn.GRU and cuDNN (reset gate after the recurrent matmul), gate order r, z, n:

      r_t = sigma(a^r_t + s^r_t)    z_t = sigma(a^z_t + s^z_t)    n_t = tanh(a^n_t + r_t * s^n_t)
      h_t = (1 - z_t) * n_t + z_t * h_{t-1}

- gru_cho, Cho et al. 2014 (reset gate before the matmul): r_t, z_t and h_t as above, and

      n_t = tanh(a^n_t + W_hn (r_t * h_{t-1}) + b_hn)

- lstm, torch.nn.LSTM, gate order i, f, g, o (and a cell state c_t, c_0 given):

      [p^i; p^f; p^g; p^o] = a_t + s_t     i, f, o = sigma(p^i, p^f, p^o)    g = tanh(p^g)
      c_t = f_t * c_{t-1} + i_t * g_t      h_t = o_t * tanh(c_t)

Backward recursion (BPTT). With dh_{T} = g_T and, for the LSTM, dc from outside = 0, step
t = T..1 turns the adjoint dh_t (and dc_t) into da_t = dL/da_t, ds_t = dL/ds_t and the
carries to step t-1; then dh_{t-1} = g_{t-1} + carry, and

    dW_ih = sum_t da_t x_t^T   db_ih = sum_t da_t   dW_hh = sum_t ds_t h_{t-1}^T   db_hh = sum_t ds_t
    dx_t = W_ih^T da_t         dh_0 = the carry out of step 1   (and dc_0, LSTM)

(U, b_h, W for tanh/relu, with da_t = ds_t = dp_t; for gru_cho the n rows of dW_hh take
(r_t * h_{t-1})^T). Per cell:

- tanh/relu: dp_t = T^t dh_t with T^t = diag(1 - h_t^2) (the seed's) or diag([p_t > 0]);
  carry W^T dp_t. relu'(0) = 0, PyTorch's convention (`relu_derivative`).
- gru: dp^n = (1 - n_t^2) * (1 - z_t) * dh_t    dp^z = z_t (1 - z_t) * (h_{t-1} - n_t) * dh_t
       dp^r = r_t (1 - r_t) * s^n_t * dp^n
       da_t = [dp^r; dp^z; dp^n]   ds_t = [dp^r; dp^z; r_t * dp^n]   carry z_t * dh_t + W_hh^T ds_t
- gru_cho: dp^n, dp^z as gru;  d(rh) = W_hn^T dp^n;  dp^r = r_t (1 - r_t) * h_{t-1} * d(rh)
       da_t = ds_t = [dp^r; dp^z; dp^n]   carry z_t * dh_t + W_hr^T dp^r + W_hz^T dp^z + r_t * d(rh)
- lstm: dc_t = f_{t+1} * dc_{t+1} + o_t (1 - tanh^2 c_t) * dh_t   (the cell state's own path)
       dp = [i(1-i) g dc_t; f(1-f) c_{t-1} dc_t; (1 - g^2) i dc_t; o(1-o) tanh(c_t) dh_t]
       da_t = ds_t = dp   carries W_hh^T dp (to dh_{t-1}) and f_t * dc_t (to dc_{t-1})

Truncated BPTT with k terms (`run_backward(..., k=k)`): each g_t is carried back through steps
t, t-1, .., t-k+1 only (through h and c alike), as `bptt.truncated` does for the seed's RNN;
k >= T is the full gradient. Forward mode (`run_tangent`) carries the tangents of h_t and c_t
forward with the same per-step Jacobians, O(T H^2).

Every function is generic in the dtype (float64, or complex128 for the complex-step derivative:
tanh, exp and sigmoid are analytic; relu uses the sign of the real part).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .errors import GradcheckError
from .layouts import GATE_ORDER, GATES, RECURRENT_NAMES, Cell, has_cell_state, parse_cell, recurrent_shapes


class Trajectory(NamedTuple):
    """A forward pass: the states, and what the backward pass and forward mode need from it."""

    hs: np.ndarray  # (T+1, H): hs[0] = h_0, hs[t] = h_t
    cs: np.ndarray | None  # (T+1, H) for the LSTM (cs[0] = c_0), None otherwise
    # Per-step arrays (T, ...): "p" (tanh, relu); "r", "z", "n" and "s_n" = W_hn h_{t-1} + b_hn
    # (gru) or "rh" = r_t * h_{t-1} (gru_cho); "i", "f", "g", "o", "tanh_c" (lstm).
    cache: dict[str, np.ndarray]


# --- elementwise functions --------------------------------------------------------------------


def sigmoid(p: np.ndarray) -> np.ndarray:
    """sigma(p) = 1 / (1 + exp(-p)) = exp(p) / (1 + exp(p)), each form where |exp| <= 1.

    exp(-s p) with s the sign of Re p never overflows, and neither form cancels, so sigma keeps
    its relative accuracy down to sigma(-745); s is constant near p, so it stays analytic.
    """
    s = np.where(np.real(p) >= 0, 1.0, -1.0)
    e = np.exp(-s * p)
    return np.where(s > 0, 1.0, e) / (1.0 + e)


def relu(p: np.ndarray) -> np.ndarray:
    """max(p, 0), by the sign of the real part (so that it takes complex steps)."""
    return p * (np.real(p) > 0)


def relu_derivative(p: np.ndarray) -> np.ndarray:
    """[p > 0], with relu'(0) = 0: PyTorch's convention (and JAX's).

    At p = 0 exactly relu has no derivative; code that takes relu'(0) = 1 (or 1/2) is not wrong,
    it picks another element of the subdifferential. A judge must not fail such code on a problem
    whose pre-activation p_t hits 0 exactly (it never does for continuous random draws, but can
    with zero inputs, zero biases and h_0 = 0).
    """
    return (np.real(p) > 0).astype(np.float64)


# --- forward pass -----------------------------------------------------------------------------


def _input_part(cell: Cell, rec: Mapping[str, np.ndarray], xs: np.ndarray) -> np.ndarray:
    """a_t for every t (T, G H): U x_t + b_h (tanh, relu) or W_ih x_t + b_ih."""
    if GATES[cell] == 1:
        return xs @ rec["U"].T + rec["b_h"]
    return xs @ rec["W_ih"].T + rec["b_ih"]


def _step_simple(cell: Cell, rec, a, h, c):
    """h_t = act(p_t), p_t = (U x_t + b_h) + W h_{t-1}."""
    p = a + rec["W"] @ h
    return (np.tanh(p) if cell is Cell.TANH else relu(p)), None, {"p": p}


def _step_gru(cell: Cell, rec, a, h, c):
    """PyTorch's GRU (reset after the matmul), or Cho's (reset before it), one step."""
    H = h.shape[0]
    W_hh, b_hh = rec["W_hh"], rec["b_hh"]
    s = W_hh[: 2 * H] @ h + b_hh[: 2 * H]
    r, z = sigmoid(a[:H] + s[:H]), sigmoid(a[H : 2 * H] + s[H:])
    if cell is Cell.GRU:
        s_n = W_hh[2 * H :] @ h + b_hh[2 * H :]
        n, cache = np.tanh(a[2 * H :] + r * s_n), {"s_n": s_n}
    else:
        rh = r * h
        n, cache = np.tanh(a[2 * H :] + W_hh[2 * H :] @ rh + b_hh[2 * H :]), {"rh": rh}
    return (1.0 - z) * n + z * h, None, {"r": r, "z": z, "n": n, **cache}


def _step_lstm(cell: Cell, rec, a, h, c):
    """PyTorch's LSTM, one step: gates i, f, g, o; c_t = f c_{t-1} + i g, h_t = o tanh(c_t)."""
    H = h.shape[0]
    p = a + rec["W_hh"] @ h + rec["b_hh"]
    i, f, g, o = sigmoid(p[:H]), sigmoid(p[H : 2 * H]), np.tanh(p[2 * H : 3 * H]), sigmoid(p[3 * H :])
    c = f * c + i * g
    tanh_c = np.tanh(c)
    return o * tanh_c, c, {"i": i, "f": f, "g": g, "o": o, "tanh_c": tanh_c}


_STEP: dict[Cell, Callable] = {
    Cell.TANH: _step_simple,
    Cell.RELU: _step_simple,
    Cell.GRU: _step_gru,
    Cell.GRU_CHO: _step_gru,
    Cell.LSTM: _step_lstm,
}


def run_forward(cell: Cell | str, rec: Mapping[str, Any], xs: Any, h0: Any, c0: Any = None) -> Trajectory:
    """The cell's forward pass (module docstring) over xs (T, D) from h0 (H,) and, for the LSTM,
    c0 (H,) (None: zeros). rec: the cell's recurrent parameters (RECURRENT_NAMES, recurrent_shapes).
    Generic in the dtype: complex inputs give the complex trajectory of the complex step."""
    cell, rec, xs, h0, c0 = _inputs(cell, rec, xs, h0, c0)
    T, H = xs.shape[0], h0.shape[0]
    dtype = np.result_type(np.float64, xs, h0, *rec.values(), *(() if c0 is None else (c0,)))
    hs = np.empty((T + 1, H), dtype=dtype)
    cs = None if c0 is None else np.empty((T + 1, H), dtype=dtype)
    hs[0], c = h0, c0
    if cs is not None:
        cs[0] = c0
    a, steps = _input_part(cell, rec, xs), []
    for t in range(T):
        hs[t + 1], c, cache = _STEP[cell](cell, rec, a[t], hs[t], c)
        if cs is not None:
            cs[t + 1] = c
        steps.append(cache)
    cache = {k: np.array([s[k] for s in steps], dtype=dtype).reshape(T, H) for k in (steps[0] if steps else {})}
    return Trajectory(hs, cs, cache)


# --- backward pass ----------------------------------------------------------------------------


class _Steps(NamedTuple):
    """Steps lo..hi-1 (0-based) of a trajectory, every array with a leading step axis (n, H)."""

    h_prev: np.ndarray  # h_{t-1}
    h: np.ndarray  # h_t
    c_prev: np.ndarray | None  # c_{t-1} (LSTM)
    cache: dict[str, np.ndarray]


def _steps(traj: Trajectory, lo: int, hi: int) -> _Steps:
    c_prev = None if traj.cs is None else traj.cs[lo:hi]
    return _Steps(traj.hs[lo:hi], traj.hs[lo + 1 : hi + 1], c_prev, {k: v[lo:hi] for k, v in traj.cache.items()})


def _adjoint_simple(cell: Cell, rec, st: _Steps, dh, dc):
    """dp_t = T^t dh_t (tanh: 1 - h_t^2; relu: [p_t > 0]); carry W^T dp_t."""
    deriv = 1.0 - st.h**2 if cell is Cell.TANH else relu_derivative(st.cache["p"])
    dp = deriv * dh
    return dp, dp, dp @ rec["W"], None


def _adjoint_gru(cell: Cell, rec, st: _Steps, dh, dc):
    """One GRU step backward (module docstring), for steps stacked on the leading axis."""
    r, z, n = st.cache["r"], st.cache["z"], st.cache["n"]
    H, W_hh = dh.shape[-1], rec["W_hh"]
    dp_n = (1.0 - n**2) * (1.0 - z) * dh
    dp_z = z * (1.0 - z) * (st.h_prev - n) * dh
    if cell is Cell.GRU:
        dp_r = r * (1.0 - r) * st.cache["s_n"] * dp_n
        da = np.concatenate([dp_r, dp_z, dp_n], axis=-1)
        ds = np.concatenate([dp_r, dp_z, r * dp_n], axis=-1)
        return da, ds, z * dh + ds @ W_hh, None
    d_rh = dp_n @ W_hh[2 * H :]  # dL/d(r_t * h_{t-1})
    dp_r = r * (1.0 - r) * st.h_prev * d_rh
    da = np.concatenate([dp_r, dp_z, dp_n], axis=-1)
    return da, da, z * dh + da[:, : 2 * H] @ W_hh[: 2 * H] + r * d_rh, None


def _adjoint_lstm(cell: Cell, rec, st: _Steps, dh, dc):
    """One LSTM step backward: dc_t gains o (1 - tanh^2 c_t) dh_t; carries W_hh^T dp, f_t dc_t."""
    i, f, g, o, tanh_c = (st.cache[k] for k in ("i", "f", "g", "o", "tanh_c"))
    dc = dc + o * (1.0 - tanh_c**2) * dh
    dp = np.concatenate(
        [i * (1.0 - i) * g * dc, f * (1.0 - f) * st.c_prev * dc, (1.0 - g**2) * i * dc, o * (1.0 - o) * tanh_c * dh],
        axis=-1,
    )
    return dp, dp, dp @ rec["W_hh"], f * dc


_ADJOINT: dict[Cell, Callable] = {
    Cell.TANH: _adjoint_simple,
    Cell.RELU: _adjoint_simple,
    Cell.GRU: _adjoint_gru,
    Cell.GRU_CHO: _adjoint_gru,
    Cell.LSTM: _adjoint_lstm,
}


def _full(cell: Cell, rec, traj: Trajectory, g: np.ndarray):
    """da, ds (T, G H) and the carries into h_0, c_0 by the backward recursion, t = T..1."""
    T, H = g.shape
    dtype = np.result_type(g, traj.hs)
    da, ds = np.zeros((T, GATES[cell] * H), dtype), np.zeros((T, GATES[cell] * H), dtype)
    dh, dc = np.zeros((1, H), dtype), (np.zeros((1, H), dtype) if traj.cs is not None else None)
    for t in range(T - 1, -1, -1):
        da[t : t + 1], ds[t : t + 1], dh, dc = _ADJOINT[cell](cell, rec, _steps(traj, t, t + 1), g[t : t + 1] + dh, dc)
    return da, ds, dh[0], (None if dc is None else dc[0])


def _truncated(cell: Cell, rec, traj: Trajectory, g: np.ndarray, k: int):
    """As _full with each g_t carried back through k steps only: one pass per lag j = 0..k-1.

    At lag j, row s of (dh, dc) is the adjoint of g_{s+j} . h_{s+j} w.r.t. step s's output, for
    all s at once; step 0's carry reaches h_0 (and c_0).
    """
    T, H = g.shape
    dtype = np.result_type(g, traj.hs)
    da, ds = np.zeros((T, GATES[cell] * H), dtype), np.zeros((T, GATES[cell] * H), dtype)
    dh0, dc0 = np.zeros(H, dtype), np.zeros(H, dtype)
    dh, dc = g, (np.zeros_like(g) if traj.cs is not None else None)
    for j in range(min(k, T)):
        n = T - j
        da_j, ds_j, dh_prev, dc_prev = _ADJOINT[cell](cell, rec, _steps(traj, 0, n), dh, dc)
        da[:n] += da_j
        ds[:n] += ds_j
        dh0 += dh_prev[0]
        if dc_prev is not None:
            dc0 += dc_prev[0]
        dh, dc = dh_prev[1:], (None if dc_prev is None else dc_prev[1:])
    return da, ds, dh0, (dc0 if traj.cs is not None else None)


def _parameter_gradients(cell: Cell, rec, xs: np.ndarray, traj: Trajectory, da, ds) -> dict:
    """dW_ih = sum_t da_t x_t^T, db_ih = sum_t da_t, dW_hh = sum_t ds_t h_{t-1}^T (gru_cho's n rows:
    (r_t * h_{t-1})^T), db_hh = sum_t ds_t, dx_t = W_ih^T da_t; U, b_h, W for tanh and relu."""
    h_prev = traj.hs[:-1]
    if GATES[cell] == 1:
        return {"U": da.T @ xs, "W": ds.T @ h_prev, "b_h": da.sum(axis=0), "xs": da @ rec["U"]}
    dW_hh = ds.T @ h_prev
    if cell is Cell.GRU_CHO:
        H = h_prev.shape[1]
        dW_hh[2 * H :] = ds[:, 2 * H :].T @ traj.cache["rh"]
    return {"W_ih": da.T @ xs, "W_hh": dW_hh, "b_ih": da.sum(axis=0), "b_hh": ds.sum(axis=0), "xs": da @ rec["W_ih"]}


def run_backward(
    cell: Cell | str, rec: Mapping[str, Any], xs: Any, traj: Trajectory, g: Any, *, k: int | None = None
) -> dict:
    """Gradients of L = sum_t g_t . h_t (g (T, H) constant) by BPTT (module docstring), O(T H^2).

    xs (T, D); traj: run_forward's for the same rec and xs. k = None: full BPTT; k >= 1: truncated BPTT, the
    seed's series cut after k terms per step (k >= T is the full gradient). Returns the gradient
    of every recurrent parameter, "h0", "c0" (LSTM only) and "xs" (T, D).
    """
    cell, rec, xs, h0, _ = _inputs(cell, rec, xs, traj.hs[0] if len(traj.hs) else None, None)
    g = np.asarray(g)
    if g.shape != (xs.shape[0], h0.shape[0]):
        raise GradcheckError(f"g: shape {g.shape} given, expected (T, H) = {(xs.shape[0], h0.shape[0])}")
    if traj.hs.shape != (xs.shape[0] + 1, h0.shape[0]) or (traj.cs is None) == has_cell_state(cell):
        raise GradcheckError("traj: not a trajectory of this cell over xs (run_forward's)")
    if k is None:
        da, ds, dh0, dc0 = _full(cell, rec, traj, g)
    elif isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise GradcheckError(f"k: {k!r} given, expected None (full BPTT) or a whole number of series terms >= 1")
    else:
        da, ds, dh0, dc0 = _truncated(cell, rec, traj, g, int(k))
    out = _parameter_gradients(cell, rec, xs, traj, da, ds)
    out["h0"] = dh0
    if dc0 is not None:
        out["c0"] = dc0
    return out


# --- forward mode -----------------------------------------------------------------------------


def _tangent_simple(cell: Cell, rec, st: _Steps, a_dot, s_dot, dh, dc):
    """dh_t = T^t (v_U x_t + v_b_h + v_W h_{t-1} + W dh_{t-1})."""
    deriv = 1.0 - st.h**2 if cell is Cell.TANH else relu_derivative(st.cache["p"])
    return deriv * (a_dot + s_dot + dh @ rec["W"].T), None


def _tangent_gru(cell: Cell, rec, st: _Steps, a_dot, s_dot, dh, dc):
    """The tangent of one GRU step; s_dot = v_W_hh [h_{t-1} | gru_cho's n rows: r_t * h_{t-1}] + v_b_hh."""
    r, z, n = st.cache["r"], st.cache["z"], st.cache["n"]
    H, W_hh = dh.shape[-1], rec["W_hh"]
    ds = s_dot[:, : 2 * H] + dh @ W_hh[: 2 * H].T
    dr = r * (1.0 - r) * (a_dot[:, :H] + ds[:, :H])
    dz = z * (1.0 - z) * (a_dot[:, H : 2 * H] + ds[:, H:])
    if cell is Cell.GRU:
        dp_n = a_dot[:, 2 * H :] + dr * st.cache["s_n"] + r * (s_dot[:, 2 * H :] + dh @ W_hh[2 * H :].T)
    else:
        dp_n = a_dot[:, 2 * H :] + s_dot[:, 2 * H :] + (dr * st.h_prev + r * dh) @ W_hh[2 * H :].T
    dn = (1.0 - n**2) * dp_n
    return (1.0 - z) * dn + z * dh + (st.h_prev - n) * dz, None


def _tangent_lstm(cell: Cell, rec, st: _Steps, a_dot, s_dot, dh, dc):
    """dc_t = df c_{t-1} + f dc_{t-1} + di g + i dg;  dh_t = do tanh(c_t) + o (1 - tanh^2 c_t) dc_t."""
    i, f, g, o, tanh_c = (st.cache[k] for k in ("i", "f", "g", "o", "tanh_c"))
    H = dh.shape[-1]
    dp = a_dot + s_dot + dh @ rec["W_hh"].T
    di, df = i * (1.0 - i) * dp[:, :H], f * (1.0 - f) * dp[:, H : 2 * H]
    dg, do = (1.0 - g**2) * dp[:, 2 * H : 3 * H], o * (1.0 - o) * dp[:, 3 * H :]
    dc = df * st.c_prev + f * dc + di * g + i * dg
    return do * tanh_c + o * (1.0 - tanh_c**2) * dc, dc


_TANGENT: dict[Cell, Callable] = {
    Cell.TANH: _tangent_simple,
    Cell.RELU: _tangent_simple,
    Cell.GRU: _tangent_gru,
    Cell.GRU_CHO: _tangent_gru,
    Cell.LSTM: _tangent_lstm,
}


def _recurrent_input_tangents(cell: Cell, v: dict, traj: Trajectory) -> np.ndarray:
    """v_W_hh h_{t-1} + v_b_hh (v_W h_{t-1} for tanh, relu), gru_cho's n rows on r_t * h_{t-1}: (T, G H)."""
    h_prev = traj.hs[:-1]
    if GATES[cell] == 1:
        return h_prev @ v["W"].T
    out = h_prev @ v["W_hh"].T + v["b_hh"]
    if cell is Cell.GRU_CHO:
        H = h_prev.shape[1]
        out[:, 2 * H :] = traj.cache["rh"] @ v["W_hh"][2 * H :].T + v["b_hh"][2 * H :]
    return out


def run_tangent(
    cell: Cell | str, rec: Mapping[str, Any], xs: Any, h0: Any, c0: Any, tangents: Mapping[str, Any]
) -> np.ndarray:
    """dhs (T, H): the tangent (dh_t/dθ) v of every h_t for a direction v, carried forward, O(T H^2).

    xs (T, D), h0 (H,), c0 (H,) for the LSTM (None: zeros) and None otherwise, as in run_forward.

    tangents: arrays of the recurrent parameters' shapes, "h0" and "c0" (LSTM) (a missing key is a
    zero tangent). Then dL . v = sum_t g_t . dhs_t for L = sum_t g_t . h_t (`run_backward`).
    """
    cell, rec, xs, h0, c0 = _inputs(cell, rec, xs, h0, c0)
    v = _tangent_arrays(cell, rec, h0, tangents)
    traj = run_forward(cell, rec, xs, h0, c0)
    a_dot = _input_part(cell, {k: v[k] for k in rec}, xs)
    s_dot = _recurrent_input_tangents(cell, v, traj)
    T, H = xs.shape[0], h0.shape[0]
    dhs = np.empty((T, H), dtype=np.result_type(traj.hs, *v.values()))
    dh, dc = v["h0"][None], (v["c0"][None] if c0 is not None else None)
    for t in range(T):
        dh, dc = _TANGENT[cell](cell, rec, _steps(traj, t, t + 1), a_dot[t : t + 1], s_dot[t : t + 1], dh, dc)
        dhs[t] = dh[0]
    return dhs


# --- inputs -----------------------------------------------------------------------------------


def _inputs(cell, rec, xs, h0, c0):
    """(cell, rec, xs, h0, c0) checked, as arrays (dtype kept: complex passes); c0 zeros for the
    LSTM when None. Every error names the argument."""
    cell = parse_cell(cell)
    xs, h0 = np.asarray(xs), (None if h0 is None else np.asarray(h0))
    if xs.ndim != 2 or xs.shape[0] == 0:
        raise GradcheckError(f"xs: shape {xs.shape} given, expected (T, D) with T >= 1")
    if h0 is None or h0.ndim != 1 or h0.shape[0] == 0:
        raise GradcheckError(f"h0: shape {None if h0 is None else h0.shape} given, expected (H,) with H >= 1")
    rec = _recurrent(cell, rec, xs.shape[1], h0.shape[0])
    if not has_cell_state(cell):
        if c0 is not None:
            raise GradcheckError(f"c0: given for cell {cell.value!r}, which has no cell state; pass None")
        return cell, rec, xs, h0, None
    c0 = np.zeros(h0.shape) if c0 is None else np.asarray(c0)
    if c0.shape != h0.shape:
        raise GradcheckError(f"c0: shape {c0.shape} given, expected (H,) = {h0.shape}")
    return cell, rec, xs, h0, c0


def _recurrent(cell: Cell, rec: Mapping[str, Any], D: int, H: int) -> dict[str, np.ndarray]:
    if not isinstance(rec, Mapping):
        raise GradcheckError(f"rec: {type(rec).__name__} given, expected a mapping with keys {RECURRENT_NAMES[cell]}")
    names = RECURRENT_NAMES[cell]
    if sorted(rec) != sorted(names):
        raise GradcheckError(f"rec: keys {sorted(rec)} given, expected {list(names)} for cell {cell.value!r}")
    out = {k: np.asarray(rec[k]) for k in names}
    for k, shape in recurrent_shapes(cell, D, H).items():
        if out[k].shape != shape:
            raise GradcheckError(f"rec[{k!r}]: shape {out[k].shape} given, expected {shape} (D={D}, H={H})")
    return out


def _tangent_arrays(cell: Cell, rec: dict, h0: np.ndarray, tangents: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Every tangent as an array (zeros where missing); unknown keys and wrong shapes are errors."""
    shapes = {k: a.shape for k, a in rec.items()} | {"h0": h0.shape}
    if has_cell_state(cell):
        shapes["c0"] = h0.shape
    unknown = sorted(str(k) for k in tangents if k not in shapes)
    if unknown:
        raise GradcheckError(f"tangents: unknown key(s) {unknown}; expected some of {list(shapes)}")
    v = {k: np.asarray(tangents.get(k, np.zeros(shape))) for k, shape in shapes.items()}
    for k, shape in shapes.items():
        if v[k].shape != shape:
            raise GradcheckError(f"tangents[{k!r}]: shape {v[k].shape} given, expected {shape}")
    return v


__all__ = [
    "GATES",
    "GATE_ORDER",
    "RECURRENT_NAMES",
    "Cell",
    "Trajectory",
    "has_cell_state",
    "parse_cell",
    "recurrent_shapes",
    "relu",
    "relu_derivative",
    "run_backward",
    "run_forward",
    "run_tangent",
    "sigmoid",
]
