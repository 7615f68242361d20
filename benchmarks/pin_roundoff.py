"""Find, for each term of the round-off model, a problem on which that term decides the verdict.

For a term (roundoff.Terms, or the underflow floor, or the safety factor halved) and a precision,
Hypothesis searches verify's problems (strategies.batches, drawn for the precision), steered
toward the largest error/tol of the precision's correct implementations judged with the term
removed, and toward the largest difference the term makes. It stops at the first problem where
correct code fails without the term (error/tol > CLEAR) and agrees with it (<= 1 / CLEAR). Such
a problem is kept as a fixture, properties/data/pin_*.npz, with the implementation that needs
the term; properties/test_roundoff.py judges it both ways. A term no search finds such a problem for is a
margin (docs/error-model.md says which).

    python benchmarks/pin_roundoff.py [PART ...] [--dtype D ...] [--examples N] [--max-size S] [--max-steps T]
                                      [--seed S] [--save]
"""

import argparse
import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, seed, settings, target

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradcheck import compare  # noqa: E402
from gradcheck.bptt import bptt  # noqa: E402
from gradcheck.precision import PRECISIONS, Precision  # noqa: E402
from gradcheck.problem import GRAD_NAMES, as_contract_inputs  # noqa: E402
from gradcheck.roundoff import TERMS, Terms, roundoff_spread  # noqa: E402
from gradcheck.strategies import batches, pin_hypothesis_constants  # noqa: E402

# The correct implementations of each precision (properties/impls/; "jax": reference.jax_gradients).
IMPLS = {
    "float64": ["correct_loop", "correct_torch", "correct_formulas", "jax"],
    "float32": [
        "correct_numpy_float32_vectorised",
        "correct_float32",
        "correct_torch_float32",
        "correct_formulas:grads_float32",
    ],
    "float16": [
        "correct_numpy_float16",
        "correct_torch_float16",
        "correct_formulas:grads_float16",
        "correct_numpy_float16_ftz",
    ],
    "bfloat16": ["correct_numpy_bfloat16", "correct_torch_bfloat16", "correct_formulas:grads_bfloat16"],
}
KEYS = (*GRAD_NAMES, "loss")
# A kept problem decides clearly: error/tol above 1.2 without the part and below 1/1.2 with it,
# so that another machine's BLAS or libm, a few ulps away, gives the same verdicts.
CLEAR = 1.2
ABLATIONS = (*Terms._fields, "floor", "safety")


def implementation(name: str):
    if name == "jax":
        from reference import jax_gradients

        return lambda params, xs, ys, h0: jax_gradients(params, xs, ys, h0, loss="sum")
    file, _, fn = name.partition(":")
    spec = importlib.util.spec_from_file_location(file, ROOT / "properties" / "impls" / f"{file}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, fn or "grads")


def tolerance(problem, pr: Precision, ablation: str | None) -> dict:
    """The round-off tolerance with one part removed (None: the model)."""
    terms = TERMS._replace(**{ablation: 0.0}) if ablation in Terms._fields else TERMS
    s = roundoff_spread(problem, pr, terms=terms)
    safety = compare.ROUNDOFF_SAFETY / (2 if ablation == "safety" else 1)
    floor = 0.0 if ablation == "floor" else pr.underflow_floor
    tol = {k: safety * v + s.bound(k) + floor for k, v in s.grads.items()}
    tol["loss"] = safety * s.loss + s.bound("loss") + floor
    return tol


def ratio(got: dict, exact: dict, tol: dict) -> tuple[float, str]:
    worst = (0.0, "")
    for k in KEYS:
        if k in got:
            e = np.abs(np.asarray(got[k], dtype=np.float64) - exact[k])
            with np.errstate(divide="ignore", invalid="ignore"):
                r = float(np.max(np.where(e == 0, 0.0, e / tol[k]), initial=0.0))
            worst = max(worst, (r if np.isfinite(r) else 1e300, k))
    return worst


def search(ablation: str, dtype: str, examples: int, max_size: int, max_steps: int, seed_: int = 0):
    """The first problem (and implementation) that needs the part, or None; and the worst ratio seen."""
    pr, fns = PRECISIONS[dtype], {n: implementation(n) for n in IMPLS[dtype]}
    found, worst = [], [(0.0, 0.0, "")]

    @seed(seed_)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(batches(max_D=max_size, max_H=max_size, max_K=max_size, max_T=max_steps, precision=pr))
    def run(batch):
        problem = batch.problems[0]
        if found or compare.roundoff_check(problem, pr, batch.spreads[0]).judgement.value != "judged":
            return
        exact, without, full = bptt(problem), tolerance(problem, pr, ablation), tolerance(problem, pr, None)
        here, gain = 0.0, 0.0
        for name, fn in fns.items():
            got = fn(*as_contract_inputs(problem))
            r, key = ratio(got, exact, without)
            here, gain = max(here, r), max(gain, r - ratio(got, exact, full)[0])
            worst[0] = max(worst[0], (r, ratio(got, exact, full)[0], f"{name} {key} {batch.regime} {problem.sizes}"))
            if r > CLEAR and ratio(got, exact, full)[0] <= 1 / CLEAR:
                found.append((problem, name, key, r, ratio(got, exact, full)[0], str(batch.regime)))
                break
        target(min(here, 1e6), label="error/tol without the part")
        target(min(gain, 1e6), label="what the part adds to error/tol")

    run()
    return (found[0] if found else None), worst[0]


def save(ablation: str, dtype: str, hit) -> Path:
    problem, name, key, r, full, regime = hit
    params, xs, ys, h0 = as_contract_inputs(problem)
    path = ROOT / "properties" / "data" / f"pin_{ablation}_{dtype}.npz"
    np.savez(path, **params, xs=xs, ys=ys, h0=h0, implementation=name, key=key, without=r, full=full, regime=regime)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("parts", nargs="*", default=list(ABLATIONS))
    ap.add_argument("--dtype", nargs="*", default=list(IMPLS))
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--max-size", type=int, default=16)
    ap.add_argument("--max-steps", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", action="store_true", help="write the fixtures to properties/data/")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    pin_hypothesis_constants()
    for part in args.parts:
        for dtype in args.dtype:
            start = time.perf_counter()
            hit, worst = search(part, dtype, args.examples, args.max_size, args.max_steps, args.seed)
            took = time.perf_counter() - start
            if hit is None:
                r, full, where = worst
                tail = f"worst {r:.3g} without it, {full:.3g} with ({where}; {took:.0f} s)"
                print(f"{part:14} {dtype:9} none in {args.examples}: {tail}", flush=True)
                continue
            problem, name, key, r, full, regime = hit
            where = save(part, dtype, hit).name if args.save else ""
            D, H, K, T = problem.sizes
            print(
                f"{part:14} {dtype:9} {name} {key}: {r:.3g} without, {full:.3g} with; {regime} D={D} H={H} K={K} "
                f"T={T} ({took:.0f} s) {where}",
                flush=True,
            )


if __name__ == "__main__":
    main()
