"""How wide verify's tolerance is, against what correct code actually errs by, per precision.

For verify's default problems (seed 0, the first 60 drawn; those with dW != 0), with the correct
numpy implementation of each precision from properties/impls/: the tolerance on the large
entries of dW (|dW_ij| >= max |dW| / 2) relative to the entry, and the normwise error of the
correct code, max |dW - dW_exact| / max |dW_exact|. The first bounds what a verdict can catch;
their ratio is the room the error model leaves (docs/error-model.md, "What a verdict can detect").

    python benchmarks/tolerance_width.py
"""

import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, seed, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detection_power import IMPLS, load  # noqa: E402  (the same correct implementations)

from gradcheck.bptt import bptt  # noqa: E402
from gradcheck.compare import Judgement  # noqa: E402
from gradcheck.contract import tolerance  # noqa: E402
from gradcheck.options import Options  # noqa: E402
from gradcheck.oracle import cases  # noqa: E402


def measure(dtype: str) -> list[tuple[float, float, float]]:
    grads, opts, rows = load(IMPLS[dtype]), Options(dtype=dtype), []

    @seed(0)
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
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
        rows.append((width, error, float(np.max(np.abs(dW - exact) / tol.tol["W"]))))

    run()
    return rows


def main() -> None:
    head = f"{'tol/|dW|: median':>17} {'min':>9} {'error: median':>14} {'max':>9} {'max error/tol':>14}"
    print(f"{'precision':10} {'problems':>8} {head}")
    for dtype in IMPLS:
        rows = np.array(measure(dtype))
        width, error, ratio = rows.T
        print(
            f"{dtype:10} {len(rows):8d} {np.median(width):17.3g} {width.min():9.3g} "
            f"{np.median(error):14.3g} {error.max():9.3g} {ratio.max():14.3g}",
            flush=True,
        )


if __name__ == "__main__":
    main()
