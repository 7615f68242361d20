"""Test the tests: every property fails when a known mistake is planted in what it checks.

A property that cannot fail proves nothing. Each case here runs one property from checks.py,
exactly as the property tests do, on a deliberately wrong implementation, and asserts that
Hypothesis finds a counterexample within a few dozen problems.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from gradcheck.bptt import bptt, per_step, series, truncated
from gradcheck.derivation import SEED, Mutation, MutationKind, apply, evaluate
from gradcheck.strategies import problems

from . import checks

ALL = problems(one_hot_inputs=None, zero_h0=None, soft_targets=None, loss=None)
# Four mistakes that change the recurrent-layer gradients, planted as mutants of the derivation.
CORE_BUGS = {
    "no_tanh_derivative": Mutation(MutationKind.DROP_FACTOR, "dp", (0, 0)),
    "W_not_transposed": Mutation(MutationKind.TRANSPOSE, "c", (0, 0)),
    "no_recurrent_term": Mutation(MutationKind.DROP_TERM, "dh", (1,)),
    "h_t_for_h_prev": Mutation(MutationKind.SHIFT, "dW", (1, 0), 0),
}


def planted(m: Mutation):
    """The gradients of the derivation with one mistake planted, as a gradient function."""
    d = apply(SEED, (m,))
    return lambda p: evaluate(d, p).arrays


def fails_somewhere(prop, strategy=ALL, max_examples=40) -> bool:
    """Does Hypothesis find an example where prop(problem) raises AssertionError?"""

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],  # no shrinking: finding one counterexample is the point
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(problem):
        prop(problem)

    try:
        run()
    except AssertionError:
        return True
    return False


@pytest.mark.parametrize("bug", CORE_BUGS)
@pytest.mark.parametrize(
    "prop",
    [
        lambda fn, p: checks.check_matches_jax(fn, p),
        lambda fn, p: checks.check_matches_fd(fn, p, "central"),
        lambda fn, p: checks.check_matches_fd(fn, p, "richardson"),
        lambda fn, p: checks.check_matches_fd(fn, p, "complex"),
        lambda fn, p: checks.check_directional(fn, p),
        lambda fn, p: checks.check_forms_agree(fn, series, p),
        lambda fn, p: checks.check_permutation_equivariance(_hidden_unit_zero_special(fn), p),
    ],
    ids=[
        "vs-jax",
        "vs-central",
        "vs-richardson",
        "vs-complex-step",
        "directional",
        "series-vs-recursion",
        "equivariance",
    ],
)
def test_agreement_properties_catch_core_bugs(prop, bug):
    mistaken = planted(CORE_BUGS[bug])
    assert fails_somewhere(lambda p: prop(mistaken, p))


def _hidden_unit_zero_special(fn):
    """For equivariance, which any of the core bugs keeps: a code that treats unit 0 specially."""

    def wrong(problem):
        g = dict(fn(problem))
        g["W"] = g["W"].copy()
        g["W"][0, 0] *= 2.0
        return g

    return wrong


def test_correct_code_passes_the_same_harness():
    """The harness itself is not what fails: the right gradients pass every property above."""
    assert not fails_somewhere(lambda p: checks.check_matches_jax(bptt, p), max_examples=20)
    assert not fails_somewhere(lambda p: checks.check_matches_fd(bptt, p, "central"), max_examples=10)
    assert not fails_somewhere(lambda p: checks.check_forms_agree(bptt, series, p), max_examples=10)
    assert not fails_somewhere(lambda p: checks.check_permutation_equivariance(bptt, p), max_examples=10)


# --- truncation ------------------------------------------------------------------------------

VISIBLE = problems(regimes=("moderate", "large_gradient"), one_hot_inputs=False, loss="sum")


def test_truncation_at_T_catches_a_window_one_short():
    one_short = lambda p, k: truncated(p, k - 1) if k > 1 else truncated(p, 1)
    assert fails_somewhere(lambda p: checks.check_truncation_at_T_is_full(one_short, bptt, p))


def test_truncation_below_T_catches_code_that_ignores_k():
    ignores_k = lambda p, k: bptt(p)
    assert fails_somewhere(lambda p: checks.check_truncation_below_T_differs(ignores_k, bptt, p, 2), VISIBLE)


def test_truncations_agree_catches_an_off_by_one_window():
    assert fails_somewhere(
        lambda p: checks.check_truncations_agree(lambda q, k: truncated(q, k + 1), series, p, 2), VISIBLE
    )


# --- per-step gradients and invariants -------------------------------------------------------


def _per_step_with(change):
    def wrong(problem):
        return change(problem, dict(per_step(problem)))

    return wrong


def _drop_first_step(problem, steps):
    steps["W"] = steps["W"].copy()
    steps["W"][0] = 0.0
    return steps


def _V_with_previous_state(problem, steps):
    from gradcheck.model import forward

    hs = forward(problem).hs
    steps["V"] = steps["b_y"][:, :, None] * hs[:-1, None, :]  # h_{t-1} where h_t belongs
    return steps


def _forgot_targets(problem, steps):
    from gradcheck.model import forward

    steps["b_y"] = np.exp(forward(problem).log_yhat)  # yhat_t, without - y_t
    return steps


def test_per_step_sum_catches_a_dropped_step():
    assert fails_somewhere(
        lambda p: checks.check_per_step_sums_to_total(_per_step_with(_drop_first_step), bptt, p), VISIBLE
    )


def test_closed_forms_catch_h_prev_in_dV():
    assert fails_somewhere(lambda p: checks.check_output_layer_closed_forms(_per_step_with(_V_with_previous_state), p))


def test_per_step_vs_jax_catches_a_dropped_step():
    assert fails_somewhere(lambda p: checks.check_per_step_matches_jax(_per_step_with(_drop_first_step), p, 1), VISIBLE)


def test_b_y_sum_catches_forgotten_targets():
    assert fails_somewhere(lambda p: checks.check_b_y_steps_sum_to_zero(_per_step_with(_forgot_targets), p))


def test_one_hot_column_sum_catches_x_prev_in_dU():
    def x_prev(problem):
        g = dict(bptt(problem))
        shifted = problem._replace(xs=np.vstack([np.zeros_like(problem.xs[:1]), problem.xs[:-1]]))
        g["U"] = bptt(shifted)["U"]
        return g

    one_hot = problems(one_hot_inputs=True, regimes=("moderate", "large_gradient"))
    assert fails_somewhere(lambda p: checks.check_one_hot_U_columns_sum_to_b_h(x_prev, p), one_hot)


def test_loss_reductions_catch_a_mean_without_division():
    def mean_not_divided(problem):
        g = bptt(problem)
        if problem.loss == "mean":
            return {k: v * problem.xs.shape[0] for k, v in g.items()}
        return g

    assert fails_somewhere(lambda p: checks.check_loss_reductions(mean_not_divided, p))


# --- forward mode ----------------------------------------------------------------------------


def _jvp_with(mistake):
    """jvp_problem's recursion with one step done wrong (written out: the module's is right)."""
    from gradcheck.model import forward
    from gradcheck.problem import GRAD_NAMES

    def jvp(problem, v):
        fw = forward(problem)
        dq = problem.weights[:, None] * (problem.Y.sum(1, keepdims=True) * np.exp(fw.log_yhat) - problem.Y)
        (_, W, V, _, _), hs = problem.params, fw.hs
        v = {k: v.get(k, 0.0) for k in GRAD_NAMES}
        s, total = v["h0"], 0.0
        for t in range(problem.xs.shape[0]):
            carry = (W.T if mistake == "W_transposed" else W) @ s
            deriv = 1.0 if mistake == "no_tanh_derivative" else 1.0 - hs[t + 1] ** 2
            state = hs[t + 1] if mistake == "h_t_for_h_prev" else hs[t]
            s = deriv * (v["U"] @ problem.xs[t] + v["W"] @ state + v["b_h"] + carry)
            total += float(dq[t] @ (v["V"] @ hs[t + 1] + v["b_y"] + V @ s))
        return total

    return jvp


@pytest.mark.parametrize("mistake", ["W_transposed", "no_tanh_derivative", "h_t_for_h_prev", "none"])
def test_the_jvp_property_catches_forward_mode_mistakes(mistake):
    caught = fails_somewhere(lambda p: checks.check_jvp_matches(_jvp_with(mistake), bptt, p))
    assert caught == (mistake != "none")


# --- the tolerances are tight: small errors are caught -------------------------------------


def _scaled(key: str, factor: float, grad_fn=bptt):
    def wrong(problem):
        g = dict(grad_fn(problem))
        g[key] = g[key] * factor
        return g

    return wrong


@pytest.mark.parametrize("key", ["loss", "W", "U", "V", "h0"])
def test_a_relative_error_of_1e_9_is_caught_against_jax(key):
    """The round-off tolerance is tight enough to see a 1e-9 relative error in any one gradient
    or in the loss alone (the gradients right): a loose tolerance (8 / spread for the loss, a
    noise term that blows up) would pass it."""
    assert fails_somewhere(lambda p: checks.check_matches_jax(_scaled(key, 1 + 1e-9), p))


def test_a_wrong_loss_of_the_layer_alone_is_caught():
    layers = problems(one_hot_inputs=None, zero_h0=None, layer=True)
    assert fails_somewhere(lambda p: checks.check_matches_jax(_scaled("loss", 1 + 1e-9), p), layers)
    assert fails_somewhere(lambda p: checks.check_matches_jax(_scaled("xs", 1 + 1e-9), p), layers)
