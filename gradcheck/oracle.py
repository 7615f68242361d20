"""The regression oracle: judge someone else's gradient code against gradcheck's reference.

`verify` is a pipeline of stages, each returning a frozen record (outcome.py) that the next reads:

    preflight  the signature, and the first problem called twice      -> Preflight
    search     Hypothesis, then a fixed coverage set: every distinct
               failure, each shrunk to its smallest problem             -> SearchResult
    gather     on each failure: a second call, the problem's prefixes,
               the code's own loss against its gradient (Taylor)        -> Evidence
    diagnose   the mistakes that explain the numbers (diagnosis.py);
               where candidates tie, problems that tell them apart,
               and where nothing fits, narrowed searches                -> Diagnosis
    assemble   coverage and the verdict                                  -> Report

golden check (golden.py), taylor (taylor.py) and fuzz (fuzz.py) run the same stages on their own
problems. Random problems come from Hypothesis across every regime, scaled to the precision under
test (strategies.py); a fixed coverage set then runs every regime with h0 = 0 and h0 != 0, so a
regime-specific bug cannot slip through an unlucky draw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from .bptt import bptt
from .compare import Judgement, compare_array
from .contract import Case, Contract, read_result, reference, tolerance
from .coverage import summarize
from .diagnosis import candidates_to_split, diagnose, needs_probes
from .implementation import Call, implementation, signature_problem
from .options import Options
from .outcome import (
    Condition,
    Evidence,
    Explained,
    Failure,
    Found,
    Kind,
    LossCheck,
    Outcome,
    Preflight,
    ProbeResult,
    Repeat,
    Report,
    SearchResult,
)
from .problem import Problem, as_contract_inputs, loss_weights
from .regimes import Regime, min_steps, regime_scales
from .strategies import batches, build_problems, pin_hypothesis_constants

FAILURE_KINDS = {"raised": Kind.RAISED, "modified": Kind.MODIFIED, "worker": Kind.WORKER, "hang": Kind.HANG}
# Distinct failures reported, the most severe first: a second and third are searched for with the
# failures already found counted as known (each search costs up to the options' examples).
MAX_FAILURES = 3


def reference_function(opts: Options) -> Callable[[Problem], dict]:
    """One sequence's reference gradients (with "xs"): the recursion, or JAX autodiff."""
    if opts.reference == "jax":
        from reference import jax_gradients

        return lambda p: jax_gradients(*as_contract_inputs(p), loss=p.loss, dhs=p.dhs)
    return bptt


# --- judging one call ------------------------------------------------------------------------


def judge(impl, case: Case, opts: Options, ref_fn: Callable[[Problem], dict]) -> Outcome:
    """Call the implementation on one case and judge what it returned."""
    call = impl.call(case)
    if call.failure:
        return Outcome(
            case,
            FAILURE_KINDS[call.failure],
            call.message,
            warnings=call.warnings,
            traceback=call.traceback,
            seconds=call.seconds,
        )
    return judge_output(case, call, opts, ref_fn)


def judge_output(case: Case, call: Call, opts: Options, ref_fn: Callable[[Problem], dict]) -> Outcome:
    """Judge a call's output: readable, judgeable, finite, and within the tolerance."""
    arrays, kind, _key, message = read_result(call.output, case)
    common = dict(warnings=call.warnings, seconds=call.seconds)
    if kind:
        return Outcome(case, Kind(kind), message, result=arrays, **common)
    ref, tol = reference(case, ref_fn), tolerance(case, opts.precision)
    if tol.judgement is not Judgement.JUDGED:  # round-off alone could move this gradient by O(1)
        return Outcome(case, Kind.NOT_JUDGED, tol.reason, arrays, ref, tol.tol, judgement=tol.judgement, **common)
    for k, a in arrays.items():
        r = np.asarray(ref[k], dtype=np.float64)
        bad = ~np.isfinite(a) & np.isfinite(r)
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0]) if a.ndim else ()
            where = f"[{', '.join(map(str, i))}]" if i else ""
            msg = f"{k}{where} is {a[i]} where the reference is {r[i]:.6g}{_explaining_warning(call.warnings)}"
            checks = (compare_array(k, a, ref[k], tol.tol[k]),)
            return Outcome(case, Kind.NONFINITE, msg, arrays, ref, tol.tol, checks, **common)
    checks = tuple(compare_array(k, a, ref[k], tol.tol[k]) for k, a in arrays.items())
    bad_checks = [c for c in checks if not c.ok]
    if bad_checks:
        msg = f"gradients differ in {', '.join(c.name for c in bad_checks)}{_explaining_warning(call.warnings)}"
        return Outcome(case, Kind.MISMATCH, msg, arrays, ref, tol.tol, checks, **common)
    return Outcome(case, Kind.AGREE, "agrees", arrays, ref, tol.tol, checks, **common)


def _explaining_warning(caught: tuple[tuple[str, str], ...]) -> str:
    """The warning that explains a non-finite value (an overflow or invalid-value RuntimeWarning),
    else the first warning, quoted; "" when there was none."""
    numeric = [
        m
        for c, m in caught
        if c in ("RuntimeWarning", "FloatingPointError") and any(w in m for w in ("overflow", "invalid", "divide"))
    ]
    chosen = numeric[0] if numeric else (caught[0][1] if caught else None)
    return f" (it warned: {chosen})" if chosen else ""


def repeat(impl, first: Outcome, opts: Options) -> Repeat | Outcome:
    """Call again on the same case: the two results compared in units of the round-off tolerance,
    or the failing Outcome when the second call fails outright."""
    case = first.case
    call = impl.call(case)
    if call.failure:
        return Outcome(
            case,
            FAILURE_KINDS[call.failure],
            f"the second call on the same problem failed: {call.message}",
            traceback=call.traceback,
        )
    second, kind, _, message = read_result(call.output, case)
    if kind:
        return Outcome(case, Kind(kind), f"the second call on the same problem: {message}", result=second)
    tol = first.tolerance if first.tolerance is not None else tolerance(case, opts.precision).tol
    worst, words, identical = 0.0, "", True
    for k, a in (first.result or {}).items():
        if k not in second or second[k].shape != a.shape:
            continue
        identical = identical and np.array_equal(a, second[k], equal_nan=True)
        same = (a == second[k]) | (np.isnan(a) & np.isnan(second[k]))  # NaN twice is the same answer
        c = compare_array(
            k, np.where(same, a, second[k]), np.where(np.isfinite(a), a, 0.0), np.where(same, np.inf, tol[k])
        )
        if c.ratio > worst:
            idx = f"[{', '.join(map(str, c.index))}]" if c.index else ""
            worst, words = c.ratio, f"{k}{idx} {c.reference:.10g} then {c.actual:.10g} (tol {c.tol:.3g})"
    return Repeat(case, first.result or {}, second, identical, worst, words)


def _differ(first: Outcome, r: Repeat) -> Outcome:
    return replace(first, kind=Kind.CALLS_DIFFER, message=f"two calls on the same problem differ: {r.worst}", checks=())


# --- the problems ----------------------------------------------------------------------------


def contract_of(opts: Options) -> Contract:
    return Contract(batch=opts.batch, layer=opts.layer, no_bias=opts.no_bias, cell=opts.cell)


def cases(opts: Options):
    """The Hypothesis strategy of cases for these options (sizes, regimes, flags, precision)."""
    drawn = batches(
        max_D=opts.max_size,
        max_H=opts.max_size,
        max_K=opts.max_size,
        max_T=opts.max_steps,
        max_batch=opts.max_batch if opts.batch else 1,
        regimes=opts.regimes,
        one_hot_inputs=True if opts.one_hot_inputs else None,
        zero_h0=True if opts.zero_h0 else None,
        no_bias=opts.no_bias,
        same_io_dim=opts.same_io_dim,
        soft_targets=False,
        loss=opts.loss,
        precision=opts.precision,
        first_input_zero=opts.first_input_zero,
        layer=opts.layer,
        cell=opts.cell,
        zero_c0=opts.zero_c0,
    )
    contract = contract_of(opts)
    return drawn.map(lambda b: Case(b.problems, contract, opts.batch_loss == "mean", b.spreads, regime=b.regime))


def coverage_set(opts: Options) -> list[Case]:
    """One case per regime with h0 = 0 and one with h0 != 0 (unless --zero-h0), fixed seeds."""
    rng = np.random.default_rng(opts.seed)
    out = []
    for i, regime in enumerate(opts.regimes):
        for zero_h0 in sorted({True, opts.zero_h0}):
            D, H = min(4, opts.max_size), min(5, opts.max_size)
            K = D if opts.same_io_dim else min(6, opts.max_size)
            T = min(max(12, 2 * min_steps(regime)), opts.max_steps)
            b = build_problems(
                (D, H, K, T),
                regime_scales(regime, rng, opts.precision),
                int(rng.integers(2**32)),
                n=min(3, opts.max_batch) if opts.batch else 1,
                precision=opts.precision,
                one_hot_inputs=opts.one_hot_inputs or bool(i % 2),
                zero_h0=zero_h0,
                no_bias=opts.no_bias,
                loss=opts.loss,
                first_input_zero=opts.first_input_zero,
                layer=opts.layer,
                cell=opts.cell,
                zero_c0=opts.zero_c0,
            )
            out.append(Case(b.problems, contract_of(opts), opts.batch_loss == "mean", b.spreads, regime=regime))
    return out


def search_settings(max_examples: int, database=None, shrink: bool = True) -> settings:
    """Hypothesis settings for judging code: no deadline (implementations may be slow), no health
    checks (a slow implementation is not a bad test), one bug reported, shrinking optional; and
    the same problems for the same seed whatever the target's module contains
    (strategies.pin_hypothesis_constants)."""
    pin_hypothesis_constants()
    return settings(
        max_examples=max_examples,
        database=database,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
        phases=tuple(Phase) if shrink else (Phase.explicit, Phase.reuse, Phase.generate),
    )


# --- preflight -------------------------------------------------------------------------------


def preflight(impl, opts: Options, *, twice: bool = True) -> Preflight:
    """Can the code be called with the contract's arguments at all; and (twice) the first coverage
    case called twice, to catch state kept between calls before anything else."""
    why = signature_problem(impl.fn, impl.contract) if hasattr(impl, "fn") else None
    if why or not twice:
        return Preflight(refusal=why or "")
    first = judge(impl, coverage_set(opts)[0], opts, reference_function(opts))
    if first.result is None or first.kind not in _COMPARABLE:
        return Preflight(first=first)
    r = repeat(impl, first, opts)
    return Preflight(first=first, repeat=r) if isinstance(r, Repeat) else Preflight(first=first, second=r)


_COMPARABLE = (Kind.AGREE, Kind.MISMATCH, Kind.NOT_JUDGED, Kind.NONFINITE)


def _preflight_failure(pre: Preflight) -> Failure | None:
    """The failure the preflight already shows: a hang, a second call that failed, two calls that
    differ (any other failure of the first call is left to the search, which shrinks it)."""
    first = pre.first
    if first is None:
        return None
    if first.kind is Kind.HANG:  # no second wait for the timeout
        return Failure(first, first, first, Found.HANG, first.failing)
    if pre.second is not None:
        return Failure(pre.second, pre.second, pre.second, Found.FIRST_TWICE, frozenset())
    if pre.repeat is not None and pre.repeat.ratio > 1:
        out = _differ(first, pre.repeat)
        return Failure(out, out, out, Found.FIRST_TWICE, first.failing)
    return None


# --- the search ------------------------------------------------------------------------------


class _Disagrees(Exception):
    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


class _Abort(BaseException):
    """Stops a search at once, without shrinking (Hypothesis lets BaseExceptions through): a worker
    that hangs would cost the timeout on every shrinking step."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


def _known(out: Outcome, failures: list[Failure]) -> bool:
    """A failure already reported: of a kind found, failing only in arrays its smallest problems fail in."""
    same = [f for f in failures if f.smallest.kind is out.kind]
    return bool(same) and out.failing <= frozenset().union(*(f.smallest.failing for f in same))


class _Log:
    """The search's running record of calls (the stage's own working state)."""

    def __init__(self, impl, opts: Options, progress):
        self.impl, self.opts, self.progress = impl, opts, progress
        self.ref_fn = reference_function(opts)
        self.seen: list[Outcome] = []
        self.calls = 0
        self.recording = True

    def run(self, case: Case) -> Outcome:
        out = judge(self.impl, case, self.opts, self.ref_fn)
        self.calls += 1
        if self.recording:
            self.seen.append(out)
        if self.progress:
            self.progress(out)
        return out


def _search_once(log: _Log, failures: list[Failure], examples: int) -> Failure | None:
    """One Hypothesis search for a failure not already known; shrunk, with the first and the
    clearest problem of the same failure met on the way."""
    met: dict[str, Any] = {"first": None, "clearest": None, "arrays": frozenset()}

    def counts(out: Outcome) -> bool:
        if out.ok or _known(out, failures):
            return False
        first = met["first"]
        if first is not None and (out.kind is not first.kind or not (out.failing & first.failing or not first.failing)):
            return False  # another failure: not this one's to shrink
        met["first"] = first or out
        if met["clearest"] is None or out.ratio > met["clearest"].ratio:
            met["clearest"] = out
        met["arrays"] |= out.failing
        return True

    @hypothesis_seed(log.opts.seed)
    @search_settings(examples)
    @given(cases(log.opts))
    def prop(case: Case) -> None:
        out = log.run(case)
        if counts(out):
            log.recording = False  # shrinking: not part of what the search saw
            if out.kind is Kind.HANG:
                raise _Abort(out)
            raise _Disagrees(out)

    try:
        prop()
    except _Disagrees as e:
        return Failure(e.outcome, met["first"], met["clearest"], Found.SHRUNK, met["arrays"])
    except _Abort as e:
        return Failure(e.outcome, e.outcome, e.outcome, Found.HANG, e.outcome.failing)
    except Flaky:
        f = met["first"]
        return Failure(f, f, f, Found.FLAKY, f.failing)
    finally:
        log.recording = True
    return None


def search(impl, opts: Options, pre: Preflight | None = None, *, progress=None, coverage: bool = True) -> SearchResult:
    """Random cases until a failure (shrunk), again with each failure found counted as known (up to
    MAX_FAILURES), then the coverage set; the failures ordered by severity."""
    log = _Log(impl, opts, progress)
    failures: list[Failure] = []
    early = _preflight_failure(pre) if pre is not None else None
    if early is not None:
        return SearchResult((pre.first,), (early,), 1)
    while len(failures) < MAX_FAILURES:
        f = _search_once(log, failures, opts.examples)
        if f is None:
            break
        failures.append(f)
        if f.found in (Found.HANG, Found.FLAKY):
            break
    for case in coverage_set(opts) if coverage and len(failures) < MAX_FAILURES else []:
        out = log.run(case)
        if not out.ok and not _known(out, failures) and not any(f.found is Found.HANG for f in failures):
            failures.append(Failure(out, out, out, Found.COVERAGE, out.failing))
            if len(failures) == MAX_FAILURES:
                break
    failures.sort(key=lambda f: -f.clearest.severity)
    return SearchResult(tuple(log.seen), tuple(failures), log.calls)


def fixed_search(impl, opts: Options, cases_: list[Case], found_as: Found) -> SearchResult:
    """Every case judged, in place of a random search (golden vectors): each distinct failure with
    its smallest case, the first met and the clearest."""
    log = _Log(impl, opts, None)
    outs = [log.run(c) for c in cases_]
    failures: list[Failure] = []
    for out in sorted((o for o in outs if not o.ok), key=lambda o: sum(o.case.sizes) * o.case.n):
        if _known(out, failures):
            continue
        same = [o for o in outs if (not o.ok and o.kind is out.kind and o.failing & out.failing) or o is out]
        first = next(o for o in outs if o in same)
        clearest = max(same, key=lambda o: o.ratio)
        failures.append(Failure(out, first, clearest, found_as, frozenset().union(*(o.failing for o in same))))
    failures.sort(key=lambda f: -f.clearest.severity)
    return SearchResult(tuple(outs), tuple(failures[:MAX_FAILURES]), log.calls)


# --- evidence on a failure -------------------------------------------------------------------

# Random problems per narrowed search (and for the baseline it is compared with); diagnosis
# weighs the counts (diagnosis.PROBE_EVIDENCE).
PROBE_EXAMPLES = 100
# Problems the implementation got right that a candidate mistake must also get right.
PASSING_KEPT = 24
# Taylor directions on the failing problem's own loss.
LOSS_DIRECTIONS = 2


def prefix_cases(case: Case) -> list[Case]:
    """The case cut after T' = 1..T steps (sum loss: E over the first T' steps)."""
    T = case.sizes[3]
    cut = lambda p, t: p._replace(
        xs=p.xs[:t], Y=p.Y[:t], weights=loss_weights("sum", t)[:t], dhs=None if p.dhs is None else p.dhs[:t]
    )
    return [case.with_problems(tuple(cut(p, t) for p in case.problems)) for t in range(1, T + 1)]


def gather(impl, opts: Options, failure: Failure, found: SearchResult) -> Evidence:
    """A second call on the failing case; for a mismatch, its prefixes, problems that passed, and
    the code's own loss against its own gradient."""
    final = failure.smallest
    if final.kind is Kind.CALLS_DIFFER:  # called twice more: accumulated gradients add up again
        again = judge(impl, final.case, opts, reference_function(opts))
        r = repeat(impl, again, opts) if again.result is not None else None
        return Evidence(repeat=r if isinstance(r, Repeat) else None)
    if final.kind not in (Kind.MISMATCH, Kind.NONFINITE):
        return Evidence()
    r = repeat(impl, final, opts)
    passing = tuple(o for o in found.seen if o.kind is Kind.AGREE and o.result is not None)[-PASSING_KEPT:]
    if final.kind is not Kind.MISMATCH:
        return Evidence(repeat=r if isinstance(r, Repeat) else None, passing=passing)
    prefixes = ()
    if opts.loss == "sum" and final.case.sizes[3] > 1:
        ref_fn = reference_function(opts)
        prefixes = tuple(judge(impl, c, opts, ref_fn) for c in prefix_cases(final.case))
    return Evidence(
        repeat=r if isinstance(r, Repeat) else None,
        prefixes=prefixes,
        passing=passing,
        loss=loss_check(impl, opts, final),
    )


def loss_check(impl, opts: Options, o: Outcome) -> LossCheck | None:
    """The Taylor test of the code's own loss and gradient on the failing case, when it returns a loss."""
    if o.result is None or "loss" not in o.result or o.case.contract.layer:
        return None
    from .taylor import check_direction, random_direction

    rng = np.random.default_rng(opts.seed)
    rates = []
    for _ in range(LOSS_DIRECTIONS):
        d = check_direction(
            impl, o.case, (float(o.result["loss"]), o.result), random_direction(o.case, o.result, rng), opts
        )
        if isinstance(d, Outcome):
            return None
        rates.append(d.rate)
    return LossCheck(float(o.result["loss"]), float(o.reference["loss"]), tuple(rates))


def count_failures(impl, opts: Options, examples: int, kind: Kind) -> tuple[int, int]:
    """(problems run, problems that failed as `kind`) over a search that does not stop at a failure
    (a failure of another kind is another mistake's, and says nothing of this one's conditions)."""
    ref_fn, seen = reference_function(opts), [0, 0]

    @hypothesis_seed(opts.seed + 1)
    @search_settings(examples, shrink=False)
    @given(cases(opts))
    def prop(case: Case) -> None:
        out = judge(impl, case, opts, ref_fn)
        seen[0] += 1
        seen[1] += out.kind is kind
        if out.kind is Kind.HANG:
            raise _Abort(out)

    try:
        prop()
    except _Abort:
        pass
    return seen[0], seen[1]


def probe_trials(opts: Options) -> list[tuple[Options, Condition]]:
    """The narrowed options, each leaving out one condition the failure may need."""
    trials = []
    if not opts.zero_h0:
        trials.append((replace(opts, zero_h0=True), Condition.H0_NONZERO))
    for regime, condition in (
        (Regime.LARGE_LOGITS, Condition.LARGE_LOGITS),
        (Regime.HUGE_PREACTIVATIONS, Condition.LARGE_PREACTIVATIONS),
    ):
        if regime in opts.regimes and len(opts.regimes) > 1:
            trials.append((replace(opts, skip_regimes=(*opts.skip_regimes, regime)), condition))
    if not opts.first_input_zero:
        trials.append((replace(opts, first_input_zero=True), Condition.X0_NONZERO))
    return trials


def probe(impl, opts: Options, ev: Evidence, kind: Kind) -> Evidence:
    """The evidence with narrowed searches (each leaves out one condition) and the un-narrowed
    baseline they are weighed against, counting failures of the kind probed, without stopping."""
    n = min(PROBE_EXAMPLES, opts.examples)
    run, failed = count_failures(impl, opts, n, kind)
    probes = tuple(ProbeResult(c, *count_failures(impl, narrowed, n, kind)) for narrowed, c in probe_trials(opts))
    return replace(ev, baseline=ProbeResult(None, run, failed), probes=probes)


def trial(impl, opts: Options, ev: Evidence, cases_: list[Case]) -> Evidence:
    """The evidence with the implementation called on problems that tell candidate mistakes apart."""
    ref_fn = reference_function(opts)
    return replace(ev, trials=ev.trials + tuple(judge(impl, c, opts, ref_fn) for c in cases_))


def _trial_cases(opts: Options):
    """Fresh cases of the options' kind (the coverage sets of the next seeds), to tell candidates apart."""
    for i in range(1, 6):
        yield from coverage_set(replace(opts, seed=opts.seed + i))


def explain(impl, opts: Options, failure: Failure, found: SearchResult) -> Explained:
    """Evidence on one failure and its diagnosis; more evidence where the diagnosis needs it."""
    ev = gather(impl, opts, failure, found)
    diag = diagnose(failure, ev, opts)
    split = candidates_to_split(failure, ev, diag, opts, _trial_cases(opts))
    if split:
        ev = trial(impl, opts, ev, split)
        diag = diagnose(failure, ev, opts)
    if needs_probes(failure, diag):
        ev = probe(impl, opts, ev, failure.smallest.kind)
        diag = diagnose(failure, ev, opts)
    return Explained(failure, ev, diag)


# --- verify ----------------------------------------------------------------------------------


def verify(
    fn: Callable | str | None = None,
    opts: Options | None = None,
    *,
    worker: str | None = None,
    progress: Callable[[Outcome], None] | None = None,
    **options: Any,
) -> Report:
    """Verify a gradient implementation; returns a Report (report.ok, report.format()).

    fn follows a contract (contract.py) or is a TARGET string ("package.module:function" or
    "path/file.py:function"); worker="CMD" runs a worker instead (docs/worker-protocol.md).
    Options (options.Options): loss, batch, batch_loss, max_batch, layer, no_bias, zero_h0,
    one_hot_inputs, same_io_dim, dtype, examples, seed, reference, max_size, max_steps,
    skip_regimes, timeout.

    Two problems are called twice: the first, before the search, to catch state kept between
    calls (gradients accumulated, never reset); and each failing one, to tell a result that
    changes from call to call from a wrong one.
    """
    opts = replace(opts or Options(), **options)
    impl = implementation(fn, opts, worker)
    start = time.perf_counter()
    shown = _cell_progress(impl.name) if progress is None else None  # a notebook cell shows progress
    progress = progress or shown
    try:
        pre = preflight(impl, opts)
        if pre.refusal:
            return Report(impl.name, opts, ok=False, refusal=pre.refusal)
        found = search(impl, opts, pre, progress=progress)
        explained = merge(tuple(explain(impl, opts, f, found) for f in found.failures))
    finally:
        impl.close()
        if shown is not None:
            shown.close()
    return assemble(impl.name, opts, "verify", found, explained, [pre.repeat], time.perf_counter() - start)


def merge(explained: tuple[Explained, ...]) -> tuple[Explained, ...]:
    """Failures that the same mistake explains are one failure, failing in the union of their arrays."""
    out: list[Explained] = []
    for e in explained:
        same = next((o for o in out if e.diagnosis.explained and _same_causes(o, e)), None)
        if same is None:
            out.append(e)
            continue
        failure = replace(same.failure, arrays=same.failure.arrays | e.failure.arrays)
        out[out.index(same)] = replace(same, failure=failure)
    return tuple(out)


def _cell_progress(name: str):
    from .notebook import in_notebook
    from .progress import VerifyProgress

    return VerifyProgress(name) if in_notebook() else None


def _same_causes(a: Explained, b: Explained) -> bool:
    return [f.key() for f in a.diagnosis.causes] == [f.key() for f in b.diagnosis.causes]


def assemble(
    name: str,
    opts: Options,
    command: str,
    found: SearchResult,
    explained: tuple[Explained, ...],
    repeats: list[Repeat | None],
    seconds: float,
    extra: dict | None = None,
) -> Report:
    """The Report: the verdict, coverage of what ran, and every failure explained."""
    failing_repeats = [e.evidence.repeat for e in explained if e.evidence.repeat is not None]
    cov = summarize(found, [r for r in repeats if r is not None], failing_repeats, opts)
    return Report(name, opts, not explained, command, "", found, explained, cov, seconds, extra or {})


__all__ = ["Options", "cases", "coverage_set", "judge", "search", "verify"]
