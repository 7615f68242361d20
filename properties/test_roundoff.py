"""The round-off model's parts, each pinned by a problem on which it is needed.

The spread (before compare.ROUNDOFF_SAFETY's factor 8) must cover what another correct
implementation does differently: XLA's tanh (JAX), and a tanh that errs by ULPS ulps the same way
at every step (what the coherent runs stand for). Each test below holds with the whole model and
fails when one part is removed (the tanh ulps, the coherent runs, the carried bound): the
problems are regressions found by searching 1,000 random problems for the largest ratio with each
part removed (benchmarks/pin_roundoff.py).
"""

import dataclasses

import numpy as np
import pytest

from gradcheck import roundoff
from gradcheck.bptt import bptt
from gradcheck.precision import FLOAT64, PRECISIONS
from gradcheck.problem import GRAD_NAMES, as_contract_inputs
from gradcheck.regimes import Scales
from gradcheck.roundoff import roundoff_spread
from gradcheck.strategies import build_problem
from reference import jax_gradients

EPS = np.finfo(np.float64).eps
# A long saturated chain: a coherent tanh error compounds step by step.
TANH_CHAIN = build_problem((6, 6, 3, 25), Scales(30.509277, 18.124235, 2.143917, 16.274733, 1.0, 0.0), 1033242173)
# An exploding recurrence where an entry's own spread over the runs is small by chance.
LUCKY_ENTRY = build_problem((8, 9, 7, 5), Scales(0.211183, 3.487697, 1.268892, 0.065029, 1.0, 0.0), 2102769589)
# A saturated problem where XLA's tanh (up to 6 ulps from numpy's) shows.
XLA_TANH = build_problem(
    (8, 13, 3, 49), Scales(39.901761, 15.066039, 0.990995, 12.284456, 1.0, 0.0), 469001226, zero_h0=True
)


def biased_tanh_gradients(problem, bias: float) -> dict:
    """A correct BPTT whose tanh errs by the relative `bias` at every step, the same way (written
    here, independently of gradcheck's recursion)."""
    U, W, V, b_h, b_y = problem.params
    hs = [problem.h0]
    for x in problem.xs:
        hs.append(np.tanh(U @ x + W @ hs[-1] + b_h) * (1 + bias))
    hs = np.array(hs)
    q = hs[1:] @ V.T + b_y
    m = q.max(axis=1, keepdims=True)
    log_yhat = q - m - np.log(np.exp(q - m).sum(axis=1, keepdims=True))
    dq = problem.weights[:, None] * (problem.Y.sum(axis=1, keepdims=True) * np.exp(log_yhat) - problem.Y)
    dp, carry = np.zeros((len(problem.xs), len(b_h))), np.zeros(len(b_h))
    for t in range(len(problem.xs) - 1, -1, -1):
        dp[t] = (1 - hs[t + 1] ** 2) * (dq[t] @ V + carry)
        carry = dp[t] @ W
    return {
        "U": dp.T @ problem.xs,
        "W": dp.T @ hs[:-1],
        "V": dq.T @ hs[1:],
        "b_h": dp.sum(0),
        "b_y": dq.sum(0),
        "h0": dp[0] @ W,
    }


def ratio(other: dict, problem, spread: dict) -> float:
    """The largest |recursion - other| / spread over every gradient entry."""
    exact = bptt(problem)
    return max(float(np.max(np.abs(exact[k] - other[k]) / (spread[k] + 1e-300))) for k in GRAD_NAMES)


def no_coherent_runs(monkeypatch):
    call = roundoff._Noise.__call__
    monkeypatch.setattr(roundoff._Noise, "__call__", lambda self, shape, coherent=None: call(self, shape, None))


def test_the_spread_covers_a_tanh_that_errs_ulps_ulps_the_same_way_at_every_step():
    for problem in (TANH_CHAIN, LUCKY_ENTRY):
        spread = roundoff_spread(problem, FLOAT64).grads
        assert ratio(biased_tanh_gradients(problem, FLOAT64.ulps * EPS), problem, spread) <= 2.0


def test_the_spread_covers_xla():
    spread = roundoff_spread(XLA_TANH, FLOAT64).grads
    assert ratio(jax_gradients(*as_contract_inputs(XLA_TANH), loss=XLA_TANH.loss), XLA_TANH, spread) <= 1.0


# --- each part is needed: the claims above fail without it --------------------------------------


def test_without_the_tanh_ulps_the_spread_misses_xla_and_a_biased_tanh():
    no_ulps = dataclasses.replace(FLOAT64, ulps=0.0)
    spread = roundoff_spread(XLA_TANH, no_ulps).grads
    assert ratio(jax_gradients(*as_contract_inputs(XLA_TANH), loss=XLA_TANH.loss), XLA_TANH, spread) > 1.0
    spread = roundoff_spread(TANH_CHAIN, no_ulps).grads
    assert ratio(biased_tanh_gradients(TANH_CHAIN, FLOAT64.ulps * EPS), TANH_CHAIN, spread) > 2.0


def test_without_the_coherent_runs_the_spread_misses_a_biased_tanh(monkeypatch):
    no_coherent_runs(monkeypatch)
    spread = roundoff_spread(TANH_CHAIN, FLOAT64).grads
    assert ratio(biased_tanh_gradients(TANH_CHAIN, FLOAT64.ulps * EPS), TANH_CHAIN, spread) > 2.0


def test_without_the_carried_bound_an_entry_lucky_in_the_runs_is_missed():
    s = roundoff_spread(LUCKY_ENTRY, FLOAT64)
    own_only = {k: s.own[k] + s.sums[k] for k in GRAD_NAMES}
    assert ratio(biased_tanh_gradients(LUCKY_ENTRY, FLOAT64.ulps * EPS), LUCKY_ENTRY, own_only) > 2.0
    assert all(np.all(s.grads[k] >= np.maximum(s.own[k], s.carried[k])) for k in GRAD_NAMES)


@pytest.mark.parametrize("name", ["float64", "float32", "float16", "bfloat16"])
def test_the_spread_grows_with_the_precision(name):
    """Coarser arithmetic, larger spread: every entry's spread in float32, float16 and bfloat16 is
    at least float64's (the same runs, larger errors)."""
    from gradcheck.precision import PRECISIONS

    problem = build_problem((3, 4, 5, 8), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 3)
    base, this = roundoff_spread(problem, FLOAT64), roundoff_spread(problem, PRECISIONS[name])
    assert all(np.all(this.grads[k] >= base.grads[k]) for k in GRAD_NAMES)
    assert this.loss >= base.loss and this.states >= base.states


def test_the_models_own_backward_pass_is_the_recursion():
    """roundoff.backward (the round-off model's, independent of bptt.py) gives the recursion's dp_t."""
    from gradcheck.bptt import backward_recursion, direct_state_gradient, output_error
    from gradcheck.model import forward

    for problem in (TANH_CHAIN, LUCKY_ENTRY):
        fw = forward(problem)
        dq = output_error(problem, fw.log_yhat)
        expected = backward_recursion(direct_state_gradient(problem, dq), fw.hs, problem.params.W)
        np.testing.assert_allclose(roundoff.backward(problem, fw.hs, dq), expected, rtol=1e-12, atol=1e-300)


def test_the_model_keeps_the_dtype_it_is_given():
    """model.py is generic in the dtype (float32 for the lower-precision diagnosis, complex for the
    complex step): the states come back in the problem's own dtype."""
    from gradcheck.catalogue import in_precision
    from gradcheck.model import forward

    problem = build_problem((3, 4, 5, 6), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 2)
    f32 = problem._replace(params=problem.params._replace(**{k: v.astype(np.float32) for k, v in
                                                            problem.params._asdict().items()}),
                           xs=problem.xs.astype(np.float32), h0=problem.h0.astype(np.float32))  # fmt: skip
    assert forward(f32).hs.dtype == np.float32
    complex_h0 = problem._replace(h0=problem.h0 + 1e-20j)
    assert forward(complex_h0).hs.dtype == np.complex128
    exact, low = bptt(problem), in_precision(problem, PRECISIONS["float32"])
    assert 0 < np.max(np.abs(low["W"] - exact["W"])) <= 1e-4 * np.max(np.abs(exact["W"]))


@pytest.mark.parametrize("name", ["float32", "float16", "bfloat16"])
def test_the_tolerance_is_in_the_precision_asked_for(name):
    """roundoff_tolerance(problem, pr) is the check's tolerance in pr: on the largest entry of each
    parameter, at least a tenth of eps_pr / eps_64 times float64's (the spread scales with the unit
    round-off; float64's model carries 8 ulps for XLA's tanh where the coarse precisions carry 1)."""
    from gradcheck.compare import roundoff_check, roundoff_tolerance

    pr = PRECISIONS[name]
    problem = build_problem((3, 4, 5, 8), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 3)
    tol, tol64 = roundoff_tolerance(problem, pr), roundoff_tolerance(problem, FLOAT64)
    for k in GRAD_NAMES:
        np.testing.assert_array_equal(tol[k], roundoff_check(problem, pr).tol[k])
        assert tol[k].max() >= 0.1 * pr.eps / FLOAT64.eps * tol64[k].max()
