"""Per-step gradients dE_t/dθ, the seed's closed forms, and invariants of the gradient."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.bptt import bptt, per_step
from gradcheck.strategies import problems

from .checks import (
    check_b_y_steps_sum_to_zero,
    check_loss_reductions,
    check_one_hot_U_columns_sum_to_b_h,
    check_output_layer_closed_forms,
    check_per_step_matches_jax,
    check_per_step_sums_to_total,
    check_permutation_equivariance,
    examples,
)

ALL = problems(one_hot_inputs=None, zero_h0=None, soft_targets=None, loss=None)


@given(ALL)
def test_per_step_gradients_sum_to_total(problem):
    check_per_step_sums_to_total(per_step, bptt, problem)


@given(ALL)
def test_output_layer_matches_seed_closed_forms(problem):
    check_output_layer_closed_forms(per_step, problem)


@examples(0.5)
@given(ALL, st.data())
def test_per_step_gradient_matches_jax_of_that_step(problem, data):
    t = data.draw(st.integers(1, problem.xs.shape[0]), label="t")
    check_per_step_matches_jax(per_step, problem, t)


@given(ALL)
def test_b_y_gradient_of_each_step_sums_to_zero(problem):
    check_b_y_steps_sum_to_zero(per_step, problem)


@given(problems(one_hot_inputs=True, zero_h0=None, loss=None))
def test_one_hot_inputs_U_columns_sum_to_b_h(problem):
    check_one_hot_U_columns_sum_to_b_h(bptt, problem)


@given(ALL, st.integers(0, 2**32 - 1))
def test_gradient_is_equivariant_under_renumbering(problem, seed):
    check_permutation_equivariance(bptt, problem, seed)


@pytest.mark.slow
@given(ALL)
def test_mean_loss_gradient_is_sum_over_T(problem):
    check_loss_reductions(bptt, problem)
