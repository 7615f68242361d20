"""Finite-difference derivatives of the loss E alone: central, Richardson, complex step.

Central differences (every entry θ_i of every parameter, and of h_0), with c(δ) = E(θ + δ e_i) - E(θ):

    D(h) = (c(h) - c(-h)) / 2h = dE/dθ_i + h^2 E'''/6 + O(h^4)

The error is truncation plus round-off, eps_E / h, where eps_E is the round-off scale of
computing E (`roundoff.roundoff_spread`). A second difference at 2h estimates the truncation
for each entry, D(2h) - D(h) = 3 h^2 E'''/6 + O(h^4), and Richardson extrapolation
(4 D(h) - D(2h)) / 3 removes the h^2 term. (A one-sided third point, c(2h) - 3 c(h) - c(-h),
would save one evaluation, but it mixes in the even derivatives, and about one problem in ten
thousand has an E'''' large enough to spoil it.) The estimate holds while h is in the
asymptotic range, which we check directly: the perturbation by 2h must move every h_t and q_t
by less than LINEAR_RANGE; where it does not (exploding, chaotic recurrences), h is divided
by 4. The complex step

    dE/dθ_i = Im E(θ + i h e_i) / h + O(h^2)

subtracts nothing, so h can be tiny and the result is exact to round-off (the model is analytic).

The perturbed losses are evaluated in vectorised batches of rows (one row: one entry and one
δ), using the model's structure: a perturbation of V or b_y changes only q_t (`_output_rows`);
one of U, W, b_h or h_0 changes the recurrence only from the first step it reaches, and a batch
starts there (`_hidden_rows`; for U under one-hot inputs, that can be late). Every perturbed
forward pass is the same loss as `model.forward` computes, with θ_i + δ entering as the term
δ a_t added to p_t or q_t.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .model import Forward, forward
from .precision import FLOAT64, Precision
from .problem import GRAD_NAMES, GradcheckError, Problem, make_problem
from .roundoff import Spread, roundoff_spread

EPS = np.finfo(np.float64).eps
# Complex step: no cancellation, so h only has to make h^2 E''' negligible; 1e-20 does. The price
# is underflow: imaginary parts below the float64 normal range (tiny = 2.2e-308) are flushed (see
# _hidden_rows) or lose digits (subnormals), so derivatives are known only to about T tiny / h
# (1e-287 at T = 100); the error bound carries that term (a fuzz run met dE/dV[5, 0] = 3e-294,
# whose complex step was off by 1.5e-304 through a subnormal yhat_r Im expm1(c)).
COMPLEX_STEP = 1e-20
# Rows per batch of perturbed forward passes: each step works on (rows, H) arrays, about 1 MB
# here, which amortises numpy's per-call overhead and stays in memory that malloc reuses (fresh
# pages cost a page fault each; on a VM that is slower than the arithmetic).
BATCH_ROWS = 4096
METHODS = ("central", "richardson", "complex")
# Batches run in parallel threads, one per core: numpy and BLAS release the GIL while they work.
WORKERS = os.cpu_count() or 1
# Where h is too large (see _refined_central), it is divided by 4 up to this many times
# (h / 4^8 is about 1e-10 relative: round-off eps_E / h is still far below the gradients of
# the exploding problems that need it). Entries that never pass are reported unresolved.
MAX_REFINE = 8
# Central differences are in their asymptotic range when the perturbation moves the states
# h_t and logits q_t much less than the scale on which tanh and softmax bend (about 1): at a
# deviation of 1e-2 the neglected terms are about 1e-4 of the leading error term.
LINEAR_RANGE = 1e-2
# Round-off in D(4h) - 5 D(2h) + 4 D(h) is at most about 13.5 eps_E / h (each D(s h) within
# 2 eps_E / (s h)); eps_E is a typical size, not a bound, hence 64.
CONSISTENCY_NOISE = 64.0
# Round-off in |D(2h) - D(h)| / 3 is at most (2 + 1) eps_E / h / 3 = eps_E / h; eps_E being a
# typical size, 8 times that is what the difference can show without any truncation at all.
SELF_NOISE = 8.0
KINDS = ("U", "W", "b_h", "h0", "V", "b_y")  # row kinds; the first four are the hidden group


def fd_step(theta: np.ndarray, pr: Precision = FLOAT64) -> np.ndarray:
    """The central-difference step for each entry: eps^(1/3) max(1, |θ_i|) (`Precision.fd_relative_step`;
    Numerical Recipes 5.7, and scipy's approx_derivative, use the same rule): 6e-6 relative in float64."""
    return pr.fd_relative_step * np.maximum(1.0, np.abs(theta))


def _theta(problem: Problem, name: str) -> np.ndarray:
    return problem.h0 if name == "h0" else getattr(problem.params, name)


class Entries(NamedTuple):
    """Flattened entries of one or more parameters: kind (index in KINDS), row r, column j, first step."""

    kind: np.ndarray
    r: np.ndarray
    j: np.ndarray
    start: np.ndarray  # 0-based step from which the entry can change h_t (hidden group); T: never

    def take(self, idx: np.ndarray) -> Entries:
        return Entries(*(a[idx] for a in self))


def _entries(problem: Problem, fw: Forward, name: str) -> Entries:
    shape = _theta(problem, name).shape
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


def _sweep(
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


class FDResult(NamedTuple):
    grads: dict[str, np.ndarray]  # derivative estimates per parameter and "h0"
    error: dict[str, np.ndarray] | None  # estimated absolute error per entry; inf where unresolved
    step: dict[str, np.ndarray]  # the step h used per entry
    # The part of `error` the estimator measured about itself, beyond its round-off noise:
    # max(0, |D(2h) - D(h)| / 3 - SELF_NOISE eps_E / h) (0 for the complex step, whose error is
    # known a priori). compare.fd_tolerance judges an entry only where this is small against the
    # value, so that a broken estimator cannot grade itself.
    self_error: dict[str, np.ndarray] | None = None


def fd_estimate(
    problem: Problem,
    method: str = "central",
    *,
    names: tuple[str, ...] = GRAD_NAMES,
    estimate_error: bool = True,
    spread: Spread | None = None,
) -> FDResult:
    """Finite-difference derivatives of every entry of `names`, with error estimates (module doc).

    estimate_error=False is the plain method made fast: central differences at the same step,
    two evaluations per entry, no refinement, and `error` is None (no tolerance can be derived).
    spread: the problem's float64 round-off spread, when the caller has it (else computed here).
    """
    if method not in METHODS:
        raise GradcheckError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    fw = forward(problem)
    parts = [_entries(problem, fw, n) for n in names]
    ent = Entries(*(np.concatenate(a) for a in zip(*parts, strict=True)))
    sizes = np.cumsum([0] + [len(p.r) for p in parts])
    theta = np.concatenate([_theta(problem, n).ravel() for n in names])
    if method == "complex":
        (res,) = _sweep(problem, fw, ent, [np.full(len(theta), 1j * COMPLEX_STEP)])
        grad, step = res.change.imag / COMPLEX_STEP, np.full(len(theta), COMPLEX_STEP)
        # No truncation to speak of; round-off is that of forward-mode differentiation, whose
        # one extra cancellation is sum_k (sigma yhat_k - y_k) Im q_k: (K + 2) eps its terms.
        # Plus underflow (see COMPLEX_STEP): the flush below tiny loses up to tiny in each of the
        # two sums of a step, and gradual underflow less. And the complex step differentiates
        # along its own rounded trajectory (complex tanh rounds its real part by another formula
        # than np.tanh), so it carries an analytic implementation's round-off too: the round-off
        # model's spread. A fuzz run's closest call, a chaotic problem (T = 41, W up to 2.9),
        # had the complex step 5.4e-13 off in an entry of 0.094 (mpmath at 40 digits), 8 spreads,
        # where the recursion and JAX were within 2e-15. All of this is known a priori, not
        # measured by the estimator (self_error 0).
        underflow = 2 * (problem.xs.shape[0] + 1) * FLOAT64.tiny
        spread = roundoff_spread(problem, FLOAT64, fw) if spread is None else spread
        analytic = np.concatenate([(spread.grads[n] + spread.bound(n)).ravel() for n in names])
        error = (EPS * (problem.Y.shape[1] + 2) * res.scale + underflow) / COMPLEX_STEP + analytic
        self_error = np.zeros(len(theta))
    elif not estimate_error:
        step = fd_step(theta)
        grad, error, self_error = _plain_central(problem, fw, ent, step), None, None
    else:
        spread = roundoff_spread(problem, FLOAT64, fw) if spread is None else spread
        # Round-off of one evaluation of E: two standard deviations of the Monte Carlo runs, and the
        # coherent runs' deviation and the sum over t's worst case, which are bounds already.
        eps_E = 2 * spread.loss + float(spread.bound("loss"))
        step, d1, d2, ok = _refined_central(problem, fw, ent, fd_step(theta), eps_E)
        truncation = np.abs(d2 - d1) / 3  # |h^2 E'''/6| to leading order
        # Each c(δ) takes two evaluations of E (the perturbed row and the unperturbed one), each off
        # by up to eps_E: c(h) - c(-h) is off by up to 4 eps_E, and D(h) by 4 eps_E / 2h.
        roundoff = 2 * eps_E / step
        grad = np.where(ok, (4 * d1 - d2) / 3 if method == "richardson" else d1, np.nan)  # NaN: unresolved
        # Richardson (4 D(h) - D(2h)) / 3: (4 x 2 + 1) eps_E / h / 3 = 1.5 x the central round-off.
        error = np.where(ok, truncation + roundoff * (1.5 if method == "richardson" else 1.0), np.inf)
        self_error = np.maximum(0.0, truncation - SELF_NOISE * eps_E / step)
        # Entries that never reach the loss (a U column of an input that is always 0) are exactly 0.
        never = ent.start >= problem.xs.shape[0]
        grad[never], error[never], self_error[never] = 0.0, 0.0, 0.0
    unflat = lambda a, k: a[sizes[k] : sizes[k + 1]].reshape(_theta(problem, names[k]).shape)
    grads, steps = ({n: unflat(a, k) for k, n in enumerate(names)} for a in (grad, step))
    per_name = lambda a: None if a is None else {n: unflat(a, k) for k, n in enumerate(names)}
    return FDResult(grads, per_name(error), steps, per_name(self_error))


def _plain_central(problem: Problem, fw: Forward, ent: Entries, step: np.ndarray) -> np.ndarray:
    plus, minus = _sweep(problem, fw, ent, [step, -step])
    return (plus.change - minus.change) / (2 * step)


def central_differences(problem: Problem, relative_step: float) -> dict[str, np.ndarray]:
    """Plain central differences with step relative_step * max(1, |θ_i|) (for step-size studies)."""
    fw = forward(problem)
    parts = [_entries(problem, fw, n) for n in GRAD_NAMES]
    ent = Entries(*(np.concatenate(a) for a in zip(*parts, strict=True)))
    theta = np.concatenate([_theta(problem, n).ravel() for n in GRAD_NAMES])
    flat = _plain_central(problem, fw, ent, relative_step * np.maximum(1.0, np.abs(theta)))
    sizes = np.cumsum([0] + [len(p.r) for p in parts])
    return {n: flat[sizes[k] : sizes[k + 1]].reshape(_theta(problem, n).shape) for k, n in enumerate(GRAD_NAMES)}


class Differences(NamedTuple):
    """Central differences at steps h and 2h for some entries, and how far the 2h step moved the model."""

    d1: np.ndarray  # D(h)
    d2: np.ndarray  # D(2h)
    deviation: np.ndarray  # max over t of |h_t - h_t(θ)| and |q_t - q_t(θ)| under the 2h perturbation


def _refined_central(problem: Problem, fw: Forward, ent: Entries, h: np.ndarray, eps_E: float) -> tuple:
    """refine() on the model's loss: one sweep of four perturbed rows per entry and step."""

    def differences(todo: np.ndarray, hb: np.ndarray) -> Differences:
        plus, minus, plus2, minus2 = _sweep(problem, fw, ent.take(todo), [hb, -hb, 2 * hb, -2 * hb], track=2)
        return Differences(
            (plus.change - minus.change) / (2 * hb), (plus2.change - minus2.change) / (4 * hb), plus2.deviation
        )

    return refine(differences, h, eps_E)


def refine(differences: Callable[[np.ndarray, np.ndarray], Differences], h: np.ndarray, eps_E: float) -> tuple:
    """D(h) and D(2h) per entry, with h divided by 4 until it is in the asymptotic range.

    differences(todo, h[todo]) evaluates the entries `todo` at their steps. Two tests, both needed
    in exploding and chaotic recurrences (where the loss has structure on a scale below h, and
    D(h), D(2h) and even D(4h) can agree with each other and not with the derivative): the 2h
    perturbation must move every h_t and q_t by less than LINEAR_RANGE; and once h has been
    divided, the previous D(h) is D(4h) of the new step, so the three must fall in the ratio of
    an h^2 error (h2_ratio_holds). Returns h, D(h), D(2h) and whether h passed (entries that
    never pass are unresolved).
    """
    h, d1, d2, d4 = h.copy(), np.zeros(len(h)), np.zeros(len(h)), np.full(len(h), np.nan)
    todo = np.arange(len(h))
    ok = np.zeros(len(h), dtype=bool)
    for attempt in range(MAX_REFINE + 1):
        hb = h[todo]
        diff = differences(todo, hb)
        d4[todo] = d1[todo] if attempt else np.nan  # D(h) of the previous, 4 times larger, step
        d1[todo], d2[todo] = diff.d1, diff.d2
        consistent = np.isnan(d4[todo]) | h2_ratio_holds(d1[todo], d2[todo], d4[todo], CONSISTENCY_NOISE * eps_E / hb)
        ok[todo] = (diff.deviation <= LINEAR_RANGE) & consistent
        todo = todo[~ok[todo]]
        if todo.size == 0 or attempt == MAX_REFINE:
            break
        h[todo] /= 4
    return h, d1, d2, ok


def h2_ratio_holds(d1: np.ndarray, d2: np.ndarray, d4: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """D(4h) - D(2h) = 4 (D(2h) - D(h)) within +-50%, up to round-off."""
    return np.abs((d4 - d2) - 4 * (d2 - d1)) <= 2 * np.abs(d2 - d1) + noise


def fd_gradients(
    params: Mapping[str, Any], xs: Any, ys: Any, h0: Any = None, *, loss: str = "sum", method: str = "central"
) -> dict:
    """Full-Jacobian finite-difference gradients of E (contract form, as `bptt_gradients`).

    method: "central" (default; step eps^(1/3) max(1, |θ_i|), two evaluations per entry),
    "richardson" (four evaluations, error O(h^4); NaN where h could not be refined into the
    asymptotic range) or "complex" (the complex step, exact to round-off).
    Uses nothing but the loss. Returns the parameter keys, "h0" and "loss".
    """
    problem = make_problem(params, xs, ys, h0, loss=loss)
    out = dict(fd_estimate(problem, method, estimate_error=method != "central").grads)
    out["loss"] = float(problem.weights @ forward(problem).E)
    return out


def naive_central_differences(loss_fn: Callable[[Problem], float], problem: Problem) -> dict[str, np.ndarray]:
    """The textbook method, 2P separate forward passes: the baseline the vectorised sweep must match.

    It divides by the steps actually taken, (θ_i + h) - (θ_i - h) after rounding, as the plain
    method should.
    """
    out = {}
    for name in GRAD_NAMES:
        theta = _theta(problem, name)
        g = np.zeros(theta.size)
        for i, h in enumerate(fd_step(theta).ravel()):
            up, down = theta.ravel().copy(), theta.ravel().copy()
            up[i] += h
            down[i] -= h
            f_up = loss_fn(_with(problem, name, up.reshape(theta.shape)))
            f_down = loss_fn(_with(problem, name, down.reshape(theta.shape)))
            g[i] = (f_up - f_down) / (up[i] - down[i])  # the steps actually taken, after rounding
        out[name] = g.reshape(theta.shape)
    return out


def _with(problem: Problem, name: str, value: np.ndarray) -> Problem:
    if name == "h0":
        return problem._replace(h0=value)
    return problem._replace(params=problem.params._replace(**{name: value}))


class Directional(NamedTuple):
    analytic: float  # <grad, v>
    numeric: float  # (E(θ + h v) - E(θ - h v)) / 2h
    error: float  # estimated absolute error of `numeric` (truncation + round-off)
    step: float
    self_error: float = 0.0  # the truncation part beyond round-off (FDResult.self_error)


def directional_derivative(
    problem: Problem, grads: Mapping[str, np.ndarray], v: Mapping[str, np.ndarray]
) -> Directional:
    """<grad, v> against one central difference along v (cheap: five forward passes).

    v is a direction over all parameters and h_0 (a unit vector is the usual choice). The step
    starts at eps^(1/3) max(1, max_i |θ_i|), the per-entry rule for the largest entry; the error
    model and the refinement are those of `fd_estimate` (error is inf if h never settles).
    """
    base = forward(problem)
    E0 = problem.weights @ base.E
    spread = roundoff_spread(problem, FLOAT64, base)
    eps_E = 2 * spread.loss + float(spread.bound("loss"))  # as in fd_estimate

    def c(s: float) -> tuple[float, float]:
        """E(θ + s v) - E(θ), and how far the states and logits moved."""
        p = problem
        for n in GRAD_NAMES:
            p = _with(p, n, _theta(problem, n) + s * v[n])
        fw = forward(p)
        moved = max(float(np.max(np.abs(fw.hs - base.hs))), float(np.max(np.abs(fw.q - base.q))))
        return float(p.weights @ fw.E - E0), moved

    theta_max = max(float(np.max(np.abs(_theta(problem, n)))) for n in GRAD_NAMES)
    h = float(fd_step(np.array(theta_max)))
    for attempt in range(MAX_REFINE + 1):
        (plus, _), (minus, _), (plus2, moved), (minus2, _) = c(h), c(-h), c(2 * h), c(-2 * h)
        if moved <= LINEAR_RANGE or attempt == MAX_REFINE:
            break
        h /= 4
    d1, d2 = (plus - minus) / (2 * h), (plus2 - minus2) / (4 * h)
    analytic = float(sum(np.sum(grads[n] * v[n]) for n in GRAD_NAMES))
    truncation = abs(d2 - d1) / 3
    error = truncation + 2 * eps_E / h if moved <= LINEAR_RANGE else np.inf  # as in fd_estimate
    return Directional(analytic, float(d1), float(error), h, max(0.0, truncation - SELF_NOISE * eps_E / h))


def random_direction(problem: Problem, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random unit vector over all parameters and h_0."""
    v = {n: rng.standard_normal(_theta(problem, n).shape) for n in GRAD_NAMES}
    norm = np.sqrt(sum(np.sum(a**2) for a in v.values()))
    return {n: a / norm for n, a in v.items()}
