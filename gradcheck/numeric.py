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

The perturbed losses come from perturb.py, which evaluates many entries and steps at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from .errors import GradcheckError
from .model import Forward, forward
from .perturb import Entries, entries, sweep, theta_of
from .precision import FLOAT64, Precision
from .problem import GRAD_NAMES, Problem, make_problem
from .roundoff import Spread, roundoff_spread

EPS = np.finfo(np.float64).eps
# Complex step: no cancellation, so h only has to make h^2 E''' negligible; 1e-20 does. The price
# is underflow: imaginary parts below the float64 normal range (tiny = 2.2e-308) are flushed (see
# _hidden_rows) or lose digits (subnormals), so derivatives are known only to about T tiny / h
# (1e-287 at T = 100); the error bound carries that term (a fuzz run met dE/dV[5, 0] = 3e-294,
# whose complex step was off by 1.5e-304 through a subnormal yhat_r Im expm1(c)).
COMPLEX_STEP = 1e-20
METHODS = ("central", "richardson", "complex")
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


def fd_step(theta: np.ndarray, pr: Precision = FLOAT64) -> np.ndarray:
    """The central-difference step for each entry: eps^(1/3) max(1, |θ_i|) (`Precision.fd_relative_step`;
    Numerical Recipes 5.7, and scipy's approx_derivative, use the same rule): 6e-6 relative in float64."""
    return pr.fd_relative_step * np.maximum(1.0, np.abs(theta))


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
    parts = [entries(problem, fw, n) for n in names]
    ent = Entries(*(np.concatenate(a) for a in zip(*parts, strict=True)))
    sizes = np.cumsum([0] + [len(p.r) for p in parts])
    theta = np.concatenate([theta_of(problem, n).ravel() for n in names])
    if method == "complex":
        (res,) = sweep(problem, fw, ent, [np.full(len(theta), 1j * COMPLEX_STEP)])
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
    unflat = lambda a, k: a[sizes[k] : sizes[k + 1]].reshape(theta_of(problem, names[k]).shape)
    grads, steps = ({n: unflat(a, k) for k, n in enumerate(names)} for a in (grad, step))
    per_name = lambda a: None if a is None else {n: unflat(a, k) for k, n in enumerate(names)}
    return FDResult(grads, per_name(error), steps, per_name(self_error))


def _plain_central(problem: Problem, fw: Forward, ent: Entries, step: np.ndarray) -> np.ndarray:
    plus, minus = sweep(problem, fw, ent, [step, -step])
    return (plus.change - minus.change) / (2 * step)


def central_differences(problem: Problem, relative_step: float) -> dict[str, np.ndarray]:
    """Plain central differences with step relative_step * max(1, |θ_i|) (for step-size studies)."""
    fw = forward(problem)
    parts = [entries(problem, fw, n) for n in GRAD_NAMES]
    ent = Entries(*(np.concatenate(a) for a in zip(*parts, strict=True)))
    theta = np.concatenate([theta_of(problem, n).ravel() for n in GRAD_NAMES])
    flat = _plain_central(problem, fw, ent, relative_step * np.maximum(1.0, np.abs(theta)))
    sizes = np.cumsum([0] + [len(p.r) for p in parts])
    return {n: flat[sizes[k] : sizes[k + 1]].reshape(theta_of(problem, n).shape) for k, n in enumerate(GRAD_NAMES)}


class Differences(NamedTuple):
    """Central differences at steps h and 2h for some entries, and how far the 2h step moved the model."""

    d1: np.ndarray  # D(h)
    d2: np.ndarray  # D(2h)
    deviation: np.ndarray  # max over t of |h_t - h_t(θ)| and |q_t - q_t(θ)| under the 2h perturbation


def _refined_central(problem: Problem, fw: Forward, ent: Entries, h: np.ndarray, eps_E: float) -> tuple:
    """refine() on the model's loss: one sweep of four perturbed rows per entry and step."""

    def differences(todo: np.ndarray, hb: np.ndarray) -> Differences:
        plus, minus, plus2, minus2 = sweep(problem, fw, ent.take(todo), [hb, -hb, 2 * hb, -2 * hb], track=2)
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
        theta = theta_of(problem, name)
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
            p = _with(p, n, theta_of(problem, n) + s * v[n])
        fw = forward(p)
        moved = max(float(np.max(np.abs(fw.hs - base.hs))), float(np.max(np.abs(fw.q - base.q))))
        return float(p.weights @ fw.E - E0), moved

    theta_max = max(float(np.max(np.abs(theta_of(problem, n)))) for n in GRAD_NAMES)
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
    v = {n: rng.standard_normal(theta_of(problem, n).shape) for n in GRAD_NAMES}
    norm = np.sqrt(sum(np.sum(a**2) for a in v.values()))
    return {n: a / norm for n, a in v.items()}
