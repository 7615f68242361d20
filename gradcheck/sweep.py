"""`gradcheck report`: the built-in gradients against JAX and finite differences on a sweep.

The sweep is a fixed list of problems, one or more per regime (see strategies.py); random
problems are the business of the property tests and `gradcheck fuzz`. For each parameter
and each comparison the report gives the worst entry over all problems, in units of its
tolerance, and the largest normwise relative error max|a - r| / max|r|.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from .bptt import bptt, series
from .compare import ParamCheck, compare_grads, fd_tolerance, roundoff_check
from .forward_mode import forward_sensitivities
from .numeric import fd_estimate
from .precision import FLOAT64
from .problem import GRAD_NAMES, Problem, as_contract_inputs
from .regimes import Scales
from .roundoff import roundoff_spread
from .strategies import build_problem

# name, (D, H, K, T), scales (u, w, v, b, x, offset), seed, options
SWEEP = [
    ("tiny", (1, 1, 2, 1), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 0, {}),
    ("moderate", (3, 4, 5, 7), Scales(1.0, 1.0, 1.5, 0.5, 1.0, 0.0), 1, {}),
    ("moderate, full size", (16, 16, 16, 50), Scales(1.0, 1.0, 1.5, 0.5, 1.0, 0.0), 2, {}),
    (
        "one-hot inputs, D = K, h0 = 0",
        (8, 12, 8, 30),
        Scales(1.5, 1.2, 2.0, 0.5, 1.0, 0.0),
        3,
        {"one_hot_inputs": True, "zero_h0": True},
    ),
    ("saturated tanh (|p| > 20)", (5, 8, 4, 20), Scales(40.0, 15.0, 1.5, 10.0, 1.0, 0.0), 4, {}),
    ("large logits (~1e3)", (4, 6, 10, 15), Scales(1.0, 1.0, 300.0, 0.5, 1.0, 1000.0), 5, {}),
    ("exploding (W gain 4)", (1, 16, 3, 39), Scales(0.2, 4.0, 1.0, 0.05, 1.0, 0.0), 1, {}),
    ("vanishing (W gain 0.1)", (4, 8, 4, 40), Scales(1.0, 0.1, 1.0, 0.5, 1.0, 0.0), 6, {}),
    (
        "soft targets, mean loss",
        (6, 6, 6, 12),
        Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0),
        7,
        {"soft_targets": True, "loss": "mean"},
    ),
    ("last-step loss", (5, 7, 3, 25), Scales(1.0, 1.2, 2.0, 0.5, 1.0, 0.0), 8, {"loss": "last"}),
]
COMPARISONS = (
    "recursion vs JAX",
    "series vs JAX",
    "series vs recursion",
    "forward mode vs JAX",
    "recursion vs central FD",
    "recursion vs complex step",
)


@dataclass
class Row:
    """The worst entry of one comparison for one parameter over the whole sweep."""

    parameter: str
    comparison: str
    rel_error: float  # largest max|a - r| / max|r| over the problems
    ratio: float  # worst error / tolerance
    tol: float  # tolerance at the worst entry
    problem: str  # where the worst entry is
    unresolved: int  # FD entries that could not be judged
    ok: bool


def sweep_problems() -> list[tuple[str, Problem]]:
    """The fixed sweep: deterministic, so a report is comparable from run to run."""
    return [(name, build_problem(sizes, sc, s, **opt)) for name, sizes, sc, s, opt in SWEEP]


def check_problem(problem: Problem) -> dict[str, list[ParamCheck]]:
    """All five comparisons on one problem."""
    from reference import jax_gradients

    rec, ser, fwd = bptt(problem), series(problem), forward_sensitivities(problem)
    jax = jax_gradients(*as_contract_inputs(problem), loss=problem.loss)
    spread = roundoff_spread(problem, FLOAT64)  # one Monte Carlo run for every tolerance below
    tol = roundoff_check(problem, FLOAT64, spread).tol
    central = fd_estimate(problem, "central", spread=spread)
    complex_step = fd_estimate(problem, "complex", spread=spread)
    with_loss = (*GRAD_NAMES, "loss")
    return {
        "recursion vs JAX": compare_grads(rec, jax, tol, with_loss),
        "series vs JAX": compare_grads(ser, jax, tol, with_loss),
        "series vs recursion": compare_grads(ser, rec, tol),
        "forward mode vs JAX": compare_grads(fwd, jax, tol, with_loss),
        "recursion vs central FD": compare_grads(rec, central.grads, fd_tolerance(problem, central, tol)),
        "recursion vs complex step": compare_grads(rec, complex_step.grads, fd_tolerance(problem, complex_step, tol)),
    }


def run_sweep() -> tuple[list[Row], list[tuple[str, Problem]], float]:
    """Every comparison on every sweep problem; the worst row per (parameter, comparison)."""
    start = time.perf_counter()
    problems = sweep_problems()
    worst: dict[tuple[str, str], Row] = {}
    for name, problem in problems:
        for comparison, checks in check_problem(problem).items():
            for c in checks:
                key = (c.name, comparison)
                row = worst.get(key)
                if row is None:
                    row = worst[key] = Row(c.name, comparison, c.rel_error, c.ratio, c.tol, name, c.unresolved, c.ok)
                    continue
                row.rel_error = max(row.rel_error, c.rel_error)  # each column its own maximum
                row.unresolved += c.unresolved
                row.ok = row.ok and c.ok
                if c.ratio > row.ratio:
                    row.ratio, row.tol, row.problem = c.ratio, c.tol, name
    return list(worst.values()), problems, time.perf_counter() - start


def format_sweep(rows: list[Row], problems: list[tuple[str, Problem]], seconds: float) -> str:
    lines = [f"gradcheck report: {len(problems)} problems, {len(COMPARISONS)} comparisons, {seconds:.1f} s", ""]
    lines.append(f"  {'problem':34} {'D':>3} {'H':>3} {'K':>3} {'T':>3}  loss")
    for name, p in problems:
        D, H, K, T = p.sizes
        lines.append(f"  {name:34} {D:3d} {H:3d} {K:3d} {T:3d}  {p.loss}")
    lines += [
        "",
        "Per parameter and comparison, over all problems: the largest normwise relative error",
        "max|a - r| / max|r|, and the worst entry in units of its tolerance (error/tol <= 1 agrees).",
    ]
    order = (*GRAD_NAMES, "loss")
    for param in order:
        mine = [r for r in rows if r.parameter == param]
        if not mine:
            continue
        lines += [
            "",
            f"{param}",
            f"  {'comparison':27} {'rel. error':>10} {'error/tol':>10} {'tol there':>10}  verdict",
        ]
        for r in sorted(mine, key=lambda r: COMPARISONS.index(r.comparison)):
            note = f" ({r.unresolved} FD entries unresolved)" if r.unresolved else ""
            verdict = "agree" if r.ok else f"DISAGREE at problem '{r.problem}'"
            lines.append(f"  {r.comparison:27} {r.rel_error:10.2e} {r.ratio:10.2e} {r.tol:10.2e}  {verdict}{note}")
    bad = [r for r in rows if not r.ok]
    lines += ["", "ALL AGREE" if not bad else f"{len(bad)} DISAGREEMENTS"]
    return "\n".join(lines)


def write_json(path: str, rows: list[Row], problems: list[tuple[str, Problem]], seconds: float) -> None:
    data = {
        "seconds": seconds,
        "problems": [
            {"name": n, "sizes": dict(zip("DHKT", p.sizes, strict=True)), "loss": p.loss} for n, p in problems
        ],
        "rows": [asdict(r) for r in rows],
        "agree": all(r.ok for r in rows),
    }
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
