"""The smallest relative error verify catches, per precision and error pattern.

A correct implementation in each precision (the numpy implementations of properties/impls/:
a plain loop in float64, and float32, float16 and bfloat16 ones) with one of three mistakes of
relative size e planted in its dW:

    uniform    dW (1 + e)                                  every entry scaled
    entry      dW_ij (1 + e) at the largest |dW_ij|         one entry off
    step       dW + e dp_T h_{T-1}^T                        the last step's contribution scaled

(dp_T = (1 - h_T^2) V^T dq_T w_T is computed here in float64, independently of gradcheck.) For
each, a bisection over e = 1e-16, 3e-16, ..., 1, 3 finds the smallest e that verify's default
search (200 problems and the coverage set, seed 0; the search without shrinking, which gives
the same verdict as `verify`) catches, and prints it with the largest e missed below it.

    python benchmarks/detection_power.py [PRECISION ...]
    GRADCHECK_SOURCE=/tmp/before python benchmarks/detection_power.py   # another checkout's judge
"""

import importlib.util
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import seed as hypothesis_seed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("GRADCHECK_SOURCE", str(ROOT)))

import gradcheck  # noqa: E402
from gradcheck import oracle  # noqa: E402
from gradcheck.implementation import implementation  # noqa: E402
from gradcheck.options import Options  # noqa: E402

IMPLS = {
    "float64": "correct_loop",
    "float32": "correct_numpy_float32_vectorised",
    "float16": "correct_numpy_float16",
    "bfloat16": "correct_numpy_bfloat16",
}
ERRORS = [m * 10.0**k for k in range(-16, 1) for m in (1.0, 3.0)]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "properties" / "impls" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.grads


def last_step_contribution(params, xs, ys, h0) -> np.ndarray:
    """dp_T h_{T-1}^T, the last step's term of dW for the sum loss, in float64."""
    U, W, V, b_h, b_y = (np.asarray(params[k], dtype=np.float64) for k in ("U", "W", "V", "b_h", "b_y"))
    hs = [np.asarray(h0, dtype=np.float64)]
    for x in np.asarray(xs, dtype=np.float64):
        hs.append(np.tanh(U @ x + W @ hs[-1] + b_h))
    h, h_prev = hs[-1], hs[-2]
    q = V @ h + b_y
    yhat = np.exp(q - q.max())
    yhat /= yhat.sum()
    dq = yhat.copy()
    dq[int(ys[-1])] -= 1.0
    return np.outer((1 - h * h) * (V.T @ dq), h_prev)


def planted(fn, pattern: str, e: float):
    def grads(params, xs, ys, h0):
        g = dict(fn(params, xs, ys, h0))
        dW = np.array(g["W"], dtype=np.float64)
        if pattern == "uniform":
            dW = dW * (1 + e)
        elif pattern == "entry":
            i = np.unravel_index(int(np.argmax(np.abs(dW))), dW.shape)
            dW[i] *= 1 + e
        else:
            dW = dW + e * last_step_contribution(params, xs, ys, h0)
        g["W"] = dW
        return g

    return grads


class _Caught(Exception):
    pass


def caught(fn, dtype: str, pattern: str, e: float) -> bool:
    """verify's verdict: a failure among the default search's problems (seed opts.seed, drawn as
    oracle.search draws them, stopped at the first failure instead of shrinking it) or the
    coverage set."""
    opts = Options(dtype=dtype)
    impl = implementation(planted(fn, pattern, e), opts, None)
    ref_fn = oracle.reference_function(opts)

    @hypothesis_seed(opts.seed)
    @oracle.search_settings(opts.examples, shrink=False)
    @given(oracle.cases(opts))
    def prop(case) -> None:
        if not oracle.judge(impl, case, opts, ref_fn).ok:
            raise _Caught

    try:
        try:
            prop()
        except _Caught:
            return True
        return any(not oracle.judge(impl, case, opts, ref_fn).ok for case in oracle.coverage_set(opts))
    finally:
        impl.close()


def smallest_caught(fn, dtype: str, pattern: str) -> tuple[float | None, float | None]:
    """(smallest e caught, largest e missed) by bisection over ERRORS (detection grows with e)."""
    lo, hi = -1, len(ERRORS) - 1  # ERRORS[lo] missed (or none), ERRORS[hi] caught (checked first)
    if not caught(fn, dtype, pattern, ERRORS[hi]):
        return None, ERRORS[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if caught(fn, dtype, pattern, ERRORS[mid]):
            hi = mid
        else:
            lo = mid
    return ERRORS[hi], ERRORS[lo] if lo >= 0 else None


def main(dtypes) -> None:
    warnings.filterwarnings("ignore", message="Generating overly large repr")  # Hypothesis, on big cases
    print(f"gradcheck from {Path(gradcheck.__file__).parent}")
    show = lambda e: "none" if e is None else f"{e:.0e}"
    for dtype in dtypes:
        fn = load(IMPLS[dtype])
        for pattern in ("uniform", "entry", "step"):
            start = time.perf_counter()
            smallest, missed = smallest_caught(fn, dtype, pattern)
            print(
                f"{dtype:9} {pattern:8} smallest e caught {show(smallest):>6}; largest missed {show(missed):>6}"
                f"  ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:] or list(IMPLS))
