"""The Taylor remainder test (`gradcheck taylor`): it passes a gradient consistent with the code's
own loss, whatever that loss is, and fails one that is not, with the table printed."""

import pytest

from gradcheck.cli import main
from gradcheck.taylor import taylor

from .test_oracle import IMPLS, load


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", ["correct_loop", "correct_l2_penalty", "correct_label_smoothing", "bug_fwd_sigmoid"])
def test_consistent_code_passes_whatever_its_loss(name):
    """An L2 penalty, label smoothing, even the wrong nonlinearity: loss and gradient agree."""
    report = taylor(load(name).grads, directions=2)
    assert report.ok and all(d.verdict == "consistent" and d.rate > 1.9 for d in report.directions), report.format()


@pytest.mark.parametrize("name", ["bug_truncated_wildml", "bug_no_tanh_deriv", "bug_inconsistent_loss"])
def test_inconsistent_code_fails_at_rate_one(name):
    report = taylor(load(name).grads, directions=2)
    assert not report.ok and any(d.verdict == "inconsistent" and d.rate < 1.1 for d in report.directions)


def test_the_table_and_the_exit_codes(capsys):
    code, out, _ = run(capsys, "taylor", f"{IMPLS}/bug_no_tanh_deriv.py:grads", "--directions", "1")
    assert code == 1 and "INCONSISTENT" in out and "rate r1" in out and "eps" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("1.00e+00", "5.00e-01"))]) >= 2
    code, out, _ = run(capsys, "taylor", f"{IMPLS}/correct_mean.py:grads", "--loss", "mean", "--directions", "1")
    assert code == 0 and "CONSISTENT" in out
    code, _, err = run(capsys, "taylor", f"{IMPLS}/correct_no_h0_grad.py:grads", "--zero-h0")
    assert code == 0
    code, _, err = run(capsys, "taylor", f"{IMPLS}/correct_layer_loop.py:grads", "--layer")
    assert code == 2 and "must return its own 'loss'" in err  # the layer returns neither loss nor hs


def test_the_layer_is_judged_through_its_states():
    report = taylor(load("correct_layer_cs231n").grads, batch=True, layer=True, directions=1)
    assert report.ok, report.format()
    report = taylor(load("bug_layer_truncated").grads, layer=True, directions=1)  # returns its states "hs"
    assert not report.ok and report.directions[0].verdict == "inconsistent", report.format()
