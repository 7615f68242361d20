"""Finite-difference derivatives of the loss E alone: central, Richardson, complex step.

Central differences (every entry θ_i of every parameter, and of h_0):

    D(h) = (E(θ + h e_i) - E(θ - h e_i)) / 2h = dE/dθ_i + h^2 E'''/6 + O(h^4)

The error is truncation plus round-off, eps_E / h, where eps_E is the round-off scale of
computing E (`roundoff.roundoff_spread`). We estimate the truncation from a second difference
at 2h, D(2h) - D(h) = 3 h^2 E'''/6 + O(h^4), so each entry comes with its own error estimate,
and check with a third at 4h that h is small enough for that estimate to hold (else shrink h);
Richardson extrapolation (4 D(h) - D(2h)) / 3 removes the h^2 term. The complex step

    dE/dθ_i = Im E(θ + i h e_i) / h + O(h^2)

subtracts nothing, so h can be tiny and the result is exact to round-off (the model is analytic).

The perturbed losses are evaluated in vectorised batches that use the model's structure
(`_hidden_sweep`, `_output_sweep`): a perturbation of V or b_y changes only q_t; one of U, W,
b_h or h_0 changes the recurrence only from the first step it reaches, and that step is where
the batch starts. Every perturbed forward pass is the same loss, evaluated exactly as
`model.forward` does, with θ_i + δ entering as the term δ a_t added to p_t or q_t.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .model import Forward, forward, log_softmax, step_losses
from .problem import GRAD_NAMES, GradcheckError, Problem, make_problem
from .roundoff import roundoff_spread

EPS = np.finfo(np.float64).eps
# Central differences: truncation O(h^2 E''') + round-off O(eps E / h) is smallest near
# h = eps^(1/3) relative to the size of θ_i (Numerical Recipes 5.7; scipy's approx_derivative
# uses the same rule): about 6e-6 in float64, 5e-3 in float32.
FD_RELATIVE_STEP = {np.dtype(np.float64): EPS ** (1 / 3), np.dtype(np.float32): np.finfo(np.float32).eps ** (1 / 3)}
# Complex step: no cancellation, so h only has to make h^2 E''' negligible; 1e-20 does, and
# h times any derivative we meet stays far above the float64 underflow (1e-308).
COMPLEX_STEP = 1e-20
# Rows (perturbed forward passes) evaluated at once: bounds memory at about
# BATCH_ROWS * (H + K) * 16 bytes per array while keeping numpy's per-call overhead small.
BATCH_ROWS = 4096
METHODS = ("central", "richardson", "complex")
# Where h is too large (see _refined_central), it is divided by 4 up to this many times
# (h / 4^8 is about 1e-10 relative: round-off eps_E / h is still far below the gradients of
# the exploding problems that need it). Entries that never pass are reported unresolved.
MAX_REFINE = 8
# Central differences are in their asymptotic range when the perturbation moves the states
# h_t and logits q_t much less than the scale on which tanh and softmax bend (about 1): at a
# deviation of 1e-2 the neglected terms are about 1e-4 of the leading error term.
LINEAR_RANGE = 1e-2
# Round-off in D(4h) - 5 D(2h) + 4 D(h) is at most 6.75 eps_E / h; eps_E is a typical size,
# not a bound, so the consistency check allows 64 eps_E / h.
CONSISTENCY_NOISE = 64.0
_HIDDEN = ("U", "W", "b_h", "h0")


def fd_step(theta: np.ndarray, dtype: Any = np.float64) -> np.ndarray:
    """The central-difference step for each entry: eps^(1/3) max(1, |θ_i|) (see FD_RELATIVE_STEP)."""
    return FD_RELATIVE_STEP[np.dtype(dtype)] * np.maximum(1.0, np.abs(theta))


class Entries(NamedTuple):
    """The perturbed entries of one parameter, flattened: row index r, column j, first step."""

    name: str
    r: np.ndarray
    j: np.ndarray
    start: np.ndarray  # 0-based step from which the perturbation can change h_t (hidden group)


def _entries(problem: Problem, fw: Forward, name: str) -> Entries:
    shape = _theta(problem, name).shape
    if len(shape) == 2:
        r, j = (a.ravel() for a in np.indices(shape))
    else:
        r, j = np.arange(shape[0]), np.zeros(shape[0], dtype=int)
    T = problem.xs.shape[0]
    if name == "U":  # U_rj enters p_t through x_{t,j}: from the first t with x_{t,j} != 0
        nz = problem.xs != 0
        start = np.where(nz.any(axis=0), nz.argmax(axis=0), T)[j]
    elif name == "W":  # W_rj enters through h_{t-1,j}
        nz = fw.hs[:-1] != 0
        start = np.where(nz.any(axis=0), nz.argmax(axis=0), T)[j]
    else:
        start = np.zeros(len(r), dtype=int)
    return Entries(name, r, j, start)


def _operands(problem: Problem, fw: Forward) -> np.ndarray:
    """w_t (sigma_t yhat_t + y_t) (T, K): the sizes of the terms that cancel in dE/dq_t."""
    return problem.weights[:, None] * (problem.Y.sum(axis=1, keepdims=True) * np.exp(fw.log_yhat) + problem.Y)


class Sweep(NamedTuple):
    """Per perturbed row b (entry i, step δ_b):"""

    change: np.ndarray  # sum_t w_t (E_t(θ + δ_b e_i) - E_t(θ)), complex for a complex δ
    scale: np.ndarray  # complex δ: sum_t w_t sum_k (sigma yhat + y)_{t,k} |Im q_{t,k}|, the terms
    # that cancel in Im E (the complex step's round-off is eps times this over h); else 0
    deviation: np.ndarray  # max over t of |h_t - h_t(θ)| and |q_t - q_t(θ)|: how far from linear


def _hidden_sweep(problem: Problem, fw: Forward, ent: Entries, delta: np.ndarray) -> Sweep:
    """The perturbed losses for rows b perturbing entries of U, W, b_h or h0 (one kind)."""
    (U, W, V, b_h, b_y), xs, Y, w = problem.params, problem.xs, problem.Y, problem.weights
    T, kind = xs.shape[0], ent.name
    t0 = int(ent.start.min()) if len(ent.start) else T
    out = Sweep(np.zeros(len(delta), dtype=delta.dtype), np.zeros(len(delta)), np.zeros(len(delta)))
    if t0 >= T:
        return out  # the entries never reach the loss: the derivative is exactly 0
    operands = _operands(problem, fw) if np.iscomplexobj(delta) else None
    pre = xs @ U.T + b_h
    S = np.repeat(fw.hs[t0][None, :].astype(delta.dtype), len(delta), axis=0)
    rows = np.arange(len(delta))
    if kind == "h0":
        S[rows, ent.r] += delta
    for t in range(t0, T):
        P = S @ W.T + pre[t]
        if kind == "U":
            P[rows, ent.r] += delta * xs[t, ent.j]
        elif kind == "W":
            P[rows, ent.r] += delta * S[rows, ent.j]
        elif kind == "b_h":
            P[rows, ent.r] += delta
        S = np.tanh(P)
        q = S @ V.T + b_y
        out.change[:] += w[t] * (step_losses(log_softmax(q), Y[t]) - fw.E[t])
        if operands is not None:
            out.scale[:] += np.abs(q.imag) @ operands[t]
        dev = np.maximum(np.abs(S.real - fw.hs[t + 1]).max(axis=1), np.abs(q.real - fw.q[t]).max(axis=1))
        np.maximum(out.deviation, dev, out=out.deviation)
    return out


def _output_sweep(problem: Problem, fw: Forward, ent: Entries, delta: np.ndarray) -> Sweep:
    """As _hidden_sweep, for rows perturbing V_rj (q_t += δ h_{t,j} e_r) or b_y_r (q_t += δ e_r)."""
    a = fw.hs[1:, ent.j].T if ent.name == "V" else np.ones((len(delta), problem.xs.shape[0]))
    Q = np.repeat(fw.q[None].astype(delta.dtype), len(delta), axis=0)  # (B, T, K)
    Q[np.arange(len(delta)), :, ent.r] += delta[:, None] * a
    E = step_losses(log_softmax(Q), problem.Y[None])
    scale = np.abs(delta.imag[:, None] * a) * _operands(problem, fw)[:, ent.r].T
    deviation = np.abs(delta.real[:, None] * a).max(axis=1)
    return Sweep((E - fw.E) @ problem.weights, scale.sum(axis=1), deviation)


def _sweep(problem: Problem, fw: Forward, ent: Entries, deltas: list[np.ndarray]) -> list[Sweep]:
    """A Sweep for each δ array (one δ per entry), evaluated in chunks of BATCH_ROWS rows."""
    n, m = len(ent.r), len(deltas)
    order = np.argsort(ent.start, kind="stable")  # entries that start late share a late batch
    per_chunk = max(1, BATCH_ROWS // (m * (problem.xs.shape[0] if ent.name in ("V", "b_y") else 1)))
    out = [Sweep(np.zeros(n, dtype=d.dtype), np.zeros(n), np.zeros(n)) for d in deltas]
    for lo in range(0, n, per_chunk):
        idx = order[lo : lo + per_chunk]
        sub = Entries(ent.name, *(np.tile(a[idx], m) for a in (ent.r, ent.j, ent.start)))
        delta = np.concatenate([d[idx] for d in deltas])
        res = (_hidden_sweep if ent.name in _HIDDEN else _output_sweep)(problem, fw, sub, delta)
        for k in range(m):
            part = slice(k * len(idx), (k + 1) * len(idx))
            for field in range(3):
                out[k][field][idx] = res[field][part]
    return out


class FDResult(NamedTuple):
    grads: dict[str, np.ndarray]  # derivative estimates per parameter and "h0"
    error: dict[str, np.ndarray]  # estimated absolute error per entry; inf where unresolved
    step: dict[str, np.ndarray]  # the step h used per entry


def _theta(problem: Problem, name: str) -> np.ndarray:
    return problem.h0 if name == "h0" else getattr(problem.params, name)


def fd_estimate(problem: Problem, method: str = "central", *, names: tuple[str, ...] = GRAD_NAMES) -> FDResult:
    """Finite-difference derivatives of every entry of `names`, with error estimates (module doc)."""
    if method not in METHODS:
        raise GradcheckError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    fw = forward(problem)
    grads, errors, steps = {}, {}, {}
    if method == "complex":
        for name in names:
            theta = _theta(problem, name)
            (res,) = _sweep(problem, fw, _entries(problem, fw, name), [np.full(theta.size, 1j * COMPLEX_STEP)])
            grads[name] = (res.change.imag / COMPLEX_STEP).reshape(theta.shape)
            # No truncation to speak of; round-off is that of forward-mode differentiation, whose
            # one extra cancellation is sum_k (sigma yhat_k - y_k) Im q_k: (K + 2) eps its terms.
            errors[name] = (EPS * (problem.Y.shape[1] + 2) * res.scale / COMPLEX_STEP).reshape(theta.shape)
            steps[name] = np.full(theta.shape, COMPLEX_STEP)
        return FDResult(grads, errors, steps)
    eps_E = roundoff_spread(problem, EPS, fw).loss  # round-off scale of one evaluation of E
    for name in names:
        theta = _theta(problem, name)
        h, d1, d2, ok = _refined_central(problem, fw, _entries(problem, fw, name), fd_step(theta).ravel(), eps_E)
        truncation = np.abs(d2 - d1) / 3  # = |h^2 E'''/6| to leading order
        roundoff = eps_E / h  # two evaluations, each off by about eps_E, over 2h
        if method == "richardson":
            grads[name] = ((4 * d1 - d2) / 3).reshape(theta.shape)
            error = truncation + 1.5 * roundoff
        else:
            grads[name] = d1.reshape(theta.shape)
            error = truncation + roundoff
        errors[name] = np.where(ok, error, np.inf).reshape(theta.shape)
        steps[name] = h.reshape(theta.shape)
    return FDResult(grads, errors, steps)


def _central(problem: Problem, fw: Forward, ent: Entries, h: np.ndarray, steps=(1, 2, 4)) -> tuple:
    """D(s h) for each s in steps, and whether every perturbation stayed within LINEAR_RANGE."""
    res = _sweep(problem, fw, ent, [sign * s * h for s in steps for sign in (1, -1)])
    ds = [(res[2 * k].change - res[2 * k + 1].change) / (2 * s * h) for k, s in enumerate(steps)]
    linear = np.all([r.deviation <= LINEAR_RANGE for r in res], axis=0)
    return (*ds, linear)


def _consistent(d1: np.ndarray, d2: np.ndarray, d4: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Is h in the asymptotic range, where D(4h) - D(2h) = 4 (D(2h) - D(h))? (within +-50%)"""
    return np.abs((d4 - d2) - 4 * (d2 - d1)) <= 2 * np.abs(d2 - d1) + noise


def _refined_central(problem: Problem, fw: Forward, ent: Entries, h: np.ndarray, eps_E: float) -> tuple:
    """Central differences, with h divided by 4 (up to MAX_REFINE times) where it is too large.

    h is too large where a perturbation by 4h moves some h_t or q_t by more than LINEAR_RANGE
    (exploding and chaotic recurrences: the loss has structure on a scale below h, and D(h) and
    D(2h) can agree with each other and not with the derivative), or where D(h), D(2h), D(4h)
    are not in the ratio of an h^2 error. Returns h, D(h), D(2h) and whether h passed
    (entries that never pass are unresolved).
    """
    h = h.copy()
    d1, d2, d4, linear = _central(problem, fw, ent, h)
    ok = linear & _consistent(d1, d2, d4, CONSISTENCY_NOISE * eps_E / h)
    for _ in range(MAX_REFINE):
        bad = np.flatnonzero(~ok)
        if bad.size == 0:
            break
        h[bad] /= 4
        sub = Entries(ent.name, ent.r[bad], ent.j[bad], ent.start[bad])
        d4[bad] = d1[bad]
        d1[bad], d2[bad], linear = _central(problem, fw, sub, h[bad], steps=(1, 2))
        ok[bad] = linear & _consistent(d1[bad], d2[bad], d4[bad], CONSISTENCY_NOISE * eps_E / h[bad])
    return h, d1, d2, ok


def fd_gradients(
    params: Mapping[str, Any], xs: Any, ys: Any, h0: Any = None, *, loss: str = "sum", method: str = "central"
) -> dict:
    """Full-Jacobian finite-difference gradients of E (contract form, as `bptt_gradients`).

    method: "central" (default; step eps^(1/3) max(1, |θ_i|)), "richardson" or "complex".
    Uses nothing but the loss. Returns the parameter keys, "h0" and "loss".
    """
    problem = make_problem(params, xs, ys, h0, loss=loss)
    out = dict(fd_estimate(problem, method).grads)
    out["loss"] = float(problem.weights @ forward(problem).E)
    return out


def naive_central_differences(loss_fn: Callable[[Problem], float], problem: Problem) -> dict[str, np.ndarray]:
    """The textbook method, 2P separate forward passes: the baseline the vectorised sweep must match.

    The step is made exactly representable, h = (θ_i + h) - θ_i, as the plain method should.
    """
    out = {}
    for name in GRAD_NAMES:
        theta = _theta(problem, name)
        g = np.zeros(theta.size)
        for i, h in enumerate(fd_step(theta).ravel()):
            values = []
            for sign in (1.0, -1.0):
                moved = theta.ravel().copy()
                moved[i] += sign * h
                values.append(loss_fn(_with(problem, name, moved.reshape(theta.shape))))
            g[i] = (values[0] - values[1]) / (2 * h)
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


def directional_derivative(
    problem: Problem, grads: Mapping[str, np.ndarray], v: Mapping[str, np.ndarray]
) -> Directional:
    """<grad, v> against one central difference along v (cheap: a few forward passes).

    v is a direction over all parameters and h_0 (a unit vector is the usual choice). The step
    starts at eps^(1/3) max(1, max_i |θ_i|), the per-entry rule for the largest entry, and is
    refined as in `_refined_central`; error is inf if it never settles.
    """
    base = forward(problem)
    eps_E = roundoff_spread(problem, EPS, base).loss

    def D(h: float) -> tuple[float, float]:
        """The central difference at step h, and how far the states and logits moved."""
        out, dev = [], 0.0
        for s in (h, -h):
            p = problem
            for n in GRAD_NAMES:
                p = _with(p, n, _theta(problem, n) + s * v[n])
            fw = forward(p)
            out.append(p.weights @ fw.E)
            dev = max(dev, float(np.max(np.abs(fw.hs - base.hs))), float(np.max(np.abs(fw.q - base.q))))
        return (out[0] - out[1]) / (2 * h), dev

    theta_max = max(float(np.max(np.abs(_theta(problem, n)))) for n in GRAD_NAMES)
    h = float(fd_step(np.array(theta_max)))
    (d1, _), (d2, _), (d4, dev4) = D(h), D(2 * h), D(4 * h)
    ok = dev4 <= LINEAR_RANGE and _consistent(d1, d2, d4, CONSISTENCY_NOISE * eps_E / h)
    for _ in range(MAX_REFINE):
        if ok:
            break
        h /= 4
        d4, (d1, _), (d2, dev2) = d1, D(h), D(2 * h)
        ok = dev2 <= LINEAR_RANGE and _consistent(d1, d2, d4, CONSISTENCY_NOISE * eps_E / h)
    analytic = float(sum(np.sum(grads[n] * v[n]) for n in GRAD_NAMES))
    error = abs(d2 - d1) / 3 + eps_E / h if ok else np.inf
    return Directional(analytic, float(d1), float(error), h)


def random_direction(problem: Problem, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random unit vector over all parameters and h_0."""
    v = {n: rng.standard_normal(_theta(problem, n).shape) for n in GRAD_NAMES}
    norm = np.sqrt(sum(np.sum(a**2) for a in v.values()))
    return {n: a / norm for n, a in v.items()}
