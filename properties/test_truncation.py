"""Truncated BPTT: k >= T terms is the full gradient, fewer is not, and both implementations agree."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.bptt import bptt, series, truncated
from gradcheck.strategies import problems

from .checks import (
    check_truncation_at_T_is_full,
    check_truncation_below_T_differs,
    check_truncations_agree,
    examples,
)

ALL = problems(one_hot_inputs=None, zero_h0=None, soft_targets=None, loss=None)
# Regimes where the dropped terms are visible at round-off resolution: in the vanishing and
# saturated regimes they can be below it, and "differs" would be false for a correct code.
VISIBLE = problems(regimes=("moderate", "large_gradient"), one_hot_inputs=False, loss="sum")


def series_cut(problem, k):
    return series(problem, k)


@given(ALL, st.integers(0, 5))
def test_truncation_with_k_at_least_T_is_full(problem, extra):
    check_truncation_at_T_is_full(truncated, bptt, problem, extra)


# H, K >= 2 (K = 1: softmax is constant, every gradient is 0) and T >= 3, so that some k < T - 1.
VISIBLE_CUT = problems(
    regimes=("moderate", "large_gradient"), one_hot_inputs=False, loss="sum", min_H=2, min_K=2, min_T=3
)


@pytest.mark.slow
@given(VISIBLE_CUT, st.data())
def test_truncation_with_k_below_T_differs(problem, data):
    k = data.draw(st.integers(1, min(10, problem.xs.shape[0] - 2)), label="k")
    check_truncation_below_T_differs(truncated, bptt, problem, k)


@examples(0.3)
@given(ALL, st.integers(1, 12))
def test_truncated_recursion_equals_truncated_series(problem, k):
    check_truncations_agree(truncated, series_cut, problem, k)
