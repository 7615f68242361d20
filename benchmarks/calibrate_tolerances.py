"""How close do correct gradients come to their tolerances? (the margin of the error model)

Runs N random problems from the property tests' strategy (all regimes, all modes) and records,
per comparison and parameter, the worst error in units of its tolerance: recursion vs JAX,
vs central differences, vs the complex step. Any value above 1 is a false alarm, i.e. a bug
in the tolerance model. Usage:

    python benchmarks/calibrate_tolerances.py 30000
"""

import sys
import time

from hypothesis import HealthCheck, Phase, given, settings

from gradcheck import compare, numeric
from gradcheck.bptt import bptt
from gradcheck.problem import as_contract_inputs
from gradcheck.strategies import features, problems
from reference import jax_gradients


def main(n: int) -> None:
    worst: dict[tuple[str, str], tuple[float, dict]] = {}
    start, count = time.perf_counter(), 0

    @settings(
        max_examples=n, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck)
    )
    @given(problems(soft_targets=None, loss=None, zero_h0=None, one_hot_inputs=None))
    def run(problem):
        nonlocal count
        count += 1
        exact, tol = bptt(problem), compare.roundoff_tolerance(problem)
        central, cstep = numeric.fd_estimate(problem, "central"), numeric.fd_estimate(problem, "complex")
        others = {
            "jax": (jax_gradients(*as_contract_inputs(problem), loss=problem.loss), tol),
            "central": (central.grads, compare.fd_tolerance(problem, central)),
            "complex": (cstep.grads, compare.fd_tolerance(problem, cstep)),
        }
        for kind, (grads, t) in others.items():
            for c in compare.compare_grads(grads, exact, t):
                if c.ratio > worst.get((kind, c.name), (0.0,))[0]:
                    worst[(kind, c.name)] = (c.ratio, features(problem))
        if count % 1000 == 0:
            print(f"{count} problems, {time.perf_counter() - start:.0f} s", flush=True)

    run()
    print(f"{count} problems in {time.perf_counter() - start:.0f} s; worst error/tol (> 1 is a false alarm):")
    for (kind, name), (ratio, f) in sorted(worst.items()):
        where = " ".join(f"{k}={v:.3g}" for k, v in f.items())
        print(f"  {kind:8} {name:4} {ratio:.3f}   at {where}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
