"""The facts of each arithmetic (precision.py) hold in that arithmetic, and a wrong one is refused
or shows: the saturation point, the large-logit offsets, the logit-gap cap, the underflow floor.
The round-off model's own terms are pinned in test_roundoff.py."""

import dataclasses

import numpy as np
import pytest

from gradcheck.errors import GradcheckError
from gradcheck.precision import PRECISIONS, Precision


def in_precision(x: float, pr: Precision, fn=lambda a: a) -> float:
    """fn(x) computed in float64 and rounded to pr, as a correctly rounded library returns it."""
    return float(pr.round(fn(np.float64(x))))


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_tanh_saturates_at_the_saturation_point(name):
    """Past pr.saturation tanh rounds to 1 and 1 - h^2 to 0; 2% before it, it does not (the
    coverage lines count 'saturated tanh (|p| > saturation)' by it)."""
    pr = PRECISIONS[name]
    after, before = in_precision(1.02 * pr.saturation, pr, np.tanh), in_precision(0.98 * pr.saturation, pr, np.tanh)
    assert after == 1.0 and float(pr.round(1 - after * after)) == 0.0
    assert before < 1.0 and float(pr.round(1 - before * before)) > 0.0


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_the_logit_cap_keeps_every_probability_normal(name):
    """exp(-max_logit_gap) is a normal number in the precision: a class max_logit_gap below the top
    one has yhat >= tiny, so code computing -log(yhat[y]) gets a finite loss; twice the gap underflows."""
    pr = PRECISIONS[name]
    assert in_precision(-pr.max_logit_gap, pr, np.exp) >= pr.tiny
    assert in_precision(-2 * pr.max_logit_gap, pr, np.exp) < pr.tiny
    with pytest.raises(GradcheckError, match="max_logit_gap"):
        dataclasses.replace(pr, max_logit_gap=2 * pr.max_logit_gap)


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_large_logit_offsets_are_a_range_past_the_overflow(name):
    """The large_logits regime's offsets reach past exp()'s overflow (exp of the high end is inf in
    the precision, so a softmax without the max shift breaks), and an empty range is refused where
    the precision is made, not by a crash in the middle of a search."""
    pr = PRECISIONS[name]
    lo, hi = pr.logit_offsets
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.asarray(hi, dtype=pr.dtype)))
    for bad in ((hi, lo), (-1.0, hi), (lo, 0.5 * pr.exp_overflow)):
        with pytest.raises(GradcheckError, match="logit_offsets"):
            dataclasses.replace(pr, logit_offsets=bad)
