"""pytest plugin (entry point `rnn_oracle`): verify RNN gradient code from another project's tests.

    def test_my_rnn(rnn_oracle):
        rnn_oracle.verify(my_grads, loss="mean")

verify takes what gradcheck.verify takes: a function or TARGET, or worker="CMD" for a worker, and
the options (loss, batch, batch_loss, max_batch, layer, no_bias, zero_h0, one_hot_inputs,
same_io_dim, dtype, examples, seed, reference, max_size, max_steps, skip_regimes, timeout). On
disagreement the test fails with the same report `python -m gradcheck verify` prints; on
agreement it returns the Report.
`--rnn-oracle-examples N` sets the default number of random problems for every call.
"""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rnn_oracle", "gradcheck RNN gradient oracle")
    group.addoption(
        "--rnn-oracle-examples",
        type=int,
        default=None,
        metavar="N",
        help="random problems per rnn_oracle.verify call (default: gradcheck's, 200)",
    )


class RNNOracle:
    """The fixture's object: verify(fn, **options) fails the test with the report on disagreement."""

    def __init__(self, examples: int | None = None):
        self.examples = examples

    def verify(self, fn: Any = None, **options: Any):
        from gradcheck.oracle import verify

        if self.examples is not None:
            options.setdefault("examples", self.examples)
        report = verify(fn, **options)
        if not report.ok:
            pytest.fail(report.format(), pytrace=False)
        return report


@pytest.fixture
def rnn_oracle(request: pytest.FixtureRequest) -> RNNOracle:
    """Judge an implementation of the seed's RNN gradients: rnn_oracle.verify(fn, loss="sum")."""
    return RNNOracle(request.config.getoption("--rnn-oracle-examples"))
