"""The finite-difference engine: vectorised equals naive, the step rule, refinement, complex step."""

import numpy as np
from hypothesis import given

from gradcheck import numeric
from gradcheck.bptt import bptt
from gradcheck.compare import FD_SAFETY, compare_grads, describe, failures, fd_tolerance
from gradcheck.model import loss
from gradcheck.precision import FLOAT64
from gradcheck.problem import GRAD_NAMES
from gradcheck.roundoff import roundoff_spread
from gradcheck.strategies import Scales, build_problem, problems

from .checks import examples, summary


@examples(0.2)
@given(problems(max_D=5, max_H=5, max_K=4, max_T=12, one_hot_inputs=None, zero_h0=None, loss=None))
def test_vectorised_central_differences_equal_the_naive_loop(problem):
    """The batched, structure-aware sweep evaluates the same loss as 2P separate forward passes.

    Both are central differences at the same steps, so they differ only by the round-off of the
    loss evaluations: eps_E / h per entry for each of them (the round-off part of the FD model).
    """
    fast = numeric.fd_estimate(problem, "central", estimate_error=False)
    slow = numeric.naive_central_differences(loss, problem)
    eps_E = roundoff_spread(problem, FLOAT64).loss
    tol = {n: 2 * FD_SAFETY * eps_E / fast.step[n] for n in GRAD_NAMES}
    bad = failures(compare_grads(fast.grads, slow, tol))
    assert not bad, describe(bad) + "\n" + summary(problem)


def test_step_rule_is_cube_root_of_eps_relative_to_theta():
    theta = np.array([0.0, 0.5, -3.0, 1e4])
    h = numeric.fd_step(theta)
    eps13 = np.finfo(np.float64).eps ** (1 / 3)
    np.testing.assert_allclose(h, eps13 * np.array([1.0, 1.0, 3.0, 1e4]))
    assert numeric.fd_step(np.array(2.0), np.float32) == np.finfo(np.float32).eps ** (1 / 3) * 2.0


def chaotic_problem():
    """An exploding (chaotic) recurrence: W gain 4, T = 39; |dE/dW| reaches 6e4."""
    return build_problem((1, 16, 3, 39), Scales(0.2, 4.0, 1.0, 0.05, 1.0, 0.0), seed=1)


def test_refinement_resolves_a_chaotic_recurrence():
    """With the plain step the central difference is wrong by O(1) (the loss has structure below
    h), yet D(h) and D(2h) agree; the linear-range check shrinks h until it is right."""
    problem = chaotic_problem()
    exact = bptt(problem)
    fd = numeric.fd_estimate(problem, "central")
    assert max(np.max(fd.step[n] / numeric.fd_step(numeric._theta(problem, n))) for n in GRAD_NAMES) == 1.0
    assert min(np.min(fd.step[n] / numeric.fd_step(numeric._theta(problem, n))) for n in GRAD_NAMES) < 1e-2
    bad = failures(compare_grads(fd.grads, exact, fd_tolerance(problem, fd)))
    assert not bad, describe(bad)
    # and without refinement (the plain method at the plain step) it is far off:
    plain = numeric.fd_estimate(problem, "central", estimate_error=False)
    assert np.max(np.abs(plain.grads["W"] - exact["W"])) > 1e3


def test_complex_step_is_exact_to_round_off():
    problem = build_problem((4, 6, 5, 20), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), seed=3)
    cs, exact = numeric.fd_estimate(problem, "complex"), bptt(problem)
    for n in GRAD_NAMES:
        np.testing.assert_allclose(cs.grads[n], exact[n], rtol=1e-12, atol=1e-13)
