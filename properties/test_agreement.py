"""The hand-derived gradients agree with JAX autodiff, with finite differences, and with each other."""

from hypothesis import given

from gradcheck.bptt import bptt, series
from gradcheck.strategies import problems

from .checks import (
    check_directional,
    check_forms_agree,
    check_matches_fd,
    check_matches_jax,
    examples,
)

# Every property draws from the full problem space: sizes 1..16, T 1..50, all regimes,
# real and one-hot inputs, h0 zero and not, hard and soft targets, sum / mean / last losses.
ALL = problems(one_hot_inputs=None, zero_h0=None, soft_targets=None, loss=None)


@given(ALL)
def test_recursion_matches_jax_autodiff(problem):
    check_matches_jax(bptt, problem)


@examples(0.3)
@given(ALL)
def test_series_matches_jax_autodiff(problem):
    check_matches_jax(series, problem)


@examples(0.3)
@given(ALL)
def test_series_equals_recursion(problem):
    check_forms_agree(series, bptt, problem)


@examples(0.3)
@given(ALL)
def test_recursion_matches_central_differences(problem):
    check_matches_fd(bptt, problem, "central")


@examples(0.2)
@given(ALL)
def test_recursion_matches_richardson_extrapolation(problem):
    check_matches_fd(bptt, problem, "richardson")


@examples(0.3)
@given(ALL)
def test_recursion_matches_complex_step(problem):
    check_matches_fd(bptt, problem, "complex")


@examples(0.5)
@given(ALL)
def test_directional_derivative_matches(problem):
    check_directional(bptt, problem)


# The recurrent layer alone: upstream gradients dhs in place of the output layer (the dead K = 1
# output of problem.make_layer_problem), drawn as the V^T dq_t of an output layer in each regime.
LAYERS = problems(one_hot_inputs=None, zero_h0=None, layer=True)


@examples(0.5)
@given(LAYERS)
def test_the_layer_alone_matches_jax_autodiff(problem):
    check_matches_jax(bptt, problem)


@examples(0.3)
@given(LAYERS)
def test_the_layer_alone_matches_central_differences_and_the_series(problem):
    check_matches_fd(bptt, problem, "central")
    check_forms_agree(series, bptt, problem)


@examples(0.3)
@given(LAYERS)
def test_the_layer_alone_matches_the_complex_step(problem):
    check_matches_fd(bptt, problem, "complex")
