"""The round-off model's parts, each pinned by a problem on which it decides the verdict, and the
tolerance's width pinned by what verify must catch.

A part is needed when correct code fails without it. The problems are kept from campaigns: a
steered search per part and precision (benchmarks/pin_roundoff.py --save) stores each in
properties/data/pin_<part>_<precision>.npz with the correct implementation that needs the part
(properties/impls/; "jax" for reference.jax_gradients), and the test judges it with the model
(error/tol <= 1) and without the part (> 1). A part no search found such a problem for is a
margin, listed in docs/error-model.md. The width is pinned the other way: verify must catch a
planted dW x (1 + e) at the issue's goal in each precision, in every regime and in large logits
alone, so that a part made larger than it should be shows.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gradcheck import roundoff
from gradcheck.bptt import bptt
from gradcheck.compare import ROUNDOFF_SAFETY
from gradcheck.precision import FLOAT64, PRECISIONS
from gradcheck.problem import GRAD_NAMES, as_contract_inputs, make_problem
from gradcheck.regimes import Scales
from gradcheck.roundoff import TERMS, roundoff_spread
from gradcheck.strategies import build_problem
from reference import jax_gradients

HERE = Path(__file__).parent
PINS = sorted((HERE / "data").glob("pin_*.npz"))
EPS = np.finfo(np.float64).eps
# verify shrinks a planted failure; Hypothesis warns that the repr of a large failing case is costly.
QUIET_SHRINKING = pytest.mark.filterwarnings("ignore:Generating overly large repr")
# A long saturated chain: a coherent tanh error compounds step by step.
TANH_CHAIN = build_problem((6, 6, 3, 25), Scales(30.509277, 18.124235, 2.143917, 16.274733, 1.0, 0.0), 1033242173)
# An exploding recurrence where an entry's own spread over a few runs was small by chance.
LUCKY_ENTRY = build_problem((8, 9, 7, 5), Scales(0.211183, 3.487697, 1.268892, 0.065029, 1.0, 0.0), 2102769589)
# A saturated problem where XLA's tanh (up to 7 ulps from numpy's near saturation) shows.
XLA_TANH = build_problem(
    (8, 13, 3, 49), Scales(39.901761, 15.066039, 0.990995, 12.284456, 1.0, 0.0), 469001226, zero_h0=True
)


def implementation(name: str):
    """A correct implementation of properties/impls/ ("file" or "file:function"), or JAX."""
    if name == "jax":
        return lambda params, xs, ys, h0: jax_gradients(params, xs, ys, h0, loss="sum")
    file, _, fn = name.partition(":")
    spec = importlib.util.spec_from_file_location(f"impls_{file}", HERE / "impls" / f"{file}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, fn or "grads")


def worst(got: dict, problem, pr, part: str | None = None) -> float:
    """The largest error/tol of any array the implementation returned, against the recursion, with
    the model's tolerance in pr, or with one part of it removed (a Terms field, "floor", "safety")."""
    s = roundoff_spread(problem, pr, terms=TERMS._replace(**{part: 0.0}) if part in TERMS._fields else TERMS)
    safety = ROUNDOFF_SAFETY / (2 if part == "safety" else 1)
    floor = 0.0 if part == "floor" else pr.underflow_floor
    exact, out = bptt(problem), 0.0
    for k in (*GRAD_NAMES, "loss"):
        if k in got:
            random = s.loss if k == "loss" else s.grads[k]
            tol = safety * random + s.bound(k) + floor
            err = np.abs(np.asarray(got[k], dtype=np.float64) - exact[k])
            out = max(out, float(np.max(np.where(err == 0, 0.0, err / tol))))
    return out


def biased_tanh_gradients(problem, bias: float) -> dict:
    """A correct BPTT whose tanh errs by the relative `bias` at every step, the same way: a library
    at the model's ULPS bound (written here, independently of gradcheck's recursion)."""
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


# --- each part decides a verdict -----------------------------------------------------------------


@pytest.mark.parametrize("path", PINS, ids=[p.stem.removeprefix("pin_") for p in PINS])
def test_each_part_of_the_model_decides_the_verdict_on_its_problem(path):
    """Correct code agrees with the model and fails without the part (the kept problem, with the
    implementation that needs it)."""
    a = np.load(path)
    part, dtype = path.stem.removeprefix("pin_").rsplit("_", 1)
    problem = make_problem({k: a[k] for k in ("U", "W", "V", "b_h", "b_y")}, a["xs"], a["ys"], a["h0"])
    got = implementation(str(a["implementation"]))(*as_contract_inputs(problem))
    pr = PRECISIONS[dtype]
    assert worst(got, problem, pr) <= 1.0
    assert worst(got, problem, pr, part) > 1.0


@QUIET_SHRINKING
def test_a_tanh_written_with_exponentials_agrees_and_needs_the_absolute_term(monkeypatch):
    """CS231n's layer with tanh = (e^a - e^-a) / (e^a + e^-a), as a public library writes it, is
    accurate to a few eps in absolute terms only: its hs came out 4.2e-17 from h = -7.3e-4. verify
    agrees with it (--layer --batch, h0 zero and not), and fails it on hs without the model's
    absolute tanh error. (Its exp() overflows past |p| = 709.8, a mistake of its own that verify
    names: that regime is skipped here.)"""
    import gradcheck

    grads = implementation("correct_layer_tanh_exp")
    skip = ("huge_preactivations",)
    for zero_h0 in (True, False):
        assert gradcheck.verify(grads, layer=True, batch=True, zero_h0=zero_h0, skip_regimes=skip).ok
    monkeypatch.setattr(roundoff, "TERMS", TERMS._replace(tanh_absolute=0.0))
    report = gradcheck.verify(grads, layer=True, batch=True, zero_h0=True, skip_regimes=skip)
    assert not report.ok and "hs" in report.failing_arrays


def test_a_tanh_that_errs_ulps_eps_the_same_way_at_every_step_agrees_only_with_the_ulps():
    """A library whose tanh errs by ULPS eps one way at every step (the model's bound for a
    library) agrees on a long saturated chain and on an exploding recurrence; without the tanh
    ulps in the model it fails on the chain. JAX (XLA's tanh) agrees on a saturated problem."""
    for problem in (TANH_CHAIN, LUCKY_ENTRY):
        assert worst(biased_tanh_gradients(problem, FLOAT64.ulps * EPS), problem, FLOAT64) <= 1.0
    assert worst(biased_tanh_gradients(TANH_CHAIN, FLOAT64.ulps * EPS), TANH_CHAIN, FLOAT64, "tanh_ulps") > 1.0
    assert worst(jax_gradients(*as_contract_inputs(XLA_TANH), loss="sum"), XLA_TANH, FLOAT64) <= 1.0


# --- the width: what verify must catch -----------------------------------------------------------

# Correct code in each precision (as benchmarks/detection_power.py) and the goal: dW x (1 + e)
# caught by the default search. Measured (detection_power.py): caught at these e, missed at a third of it.
GOALS = {
    "float64": ("correct_loop", 1e-14),
    "float32": ("correct_numpy_float32_vectorised", 1e-5),
    "float16": ("correct_numpy_float16", 0.03),
    "bfloat16": ("correct_numpy_bfloat16", 0.3),
}


def planted_dW(fn, e: float):
    def grads(params, xs, ys, h0):
        g = dict(fn(params, xs, ys, h0))
        g["W"] = np.asarray(g["W"]) * (1 + e)
        return g

    return grads


@QUIET_SHRINKING
@pytest.mark.parametrize("dtype", list(GOALS))
def test_verify_catches_dW_off_by_the_goal_in_each_precision(dtype):
    """The default search (200 problems and the coverage set, seed 0) catches dW x (1 + e) at
    e = 1e-14, 1e-5, 0.03, 0.3, and passes the same code unchanged."""
    import gradcheck

    name, e = GOALS[dtype]
    fn = implementation(name)
    assert not gradcheck.verify(planted_dW(fn, e), dtype=dtype).ok


# In large logits alone: a common offset near exp()'s overflow cancels in q - max q, but code that
# forms lse = max q + log sum exp(q - max q) and returns q - lse rounds at |max q| (up to 1000 in
# float64): correct such code errs by 700 eps or so in log yhat (pin_logit_offset_float64), so
# float64 catches 1e-13 there, ten times its goal over all regimes.
LARGE_LOGIT_GOALS = {"float64": 1e-13, "float16": 0.03}


@QUIET_SHRINKING
@pytest.mark.parametrize("dtype", list(LARGE_LOGIT_GOALS))
def test_large_logits_alone_catch_dW_off_by_the_goal(dtype):
    """In the large-logits regime alone a dW off by LARGE_LOGIT_GOALS is caught: the softmax's error
    grows with |q - max q| (a logit gap) and eps |max q|, not with |q + max q| (charged that, the
    tolerance there let 1e-13 and 0.1 through)."""
    import gradcheck
    from gradcheck.regimes import REGIMES

    name, e = GOALS[dtype][0], LARGE_LOGIT_GOALS[dtype]
    skip = [r for r in REGIMES if r != "large_logits"]
    assert not gradcheck.verify(planted_dW(implementation(name), e), dtype=dtype, skip_regimes=skip).ok


# --- the model's own properties -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["float64", "float32", "float16", "bfloat16"])
def test_the_spread_grows_with_the_precision(name):
    """Coarser arithmetic, larger spread: every entry's spread and bound in float32, float16 and
    bfloat16 is at least float64's (the same runs, larger errors)."""
    problem = build_problem((3, 4, 5, 8), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 3)
    base, this = roundoff_spread(problem, FLOAT64), roundoff_spread(problem, PRECISIONS[name])
    assert all(np.all(this.grads[k] >= base.grads[k]) for k in GRAD_NAMES)
    assert all(np.all(this.bound(k) >= base.bound(k)) for k in GRAD_NAMES)
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


def test_the_generators_conditioning_is_the_spreads():
    """roundoff.conditioning, which the generator tempers with, gives roundoff_spread's states and
    magnitude (the same forward runs), at a fraction of the cost."""
    for problem in (TANH_CHAIN, LUCKY_ENTRY, XLA_TANH):
        for pr in PRECISIONS.values():
            s = roundoff_spread(problem, pr)
            assert roundoff.conditioning(problem, pr) == (s.states, s.magnitude)


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
