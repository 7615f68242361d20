"""Find the problems that pin each part of the round-off model (properties/test_roundoff.py).

For N random problems (saturated, exploding, moderate, large logits), compare the recursion with
JAX and with a tanh biased by ULPS ulps at every step, in units of the round-off spread (before
the safety factor 8): with the whole model, and with one part removed (the tanh ulps, the
coherent runs, the carried bound). Prints, per part and comparison, the largest ratio and the
problem (sizes, scales, seed) that reaches it; those problems are the pinning tests' fixtures.

    python benchmarks/pin_roundoff.py [N] [SEED]
"""

import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # properties/, from a checkout

from gradcheck import roundoff
from gradcheck.bptt import bptt
from gradcheck.precision import FLOAT64
from gradcheck.problem import GRAD_NAMES, as_contract_inputs
from gradcheck.regimes import regime_scales
from gradcheck.roundoff import roundoff_spread
from gradcheck.strategies import build_problem
from properties.test_roundoff import EPS, biased_tanh_gradients
from reference import jax_gradients


def main(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    call = roundoff._Noise.__call__
    best: dict = {}
    for i in range(n):
        regime = ("saturated", "exploding", "moderate", "large_logits")[i % 4]
        D, H, K, T = (
            int(rng.integers(1, 9)),
            int(rng.integers(1, 17)),
            int(rng.integers(2, 9)),
            int(rng.integers(5, 60)),
        )
        scales, problem_seed, zero = regime_scales(regime, rng), int(rng.integers(2**31)), bool(rng.integers(2))
        p = build_problem((D, H, K, T), scales, problem_seed, zero_h0=zero)
        full = roundoff_spread(p, FLOAT64)
        if full.states > FLOAT64.ill_conditioned:
            continue
        exact = bptt(p)
        others = {
            "biased tanh": biased_tanh_gradients(p, FLOAT64.ulps * EPS),
            "JAX": jax_gradients(*as_contract_inputs(p), loss=p.loss),
        }
        variants = {
            "whole model": full.grads,
            "no tanh ulps": roundoff_spread(p, dataclasses.replace(FLOAT64, ulps=0.0)).grads,
            "no carried bound": {k: full.own[k] + full.sums[k] for k in full.own},
        }
        roundoff._Noise.__call__ = lambda self, shape, coherent=None: call(self, shape, None)
        variants["no coherent runs"] = roundoff_spread(p, FLOAT64).grads
        roundoff._Noise.__call__ = call
        for name, spread in variants.items():
            for other, g in others.items():
                r = max(float(np.max(np.abs(exact[k] - g[k]) / (spread[k] + 1e-300))) for k in GRAD_NAMES)
                if r > best.get((name, other), (0.0,))[0]:
                    best[(name, other)] = (
                        r,
                        regime,
                        (D, H, K, T),
                        tuple(round(x, 6) for x in scales),
                        problem_seed,
                        zero,
                    )
    for (name, other), (r, *where) in sorted(best.items()):
        print(f"{name:18} vs {other:12} worst |difference| / spread {r:7.3f}  at {where}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, int(sys.argv[2]) if len(sys.argv) > 2 else 12)
