"""How many candidate mistakes a diagnosis tries, and how long it takes, on the planted mistakes.

    python benchmarks/diagnosis_cost.py

For each file of properties/impls/ that plants a mistake in the gradients, runs the default verify
and times the diagnosis stage apart from the search (oracle.explain: evidence, diagnosis, and the
calls that tell candidates apart). Prints per file the seconds of the whole verify and of the
diagnosis, and the median and largest over the files.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "properties"))

from test_oracle import BUGGY, load, options_for  # noqa: E402

import gradcheck  # noqa: E402
from gradcheck import oracle  # noqa: E402
from gradcheck.derivation import SEED, mutations  # noqa: E402
from gradcheck.mutants import PAIR_POOL  # noqa: E402


def main() -> None:
    ms = mutations(SEED)
    forward = sum(m.forward for m in ms)
    print(f"single-site mutants: {len(ms)} ({forward} in the forward pass, each read two ways)")
    print(f"pairs, where no single one fits: up to {PAIR_POOL * (PAIR_POOL - 1) // 2}")
    print(f"clipped singles: up to {2 * PAIR_POOL}")
    spent: dict[str, float] = {}
    real = oracle.explain

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent["explain"] = spent.get("explain", 0.0) + time.perf_counter() - start

    oracle.explain = timed
    rows = []
    for name in BUGGY:
        module = load(name)
        if "torch" in name or name == "bug_accumulates":
            continue
        spent.clear()
        start = time.perf_counter()
        report = gradcheck.verify(module.grads, **options_for(module))
        total = time.perf_counter() - start
        rows.append((name, total, spent.get("explain", 0.0), len(report.failures)))
        took = spent.get("explain", 0.0)
        print(f"  {name:40} verify {total:6.1f} s   diagnosis {took:6.1f} s   failures {len(report.failures)}")
    diag = [r[2] for r in rows]
    print(f"diagnosis over {len(rows)} files: median {statistics.median(diag):.1f} s, largest {max(diag):.1f} s")


if __name__ == "__main__":
    main()
