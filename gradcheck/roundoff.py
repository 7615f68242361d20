"""How far round-off can move the loss and its gradient: Monte Carlo arithmetic and bounds.

Two correct implementations of the same equations differ only by round-off, and how much
depends on the problem: errors committed at one step are carried by the recurrence to every
later step (forward) and every earlier step (backward), grown or damped by the same signed
Jacobians T^t W that make the gradient. Worst-case bounds that take absolute values (Higham,
ch. 3) replace those Jacobians by |W| and grow like ||W||^t even where the real errors do
not, so they are useless beyond a few dozen steps. We use Monte Carlo arithmetic instead
(Parker, Pierce and Eggert, 2000): run the forward and backward passes again with every
intermediate perturbed by a random error of the size one correct implementation can make there,
in the arithmetic of the code under test (`precision.Precision`: eps, and sum_eps for the sums
inside dot products), with xi uniform in [-1, 1] and independent:

    p_t   += xi (eps (|U x_t| + |W h_{t-1}| + |b_h|) + sum_eps (sqrt(D+2) |U||x_t| + sqrt(H+2) |W||h_{t-1}|))
    h_t    = tanh(p_t) (1 + xi ULPS eps) + xi 2 eps sign(p_t) + xi tiny    (the library's tanh, a formula's)
    q_t   += xi (eps (|V h_t| + |b_y|) + sum_eps sqrt(H+2) |V||h_t|)
    log yhat_t += xi eps (|q_t - max q_t| + |max q_t| + |log yhat_t| + 2 ULPS + sqrt(K+2)) + xi sum_eps (K+2)
    dq_t  += xi eps (ULPS+2) w_t (sigma_t yhat_t + y_t)                      (the terms that cancel in dq)
    dh_t  += xi (eps (|V^T dq_t| + |W^T dp_{t+1}| + |dhs_t|)
                 + sum_eps (sqrt(K+2) |V^T||dq_t| + sqrt(H+2) |W^T||dp_{t+1}|))
    1 - h_t^2 += xi 2 eps                                                     (absolute, any formula)
    dp_t   = (1 - h_t^2) dh_t (1 + xi eps) + xi tiny

The dot products' sums count sqrt(n+2) roundings, not Higham's worst case n+2: independent
roundings add up like a random walk (Higham and Mary, 2019). tanh's error has two parts: ULPS
eps relative (libraries differ by that much: precision.py), and 2 eps absolute, which is all a
formula such as (e^p - e^-p) / (e^p + e^-p), 2 sigma(2p) - 1 or 1 - 2/(e^{2p} + 1) guarantees
(|tanh| <= 1, and e^p - e^-p cancels for a small p: h = -7.3e-4 came out 4.2e-17 from the exact
value in such a library, 260 eps relative).

SAMPLES runs draw every xi at random; the spread of an entry is its root mean square deviation
over them (`Spread.grads`), a standard deviation that the tolerance multiplies
(compare.ROUNDOFF_SAFETY). Two more runs make the errors of tanh (both parts) and of 1 - h_t^2
all of one sign at every step, as a library whose tanh rounds differently from another's does:
through a run of saturated units such a bias compounds step by step, which independent errors
would only do as a random walk. In them q's rounding keeps one sign per output unit too (the signs
alternating between units), as a library's matmul does on a recurrence that has all but settled
(torch's Linear erred 5 ulps one way at 41 steps, and the dq errors added up in b_y). Their
largest deviation is a bound, not a typical size, and the
tolerance adds it once (`Spread.bias`).

The final sums over t (dW = sum_t dp_t h_{t-1}^T, ..., and E = sum_t w_t E_t) are often loops
that accumulate in the storage precision (`dW += ...`), in either order. They are charged
their worst case, (eps/2) (sum_k |S_k| + sum_t |term_t|) with S_k the partial sums, in the
worse of the two orders (`Spread.sums`): the same term added at every step (a saturated or
settled recurrence) rounds the same way every time, and float16 code summing 184 equal terms
into db_y erred by 0.13 in 2.75, 0.7 of that bound and 14 times a random walk's estimate.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .model import Forward, forward, log_softmax, step_losses
from .precision import Precision
from .problem import Problem

# Random runs per problem. The tolerance is ROUNDOFF_SAFETY times their root mean square: with
# 32 runs the estimate of an entry's standard deviation came out below 0.56 of a 256-run
# estimate in none of 7,800 float16 gradients, and below 0.73 in one in ten (its chi
# distribution with 32 degrees of freedom puts 0.56 at a probability of 1e-4).
SAMPLES = 32
SEED = 20261125  # fixed: the same problem always gets the same tolerance (no flaky checks)


class Terms(NamedTuple):
    """The coefficient of each term of the model (module docstring); 1 is the model. A test that
    sets one to 0 finds the problem on which that term decides the verdict (properties/test_roundoff.py)."""

    p_rounding: float = 1.0  # eps (|U x_t| + |W h_{t-1}| + |b_h|)
    p_dot: float = 1.0  # sum_eps (sqrt(D+2) |U||x_t| + sqrt(H+2) |W||h_{t-1}|)
    tanh_ulps: float = 1.0  # ULPS eps relative
    tanh_absolute: float = 1.0  # 2 eps absolute
    q_rounding: float = 1.0  # eps (|V h_t| + |b_y|)
    q_dot: float = 1.0  # sum_eps sqrt(H+2) |V||h_t|
    softmax: float = 1.0  # the log-softmax's error
    logit_offset: float = 1.0  # eps |max q_t|: log sum exp rounded at max q, and q - lse
    dq: float = 1.0  # dq's cancellation
    dh_rounding: float = 1.0  # eps (|V^T dq_t| + |W^T dp_{t+1}| + |dhs_t|)
    dh_dot: float = 1.0  # sum_eps (sqrt(K+2) |V^T||dq_t| + sqrt(H+2) |W^T||dp_{t+1}|)
    derivative: float = 1.0  # 2 eps absolute on 1 - h_t^2
    dp_rounding: float = 1.0  # eps relative on dp_t
    underflow: float = 1.0  # tiny, in h_t, dq_t and dp_t
    flush: float = 1.0  # the subnormal terms and partial sums of the final sums, lost to flush-to-zero
    coherent: float = 1.0  # the two runs that err one way (0: they draw at random too)
    q_coherent: float = 1.0  # in them, each output unit's q errs one way at every step (0: drawn)
    repeats: float = 1.0  # an error held over steps whose operands repeat (0: drawn afresh every step)
    sums: float = 1.0  # the final sums' worst case


TERMS = Terms()
TANH_ABSOLUTE = 2.0  # eps: a tanh formula's absolute error (module docstring)
DERIVATIVE_ABSOLUTE = 2.0  # eps: 1 - h^2 from a rounded h, by any formula
# A term or partial sum that flush-to-zero code can lose: below FLUSH_BAND x tiny in exact
# arithmetic, since the code's own value is a few eps off. float16 code that flushes subnormals
# lost dV[5, 25] = 0.0075 entirely, 135 settled steps of dq_5 h_25 = 6.107e-5 (tiny = 6.104e-5)
# computed as 6.07e-5 and flushed (a campaign's closest call, properties/test_roundoff.py).
FLUSH_BAND = 2.0


class Spread(NamedTuple):
    """Round-off scales of E and of every entry: parameters, "h0", "xs", and "hs" (h_1..h_T)."""

    loss: float  # the root mean square deviation of E over the random runs
    grads: dict[str, np.ndarray]  # the same, per entry
    states: float  # how far round-off moves any h_t (|h_t| <= 1): the recurrence's conditioning
    magnitude: float  # the largest intermediate a correct implementation forms (sums of |terms|)
    bias: dict[str, np.ndarray]  # the largest deviation of the two coherent runs, per entry and "loss"
    sums: dict[str, np.ndarray]  # the final sums' worst case, per entry and "loss"

    def bound(self, key: str) -> np.ndarray:
        """The parts of an entry's round-off that are bounds, added once: coherent runs and sums."""
        return self.bias[key] + self.sums[key]


class _Noise:
    """Random errors xi in [-1, 1], (runs, T, n); `coherent` (a number, or one per unit) sets runs
    0 and 1 to +-coherent at every step. `repeats`, (T, n) or (T, 1), marks the steps whose
    operation gets the same operands as the step before (rounded to the precision): arithmetic
    errs the same way on the same numbers, so there the error of the step before is kept, and a
    recurrence that has settled makes the same rounding at every step."""

    def __init__(self, runs: int, pr: Precision, coherent: bool = True, repeats: bool = True) -> None:
        self.rng, self.runs, self.pr = np.random.default_rng(SEED), runs, pr
        self.coherent, self.repeats = coherent, repeats

    def __call__(self, shape, coherent: float | None = None, repeats: np.ndarray | None = None) -> np.ndarray:
        a = self.rng.uniform(-1.0, 1.0, (self.runs, *shape))
        if repeats is not None and self.repeats and np.any(repeats):
            steps = np.arange(shape[0])[:, None]
            first = np.maximum.accumulate(np.where(np.broadcast_to(repeats, shape), 0, steps), axis=0)
            a = np.take_along_axis(a, first[None], axis=1)
        if coherent is not None and self.coherent:
            a[0], a[1] = coherent, -coherent
        return a

    def same(self, *values: np.ndarray, whole_steps: bool = True) -> np.ndarray:
        """Where step t's operands equal step t-1's in the precision: every row of every value
        (T, ...) for an operation on whole vectors, (T, 1); entry by entry otherwise, (T, n)."""
        equal = [self.pr.round(v[1:]) == self.pr.round(v[:-1]) for v in values if v is not None]
        if whole_steps:
            equal = [e.reshape(e.shape[0], int(np.prod(e.shape[1:]))).all(axis=1, keepdims=True) for e in equal]
        out = np.logical_and.reduce(equal)
        return np.concatenate([np.zeros((1, out.shape[1]), dtype=bool), out])


def direct_state_gradient(problem: Problem, dq: np.ndarray) -> np.ndarray:
    """dE_t/dh_t from outside the recurrence, (..., T, H): V^T dq_t, plus the layer's upstream dhs_t."""
    out = dq @ problem.params.V
    return out if problem.dhs is None else out + problem.dhs


def _output_error(problem: Problem, log_yhat: np.ndarray) -> np.ndarray:
    """dq = w_t (sigma_t yhat_t - y_t) for (..., T, K) log yhat (the round-off model's own copy)."""
    Y = problem.Y
    return problem.weights[:, None] * (Y.sum(axis=1, keepdims=True) * np.exp(log_yhat) - Y)


def backward(problem: Problem, hs: np.ndarray, dq: np.ndarray, noise=None) -> np.ndarray:
    """dp (..., T, H) by dp_t = (1 - h_t^2) (dh_out_t + W^T dp_{t+1}); noise(t, dh, deriv, dp)
    perturbs each step when given (the round-off model's own backward pass)."""
    W = problem.params.W
    dh_out = direct_state_gradient(problem, dq)
    dp = np.empty_like(dh_out)
    carry = np.zeros_like(dh_out[..., 0, :])
    for t in range(dh_out.shape[-2] - 1, -1, -1):
        dh = dh_out[..., t, :] + carry
        deriv = 1.0 - hs[..., t + 1, :] ** 2
        if noise is None:
            dp[..., t, :] = deriv * dh
        else:
            dp[..., t, :] = noise(t, dh, deriv)
        carry = dp[..., t, :] @ W
    return dp


def _count(n: int) -> float:
    """Roundings a dot product of n terms (plus two) commits, added as a random walk."""
    return float(np.sqrt(n + 2))


def _noisy_forward(problem: Problem, fw: Forward, pr: Precision, xi: _Noise, c: Terms):
    """Every run's forward pass at once: hs (R, T+1, H), log yhat (R, T, K), E (R, T)."""
    (U, W, V, b_h, b_y), xs = problem.params, problem.xs
    (T, D), H, K = xs.shape, W.shape[0], V.shape[0]
    eps, acc, ulps, R = pr.eps, pr.sum_eps, pr.ulps, xi.runs
    ux, wh = xs @ U.T, fw.hs[:-1] @ W.T
    local_p = c.p_rounding * eps * (np.abs(ux) + np.abs(wh) + np.abs(b_h)) + c.p_dot * acc * (
        _count(D) * (np.abs(xs) @ np.abs(U).T) + _count(H) * (np.abs(fw.hs[:-1]) @ np.abs(W).T)
    )
    hs = np.empty((R, T + 1, H))
    hs[:, 0] = problem.h0
    pre = ux + b_h
    p_noise = local_p * xi((T, H), repeats=xi.same(xs, fw.hs[:-1]))
    same_p = xi.same(pre + wh, whole_steps=False)  # tanh's operand
    relative = c.tanh_ulps * ulps * eps * xi((T, H), coherent=-1.0, repeats=same_p)
    absolute = c.tanh_absolute * TANH_ABSOLUTE * eps * xi((T, H), coherent=-1.0, repeats=same_p)
    tiny = c.underflow * pr.tiny * xi((T, H), repeats=same_p)
    for t in range(T):
        p = pre[t] + hs[:, t] @ W.T + p_noise[:, t]
        hs[:, t + 1] = np.tanh(p) * (1 + relative[:, t]) + absolute[:, t] * np.sign(p) + tiny[:, t]
    vh = fw.hs[1:] @ V.T
    local_q = c.q_rounding * eps * (np.abs(vh) + np.abs(b_y)) + c.q_dot * acc * _count(H) * (
        np.abs(fw.hs[1:]) @ np.abs(V).T
    )
    # A library's matmul errs one way per output unit at every step of a recurrence that has all but
    # settled (torch's Linear: 5 ulps of q = 17.7, the same sign at 41 steps): in the coherent runs
    # each unit keeps one sign throughout, the signs differing between units as they do in yhat's
    # normalisation, where errors of one sign everywhere would cancel.
    unit_signs = np.where(np.arange(K) % 2 == 0, 1.0, -1.0)
    q_signs = unit_signs if c.q_coherent > 0 else None
    q = hs[:, 1:] @ V.T + b_y + local_q * xi((T, K), coherent=q_signs, repeats=xi.same(fw.hs[1:]))
    # log yhat_k = s_k - log sum_j exp(s_j), s = q - max q: eps |s_k| and eps |log yhat_k| from the
    # two subtractions, the ulps of exp and log, and the sum of K exponentials (in sum_eps inside a
    # reduction, or a random walk in eps where it accumulates in the storage precision). Code that
    # forms lse = max q + log sum exp(s) first and returns q - lse (or exp(q - lse)) rounds at
    # |max q| twice: eps |max q|, which only large logits make count.
    top = fw.q.max(axis=1, keepdims=True)
    s = np.abs(fw.q - top)
    local_ly = c.softmax * (eps * (s + np.abs(fw.log_yhat) + 2 * ulps + np.sqrt(K + 2)) + acc * (K + 2))
    local_ly = local_ly + c.logit_offset * eps * np.abs(top)
    log_yhat = log_softmax(q) + local_ly * xi((T, K), repeats=xi.same(fw.q))
    E = step_losses(log_yhat, problem.Y)
    if problem.dhs is not None:
        E = E + np.sum(problem.dhs * hs[:, 1:], axis=-1)
    return hs, log_yhat, E


def _noisy_backward(problem: Problem, hs, hs_ref, dq, dq_ref, dp_ref, pr: Precision, xi: _Noise, c: Terms):
    """Every run's dp (R, T, H), each step perturbed as in the module docstring."""
    (_U, W, V, _b_h, _b_y), H, K = problem.params, problem.params.W.shape[0], problem.params.V.shape[0]
    eps, acc = pr.eps, pr.sum_eps
    a_dq, a_dp = np.abs(dq_ref), np.abs(dp_ref)
    dhs = 0.0 if problem.dhs is None else np.abs(problem.dhs)
    local = c.dh_rounding * eps * (np.abs(dq_ref @ V) + dhs) + c.dh_dot * acc * _count(K) * (a_dq @ np.abs(V))
    local[:-1] += c.dh_rounding * eps * np.abs(dp_ref[1:] @ W) + c.dh_dot * acc * _count(H) * (a_dp[1:] @ np.abs(W))

    T = dq_ref.shape[0]
    dh_ref = direct_state_gradient(problem, dq_ref)
    dh_ref[:-1] += dp_ref[1:] @ W
    dp_next = np.vstack([dp_ref[1:], np.zeros((1, H))])
    dh_noise = local * xi((T, H), repeats=xi.same(dq_ref, dp_next, problem.dhs))
    same_h = xi.same(hs_ref[1:], whole_steps=False)  # 1 - h^2's operand
    deriv_noise = c.derivative * DERIVATIVE_ABSOLUTE * eps * xi((T, H), coherent=1.0, repeats=same_h)
    same_dp = same_h & xi.same(dh_ref, whole_steps=False)
    dp_noise = c.dp_rounding * eps * xi((T, H), repeats=same_dp)
    tiny = c.underflow * pr.tiny * xi((T, H), repeats=same_dp)

    def noise(t, dh, deriv):
        return (deriv + deriv_noise[:, t]) * (dh + dh_noise[:, t]) * (1 + dp_noise[:, t]) + tiny[:, t]

    return backward(problem, hs, dq, noise)


def _gradients(problem: Problem, hs, dq, dp) -> dict[str, np.ndarray]:
    """The final sums, for reference arrays (T, ...) or perturbed ones (R, T, ...)."""
    outer = lambda a, b: np.einsum("...ti,...tj->...ij", a, b, optimize=True)  # sum_t a_t b_t^T (BLAS)
    return {
        "V": outer(dq, hs[..., 1:, :]),
        "b_y": dq.sum(axis=-2),
        "W": outer(dp, hs[..., :-1, :]),
        "U": outer(dp, problem.xs),
        "b_h": dp.sum(axis=-2),
        "h0": dp[..., 0, :] @ problem.params.W,
        "xs": dp @ problem.params.U,
    }


def _root_mean_square(d: np.ndarray) -> np.ndarray:
    """sqrt(mean(d^2)) over axis 0, scaled so that deviations of 1e-200 do not square to 0."""
    scale = np.max(np.abs(d), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, scale * np.sqrt(np.mean((d / np.where(scale > 0, scale, 1.0)) ** 2, axis=0)), 0.0)


def _loop_sum_bound(terms: np.ndarray, pr: Precision, c: Terms) -> np.ndarray:
    """The worst-case rounding of sum_t terms[t] (axis 0) accumulated in either order, each term
    itself rounded once, u (1 + u)^T (max(sum_k |S_k| forward, backward) + sum_t |terms_t|) with
    u = eps/2; and what flushing subnormal numbers to zero loses, every term and partial sum near
    or below tiny."""
    partial = np.cumsum(terms, axis=0)  # S_k forward; backward, S'_k = S_T - S_{k-1}
    backward = partial[-1] - partial[:-1]
    np.abs(partial, out=partial)
    np.abs(backward, out=backward)
    a_terms = np.abs(terms)
    sums = [a.sum(axis=0) for a in (partial, backward, a_terms)]
    # The code's own partial sums are off by the errors made before them: B_k <= u sum_{j<=k}
    # (|S_j| + B_j) gives B_T <= (1 + u)^T u sum_j |S_j| (a discrete Gronwall bound; 2.2 at T = 200
    # in bfloat16, 1.1 in float16, 1 to 2e-5 in float32).
    u = pr.eps / 2
    rounding = u * (1 + u) ** terms.shape[0] * (np.maximum(sums[0], sums[1] + partial[-1]) + sums[2])
    if c.flush == 0 or min(a.min(initial=np.inf) for a in (partial, backward, a_terms)) >= FLUSH_BAND * pr.tiny:
        return c.sums * rounding  # (nothing near underflow: the usual case)
    band = FLUSH_BAND * pr.tiny
    below = lambda a: np.where(a < band, a, 0.0).sum(axis=0)
    flushed = below(a_terms) + np.maximum(
        below(partial), below(backward) + np.where(partial[-1] < band, partial[-1], 0)
    )
    return c.sums * rounding + c.flush * flushed


def _sums(problem: Problem, fw: Forward, dq, dp, pr: Precision, c: Terms) -> dict[str, np.ndarray]:
    """The final sums' worst case per entry (module docstring), and the dot products that make
    dh_0 = W^T dp_1 and dx_t = U^T dp_t, charged as the model's dot products are."""
    (U, W, _V, _b_h, _b_y), xs, H = problem.params, problem.xs, problem.params.W.shape[0]
    eps, acc, hs = pr.eps, pr.sum_eps, fw.hs
    dots = {
        "h0": eps / 2 * np.abs(dp[0] @ W) + acc * _count(H) * (np.abs(dp[0]) @ np.abs(W)),
        "xs": eps / 2 * np.abs(dp @ U) + acc * _count(H) * (np.abs(dp) @ np.abs(U)),
        "hs": eps / 2 * np.abs(hs[1:]),
    }
    return {
        "V": _loop_sum_bound(dq[:, :, None] * hs[1:, None, :], pr, c),
        "b_y": _loop_sum_bound(dq, pr, c),
        "W": _loop_sum_bound(dp[:, :, None] * hs[:-1, None, :], pr, c),
        "U": _loop_sum_bound(dp[:, :, None] * xs[:, None, :], pr, c),
        "b_h": _loop_sum_bound(dp, pr, c),
        "loss": _loop_sum_bound(problem.weights * fw.E, pr, c),
        **{k: c.sums * v for k, v in dots.items()},
    }


def _states(hs_deviation: np.ndarray) -> float:
    """The states' conditioning: two standard deviations of the random runs, or the coherent runs'
    deviation, at the worst entry."""
    random, bias = _root_mean_square(hs_deviation[2:]), np.max(np.abs(hs_deviation[:2]), axis=0)
    return float(np.max(np.maximum(2 * random, bias), initial=0.0))


def conditioning(problem: Problem, pr: Precision, fw: Forward | None = None) -> tuple[float, float]:
    """(Spread.states, Spread.magnitude) alone, from the forward runs only: what the problem
    generator needs to temper a recurrence, at a fraction of roundoff_spread's cost."""
    if problem.cell != "tanh":
        c = _cell(problem, pr)
        return c.states, c.magnitude
    fw = forward(problem) if fw is None else fw
    hs, _, _ = _noisy_forward(problem, fw, pr, _Noise(SAMPLES + 2, pr), TERMS)
    dq_ref = _output_error(problem, fw.log_yhat)
    dp_ref = backward(problem, fw.hs, dq_ref)
    return _states(hs[:, 1:] - fw.hs[None, 1:]), _magnitude(problem, fw, np.abs(dq_ref), np.abs(dp_ref))


def roundoff_spread(problem: Problem, pr: Precision, fw: Forward | None = None, terms: Terms | None = None) -> Spread:
    """Round-off scales of E and of every gradient entry, in the arithmetic `pr` (module docstring);
    terms: the model's coefficients (TERMS when not given). Another cell's from its derivation
    (roundoff_cells.py)."""
    if problem.cell != "tanh":
        return _cell(problem, pr)
    fw = forward(problem) if fw is None else fw
    terms = TERMS if terms is None else terms
    xi = _Noise(SAMPLES + 2, pr, coherent=terms.coherent > 0, repeats=terms.repeats > 0)
    T, K, w = problem.xs.shape[0], problem.params.V.shape[0], problem.weights
    hs, log_yhat, E = _noisy_forward(problem, fw, pr, xi, terms)
    dq_ref = _output_error(problem, fw.log_yhat)
    dp_ref = backward(problem, fw.hs, dq_ref)
    # dq = w (sigma yhat - y): the subtraction errs by eps times its operands, not its result
    # (yhat_t of the target class can be 1 - 1e-30, so dq is -1e-30 while the error is eps), and
    # yhat = exp(log yhat) inherits the absolute error of log yhat as a relative one (already in
    # the noisy log yhat above).
    operands = w[:, None] * (problem.Y.sum(axis=1, keepdims=True) * np.exp(fw.log_yhat) + problem.Y)
    same_dq = xi.same(fw.q, problem.Y)
    dq = _output_error(problem, log_yhat) + terms.dq * pr.eps * (pr.ulps + 2) * operands * xi((T, K), repeats=same_dq)
    dq += terms.underflow * pr.tiny * xi((T, K), repeats=same_dq)
    dp = _noisy_backward(problem, hs, fw.hs, dq, dq_ref, dp_ref, pr, xi, terms)
    noisy, ref = _gradients(problem, hs, dq, dp), _gradients(problem, fw.hs, dq_ref, dp_ref)
    deviation = {k: noisy[k] - ref[k][None] for k in ref}
    deviation["hs"] = hs[:, 1:] - fw.hs[None, 1:]
    deviation["loss"] = (E - fw.E[None]) @ w
    random = {k: _root_mean_square(d[2:]) for k, d in deviation.items()}
    bias = {k: np.max(np.abs(d[:2]), axis=0) for k, d in deviation.items()}
    states = _states(deviation["hs"])
    sums = _sums(problem, fw, dq_ref, dp_ref, pr, terms)
    magnitude = _magnitude(problem, fw, np.abs(dq_ref), np.abs(dp_ref))
    loss = float(random.pop("loss"))
    return Spread(loss, random, states, magnitude, bias, sums)


# The last few cells' spreads: the problem generator asks for a problem's conditioning, then for
# its spread, and another cell's conditioning costs the whole spread.
_CELL_KEPT: dict[tuple, tuple] = {}
CELL_KEPT = 16


def _cell(problem: Problem, pr: Precision) -> Spread:
    """Another cell's spread, from its derivation (roundoff_cells.py): the same parts, judged alike."""
    from .roundoff_cells import cell_spread

    key = (id(problem), pr.name)
    kept = _CELL_KEPT.get(key)
    if kept is not None and kept[0] is problem:  # (ids of freed objects recur)
        return kept[1]
    c = cell_spread(problem, pr)
    sums = {k: c.sums.get(k, np.zeros_like(v)) for k, v in c.bias.items()}
    spread = Spread(c.loss, c.grads, c.states, c.magnitude, c.bias, sums)
    if len(_CELL_KEPT) >= CELL_KEPT:
        _CELL_KEPT.pop(next(iter(_CELL_KEPT)))
    _CELL_KEPT[key] = (problem, spread)
    return spread


def _magnitude(problem: Problem, fw: Forward, a_dq, a_dp) -> float:
    """The largest sum of |terms| a correct implementation forms: pre-activations, logits, dh_t,
    and every final sum and the loss (range checks compare it with max)."""
    (U, W, V, b_h, b_y), xs = problem.params, problem.xs
    a_hs = np.abs(fw.hs)
    dhs = 0.0 if problem.dhs is None else np.abs(problem.dhs)
    sizes = [
        np.abs(xs) @ np.abs(U).T + a_hs[:-1] @ np.abs(W).T + np.abs(b_h),
        a_hs[1:] @ np.abs(V).T + np.abs(b_y),
        a_dq @ np.abs(V) + dhs + np.vstack([a_dp[1:] @ np.abs(W), np.zeros((1, W.shape[0]))]),
        a_dq.T @ a_hs[1:],
        a_dq.sum(axis=0),
        a_dp.T @ a_hs[:-1],
        a_dp.T @ np.abs(xs),
        a_dp.sum(axis=0),
        np.abs(problem.weights) @ np.abs(fw.E),
    ]
    return float(max(np.max(s) for s in sizes))
