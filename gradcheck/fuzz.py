"""`gradcheck fuzz`: long Hypothesis campaigns, of the built-in gradients or of a TARGET.

Built-in: every example checks the hand-derived gradients against JAX (every entry), the
seed's series against the recursion (where the O(T^2 H^3) series is affordable), truncation
at k >= T against the full gradient, and finite differences (the full Jacobian with per-entry
error estimates or the complex step where affordable, otherwise a directional difference).
The campaign draws sizes up to H = 128 and T = 200 (one problem in five is large) across every
regime, records the worst error/tol per comparison, and steers Hypothesis (`target()`) toward
problems with larger errors, larger logits and longer saturated runs.

TARGET: the oracle's comparison of `verify`, with its options, run for as long as asked.

Runs are cut into batches of examples; a failure stops the run, is shrunk, and is saved in the
example database, so the next run replays it first. Exit codes as verify: 0, 1, 2.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from hypothesis import event, given, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase
from hypothesis.reporting import current_reporter, with_reporter

from .bptt import bptt, series, truncated
from .compare import (
    NORM_LIMIT,
    Judgement,
    ParamCheck,
    compare_grads,
    directional_check,
    fd_tolerance,
    jvp_tolerance,
    roundoff_check,
)
from .contract import Case, Contract
from .errors import GradcheckError
from .forward_mode import forward_sensitivities, jvp_problem
from .numeric import directional_derivative, fd_estimate, random_direction
from .options import Options
from .oracle import explain, judge, reference_function, search_settings
from .outcome import Explained, Failure, Found, Kind, Role, SearchResult
from .precision import FLOAT64, Precision
from .problem import GRAD_NAMES, Problem, as_contract_inputs
from .render import case_arguments, case_arrays, case_sizes
from .roundoff import Spread, roundoff_spread
from .strategies import Batch, batches, features

BATCH = 200  # examples per Hypothesis run: progress and the time limit are checked between batches
# Per-example budgets: the full finite-difference Jacobian costs about 3 P T H (H + K) flops (four
# evaluations of a forward pass per entry, counted as three for the cheap ones) and the series
# T^2 (2 H^3 + H^2 D); above these (about 50 ms each), the cheap directional check stands in.
FULL_FD_FLOPS = 3e8
SERIES_FLOPS = 1e8


def campaign_problems():
    """Four problems in five small (D, H, K <= 16, T <= 50), one large (H 17..128, T 51..200); each
    a Batch of one, which carries the regime it was drawn in and its float64 round-off spread.

    Drawn for float64 as a target campaign is for its precision (strategies: the recurrence
    tempered until float64 can judge it): untempered, 7.6% of the exploding regime's problems were
    ill-conditioned and not judged (seed 11, 20,000 examples; docs/campaigns.md).
    """
    small = batches(one_hot_inputs=None, zero_h0=None, soft_targets=None, loss=None, precision=FLOAT64)
    large = batches(
        max_D=32,
        max_H=128,
        max_K=32,
        max_T=200,
        min_H=17,
        min_T=51,
        one_hot_inputs=None,
        zero_h0=None,
        loss=None,
        precision=FLOAT64,
    )
    return st.integers(0, 4).flatmap(lambda tier: large if tier == 4 else small)


class Disagreement(AssertionError):
    def __init__(self, what: str, checks: list[ParamCheck], example: Problem | Case):
        from .compare import describe

        super().__init__(f"{what}\n{describe([c for c in checks if not c.ok])}")
        self.what, self.checks = what, checks
        self.case = example if isinstance(example, Case) else Case((example,), Contract(cell=example.cell))


def _regime_events(problems: tuple[Problem, ...]) -> dict[str, float]:
    """Coverage events for Hypothesis' statistics, and targets that steer toward large logits and
    saturated units (a batch's hardest sequence); returns the first problem's features."""
    fs = [features(p) for p in problems]
    for p, f in zip(problems, fs, strict=True):
        event(f"H {'<= 16' if f['H'] <= 16 else '17..64' if f['H'] <= 64 else '65..128'}")
        event(f"T {'<= 50' if f['T'] <= 50 else '51..200'}")
        event("saturated tanh (|p| > 20)" if f["max_abs_p"] > 20 else "tanh not saturated")
        event("logits over 500" if f["max_abs_logit"] > 500 else "logits up to 500")
        event("h0 != 0" if f["h0_nonzero"] else "h0 = 0")
        event(f"loss {p.loss}")
    target(max(float(np.log10(1 + f["max_abs_logit"])) for f in fs), label="log10(1 + max |logit|)")
    target(max(float(f["saturated_fraction"]) for f in fs), label="fraction of saturated units")
    return fs[0]


def check_builtin(problem: Problem, worst: Worst, spread: Spread | None = None) -> Judgement | None:
    """One example of the built-in campaign; raises Disagreement on any false alarm.

    spread: the problem's float64 round-off spread when the generator has it already. Returns the
    Judgement of a problem that is not judged (ill-conditioned), None otherwise.
    """
    f = _regime_events((problem,))
    D, H, K, T = problem.sizes
    spread = roundoff_spread(problem, FLOAT64) if spread is None else spread  # one Monte Carlo run for all
    exact, (tol, judgement, _) = bptt(problem), roundoff_check(problem, FLOAT64, spread)
    if judgement is not Judgement.JUDGED:
        event(f"{judgement.value} (not judged)")
        return judgement
    comparisons: list[tuple[str, Callable[[], tuple[dict, dict]]]] = []

    def jax_ref():
        from reference import jax_gradients

        return jax_gradients(*as_contract_inputs(problem), loss=problem.loss), tol

    comparisons.append(("recursion vs JAX", jax_ref))
    comparisons.append(("truncation k >= T vs recursion", lambda: (truncated(problem, T), tol)))
    if T * T * (2 * H**3 + H * H * D) <= SERIES_FLOPS:
        comparisons.append(("series vs recursion", lambda: (series(problem), tol)))
    if 2 * T * H * H * H * (H + D + 2) <= SERIES_FLOPS:
        comparisons.append(("forward mode vs recursion", lambda: (forward_sensitivities(problem), tol)))
    P = H * (D + H + 2) + K * (H + 1)
    if 3 * P * T * H * (H + K) <= FULL_FD_FLOPS:
        method = ("central", "complex")[int(f["T"]) % 2]  # alternate, cheaply and deterministically
        name = "recursion vs central FD" if method == "central" else "recursion vs complex step"

        def fd(method=method):
            est = fd_estimate(problem, method, spread=spread)
            return est.grads, fd_tolerance(problem, est, tol)

        comparisons.append((name, fd))
    for name, run in comparisons:
        other, t = run()
        checks = compare_grads(exact, other, t, GRAD_NAMES)
        worst.record(name, max(c.ratio for c in checks), problem)
        worst.record(f"{name}, normwise / limit", max(c.norm_ratio for c in checks) / NORM_LIMIT, problem)
        if not all(c.ok for c in checks):
            raise Disagreement(name, checks, problem)
    v = random_direction(problem, np.random.default_rng(T + 1))
    along = jvp_problem(problem, v) - sum(float(np.sum(exact[n] * v[n])) for n in GRAD_NAMES)
    worst.record("jvp (forward mode) vs recursion", abs(along) / jvp_tolerance(exact, tol, v), problem)
    if abs(along) > jvp_tolerance(exact, tol, v):
        raise AssertionError(f"jvp differs from <recursion, v> by {along!r} (tol {jvp_tolerance(exact, tol, v):.3g})")
    if 3 * P * T * H * (H + K) > FULL_FD_FLOPS:
        d = directional_derivative(problem, exact, random_direction(problem, np.random.default_rng(T)))
        c = directional_check(d)
        worst.record("recursion vs directional FD", c.ratio, problem)
        if c.unresolved:
            event("directional FD unresolved")
        if not c.ok:
            raise AssertionError(f"directional derivative {d.analytic!r} vs central difference {d.numeric!r}")
    target(worst.this, label="worst error / tol")
    return None


@dataclass
class Worst:
    """The largest error/tol seen per comparison, and the example it was seen on: a campaign's
    closest call, kept so that a near miss (a tolerance almost too tight) can be looked at."""

    ratio: dict[str, float] = field(default_factory=dict)
    example: dict[str, Case] = field(default_factory=dict)
    this: float = 0.0  # the current example's largest, which target() steers by

    def record(self, name: str, ratio: float, example: Problem | Case) -> None:
        if ratio > self.ratio.get(name, -1.0):
            case = example if isinstance(example, Case) else Case((example,), Contract(cell=example.cell))
            self.ratio[name], self.example[name] = ratio, case
        self.this = max(self.this, ratio)

    def as_json(self) -> dict:
        """Per comparison: the worst error/tol, and the sizes, loss and arguments of its example."""
        return {
            name: {
                "ratio": r,
                "sizes": case_sizes(case),
                "loss": case.problems[0].loss,
                "arguments": case_arguments(case),
            }
            for name, r in self.ratio.items()
            for case in (self.example[name],)
        }

    def closest(self) -> tuple[str, float, Case] | None:
        if not self.ratio:
            return None
        name = max(self.ratio, key=self.ratio.__getitem__)
        return name, self.ratio[name], self.example[name]


@dataclass
class Campaign:
    """What a campaign ran and found; kept whole when it stops early (a database that went away)."""

    examples: int = 0
    seconds: float = 0.0
    worst: Worst = field(default_factory=Worst)
    coverage: Counter = field(default_factory=Counter)
    failure: str | None = None
    failing_case: Case | None = None
    started: float = field(default_factory=time.perf_counter)
    regimes: Counter = field(default_factory=Counter)  # examples per regime
    not_judged: Counter = field(default_factory=Counter)  # not judged, per regime
    shrunk: bool = False  # whether the failure is Hypothesis' shrunk one (else the first met)
    stopped: str | None = None  # why the campaign stopped before its budget (the database went away)
    what: str = ""  # what was fuzzed, in words (the summary's title)

    def to_json(self) -> dict:
        """The summary as data (`fuzz --json`)."""
        return {
            "what": self.what,
            "examples": self.examples,
            "seconds": self.seconds,
            "worst": self.worst.ratio,
            "closest": self.worst.as_json(),
            "coverage": dict(self.coverage),
            "regimes": dict(self.regimes),
            "not_judged": dict(self.not_judged),
            "failure": self.failure,
            "stopped": self.stopped,
        }

    def _repr_html_(self) -> str:  # a notebook cell's display
        from .notebook import campaign_html

        return campaign_html(self.to_json())


def _coverage(c: Counter, problem: Problem, pr: Precision) -> None:
    f = features(problem)
    c["examples"] += 1
    c["H > 16"] += f["H"] > 16
    c["H > 64"] += f["H"] > 64
    c["T > 50"] += f["T"] > 50
    c["T > 100"] += f["T"] > 100
    c[f"saturated (|p| > {pr.saturation:.3g})"] += f["max_abs_p"] > pr.saturation
    c[f"logits over {pr.large_logit:.4g}"] += f["max_abs_logit"] > pr.large_logit
    c["h0 != 0"] += bool(f["h0_nonzero"])
    c["one-hot inputs"] += bool(f["one_hot"])


def example_database(where: str):
    """The example database: a directory (shared between machines on a network file system), or
    a Redis server, `redis://host:port[/db]` (Hypothesis' RedisExampleDatabase; needs `redis`,
    `pip install "gradcheck-rnn[fuzz]"`). Failures saved by one machine replay first on every other."""
    if where.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError:
            raise GradcheckError("--database redis://...: needs the redis package (pip install redis)") from None
        client = redis.Redis.from_url(where)
        try:
            client.ping()
        except redis.RedisError as e:
            raise GradcheckError(f"--database {where}: the Redis server does not answer ({e})") from None
        return GuardedDatabase(RedisExampleDatabase(client), where, redis.RedisError)
    if os.path.exists(where) and not os.path.isdir(where):
        raise GradcheckError(f"--database: {where!r} exists and is not a directory")
    return GuardedDatabase(DirectoryBasedExampleDatabase(where), where, OSError)


class DatabaseLost(Exception):
    """The example database stopped answering in the middle of a campaign."""


class GuardedDatabase(ExampleDatabase):
    """An example database whose failures (a Redis server gone, a network file system unmounted)
    raise DatabaseLost naming it, so that the campaign can stop with what it found, instead of the
    client library's exception surfacing from inside Hypothesis."""

    def __init__(self, db: ExampleDatabase, where: str, errors: type[BaseException] | tuple):
        super().__init__()
        self.db, self.where, self.errors = db, where, errors

    def _lost(self, e: BaseException) -> DatabaseLost:
        return DatabaseLost(f"the example database {self.where} stopped answering ({type(e).__name__}: {e})")

    def fetch(self, key: bytes):
        try:
            yield from self.db.fetch(key)
        except self.errors as e:
            raise self._lost(e) from e

    def save(self, key: bytes, value: bytes) -> None:
        try:
            self.db.save(key, value)
        except self.errors as e:
            raise self._lost(e) from e

    def delete(self, key: bytes, value: bytes) -> None:
        try:
            self.db.delete(key, value)
        except self.errors as e:
            raise self._lost(e) from e

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        try:
            self.db.move(src, dest, value)
        except self.errors as e:
            raise self._lost(e) from e

    def __repr__(self) -> str:
        return f"GuardedDatabase({self.db!r})"


class _UsageError(BaseException):
    """Carries a GradcheckError (a worker that never answers, say) out of a Hypothesis run at once:
    as a BaseException it is not shrunk (10 s of Hypothesis' shrinking for `fuzz --exec true`)."""

    def __init__(self, error: GradcheckError):
        super().__init__(str(error))
        self.error = error


def run_campaign(
    check: Callable,
    strategy_,
    *,
    minutes: float | None,
    examples: int | None,
    database: str,
    progress,
    worst: Worst | None = None,
    seed: int | None = None,
    precision: Precision = FLOAT64,
) -> Campaign:
    """Batches of BATCH examples until the time or example budget is spent, or a failure.

    worst is where the check records its worst error/tol (shown live and in the summary).
    """
    camp, start = Campaign(worst=worst if worst is not None else Worst()), time.perf_counter()
    deadline = start + 60 * minutes if minutes else None
    db = example_database(database)
    batch = 0
    while True:
        left = None if examples is None else examples - camp.examples
        if (left is not None and left <= 0) or (deadline and time.perf_counter() >= deadline):
            break
        n = BATCH if left is None else min(BATCH, left)

        @search_settings(n, database=db)
        @given(strategy_)
        def prop(drawn):
            if deadline and time.perf_counter() >= deadline:
                return  # out of time: the rest of this batch passes trivially and is not counted
            _coverage(camp.coverage, drawn.problems[0], precision)
            camp.examples += 1
            camp.regimes[str(drawn.regime)] += 1
            try:
                not_judged = check(drawn)  # a check returns the Judgement of a problem it could not judge
            except GradcheckError as e:
                raise _UsageError(e) from e
            except AssertionError as e:  # kept at once: saving or shrinking it needs the database
                if camp.failure is None:
                    camp.failure, camp.failing_case = str(e), getattr(e, "case", None)
                raise
            if not_judged is not None:
                camp.coverage[f"not judged: {not_judged.value}"] += 1
                camp.not_judged[str(drawn.regime)] += 1
            if progress.due():
                progress.show(_progress_text(camp, deadline, examples))

        if seed is not None:  # (a fixed seed turns Hypothesis' database replay off: a choice)
            prop = hypothesis_seed(seed + batch)(prop)
        try:
            with with_reporter(_without_seed_hint(current_reporter())):
                prop()
        except Disagreement as e:
            camp.failure, camp.failing_case, camp.shrunk = str(e), e.case, True
            break
        except AssertionError as e:
            camp.failure, camp.shrunk = str(e), True
            break
        except _UsageError as e:
            raise e.error from None
        except DatabaseLost as e:
            camp.stopped = f"{e}: the campaign stopped after {_examples(camp.examples)}"
            break
        batch += 1
    camp.seconds = time.perf_counter() - start
    return camp


def _without_seed_hint(report: Callable[[str], None]) -> Callable[[str], None]:
    """Hypothesis' reporter, less its "add @seed(...) to this test" hint after a run stopped by an
    exception of ours (a lost database, a usage error): a campaign has no test to decorate, and
    its summary says what stopped it."""
    return lambda text: None if str(text).startswith("You can reproduce this failure by adding @seed") else report(text)


def _progress_text(camp: Campaign, deadline: float | None, total: int | None) -> str:
    elapsed = time.perf_counter() - camp.started
    rate = camp.examples / elapsed if elapsed else 0.0
    if deadline:
        left = f"{max(0.0, deadline - time.perf_counter()) / 60:.1f} min left"
    elif total:
        left = f"~{(total - camp.examples) / rate / 60:.1f} min left" if rate else ""
    else:
        left = ""
    worst = max(camp.worst.ratio.values(), default=0.0)
    cov = ", ".join(f"{k} {v}" for k, v in camp.coverage.items() if k != "examples")
    return f"{camp.examples} examples, {rate:.1f}/s, {left}; worst error/tol {worst:.3g}\n  {cov}"


def builtin_check(worst: Worst) -> Callable[[Batch], Judgement | None]:
    def check(drawn: Batch) -> Judgement | None:
        worst.this = 0.0
        return check_builtin(drawn.problems[0], worst, drawn.spreads[0] if drawn.spreads else None)

    return check


def target_check(impl, opts: Options, worst: Worst) -> Callable[[Case], Judgement | None]:
    """The oracle's judgement of one case, with coverage events and steering."""
    ref_fn = reference_function(opts)

    def check(case: Case) -> Judgement | None:
        _regime_events(case.problems)
        out = judge(impl, case, opts, ref_fn)
        worst.record("implementation vs reference", out.ratio, case)
        normwise = max((c.norm_ratio for c in out.checks), default=0.0) / NORM_LIMIT
        worst.record("implementation vs reference, normwise / limit", normwise, case)
        target(min(out.ratio, 1e6), label="worst error / tol")
        target(min(normwise, 1e6), label="worst ||error|| / limit")
        if not out.ok:
            raise Disagreement(out.message, list(out.checks), case)
        if out.kind is Kind.NOT_JUDGED:
            event(f"{out.judgement.value} (not judged)")
            return out.judgement
        return None

    return check


def _examples(n: int) -> str:
    return f"{n} example{'' if n == 1 else 's'}"


def explain_failure(impl, opts: Options, case: Case) -> Explained:
    """verify's evidence and diagnosis stages on a campaign's shrunk failing case."""
    out = judge(impl, case, opts, reference_function(opts))
    return explain(impl, opts, Failure(out, out, out, Found.CAMPAIGN, out.failing), SearchResult())


def format_summary(camp: Campaign, what: str, replay: str, explained: Explained | None = None) -> str:
    rate = camp.examples / camp.seconds if camp.seconds else 0.0
    verdict = "FAILED" if camp.failure else "STOPPED, no failure" if camp.stopped else "no failure"
    lines = [
        f"gradcheck fuzz {what}: {verdict} after {_examples(camp.examples)} in {camp.seconds:.0f} s ({rate:.1f}/s)"
    ]
    if camp.stopped:
        lines.append(f"  STOPPED: {camp.stopped}; what it found until then is below")
    cov = camp.coverage
    if cov:
        lines.append("  covered: " + "; ".join(f"{k} {v}" for k, v in cov.items() if k != "examples"))
    if camp.regimes:
        lines.append(
            "  per regime, examples (not judged): "
            + "; ".join(
                f"{r} {n} ({camp.not_judged[r]}, {100 * camp.not_judged[r] / n:.1f}%)"
                for r, n in sorted(camp.regimes.items())
            )
        )
    if camp.worst.ratio:
        lines.append("  worst error / tolerance seen (<= 1 agrees):")
        lines += [f"    {k:34} {v:.3g}" for k, v in sorted(camp.worst.ratio.items())]
        name, ratio, case = camp.worst.closest()
        lines.append(f"  closest call: {name} {ratio:.3g} on {case_sizes(case)} (its arrays: --json)")
    if camp.failure:
        lines.append(f"  FAILURE ({'shrunk' if camp.shrunk else 'the first met, not shrunk'}):")
        lines += ["    " + line for line in camp.failure.splitlines()]
        if explained is not None:
            lines += [
                f"  {'note' if f.role is Role.NOTE else 'diagnosis'}: {f.words()}" for f in explained.diagnosis.findings
            ]
        if camp.failing_case is not None:
            which = "smallest failing problem" if camp.shrunk else "failing problem"
            lines.append(f"  {which}: {case_sizes(camp.failing_case)}")
            lines += case_arrays(camp.failing_case)
        if camp.shrunk:
            lines.append(f"  replay (the example database holds it): {replay}")
    return "\n".join(lines)
