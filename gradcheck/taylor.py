"""The Taylor remainder test: is an implementation's gradient the gradient of its own loss?

For a direction v and steps eps_k = eps_0 / 2^k, with the implementation's OWN loss E and
gradient g (Farrell, Ham, Funke and Rognes, 2013; pyadjoint's `taylor_test`):

    r0(eps) = |E(θ + eps v) - E(θ)|                  = O(eps)
    r1(eps) = |E(θ + eps v) - E(θ) - eps g . v|      = O(eps^2) if g is E's gradient, O(eps) if not

so the observed rate log2(r1(eps_k) / r1(eps_{k+1})) tends to 2 for a consistent gradient and to
1 for a wrong one. No step is chosen by the user: eps runs from eps_0 (enlarged until r1 clearly
stands above round-off) down by halves, and the rate is read over the steps where r1 is still
READABLE times the loss's round-off (compare.roundoff_check, in the precision under test), at
the small end of that range, where the expansion is asymptotic.

It uses nothing but the code's own loss, so it judges code whose loss is not the seed's (an L2
penalty, label smoothing, another cell) for the consistency of loss and gradient; `verify`
remains the check against the seed's model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .contract import Case, read_result
from .errors import GradcheckError
from .implementation import implementation
from .options import Options
from .oracle import coverage_set, preflight
from .outcome import Kind, Outcome
from .regimes import Regime
from .render import case_sizes

STEPS = 24  # eps_0 down to eps_0 / 2^23
# r1 is read only where it exceeds this many times the loss's round-off tolerance (two
# evaluations of E, each within it): below, the remainder is noise and its "rate" is meaningless.
READABLE = 64.0
RATE_POINTS = 4  # the verdict is the median rate over the last (smallest-eps) readable steps
CONSISTENT, INCONSISTENT = 1.8, 1.3  # rate >= 1.8: O(eps^2); <= 1.3: O(eps)
# Well-conditioned problems of the coverage set: a clean O(eps^2) remainder over many steps.
REGIMES = (Regime.MODERATE, Regime.LARGE_GRADIENT, Regime.VANISHING)


@dataclass
class Direction:
    case: Case
    eps: list[float] = field(default_factory=list)
    r0: list[float] = field(default_factory=list)
    r1: list[float] = field(default_factory=list)
    readable: list[bool] = field(default_factory=list)
    rate: float = float("nan")  # the verdict's rate of r1
    verdict: str = "inconclusive"  # consistent | inconsistent | inconclusive


@dataclass
class TaylorReport:
    target: str
    options: Options
    ok: bool
    directions: list[Direction] = field(default_factory=list)
    failure: Outcome | None = None  # the implementation failed outright
    refusal: str = ""  # it cannot be called with the contract's arguments (a wrong signature)

    def format(self, debug: bool = False) -> str:
        word = "CONSISTENT" if self.ok else "INCONSISTENT"
        lines = [f"gradcheck taylor {self.target}: {word}", f"  options: {self.options.describe()}"]
        if self.refusal:
            return "\n".join([*lines, f"  {self.refusal}"])
        if self.failure is not None:
            return "\n".join(
                [*lines, f"  FAILURE: {self.failure.message}", f"  on the problem {case_sizes(self.failure.case)}"]
            )
        lines.append(
            "  r0 = |E(θ + eps v) - E(θ)|, r1 = |E(θ + eps v) - E(θ) - eps g.v| with the implementation's own "
            "E and g; rate = log2 of successive ratios (r1: 2 when g is E's gradient, 1 when not)"
        )
        tabled = {0} | {next((i for i, d in enumerate(self.directions) if d.verdict != "consistent"), 0)}
        for i, d in enumerate(self.directions):  # the table of the first direction, and of the first that fails
            lines.append(
                f"  {case_sizes(d.case)}, direction {i + 1}: {d.verdict}, rate of r1 "
                f"{d.rate:.2f} over the smallest readable steps"
            )
            if i in tabled:
                lines += _table(d)
        if not self.ok:
            lines.append(
                "  the gradient is not the gradient of the loss the implementation returns: "
                "a rate near 1 means an error of first order in g"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # a notebook cell's display
        from .notebook import taylor_html

        return taylor_html(self)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython's text: the report, not the fields
        printer.text(self.format())

    def to_json(self) -> dict[str, Any]:
        return {
            "command": "taylor",
            "target": self.target,
            "consistent": self.ok,
            "failure": self.refusal or (None if self.failure is None else self.failure.message),
            "directions": [
                {
                    "sizes": case_sizes(d.case),
                    "verdict": d.verdict,
                    "rate": d.rate,
                    "eps": d.eps,
                    "r0": d.r0,
                    "r1": d.r1,
                    "readable": d.readable,
                }
                for d in self.directions
            ],
        }


def _table(d: Direction) -> list[str]:
    lines = [f"      {'eps':>9} {'r0':>10} {'r1':>10} {'rate r0':>8} {'rate r1':>8}"]
    for k, eps in enumerate(d.eps):
        rate = lambda r, k=k: f"{np.log2(r[k - 1] / r[k]):8.2f}" if k and r[k] > 0 and r[k - 1] > 0 else f"{'':8}"
        mark = "" if d.readable[k] else "  (below round-off)"
        lines.append(f"      {eps:9.2e} {d.r0[k]:10.3e} {d.r1[k]:10.3e} {rate(d.r0)} {rate(d.r1)}{mark}")
    return lines


def taylor(
    target=None, opts: Options | None = None, *, worker: str | None = None, directions: int = 3, **options: Any
) -> TaylorReport:
    """The Taylor remainder test of an implementation (a function, TARGET or worker command)."""
    opts = replace(opts or Options(), **options)
    impl = implementation(target, opts, worker)
    try:
        pre = preflight(impl, opts, twice=False)
        if pre.refusal:
            return TaylorReport(impl.name, opts, ok=False, refusal=pre.refusal)
        report = TaylorReport(impl.name, opts, ok=True)
        by_regime: dict[str, Case] = {}
        for c in coverage_set(opts):  # one per regime, h0 != 0 where the options allow it
            if c.regime in REGIMES and (c.regime not in by_regime or c.problems[0].h0.any()):
                by_regime[c.regime] = c
        chosen = list(by_regime.values()) or coverage_set(opts)[:1]
        rng = np.random.default_rng(opts.seed)
        for case in chosen:
            base = _evaluate(impl, case)
            if isinstance(base, Outcome):
                return TaylorReport(impl.name, opts, ok=False, failure=base)
            for _ in range(directions):
                d = check_direction(impl, case, base, random_direction(case, base[1], rng), opts)
                if isinstance(d, Outcome):
                    return TaylorReport(impl.name, opts, ok=False, failure=d)
                report.directions.append(d)
        report.ok = all(d.verdict == "consistent" for d in report.directions)
        return report
    finally:
        impl.close()


def _evaluate(impl, case: Case) -> tuple[float, dict] | Outcome:
    """The implementation's own loss and gradients on a case."""
    call = impl.call(case)
    if call.failure:
        return Outcome(case, Kind.RAISED, call.message)
    arrays, kind, _, message = read_result(call.output, case)
    if kind:
        return Outcome(case, Kind(kind), message)
    if "loss" in arrays:
        loss = float(arrays["loss"])
    elif case.contract.layer and "hs" in arrays:  # the layer's L = sum_t dhs_t . h_t, from its states
        loss = float(
            sum(
                np.sum(p.dhs * h)
                for p, h in zip(case.problems, np.reshape(arrays["hs"], (case.n, -1, case.sizes[1])), strict=True)
            )
        )
    else:
        raise GradcheckError(
            "taylor: the implementation must return its own 'loss' (or, for --layer, 'hs'), "
            "which the test differentiates"
        )
    if not np.isfinite(loss):
        return Outcome(case, Kind.NONFINITE, f"loss is {loss}")
    return loss, arrays


def random_direction(case: Case, grads: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A random unit direction over the parameters the implementation returns, and h0 if it returns it."""
    keys = [k for k in (*case.contract.parameters, "h0") if k in grads]
    v = {k: rng.standard_normal(np.shape(grads[k])) for k in keys}
    norm = np.sqrt(sum(np.sum(a * a) for a in v.values()))
    return {k: a / norm for k, a in v.items()}


def _moved(case: Case, v: dict, eps: float) -> Case:
    """The case with θ + eps v (h0 rows per sequence)."""
    problems = []
    for n, p in enumerate(case.problems):
        params = p.params._replace(**{k: getattr(p.params, k) + eps * v[k] for k in v if k != "h0"})
        dh0 = v["h0"][n] if "h0" in v and case.contract.batch else v.get("h0", 0.0)
        problems.append(p._replace(params=params, h0=p.h0 + eps * dh0))
    return case.with_problems(tuple(problems))


def check_direction(impl, case: Case, base: tuple[float, dict], v: dict, opts: Options) -> Direction | Outcome:
    from .contract import tolerance

    E0, grads = base
    slope = float(sum(np.sum(grads[k] * v[k]) for k in v))
    noise = 2 * float(tolerance(case, opts.precision).tol["loss"])
    d = Direction(case)
    eps = 1.0
    for _ in range(10):  # enlarge eps_0 until the remainder stands clearly above round-off
        E = _evaluate(impl, _moved(case, v, eps))
        if isinstance(E, Outcome):
            return E
        if abs(E[0] - E0 - eps * slope) > 1e4 * READABLE * noise:
            break
        eps *= 4
    for k in range(STEPS):
        step = eps / 2**k
        E = _evaluate(impl, _moved(case, v, step))
        if isinstance(E, Outcome):
            return E
        d.eps.append(step)
        d.r0.append(abs(E[0] - E0))
        d.r1.append(abs(E[0] - E0 - step * slope))
        d.readable.append(d.r1[-1] > READABLE * (noise + step * abs(slope) * opts.precision.eps))
    readable = [k for k in range(1, STEPS) if d.readable[k] and d.readable[k - 1]]
    rates = [np.log2(d.r1[k - 1] / d.r1[k]) for k in readable][-RATE_POINTS:]
    if len(rates) >= 2:
        d.rate = float(np.median(rates))
        d.verdict = (
            "consistent" if d.rate >= CONSISTENT else "inconsistent" if d.rate <= INCONSISTENT else "inconclusive"
        )
    return d
