"""The smallest relative error verify catches, per precision.

A correct implementation in each precision (the numpy implementations of properties/impls/:
a plain loop in float64, and float32, float16 and bfloat16 ones) with dW multiplied by
(1 + e): for e = 1e-14 .. 3, does `verify` (the default search: 200 problems and the coverage
set) catch it? Prints, per precision, the smallest e caught and the largest missed.

    python benchmarks/detection_power.py
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gradcheck  # noqa: E402

IMPLS = {
    "float64": "correct_loop",
    "float32": "correct_numpy_float32_vectorised",
    "float16": "correct_numpy_float16",
    "bfloat16": "correct_numpy_bfloat16",
}
ERRORS = [1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "properties" / "impls" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.grads


def planted(fn, e):
    def grads(params, xs, ys, h0):
        g = dict(fn(params, xs, ys, h0))
        g["W"] = np.asarray(g["W"]) * (1 + e)
        return g

    return grads


def main() -> None:
    for dtype, name in IMPLS.items():
        fn = load(name)
        caught = {e: not gradcheck.verify(planted(fn, e), dtype=dtype).ok for e in ERRORS}
        smallest = min((e for e, c in caught.items() if c), default=None)
        missed = max((e for e, c in caught.items() if not c), default=None)

        def show(e):
            return "none" if e is None else f"{e:.0e}"

        caught_text = f"smallest relative error in dW caught: {show(smallest)}; largest missed: {show(missed)}"
        print(f"{dtype:9} {caught_text}", flush=True)


if __name__ == "__main__":
    main()
