"""The comparison refuses nonsense and reports what it measured: every field of a verdict checked
against numbers worked out by hand."""

import numpy as np
import pytest

from gradcheck.cli import main
from gradcheck.compare import ParamCheck, compare_array, compare_grads, describe, failures
from gradcheck.errors import InternalError


def test_a_verdict_reports_the_worst_entry_and_its_numbers():
    actual = np.array([[1.0, 2.0], [3.0, 4.5]])
    reference = np.array([[1.0, 2.1], [3.0, 4.0]])
    tol = np.array([[1.0, 0.2], [1.0, 0.1]])
    c = compare_array("W", actual, reference, tol)
    # errors 0, 0.1, 0, 0.5; ratios 0, 0.5, 0, 5: the worst is [1, 1]
    assert c.name == "W" and not c.ok and c.index == (1, 1)
    assert (c.actual, c.reference, c.tol) == (4.5, 4.0, 0.1)
    assert c.ratio == pytest.approx(5.0) and c.abs_error == pytest.approx(0.5)
    assert c.max_abs_error == pytest.approx(0.5) and c.rel_error == pytest.approx(0.5 / 4.0)
    assert (c.entries, c.failing, c.unresolved) == (4, 1, 0)
    line = describe([c])
    assert line.startswith("FAIL W[1, 1]: actual 4.5, reference 4, |error| 5.00e-01, tol 1.00e-01, error/tol 5.00e+00")
    assert "(1/4 entries over)" in line


def test_an_agreeing_array_and_the_boundary():
    c = compare_array("b", np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    assert c.ok and c.ratio == 0.0 and c.failing == 0  # exact equality passes even at tolerance 0
    assert describe([c]) == ("ok   b[0]: actual 1, reference 1, |error| 0.00e+00, tol 0.00e+00, error/tol 0.00e+00 "
                             "(0/2 entries over); ||error|| / expected 0 (limit 4.5)")  # fmt: skip
    c = compare_array("b", np.array([1.0 + 1e-3]), np.array([1.0]), np.array([1e-3 * (1 + 1e-9)]))
    assert c.ok and c.ratio <= 1  # error/tol just under 1 agrees
    c = compare_array("b", np.array([1.0 + 1e-3]), np.array([1.0]), np.array([1e-3 * (1 - 1e-9)]))
    assert not c.ok and c.ratio > 1
    c = compare_array("b", np.array([1.0]), np.array([0.0]), np.array([0.0]))
    assert not c.ok and c.ratio == np.inf  # any error at an exact tolerance of 0 fails


def test_an_infinite_tolerance_is_unresolved_and_counted_not_judged():
    c = compare_array("U", np.array([5.0, 1.0]), np.array([1.0, 1.0]), np.array([np.inf, 0.1]))
    assert c.ok and c.unresolved == 1 and c.failing == 0 and c.ratio == 0.0
    assert "1 unresolved" in describe([c])


def test_nan_or_inf_in_the_result_fails():
    for bad in (np.nan, np.inf, -np.inf):
        c = compare_array("V", np.array([bad, 1.0]), np.array([1.0, 1.0]), np.array([1e300, 1e300]))
        assert not c.ok and c.ratio == np.inf and c.index == (0,)


@pytest.mark.parametrize("tol", [-1e-300, -1.0, np.nan])
def test_a_negative_or_nan_tolerance_is_our_bug_not_a_pass(tol):
    with pytest.raises(InternalError, match=r"the tolerance of U at \[1\]"):
        compare_array("U", np.array([1.0, 123.0]), np.array([1.0, 0.0]), np.array([1.0, tol]))
    with pytest.raises(InternalError, match=r"the tolerance of W at \[1, 0\] is"):  # the bad entry, not a small one
        compare_array("W", np.zeros((2, 2)), np.zeros((2, 2)), np.array([[0.5, 0.5], [tol, 0.5]]))


def test_a_negative_tolerance_in_verify_is_exit_3(monkeypatch, capsys):
    """The round-off model planting a negative tolerance (e.g. tol - floor where it should be +)
    makes verify stop with exit 3 and one line, instead of passing any value there."""
    import gradcheck.compare as compare
    import gradcheck.strategies as strategies

    original = compare.roundoff_spread

    def negative(problem, pr, fw=None):
        spread = original(problem, pr, fw)
        return spread._replace(grads={k: v - 1.0 for k, v in spread.grads.items()})

    for module in (compare, strategies):  # the generator's spreads and the judge's
        monkeypatch.setattr(module, "roundoff_spread", negative)
    code = main(["verify", "properties/impls/correct_loop.py:grads", "--examples", "5"])
    err = capsys.readouterr().err
    assert code == 3 and "internal error: InternalError: the tolerance of" in err and len(err.splitlines()) == 1


def test_compare_grads_and_failures():
    a = {"x": np.array([1.0]), "y": np.array([2.0])}
    r = {"x": np.array([1.0]), "y": np.array([3.0])}
    t = {"x": np.array([0.1]), "y": np.array([0.1])}
    checks = compare_grads(a, r, t, names=("x", "y"))
    assert [c.name for c in checks] == ["x", "y"] and [c.name for c in failures(checks)] == ["y"]
    assert isinstance(checks[0], ParamCheck) and checks[1].rel_error == pytest.approx(1 / 3)


def test_the_boundary_and_zero_references():
    c = compare_array("b", np.array([1.5]), np.array([1.0]), np.array([0.5]))
    assert c.ratio == 1.0 and c.ok  # error/tol = 1 exactly agrees
    c = compare_array("b", np.zeros(3), np.zeros(3), np.full(3, 1e-300))
    assert c.rel_error == 0.0 and c.max_abs_error == 0.0  # a zero reference and no error
    c = compare_array("b", np.array([0.0, 1e-3]), np.zeros(2), np.full(2, 1e-300))
    assert c.rel_error == np.inf and not c.ok  # a zero reference and an error


def test_judgements_and_their_reasons():
    """Judged problems carry no reason; a float16 problem whose sums pass 65504 / 16 is out of range
    there (and judged in float64); a chaotic one is ill-conditioned in float16."""
    from gradcheck.compare import Judgement, roundoff_check
    from gradcheck.precision import FLOAT16, FLOAT64
    from gradcheck.regimes import Scales
    from gradcheck.strategies import build_problem

    big = build_problem((4, 8, 5, 200), Scales(1.0, 1.0, 60.0, 0.5, 1.0, 0.0), 0)  # sums reach 8,050
    chaotic = build_problem((4, 8, 5, 100), Scales(0.2, 3.0, 3.0, 0.05, 1.0, 0.0), 0)
    t = roundoff_check(big, FLOAT64)
    assert t.judgement is Judgement.JUDGED and t.reason == "" and t.tol["loss"] > 0
    t = roundoff_check(big, FLOAT16)
    assert t.judgement is Judgement.OUT_OF_RANGE and t.reason.startswith("out of range for float16: sums reach 8")
    assert set(t.tol) >= {"U", "W", "V", "b_h", "b_y", "h0", "loss"}  # the tolerances are still there
    t = roundoff_check(chaotic, FLOAT16)
    assert t.judgement is Judgement.ILL_CONDITIONED and "round-off moves a state by" in t.reason
    assert set(t.tol) >= {"U", "W", "V", "b_h", "b_y", "h0", "loss"}  # (a repeated call is still compared)
    assert roundoff_check(chaotic, FLOAT64).judgement is Judgement.JUDGED


def test_fd_tolerance_without_a_self_measured_error_uses_the_whole_error():
    from gradcheck.compare import fd_tolerance
    from gradcheck.numeric import FDResult
    from gradcheck.regimes import Scales
    from gradcheck.strategies import build_problem

    problem = build_problem((2, 3, 2, 4), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 0)
    grads = {n: np.ones_like(a) for n, a in zip(("U", "W", "V", "b_h", "b_y"), problem.params, strict=True)}
    grads["h0"] = np.ones(3)
    small = FDResult(grads, {n: 1e-6 * np.ones_like(a) for n, a in grads.items()}, grads)
    large = FDResult(grads, {n: 0.5 * np.ones_like(a) for n, a in grads.items()}, grads)
    assert all(np.all(np.isfinite(t)) for t in fd_tolerance(problem, small).values())
    assert all(np.all(np.isinf(t)) for t in fd_tolerance(problem, large).values())


def test_every_entry_over_its_tolerance_is_counted_and_a_scalar_has_no_index():
    """Entries 1.5 and 5 times over their tolerance both count as failing; the loss reads `loss:`."""
    c = compare_array("b", np.array([1.15, 2.0, 3.5]), np.array([1.0, 2.0, 3.0]), np.full(3, 0.1))
    assert (c.failing, c.entries, c.index) == (2, 3, (2,)) and not c.ok
    s = compare_array("loss", np.float64(2.0), np.float64(1.0), np.float64(0.5))
    assert describe([s]).startswith("FAIL loss: actual 2, reference 1, |error| 1.00e+00")


def test_relative_error_against_a_small_reference_and_empty_arrays():
    """The normwise relative error is max|a - r| / max|r| for any nonzero reference, small or not;
    empty arrays agree with every number 0."""
    c = compare_array("b", np.array([0.25, 0.1]), np.array([0.2, 0.1]), np.array([1.0, 1.0]))
    assert c.rel_error == pytest.approx(0.05 / 0.2) and c.ok
    e = compare_array("e", np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3)))
    assert e.ok and (e.ratio, e.actual, e.reference, e.tol, e.max_abs_error, e.rel_error) == (0.0,) * 6
    assert (e.entries, e.failing, e.unresolved) == (0, 0, 0)


def test_a_directional_difference_dominated_by_its_own_truncation_is_unresolved():
    """directional_check judges only where FD_SAFETY x the self-measured (truncation) error is
    small against the value."""
    from gradcheck.compare import FD_RESOLVED, FD_SAFETY, directional_check
    from gradcheck.numeric import Directional

    resolved = Directional(analytic=1.0, numeric=1.0 + 1e-9, error=1e-8, step=1e-5, self_error=1e-8)
    assert directional_check(resolved).ok and not directional_check(resolved).unresolved
    big = 2 * FD_RESOLVED / FD_SAFETY  # the truncation part alone is twice what may be resolved
    unresolved = Directional(analytic=1.0, numeric=1.0, error=big, step=1e-5, self_error=big)
    assert directional_check(unresolved).unresolved == 1


def test_the_jvp_tolerance_is_round_off_along_v():
    """sum_i tol_i |v_i| + (P + 2) eps sum_i |g_i v_i| along a unit v: on moderate problems below
    1e-11 of |<g, v>| (measured 1.1e-12 to 2.9e-12 over four), so a jvp 1e-9 off fails."""
    from gradcheck.bptt import bptt
    from gradcheck.compare import jvp_tolerance, roundoff_check
    from gradcheck.numeric import random_direction
    from gradcheck.problem import GRAD_NAMES
    from gradcheck.regimes import regime_scales
    from gradcheck.strategies import build_problem

    for seed in range(4):
        rng = np.random.default_rng(seed)
        problem = build_problem((4, 8, 3, 20), regime_scales("moderate", rng), seed)
        g, v = bptt(problem), random_direction(problem, rng)
        gv = sum(float(np.sum(g[n] * v[n])) for n in GRAD_NAMES)
        t = jvp_tolerance(g, roundoff_check(problem).tol, v)
        assert 0 < t <= 1e-11 * abs(gv) < 1e-9 * abs(gv)


def test_a_one_class_problem_has_a_positive_jvp_tolerance_and_fuzz_judges_it():
    """With K = 1 every gradient is exactly 0 (yhat = 1, dq = 0), so the jvp tolerance is all
    round-off tolerance (its floor): without that term it is 0, and the built-in campaign's
    check divided by it (ZeroDivisionError)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gradcheck.bptt import bptt
    from gradcheck.compare import jvp_tolerance, roundoff_check
    from gradcheck.fuzz import Worst, check_builtin
    from gradcheck.numeric import random_direction
    from gradcheck.regimes import regime_scales
    from gradcheck.strategies import build_problem

    rng = np.random.default_rng(0)
    problem = build_problem((3, 4, 1, 6), regime_scales("moderate", rng), 0)
    g, v = bptt(problem), random_direction(problem, rng)
    assert all(not np.any(g[n]) for n in ("U", "W", "V", "b_h", "b_y", "h0"))
    assert jvp_tolerance(g, roundoff_check(problem).tol, v) > 0
    worst = Worst()

    @settings(max_examples=1, database=None, deadline=None)
    @given(st.just(problem))
    def campaign_example(p):  # check_builtin records Hypothesis events: it runs inside a test
        assert check_builtin(p, worst) is None

    campaign_example()
    assert np.isfinite(worst.ratio["jvp (forward mode) vs recursion"])
