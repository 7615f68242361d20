"""Forward mode (the seed's recursion run forward in time) agrees with the recursion, the series
and JAX, to round-off."""

import numpy as np
import pytest
from hypothesis import given

import gradcheck
from gradcheck.bptt import bptt, series
from gradcheck.errors import GradcheckError
from gradcheck.forward_mode import forward_sensitivities, jvp_problem
from gradcheck.problem import as_contract_inputs
from gradcheck.strategies import problems
from reference import jax_jvp

from .checks import check_forms_agree, check_jvp_matches, check_matches_jax, examples

ALL = problems(one_hot_inputs=None, zero_h0=None, soft_targets=None, loss=None)
SMALL = problems(one_hot_inputs=None, zero_h0=None, soft_targets=None, loss=None, max_H=8, max_D=8, max_T=30)


@given(ALL)
def test_jvp_equals_the_recursion_along_a_random_direction(problem):
    check_jvp_matches(jvp_problem, bptt, problem)


@examples(0.5)
@given(ALL)
def test_jvp_equals_jax_jvp(problem):
    check_jvp_matches(jvp_problem, bptt, problem, other=lambda p, v: jax_jvp(*as_contract_inputs(p), v, loss=p.loss))


@examples(0.3)
@given(SMALL)
def test_forward_gradients_equal_the_recursion(problem):
    check_forms_agree(forward_sensitivities, bptt, problem)


@examples(0.3)
@given(problems(max_H=8, max_D=8, max_T=30, layer=True))
def test_forward_mode_of_the_layer_alone_equals_the_recursion(problem):
    check_forms_agree(forward_sensitivities, bptt, problem)
    check_jvp_matches(jvp_problem, bptt, problem)


@examples(0.3)
@given(SMALL)
def test_forward_gradients_equal_the_series_and_jax(problem):
    check_forms_agree(forward_sensitivities, series, problem)
    check_matches_jax(forward_sensitivities, problem)


def test_contract_form_and_its_errors():
    rng = np.random.default_rng(0)
    H, D, K, T = 3, 2, 4, 5
    params = {
        "U": rng.normal(size=(H, D)),
        "W": rng.normal(size=(H, H)) / 2,
        "V": rng.normal(size=(K, H)),
        "b_h": rng.normal(size=H),
        "b_y": rng.normal(size=K),
    }
    xs, ys, h0 = rng.normal(size=(T, D)), rng.integers(0, K, T), rng.normal(size=H)
    g = gradcheck.bptt_gradients(params, xs, ys, h0)
    f = gradcheck.forward_gradients(params, xs, ys, h0)
    assert set(f) == set(g) and all(np.allclose(f[k], g[k], rtol=1e-12, atol=1e-14) for k in g)
    gm = gradcheck.bptt_gradients(params, xs, ys, h0, loss="mean")
    fm = gradcheck.forward_gradients(params, xs, ys, h0, loss="mean")
    assert all(np.allclose(fm[k], gm[k], rtol=1e-12, atol=1e-14) for k in g)
    assert not np.allclose(fm["W"], f["W"])  # the mean is not the sum
    only_W = gradcheck.jvp(params, xs, ys, h0, {"W": np.ones((H, H))})  # missing keys are zero tangents
    assert only_W == pytest.approx(g["W"].sum(), rel=1e-12)
    only_h0 = gradcheck.jvp(params, xs, ys, h0, {"h0": np.arange(H, dtype=float)})
    assert only_h0 == pytest.approx(g["h0"] @ np.arange(H), rel=1e-12)
    with pytest.raises(GradcheckError, match=r"tangents\['h0'\]: shape \(2,\) given, expected \(3,\)"):
        gradcheck.jvp(params, xs, ys, h0, {"h0": np.ones(2)})
    with pytest.raises(GradcheckError, match=r"tangents\['W'\]: shape \(2, 2\) given, expected \(3, 3\)"):
        gradcheck.jvp(params, xs, ys, h0, {"W": np.ones((2, 2))})
    with pytest.raises(GradcheckError, match="tangents: unknown key 'Q'"):
        gradcheck.jvp(params, xs, ys, h0, {"Q": 1.0})
    big = {
        **params,
        "U": rng.normal(size=(64, 64)),
        "W": rng.normal(size=(64, 64)),
        "V": rng.normal(size=(K, 64)),
        "b_h": np.zeros(64),
    }
    with pytest.raises(GradcheckError, match="use jvp for directional derivatives, or bptt_gradients"):
        gradcheck.forward_gradients(big, rng.normal(size=(2000, 64)), rng.integers(0, K, 2000), None)


def test_jax_jvp_takes_a_partial_direction_and_the_layers_upstream_gradient():
    """Missing tangents are zero; with dhs (the layer alone) the jvp is <dL/dtheta, v> of L = sum_t dhs_t . h_t."""
    from gradcheck.problem import make_layer_problem

    rng = np.random.default_rng(3)
    H, D, T = 4, 3, 6
    layer = {"U": rng.normal(size=(H, D)), "W": rng.normal(size=(H, H)) / 2, "b_h": rng.normal(size=H)}
    p = make_layer_problem(layer, rng.normal(size=(T, D)), rng.normal(size=H), rng.normal(size=(T, H)))
    g = bptt(p)
    params, xs, ys, h0 = as_contract_inputs(p)
    v = {"W": rng.normal(size=(H, H))}
    assert jax_jvp(params, xs, ys, h0, v, dhs=p.dhs) == pytest.approx(np.sum(g["W"] * v["W"]), rel=1e-10)
    assert jvp_problem(p, v) == pytest.approx(np.sum(g["W"] * v["W"]), rel=1e-10)  # every step's dhs_t . s_t
