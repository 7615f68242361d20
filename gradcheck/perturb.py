"""The loss at perturbed parameters, many entries at once: the kernel the finite differences run on.

One row is one entry θ_i and one step δ: the loss change c(δ) = E(θ + δ e_i) - E(θ), computed in
vectorised batches of rows using the model's structure. A perturbation of V or b_y changes only q_t
(`_output_rows`); one of U, W, b_h or h_0 changes the recurrence only from the first step it
reaches, and a batch starts there (`_hidden_rows`; for U under one-hot inputs, that can be late).
Every perturbed forward pass is the same loss as `model.forward` computes, with θ_i + δ entering as
the term δ a_t added to p_t or q_t. The estimators built on it are in numeric.py.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .model import Forward
from .problem import Problem

# Rows per batch of perturbed forward passes: each step works on (rows, H) arrays, about 1 MB
# here, which amortises numpy's per-call overhead and stays in memory that malloc reuses (fresh
# pages cost a page fault each; on a VM that is slower than the arithmetic).
BATCH_ROWS = 4096
# Batches run in parallel threads, one per core: numpy and BLAS release the GIL while they work.
WORKERS = os.cpu_count() or 1
KINDS = ("U", "W", "b_h", "h0", "V", "b_y")  # row kinds; the first four are the hidden group


def theta_of(problem: Problem, name: str) -> np.ndarray:
    return problem.h0 if name == "h0" else getattr(problem.params, name)


class Entries(NamedTuple):
    """Flattened entries of one or more parameters: kind (index in KINDS), row r, column j, first step."""

    kind: np.ndarray
    r: np.ndarray
    j: np.ndarray
    start: np.ndarray  # 0-based step from which the entry can change h_t (hidden group); T: never

    def take(self, idx: np.ndarray) -> Entries:
        return Entries(*(a[idx] for a in self))


def entries(problem: Problem, fw: Forward, name: str) -> Entries:
    shape = theta_of(problem, name).shape
    if len(shape) == 2:
        r, j = (a.ravel() for a in np.indices(shape))
    else:
        r, j = np.arange(shape[0]), np.zeros(shape[0], dtype=int)
    T = problem.xs.shape[0]
    if name in ("U", "W"):  # U_rj enters p_t through x_{t,j}, W_rj through h_{t-1,j}: from the first nonzero
        nz = (problem.xs if name == "U" else fw.hs[:-1]) != 0
        start = np.where(nz.any(axis=0), nz.argmax(axis=0), T)[j]
    else:
        start = np.zeros(len(r), dtype=int)
    return Entries(np.full(len(r), KINDS.index(name)), r, j, start)


def _operands(problem: Problem, fw: Forward) -> np.ndarray:
    """w_t (sigma_t yhat_t + y_t) (T, K): the sizes of the terms that cancel in dE/dq_t."""
    return problem.weights[:, None] * (problem.Y.sum(axis=1, keepdims=True) * np.exp(fw.log_yhat) + problem.Y)


class Rows(NamedTuple):
    """Per perturbed row b (entry i, step δ_b):"""

    change: np.ndarray  # c(δ_b) = sum_t w_t (E_t(θ + δ_b e_i) - E_t(θ)), complex for a complex δ
    scale: np.ndarray  # complex δ: sum_t w_t sum_k (sigma yhat + y)_{t,k} |Im q_{t,k}|, the terms
    # that cancel in Im E (the complex step's round-off is eps times this over h); else 0
    deviation: np.ndarray  # max over t of |h_t - h_t(θ)| and |q_t - q_t(θ)|: how far from linear


def _hidden_rows(problem: Problem, fw: Forward, ent: Entries, delta: np.ndarray, track: slice) -> Rows:
    """Rows perturbing U, W, b_h or h0 entries (any mix), from the batch's first start step on.

    θ_i + δ adds δ a_t to p_{t,r}: a_t = x_{t,j} for U_rj, h_{t-1,j} for W_rj (the perturbed
    state), 1 for b_h,r, and nothing for h0 (which moves the initial state instead). The loss is
    taken step by step, so every array is one step's (B, H) or (B, K) and memory is reused; and
    it is taken as a change from the unperturbed loss, so its round-off scales with the change.
    """
    (U, W, V, b_h, _b_y), xs, w = problem.params, problem.xs, problem.weights
    T, H = xs.shape[0], W.shape[0]
    t0 = int(ent.start.min())
    # One more row with δ = 0 runs the unperturbed recurrence through the same batched code: the
    # changes are taken from it, not from model.forward's states, whose rounding differs slightly
    # (the recurrence can grow that difference, and it would not cancel in every combination).
    n_rows = len(delta)
    ent = Entries(*(np.append(a, a[:1] * 0 + (KINDS.index("b_h") if k == 0 else 0)) for k, a in enumerate(ent)))
    delta = np.append(delta, delta[:1] * 0)
    B, rows = len(delta), np.arange(len(delta))
    kind = ent.kind
    is_U, is_W, is_b = kind == KINDS.index("U"), kind == KINDS.index("W"), kind == KINDS.index("b_h")
    fixed = delta * (is_U * xs[t0:, np.where(is_U, ent.j, 0)] + is_b)  # (T - t0, B): the U and b_h terms
    moving = delta * is_W  # times h_{t-1,j}, read from the perturbed states at each step
    target, source = rows * H + ent.r, rows * H + np.where(is_W, ent.j, 0)  # flat indices into (B, H)
    pre = xs @ U.T + b_h
    S = np.repeat(fw.hs[t0][None, :].astype(delta.dtype), B, axis=0)
    h0_rows = kind == KINDS.index("h0")
    S[rows[h0_rows], ent.r[h0_rows]] += delta[h0_rows]
    WT, VT = np.ascontiguousarray(W.T), np.ascontiguousarray(V.T)
    P, dS = np.empty((B, H), dtype=delta.dtype), np.empty((B, H), dtype=delta.dtype)
    dq = np.empty((B, V.shape[0]), dtype=delta.dtype)
    yhat, sigma = np.exp(fw.log_yhat), problem.Y.sum(axis=1)
    out = Rows(np.zeros(B, dtype=delta.dtype), np.zeros(B), np.zeros(B))
    operands = _operands(problem, fw) if np.iscomplexobj(delta) else None
    n_track = track.stop - track.start
    moved_h = np.zeros((n_track, H)) if n_track else None
    moved_q = np.zeros((n_track, V.shape[0])) if n_track else None
    for t in range(t0, T):
        np.matmul(S, WT, out=P)
        P += pre[t]
        P.reshape(-1)[target] += fixed[t - t0] + moving * S.reshape(-1)[source]
        np.tanh(P, out=S)
        # The loss change of each row from its logits' change dq = V (h_t - h_t(θ)), without
        # forming E itself: E_t(q + dq) - E_t(q) = sigma_t log1p(sum_k yhat_k expm1(dq_k)) - y_t . dq
        np.subtract(S, S[-1], out=dS)
        np.matmul(dS, VT, out=dq)
        if operands is None:
            lse_change = np.log1p(np.expm1(dq) @ yhat[t])
        else:  # complex step: the imaginary part does not cancel, and complex expm1 is slow in numpy
            # Imaginary parts below the normal range (1e-308) are below any derivative we can
            # resolve (1e-308 / COMPLEX_STEP), and they make exp 4x slower: flush them to 0.
            dq.imag[np.abs(dq.imag) < np.finfo(np.float64).tiny] = 0.0
            z = np.exp(dq)
            lse_change = np.log(z.real @ yhat[t] + 1j * (z.imag @ yhat[t]))  # numpy's complex @ real is slow
        out.change[:] += w[t] * (
            sigma[t] * lse_change
            - (dq.real @ problem.Y[t] + 1j * (dq.imag @ problem.Y[t]) if operands is not None else dq @ problem.Y[t])
        )
        if problem.dhs is not None:  # the layer's loss: dhs_t . (h_t - h_t(θ))
            out.change[:] += dS @ problem.dhs[t]
            if operands is not None:
                out.scale[:] += np.abs(dS.imag) @ np.abs(problem.dhs[t])
        if operands is not None:
            out.scale[:] += np.abs(dq.imag) @ operands[t]  # (real @ real)
        if moved_h is not None:  # elementwise maxima now, one reduction at the end
            np.maximum(moved_h, np.abs(dS[track]), out=moved_h)
            np.maximum(moved_q, np.abs(dq[track]), out=moved_q)
    if moved_h is not None:
        out.deviation[track] = np.maximum(moved_h.max(axis=1), moved_q.max(axis=1))
    return Rows(*(a[:n_rows] for a in out))


def _output_rows(problem: Problem, fw: Forward, ent: Entries, delta: np.ndarray, track: slice) -> Rows:
    """Rows perturbing V_rj (q_t += c e_r with c = δ h_{t,j}) or b_y,r (c = δ): the output layer only.

    Only one logit moves, so the loss change has a closed form with no cancellation:

        E_t(q_t + c e_r) - E_t(q_t) = sigma_t log1p(yhat_{t,r} expm1(c)) - c y_{t,r}

    (log sum_k exp(q_k + c [k = r]) = lse(q) + log(1 + yhat_r (e^c - 1))), which is the same loss,
    evaluated more accurately and K times cheaper than a softmax per row.
    """
    a = np.where((ent.kind == KINDS.index("V"))[None, :], fw.hs[1:, ent.j], 1.0)  # (T, B)
    c = a * delta  # (T, B)
    yhat, Y = np.exp(fw.log_yhat)[:, ent.r], problem.Y[:, ent.r]  # (T, B)
    sigma = problem.Y.sum(axis=1, keepdims=True)
    dE = sigma * np.log1p(yhat * np.expm1(c)) - c * Y
    scale = np.abs(c.imag) * _operands(problem, fw)[:, ent.r] if np.iscomplexobj(c) else np.zeros_like(a)
    return Rows(problem.weights @ dE, scale.sum(axis=0), np.abs(c.real).max(axis=0))


def sweep(
    problem: Problem, fw: Forward, ent: Entries, deltas: list[np.ndarray], track: int | None = None
) -> list[Rows]:
    """Rows for each δ array (one δ per entry); the deviation is measured for deltas[track] only.

    Hidden-group entries are sorted by their first step, so that late starters share a batch
    that starts late; batches hold BATCH_ROWS rows.
    """
    n, m, T = len(ent.r), len(deltas), problem.xs.shape[0]
    out = [Rows(np.zeros(n, dtype=d.dtype), np.zeros(n), np.zeros(n)) for d in deltas]
    hidden = ent.kind < KINDS.index("V")
    jobs = []
    for group in (np.flatnonzero(hidden), np.flatnonzero(~hidden)):
        group = group[np.argsort(ent.start[group], kind="stable")]
        group = group[ent.start[group] < T]  # entries that never reach the loss: derivative exactly 0
        per_chunk = max(1, min(BATCH_ROWS // m, -(-len(group) // WORKERS)))  # every core gets work
        jobs += [group[lo : lo + per_chunk] for lo in range(0, len(group), per_chunk)]

    def run(idx: np.ndarray) -> None:
        sub = Entries(*(np.tile(a[idx], m) for a in ent))
        delta = np.concatenate([d[idx] for d in deltas])
        track_rows = slice(0, 0) if track is None else slice(track * len(idx), (track + 1) * len(idx))
        with np.errstate(over="ignore", invalid="ignore"):  # only rows beyond LINEAR_RANGE can overflow
            rows = (_hidden_rows if hidden[idx[0]] else _output_rows)(problem, fw, sub, delta, track_rows)
        for k in range(m):
            part = slice(k * len(idx), (k + 1) * len(idx))
            for field in range(3):
                out[k][field][idx] = rows[field][part]

    if WORKERS > 1 and len(jobs) > 1:
        # numpy releases the GIL inside its loops; one BLAS thread per worker avoids oversubscription
        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(run, jobs))
    else:
        for idx in jobs:
            run(idx)
    return out
