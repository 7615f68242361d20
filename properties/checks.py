"""The claims the properties make, as functions of the implementation under test.

Each check takes a gradient function on a Problem (such as bptt.bptt) and raises
AssertionError with a readable report when the claim fails. The property tests apply them
to gradcheck's own gradients; test_planted_bugs.py applies them to known mistakes
(mutants of gradcheck.derivation) to show that each one can fail.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import event, reject

from gradcheck import numeric
from gradcheck.compare import Judgement, compare_grads, describe, failures, fd_tolerance, jvp_tolerance, roundoff_check
from gradcheck.problem import GRAD_NAMES, Problem, as_contract_inputs
from gradcheck.strategies import features
from reference import jax_gradients

GradFn = Callable[[Problem], dict]


def summary(problem: Problem) -> str:
    f = features(problem)
    return (
        f"problem: D={f['D']} H={f['H']} K={f['K']} T={f['T']} loss={problem.loss} "
        f"max|p|={f['max_abs_p']:.3g} max|q|={f['max_abs_logit']:.3g} h0!=0={bool(f['h0_nonzero'])}"
    )


def judgeable_tolerance(problem: Problem) -> dict:
    """The round-off tolerance of a problem that can be judged. One that cannot (ill-conditioned) is
    recorded with hypothesis.event() and rejected (hypothesis.reject(): an invalid example, not a
    pass). HypoFuzz's dashboard crash was blamed on such rejections; a minimal test showed it is its
    several-worker bug instead, with or without them (docs/fuzzing.md)."""
    tol = roundoff_check(problem)
    if tol.judgement is not Judgement.JUDGED:
        event(f"not judged: {tol.judgement.value}")
        reject()
    return tol.tol


def assert_agree(actual: dict, reference: dict, tol: dict, problem: Problem, what: str, names=GRAD_NAMES) -> None:
    checks = compare_grads(actual, reference, tol, names)
    bad = failures(checks)
    assert not bad, f"{what} disagree\n{describe(bad)}\n{summary(problem)}"


def jax_reference(problem: Problem) -> dict:
    return jax_gradients(*as_contract_inputs(problem), loss=problem.loss, dhs=problem.dhs)


def check_matches_jax(grad_fn: GradFn, problem: Problem) -> None:
    """The hand-derived gradients equal JAX autodiff to round-off (and the losses agree; for the
    layer alone, the input gradients dE/dx_t too)."""
    tol = judgeable_tolerance(problem)
    names = (*GRAD_NAMES, "loss", *(("xs",) if problem.dhs is not None else ()))
    assert_agree(grad_fn(problem), jax_reference(problem), tol, problem, "analytic and JAX gradients", names=names)


# Finite differences must judge the entries they are asked to: where the gradient is not
# negligible (its largest entry above 1e-8, far above the differences' round-off), at least 90%
# of the entries must be resolved (over 1,200 random problems, every one with such a gradient had
# all of them resolved). An estimator that grades itself (compare.FD_RESOLVED) leaves most entries
# unresolved, and fails here instead of passing silently.
MIN_RESOLVED = 0.9


def check_matches_fd(grad_fn: GradFn, problem: Problem, method: str = "central") -> None:
    """The hand-derived gradients equal finite differences within their error model, and the
    differences resolve (judge) almost every entry."""
    fd = numeric.fd_estimate(problem, method)
    actual, tol = grad_fn(problem), fd_tolerance(problem, fd)
    assert_agree(actual, fd.grads, tol, problem, f"analytic and {method} differences")
    if max(float(np.max(np.abs(actual[n]))) for n in GRAD_NAMES) > 1e-8:
        resolved = 1 - sum(int(np.sum(np.isinf(tol[n]))) for n in GRAD_NAMES) / sum(tol[n].size for n in GRAD_NAMES)
        assert resolved >= MIN_RESOLVED, (
            f"{method} differences resolve only {resolved:.0%} of the entries\n{summary(problem)}"
        )


def check_forms_agree(fn_a: GradFn, fn_b: GradFn, problem: Problem) -> None:
    """Two analytic forms of the same gradient agree to round-off (the input gradients dE/dx_t too)."""
    tol = judgeable_tolerance(problem)
    assert_agree(fn_a(problem), fn_b(problem), tol, problem, "the two analytic forms", names=(*GRAD_NAMES, "xs"))


def check_directional(grad_fn: GradFn, problem: Problem, seed: int = 0) -> None:
    """<grad, v> equals one central difference along a random unit v, within its error model; the
    difference must resolve where <grad, v> is not negligible."""
    from gradcheck.compare import directional_check

    grads = grad_fn(problem)
    v = numeric.random_direction(problem, np.random.default_rng(seed))
    d = numeric.directional_derivative(problem, grads, v)
    c = directional_check(d)
    assert c.ok, (
        f"<grad, v> = {d.analytic!r} but the central difference is {d.numeric!r} "
        f"(|error| {abs(d.analytic - d.numeric):.2e}, tol {c.tol:.2e})\n{summary(problem)}"
    )
    assert not c.unresolved or abs(d.analytic) <= 1e-8, f"the directional difference is unresolved\n{summary(problem)}"


# --- truncated BPTT --------------------------------------------------------------------------

TruncFn = Callable[[Problem, int], dict]


def check_truncation_at_T_is_full(trunc_fn: TruncFn, full_fn: GradFn, problem: Problem, extra: int = 0) -> None:
    """Truncated BPTT keeping k >= T terms is the full gradient."""
    T, tol = problem.xs.shape[0], judgeable_tolerance(problem)
    assert_agree(
        trunc_fn(problem, T + extra),
        full_fn(problem),
        tol,
        problem,
        f"truncated (k={T + extra} >= T={T}) and full gradients",
    )


def check_truncation_below_T_differs(trunc_fn: TruncFn, full_fn: GradFn, problem: Problem, k: int) -> None:
    """Truncated BPTT keeping k < T terms differs from the full gradient in W (given T > k).

    The dropped terms are (T^t W ... T^{t-k+1} W T^{t-k}) h_{t-k-1}: nonzero for a generic
    problem, but a product of k factors T^t W that can fall below round-off (a suite run met
    k = 7 of T = 9 with |W| ~ 0.3 and saturated steps: the dropped part was 0.27 of the
    tolerance). The seed's series, cut at k and not, says how large the dropped part is; a
    problem where it is not at least twice the tolerance is recorded and rejected.
    """
    from gradcheck.bptt import series

    tol = judgeable_tolerance(problem)
    dropped = np.abs(series(problem, k)["W"] - series(problem)["W"]) / tol["W"]
    if not np.max(dropped) >= 2.0:
        event("truncation: the dropped terms are below round-off")
        reject()
    cut, full = trunc_fn(problem, k), full_fn(problem)
    checks = compare_grads(cut, full, tol, names=("W",))
    assert not checks[0].ok, f"truncation at k={k} < T={problem.xs.shape[0]} changed nothing\n{summary(problem)}"


def check_truncations_agree(trunc_a: TruncFn, trunc_b: TruncFn, problem: Problem, k: int) -> None:
    """Two implementations of truncated BPTT agree (the fast one and the seed's series cut at k)."""
    tol = judgeable_tolerance(problem)
    assert_agree(trunc_a(problem, k), trunc_b(problem, k), tol, problem, f"the two truncations at k={k}")


# --- per-step gradients ----------------------------------------------------------------------

PerStepFn = Callable[[Problem], dict]


def check_per_step_sums_to_total(per_step: PerStepFn, full_fn: GradFn, problem: Problem) -> None:
    """sum_t w_t dE_t/dθ = dE/dθ for E = sum_t w_t E_t."""
    steps, tol = per_step(problem), judgeable_tolerance(problem)
    total = {n: np.tensordot(problem.weights, steps[n], axes=1) for n in GRAD_NAMES}
    assert_agree(total, full_fn(problem), tol, problem, "weighted per-step sum and total")


def check_output_layer_closed_forms(per_step: PerStepFn, problem: Problem) -> None:
    """The seed's closed forms: dE_t/dV_ij = (yhat_t,i - y_t,i) h_t,j and dE_t/db_y,i = yhat_t,i - y_t,i.

    yhat_t is computed here from the seed's formula, softmax(q)_k = exp(q_k) / sum_j exp(q_j)
    (shifted by max q), from the model's states h_t; only the softmax and the outer products are
    new. They round differently from the code they check: a few eps of the operands, K of them
    in the softmax's sum, |q_k - max q| eps relative in yhat_k (the model takes yhat =
    exp(log yhat), whose absolute error grows with |log yhat_k|), and the logits' own rounding,
    (H + 2) eps (|V| |h_t| + |b_y|) absolute, twice in q_k - max q, relative in yhat_k.
    """
    from gradcheck.model import forward

    hs, (_, _, V, _, b_y) = forward(problem).hs, problem.params
    steps = per_step(problem)
    eps, K = np.finfo(float).eps, problem.Y.shape[1]
    for t in range(problem.xs.shape[0]):
        h, y = hs[t + 1], problem.Y[t]
        q = np.array([V[k] @ h + b_y[k] for k in range(K)])
        e = np.exp(q - q.max())
        yhat = e / e.sum()
        dq = yhat * y.sum() - y
        logits = 2 * (len(h) + 2) * np.max(np.abs(V) @ np.abs(h) + np.abs(b_y))
        size = (np.abs(yhat) * y.sum() * (K + 4 + np.abs(q - q.max()) + logits) + np.abs(y) * (K + 4)) * eps
        for name, expected, bound in (("b_y", dq, size), ("V", np.outer(dq, h), 2 * np.outer(size, np.abs(h)))):
            err = np.abs(steps[name][t] - expected)
            assert np.all(err <= bound + 1e-300), (
                f"dE_t/d{name} at t={t + 1} is not the seed's closed form (max error {err.max():.2e})\n"
                f"{summary(problem)}"
            )


def check_per_step_matches_jax(per_step: PerStepFn, problem: Problem, t: int) -> None:
    """dE_t/dθ equals JAX's gradient of the last-step loss of the sequence cut after step t."""
    steps = per_step(problem)
    cut = problem._replace(xs=problem.xs[:t], Y=problem.Y[:t], weights=np.eye(t)[-1], loss="last")
    tol = judgeable_tolerance(cut)
    actual = {n: steps[n][t - 1] for n in GRAD_NAMES}
    assert_agree(actual, jax_reference(cut), tol, cut, f"dE_t/dθ at t={t} and JAX")


# --- invariants ------------------------------------------------------------------------------


def check_b_y_steps_sum_to_zero(per_step: PerStepFn, problem: Problem) -> None:
    """sum_k dE_t/db_{y,k} = sum_k (yhat_t - y_t)_k = 1 - 1 = 0 for target distributions y_t."""
    steps = per_step(problem)["b_y"]
    # sum_k of K terms each at most |yhat_k| + |y_k| in size, rounded: (K + 2) eps (1 + 1).
    bound = 2 * (problem.Y.shape[1] + 2) * np.finfo(float).eps
    sums = np.abs(steps.sum(axis=1))
    assert np.all(sums <= bound), f"sum_k dE_t/db_y,k = {sums.max():.2e}, not 0\n{summary(problem)}"


def check_one_hot_U_columns_sum_to_b_h(grad_fn: GradFn, problem: Problem) -> None:
    """With one-hot x_t (sum_j x_{t,j} = 1): sum_j dE/dU_ij = sum_t dp_{t,i} = dE/db_{h,i}."""
    g = grad_fn(problem)
    tol = judgeable_tolerance(problem)
    assert_agree(
        {"b_h": g["U"].sum(axis=1)},
        {"b_h": g["b_h"]},
        {"b_h": tol["b_h"] + tol["U"].sum(axis=1)},
        problem,
        "sum_j dE/dU_ij and dE/db_h",
        names=("b_h",),
    )


def permuted(problem: Problem, hidden: np.ndarray, inputs: np.ndarray, classes: np.ndarray) -> Problem:
    """The same network with its hidden units, input dimensions and classes renumbered."""
    U, W, V, b_h, b_y = problem.params
    params = problem.params._replace(
        U=U[hidden][:, inputs], W=W[hidden][:, hidden], V=V[classes][:, hidden], b_h=b_h[hidden], b_y=b_y[classes]
    )
    return problem._replace(params=params, xs=problem.xs[:, inputs], Y=problem.Y[:, classes], h0=problem.h0[hidden])


def check_permutation_equivariance(grad_fn: GradFn, problem: Problem, seed: int = 0) -> None:
    """Renumbering hidden units, inputs and classes renumbers the gradient the same way."""
    rng = np.random.default_rng(seed)
    D, H, K, _ = problem.sizes
    ph, pi, pc = rng.permutation(H), rng.permutation(D), rng.permutation(K)
    g, gp = grad_fn(problem), grad_fn(permuted(problem, ph, pi, pc))
    moved = {
        "U": g["U"][ph][:, pi],
        "W": g["W"][ph][:, ph],
        "V": g["V"][pc][:, ph],
        "b_h": g["b_h"][ph],
        "b_y": g["b_y"][pc],
        "h0": g["h0"][ph],
    }
    tol = judgeable_tolerance(problem)
    tol_moved = {
        "U": tol["U"][ph][:, pi],
        "W": tol["W"][ph][:, ph],
        "V": tol["V"][pc][:, ph],
        "b_h": tol["b_h"][ph],
        "b_y": tol["b_y"][pc],
        "h0": tol["h0"][ph],
    }
    assert_agree(gp, moved, tol_moved, problem, "gradients of the renumbered network and renumbered gradients")


def check_loss_reductions(grad_fn: GradFn, problem: Problem) -> None:
    """mean = sum / T, and last = the gradient of E_T alone: the sum over T steps minus the sum
    over the first T - 1 (in exact arithmetic; round-off of both sides in the tolerance)."""
    T = problem.xs.shape[0]
    total = grad_fn(problem._replace(weights=np.ones(T), loss="sum"))
    mean_problem = problem._replace(weights=np.full(T, 1.0 / T), loss="mean")
    tol = judgeable_tolerance(mean_problem)
    assert_agree(
        grad_fn(mean_problem), {n: total[n] / T for n in GRAD_NAMES}, tol, problem, "mean-loss gradients and sum / T"
    )
    if T < 2:
        return
    last_problem = problem._replace(weights=np.eye(T)[-1], loss="last")
    before = problem._replace(xs=problem.xs[:-1], Y=problem.Y[:-1], weights=np.ones(T - 1), loss="sum")
    tol_sum, tol_before = (
        judgeable_tolerance(problem._replace(weights=np.ones(T), loss="sum")),
        judgeable_tolerance(before),
    )
    head = grad_fn(before)
    tol = {n: tol_sum[n] + tol_before[n] for n in GRAD_NAMES}
    assert_agree(
        grad_fn(last_problem),
        {n: total[n] - head[n] for n in GRAD_NAMES},
        tol,
        problem,
        "last-step gradients and sum over T minus sum over T - 1",
    )


def examples(fraction: float, floor: int = 5):
    """settings() running `fraction` of the active profile's max_examples (at least `floor`).

    The expensive properties (finite differences, the O(T^2 H^3) series) run fewer examples
    than the cheap ones, in every profile alike.
    """
    from hypothesis import settings

    return settings(max_examples=max(floor, int(settings().max_examples * fraction)))


# --- forward mode ----------------------------------------------------------------------------

JvpFn = Callable[[Problem, dict], float]


def check_jvp_matches(jvp_fn: JvpFn, grad_fn: GradFn, problem: Problem, seed: int = 0, other=None) -> None:
    """dE . v by forward mode equals <grad, v> of the recursion (or `other`(problem, v), e.g. jax.jvp)
    within the round-off model's tolerance (not finite differences')."""
    tol = judgeable_tolerance(problem)
    v = numeric.random_direction(problem, np.random.default_rng(seed))
    grads = grad_fn(problem)
    expected = other(problem, v) if other else sum(float(np.sum(grads[n] * v[n])) for n in GRAD_NAMES)
    got, limit = jvp_fn(problem, v), jvp_tolerance(grads, tol, v)
    assert abs(got - expected) <= limit, (
        f"dE . v = {got!r} by forward mode, {expected!r} expected (|error| {abs(got - expected):.2e} > tol "
        f"{limit:.2e})\n{summary(problem)}"
    )
