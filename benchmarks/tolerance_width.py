"""How wide verify's tolerance is, against what correct code actually errs by, per precision.

For verify's default problems (seed 0, the first 60 drawn; those judged with dW != 0), with the
correct numpy implementation of each precision from properties/impls/:

    tol/|dW|      the tolerance on the large entries of dW (|dW_ij| >= max |dW| / 2), relative
                  to the entry (median over them): the smallest relative error it can see there;
    error         correct code's normwise error, max |dW - dW_exact| / max |dW_exact|;
    tol/error     median tol/|dW| over median error: how much room the tolerance leaves at the
                  median (the issue's "1000 times" in float64 before this model);
    closest       the largest error/tol of any entry of dW, and ||error|| / expected (the
                  normwise ratio, limit compare.NORM_LIMIT), over the problems.

The draw is the same whatever modules are loaded (strategies.pin_hypothesis_constants, applied
here also to an older checkout that lacks it).

    python benchmarks/tolerance_width.py
    GRADCHECK_SOURCE=/tmp/before python benchmarks/tolerance_width.py   # another checkout's judge
"""

import os
import sys
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, seed, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("GRADCHECK_SOURCE", str(ROOT)))
sys.path.insert(1, str(ROOT / "benchmarks"))

from detection_power import IMPLS, load  # noqa: E402  (the same correct implementations)

import gradcheck  # noqa: E402
from gradcheck import strategies  # noqa: E402
from gradcheck.bptt import bptt  # noqa: E402
from gradcheck.compare import Judgement, compare_array  # noqa: E402
from gradcheck.contract import tolerance  # noqa: E402
from gradcheck.options import Options  # noqa: E402
from gradcheck.oracle import cases  # noqa: E402

EXAMPLES = 60


def pin_constants() -> None:
    """strategies.pin_hypothesis_constants, or the same for a checkout that predates it."""
    if hasattr(strategies, "pin_hypothesis_constants"):
        strategies.pin_hypothesis_constants()
        return
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    empty = Constants()
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()


def measure(dtype: str) -> list[tuple[float, float, float, float]]:
    grads, opts, rows = load(IMPLS[dtype]), Options(dtype=dtype), []

    @seed(0)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(cases(opts))
    def run(case):
        tol = tolerance(case, opts.precision)
        exact = bptt(case.problems[0])["W"]
        if tol.judgement is not Judgement.JUDGED or not np.any(exact):
            return
        dW = np.asarray(grads(*case.arguments())["W"])
        big = np.abs(exact) >= 0.5 * np.abs(exact).max()
        width = float(np.median(tol.tol["W"][big] / np.abs(exact[big])))
        error = float(np.max(np.abs(dW - exact)) / np.abs(exact).max())
        c = compare_array("W", dW, exact, tol.tol["W"])
        rows.append((width, error, c.ratio, getattr(c, "norm_ratio", np.nan)))

    run()
    return rows


def main() -> None:
    warnings.filterwarnings("ignore", message="Generating overly large repr")
    pin_constants()
    print(f"gradcheck from {Path(gradcheck.__file__).parent}")
    head = f"{'tol/|dW| median':>16} {'min':>8} {'error median':>13} {'max':>8} {'tol/error':>10}"
    print(f"{'precision':10} {'problems':>8} {head} {'closest: error/tol':>19} {'||error||/expected':>19}")
    for dtype in IMPLS:
        rows = np.array(measure(dtype))
        width, error, ratio, norm = rows.T
        print(
            f"{dtype:10} {len(rows):8d} {np.median(width):16.3g} {width.min():8.3g} "
            f"{np.median(error):13.3g} {error.max():8.3g} {np.median(width) / np.median(error):10.3g} "
            f"{ratio.max():19.3g} {np.nanmax(norm) if np.any(np.isfinite(norm)) else np.nan:19.3g}",
            flush=True,
        )


if __name__ == "__main__":
    main()
