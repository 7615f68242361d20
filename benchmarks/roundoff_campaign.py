"""A random campaign against the round-off model: correct code in each precision, on problems
drawn as the fuzz campaigns draw them (every regime, D, H, K up to 64 and T up to 200 in two draws
of five, h0 zero and not, real and one-hot inputs), judged with the model's tolerance.

Per implementation: the largest error/tol, and its problem. Per precision, over the entries whose
tolerance the random part dominates (6 x spread > 4 x the bounds): the root mean square and the
largest of error / spread, which say how far below the Monte Carlo scale correct code's round-off
lies (docs/error-model.md, "The false alarms it is built for"); and the largest
||error|| / ||tol|| of any array (the normwise test's limit).

    python benchmarks/roundoff_campaign.py [N per precision] [SEED]
"""

import importlib.util
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradcheck.bptt import bptt  # noqa: E402
from gradcheck.compare import roundoff_check  # noqa: E402
from gradcheck.precision import PRECISIONS  # noqa: E402
from gradcheck.problem import GRAD_NAMES, as_contract_inputs  # noqa: E402
from gradcheck.regimes import REGIMES, min_steps, regime_scales  # noqa: E402
from gradcheck.strategies import build_problems  # noqa: E402

IMPLS = {
    "float64": ["correct_loop", "correct_torch", "correct_einsum", "correct_formulas", "jax"],
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


def implementation(name: str):
    if name == "jax":
        from reference import jax_gradients

        return lambda params, xs, ys, h0: jax_gradients(params, xs, ys, h0, loss="sum")
    file, _, fn = name.partition(":")
    spec = importlib.util.spec_from_file_location(file, ROOT / "properties" / "impls" / f"{file}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, fn or "grads")


def problems(dtype: str, n: int, seed: int):
    """n problems drawn for the precision, as the campaigns draw them (sizes 1 are favoured, as
    Hypothesis favours them)."""
    rng, pr = np.random.default_rng(seed), PRECISIONS[dtype]
    for _ in range(n):
        regime = REGIMES[int(rng.integers(len(REGIMES)))]
        size, steps = (64, 200) if rng.random() < 0.4 else (16, 50)
        pick = lambda hi: int(rng.integers(1, hi + 1)) if rng.random() > 0.15 else 1
        D, H, K = pick(size), pick(size), pick(size)
        T = max(min_steps(regime), pick(steps))
        flags = dict(zero_h0=bool(rng.integers(2)), one_hot_inputs=bool(rng.integers(2)))
        scales = regime_scales(regime, rng, pr)
        yield str(regime), build_problems((D, H, K, T), scales, int(rng.integers(2**32)), precision=pr, **flags)


def main(n: int, seed: int) -> None:
    warnings.filterwarnings("ignore")
    for dtype, names in IMPLS.items():
        pr, fns, start = PRECISIONS[dtype], {name: implementation(name) for name in IMPLS[dtype]}, time.perf_counter()
        worst = {name: (0.0, "") for name in names}
        z, norm = [], (0.0, "")
        for regime, batch in problems(dtype, n, seed):
            problem, spread = batch.problems[0], batch.spreads[0]
            check = roundoff_check(problem, pr, spread)
            if check.judgement.value != "judged":
                continue
            exact, where = (
                bptt(problem),
                f"{regime} D={problem.sizes[0]} H={problem.sizes[1]} K={problem.sizes[2]} T={problem.sizes[3]}",
            )
            for name, fn in fns.items():
                got = fn(*as_contract_inputs(problem))
                for k in (*GRAD_NAMES, "loss"):
                    if k not in got:
                        continue
                    err = np.abs(np.asarray(got[k], dtype=np.float64) - exact[k])
                    tol = check.tol[k]
                    r = float(np.max(np.where(err == 0, 0.0, err / tol)))
                    worst[name] = max(worst[name], (r, f"{k} on {where}"))
                    if k == "loss":
                        continue
                    dominated = 6 * spread.grads[k] > 4 * (spread.bound(k) + pr.underflow_floor)
                    z.append((err / np.where(dominated, spread.grads[k], np.inf))[dominated])
                    if err.size > 1:
                        norm = max(norm, (float(np.linalg.norm(err) / np.linalg.norm(tol)), f"{name} {k} on {where}"))
        z = np.concatenate(z) if z else np.zeros(1)
        print(f"{dtype}: {n} problems ({time.perf_counter() - start:.0f} s)")
        for name, (r, where) in worst.items():
            print(f"  {name:36} worst error/tol {r:.3g} ({where})")
        print(
            f"  random-dominated entries {z.size}: rms error/spread {np.sqrt(np.mean(z**2)):.3g}, largest {z.max():.3g}"
        )
        print(f"  largest ||error|| / ||tol|| of an array: {norm[0]:.3g} ({norm[1]})", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
