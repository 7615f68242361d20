"""The regression oracle: judge someone else's gradient code against gradcheck's reference.

The flow runs one way, each step once:

    call the implementation (implementation.py)  ->  search (Hypothesis, then a fixed coverage set)
    ->  judge each call (here: an Outcome that keeps its reference and tolerance)
    ->  gather evidence on the failure (a second call, narrowed searches, the problem's prefixes)
    ->  explain (diagnosis.py reads all of it)  ->  render (render.py)

`verify` runs them. Random problems come from Hypothesis across every regime, scaled to the
precision under test (strategies.py); the first failure is shrunk to the smallest failing
problem, and the clearest failure seen (the largest error/tol) is kept beside it. A fixed
coverage set then runs every regime with h0 = 0 and h0 != 0, so a regime-specific bug cannot slip
through an unlucky draw.
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
from .diagnosis import explain, summarize, unexplained
from .implementation import Call, implementation, signature_problem
from .options import Options
from .outcome import Evidence, Kind, Outcome, ProbeResult, Repeat, Report, Search
from .problem import Problem, as_contract_inputs, loss_weights
from .strategies import Regime, batches, build_problems, min_steps, pin_hypothesis_constants, regime_scales

FAILURE_KINDS = {"raised": Kind.RAISED, "modified": Kind.MODIFIED, "worker": Kind.WORKER}


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
            return Outcome(case, Kind.NONFINITE, msg, arrays, ref, tol.tol, **common)
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


# --- the search ------------------------------------------------------------------------------


def cases(opts: Options):
    """The Hypothesis strategy of cases for these options (sizes, regimes, flags, precision)."""
    contract = Contract(batch=opts.batch, layer=opts.layer, no_bias=opts.no_bias)
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
    )
    return drawn.map(lambda b: Case(b.problems, contract, opts.batch_loss == "mean", b.spreads, regime=b.regime))


def coverage_set(opts: Options) -> list[Case]:
    """One case per regime with h0 = 0 and one with h0 != 0 (unless --zero-h0), fixed seeds."""
    rng = np.random.default_rng(opts.seed)
    contract = Contract(batch=opts.batch, layer=opts.layer, no_bias=opts.no_bias)
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
            )
            out.append(Case(b.problems, contract, opts.batch_loss == "mean", b.spreads, regime=regime))
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


def _hung(outcome: Outcome) -> bool:
    return outcome.kind is Kind.WORKER and "did not answer" in outcome.message


def search(
    impl,
    opts: Options,
    *,
    shrink: bool = True,
    progress: Callable[[Outcome], None] | None = None,
    coverage: bool = True,
) -> Search:
    """Random cases (the first failure shrunk, if shrink), then the coverage set."""
    found, ref_fn = Search(), reference_function(opts)

    def run(case: Case) -> Outcome:
        out = judge(impl, case, opts, ref_fn)
        found.calls += 1
        if found.first is None:
            found.seen.append(out)
        if progress:
            progress(out)
        if not out.ok:
            found.first = found.first or out
            if out.kind is Kind.MISMATCH and (found.clearest is None or out.ratio > found.clearest.ratio):
                found.clearest = out
        return out

    @hypothesis_seed(opts.seed)
    @search_settings(opts.examples, shrink=shrink)
    @given(cases(opts))
    def prop(case: Case) -> None:
        out = run(case)
        if _hung(out):
            raise _Abort(out)
        if not out.ok:
            raise _Disagrees(out)

    try:
        prop()
    except _Disagrees as e:
        found.final, found.shrunk = e.outcome, shrink
        return found
    except _Abort as e:
        found.final, found.note = e.outcome, "the search stopped at the first hang (not shrunk)"
        return found
    except Flaky:
        found.final = found.first
        found.note = "the implementation is not deterministic: the same problem failed once and passed once"
        return found
    for case in coverage_set(opts) if coverage else []:
        out = run(case)
        if not out.ok:
            found.final = out
            found.note = "found by the fixed coverage set after the random search (not shrunk)"
            return found
    return found


# --- evidence on a failure -------------------------------------------------------------------

# Random problems per narrowed search (and for the baseline it is compared with); diagnosis
# weighs the counts (diagnosis.PROBE_EVIDENCE).
PROBE_EXAMPLES = 100


def count_failures(impl, opts: Options, examples: int) -> tuple[int, int]:
    """(problems run, problems failed) over a search that does not stop at a failure."""
    ref_fn, seen = reference_function(opts), [0, 0]

    @hypothesis_seed(opts.seed + 1)
    @search_settings(examples, shrink=False)
    @given(cases(opts))
    def prop(case: Case) -> None:
        out = judge(impl, case, opts, ref_fn)
        seen[0] += 1
        seen[1] += not out.ok
        if _hung(out):
            raise _Abort(out)

    try:
        prop()
    except _Abort:
        pass
    return seen[0], seen[1]


def probe_trials(opts: Options) -> list[tuple[Options, str, str]]:
    """The narrowed options, what each leaves out, and what the failure would then need."""
    trials = []
    if not opts.zero_h0:
        trials.append((replace(opts, zero_h0=True), "h0 = 0", "h0 != 0"))
    if Regime.LARGE_LOGITS in opts.regimes and len(opts.regimes) > 1:
        trials.append(
            (
                replace(opts, skip_regimes=(*opts.skip_regimes, Regime.LARGE_LOGITS)),
                "no large logits",
                "large logits (a common offset past exp()'s overflow)",
            )
        )
    if not opts.first_input_zero:
        trials.append((replace(opts, first_input_zero=True), "x_t[0] = 0 for every t", "some x_t[0] != 0"))
    return trials


def prefix_cases(case: Case) -> list[Case]:
    """The case cut after T' = 1..T steps (sum loss: E over the first T' steps)."""
    T = case.sizes[3]
    cut = lambda p, t: p._replace(
        xs=p.xs[:t], Y=p.Y[:t], weights=loss_weights("sum", t)[:t], dhs=None if p.dhs is None else p.dhs[:t]
    )
    return [case.with_problems(tuple(cut(p, t) for p in case.problems)) for t in range(1, T + 1)]


def gather_evidence(impl, opts: Options, found: Search) -> Evidence:
    """A second call on the failing case, and for a mismatch, the failing case's prefixes."""
    ev = Evidence()
    final = found.final
    if final is None or final.kind not in (Kind.MISMATCH, Kind.NONFINITE):
        return ev
    r = repeat(impl, final, opts)
    if isinstance(r, Repeat):
        ev.repeats.append(r)
    if final.kind is Kind.MISMATCH and opts.loss == "sum" and final.case.sizes[3] > 1:
        ref_fn = reference_function(opts)
        ev.prefixes = [judge(impl, c, opts, ref_fn) for c in prefix_cases(final.case)]
    return ev


def probe(impl, opts: Options, ev: Evidence) -> None:
    """Narrowed searches (each leaves out one condition) and the un-narrowed baseline they are
    weighed against, counted without stopping at failures."""
    n, f = count_failures(impl, opts, min(PROBE_EXAMPLES, opts.examples))
    ev.baseline = ProbeResult("", "", n, f)
    for narrowed, without, needs in probe_trials(opts):
        run, failed = count_failures(impl, narrowed, min(PROBE_EXAMPLES, opts.examples))
        ev.probes.append(ProbeResult(needs, without, run, failed))


# --- verify ----------------------------------------------------------------------------------


def verify(
    fn: Callable | str | None = None,
    opts: Options | None = None,
    *,
    exec: str | None = None,
    progress: Callable[[Outcome], None] | None = None,
    **options: Any,
) -> Report:
    """Verify a gradient implementation; returns a Report (report.ok, report.format()).

    fn follows a contract (contract.py) or is a TARGET string ("package.module:function" or
    "path/file.py:function"); exec="CMD" runs a worker instead (docs/worker-protocol.md). Options
    (options.Options): loss, batch, batch_loss, max_batch, layer, no_bias, zero_h0,
    one_hot_inputs, same_io_dim, dtype, examples, seed, reference, max_size, max_steps,
    skip_regimes, timeout.

    Two problems are called twice (REPEATED): the first, before the search, to catch state kept
    between calls (gradients accumulated, never reset); and the failing one, to tell a result
    that changes from call to call from a wrong one.
    """
    opts = replace(opts or Options(), **options)
    impl = implementation(fn, opts, exec)
    start = time.perf_counter()
    try:
        why = signature_problem(impl.fn, impl.contract) if hasattr(impl, "fn") else None
        if why:
            return Report(impl.name, opts, ok=False, kind=Kind.SIGNATURE, message=why)
        found, first_repeat = _first_problem_twice(impl, opts)
        if found is None:
            found = search(impl, opts, progress=progress)
        evidence = gather_evidence(impl, opts, found)
        if first_repeat is not None:
            evidence.repeats.insert(0, first_repeat)
        final_repeat = next(
            (r for r in evidence.repeats if found.final is not None and r.case is found.final.case), None
        )
        if final_repeat is not None and final_repeat.ratio > 1:  # the failure is (also) a result that changes
            found.final = _differ(found.final, final_repeat)
        report = Report(impl.name, opts, ok=found.final is None, search=found)
        summarize(report, evidence)
        if found.final is not None:
            report.kind, report.message = found.final.kind, found.final.message
            explain(report, evidence)
            if unexplained(report) or found.final.kind is Kind.NONFINITE:  # narrowed searches say what it needs
                probe(impl, opts, evidence)
                explain(report, evidence)
    finally:
        impl.close()
    report.seconds = time.perf_counter() - start
    return report


def _first_problem_twice(impl, opts: Options) -> tuple[Search | None, Repeat | None]:
    """The first coverage case, judged and called again: a finished Search when that already fails
    (two calls differ, or the second call fails), else None; and the Repeat."""
    first = judge(impl, coverage_set(opts)[0], opts, reference_function(opts))
    if _hung(first):  # no second wait for the timeout
        return Search(seen=[first], first=first, final=first, note="on the first problem (not shrunk)"), None
    if first.result is None or first.kind not in (Kind.AGREE, Kind.MISMATCH, Kind.NOT_JUDGED, Kind.NONFINITE):
        return None, None
    r = repeat(impl, first, opts)
    if isinstance(r, Outcome):
        return Search(seen=[first], first=r, final=r, note="on the first problem, called twice (not shrunk)"), None
    if r.ratio > 1:
        out = _differ(first, r)
        return Search(seen=[first], first=out, final=out, note="on the first problem, called twice (not shrunk)"), r
    return None, r


def _differ(first: Outcome, r: Repeat) -> Outcome:
    return replace(first, kind=Kind.CALLS_DIFFER, message=f"two calls on the same problem differ: {r.worst}", checks=())


__all__ = ["Options", "cases", "coverage_set", "judge", "search", "verify"]
