"""The diagnosis of one failure: the mistakes that explain its numbers, and where it lies.

Diagnosis only reads: the failure (its smallest problem and the first met, each with its result,
reference and tolerance) and the evidence the oracle gathered on it. A mistake is named only when
it explains the numbers exactly, not approximately: on every failing problem kept, it matches the
implementation to round-off in every array compared, and differs from the reference wherever the
implementation does. In order, the diagnosis says:

1. that only outputs that are not gradients fail (the hidden states), naming no gradient mistake;
2. what the returned loss is, when it is not the model's, and whether the gradients go with it;
3. the mistakes that match the gradients: the derivation mutated (mutants.py), then those that are
   not one site of it (catalogue.py): precision, truncation, another loss, scaling, clipping, the
   batch; several that fit equally are all named, after problems that tell them apart were tried;
4. where the failure lies and what it needs (localisation.py), when nothing is named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from . import catalogue, localisation, mutants
from .contract import Case
from .derivation import MutationKind
from .options import Options
from .outcome import Diagnosis, Evidence, Failure, Finding, Kind, Mistake, Outcome, Role

NOT_GRADIENTS = frozenset({"hs"})


def diagnose(failure: Failure, ev: Evidence, opts: Options) -> Diagnosis:
    """Every finding on one failure (module docstring)."""
    o = failure.smallest
    if o.kind is Kind.CALLS_DIFFER:
        return Diagnosis(tuple(catalogue.calls_differ(o, ev.repeat)))
    if o.kind is Kind.SHAPE:
        return Diagnosis(tuple(catalogue.h0_summed_shape(o)))
    if o.kind is Kind.NONFINITE:
        found = [f for f in (catalogue.naive_softmax(o, ev, opts), catalogue.tanh_overflow(o, ev, opts)) if f]
        return Diagnosis((*found, *([] if found else _unexplained(ev))))
    if o.kind is not Kind.MISMATCH:
        return Diagnosis()
    if ev.repeat is not None and ev.repeat.ratio > 1:
        return Diagnosis(tuple(catalogue.calls_differ(o, ev.repeat)))
    if o.failing <= NOT_GRADIENTS:  # a forward-pass mistake that the problem's gradients cannot show
        forward = [f for f in _mutant_findings(failure, ev, opts) if any(m.forward for m in f.mutations)]
        return Diagnosis(tuple(forward) or (_not_gradients(o),))
    causes = _causes(failure, ev, opts)
    notes = localisation.patterns(o) if not causes else []
    if not causes or all(_localised(f) for f in causes):
        notes += localisation.per_step(ev, opts) if o.case.sizes[3] > 1 else []
    if not causes:
        return Diagnosis((*_unexplained(ev), *notes))
    return Diagnosis((*causes, *notes))


def _unexplained(ev: Evidence) -> list[Finding]:
    return [Finding(Mistake.UNEXPLAINED, "no known mistake matches exactly"), *localisation.needs(ev)]


def _not_gradients(o: Outcome) -> Finding:
    c = next(c for c in o.checks if c.name == "hs")
    text = (
        f"only the returned hidden states hs differ (up to {c.max_abs_error:.3g}, {c.ratio:.3g} times the "
        "tolerance); every gradient agrees, so no gradient mistake is named: check how hs is computed or returned"
    )
    return Finding(Mistake.NOT_GRADIENTS, text, o.failing)


def _localised(f: Finding) -> bool:
    """A mistake in the recursion itself, which per-step localisation places in time."""
    return f.mistake in (Mistake.TRUNCATED, Mistake.DERIVATION) and not any(m.forward for m in f.mutations)


def _causes(failure: Failure, ev: Evidence, opts: Options) -> list[Finding]:
    """The loss, then the mistakes that match the gradients on every kept failing problem."""
    o, kept = failure.smallest, failure.kept
    lower = _on_all(lambda x: [f] if (f := catalogue.lower_precision(x, opts)) else [], kept)
    if lower:  # the loss too is right to that precision: nothing else to say
        return lower
    loss = catalogue.loss_findings(o, ev, opts) if "loss" in o.failing else []
    if not (o.failing - {"loss", "hs"}):
        forward = _mutant_findings(failure, ev, opts) if loss and loss[0].mistake is Mistake.FORWARD else []
        return _with_forward(loss, forward)
    found = _mutant_findings(failure, ev, opts)
    listed = _on_all(lambda x: _catalogue(x, opts), kept)
    if found:  # truncation at k = 1 is the mutant "the recurrent term is missing", said already
        listed = [f for f in listed if not (f.mistake is Mistake.TRUNCATED and f.values["k"] == 1)]
    if found:  # a factor -1 is a sign flipped, which the mutant places
        listed = [
            f
            for f in listed
            if not (f.mistake in (Mistake.SCALED_ALL, Mistake.SCALED_ONE) and f.values["factor"] == -1)
        ]
    if any(f.mistake is Mistake.OTHER_LOSS for f in listed):  # w_t dropped from dq_t: the reduction, named there
        found = [f for f in found if not f.has(MutationKind.DROP_FACTOR, "dq")]
    found += _readings(listed)
    if loss and not found and loss[0].mistake is Mistake.FORWARD:
        found = [_forward_by_loss(o, opts)] if _forward_by_loss(o, opts) else []
    return _with_forward(loss, found)


def _forward_by_loss(o: Outcome, opts: Options) -> Finding | None:
    """A forward-pass mutant that gives the returned loss, when none explains the gradients too."""
    group = mutants.loss_matching(o)
    if not group:
        return None
    f = mutants.finding(group, Role.CAUSE, o.case)
    text = f"the forward pass matches this mistake (by its loss; the gradients are neither reading of it): {f.text}"
    return Finding(Mistake.FORWARD, text, frozenset({"loss"}), Role.CAUSE, f.equation, f.mutations, f.alternatives)


def _readings(found: list[Finding]) -> list[Finding]:
    """Clipping and a stray factor that both still fit (one failing problem cannot tell a threshold
    from a factor) are named as readings that fit equally."""
    kinds = {f.mistake for f in found}
    scaled = {Mistake.SCALED_ALL, Mistake.SCALED_ONE}
    if Mistake.CLIPPED_NORM in kinds and kinds & scaled:
        tie = {Mistake.CLIPPED_NORM} | scaled
        return [replace(f, role=Role.EQUAL) if f.mistake in tie else f for f in found]
    return found


def _with_forward(loss: list[Finding], found: list[Finding]) -> list[Finding]:
    """The loss first ("fix the loss before the gradients"), then what matches the gradients."""
    return [*loss, *found]


def _catalogue(o: Outcome, opts: Options) -> list[Finding]:
    found = [f for f in (catalogue.truncation(o, opts), catalogue.other_loss(o, opts)) if f]
    found += catalogue.scalings(o, opts) + catalogue.batch_mistakes(o, opts)
    value = catalogue.clipped_by_value(o, opts)
    found += [value] if value else []
    whole = [f for f in found if f.arrays >= o.failing - {"loss", "hs"}]
    return whole or found


def _on_all(fn: Callable[[Outcome], list[Finding]], kept: tuple[Outcome, ...]) -> list[Finding]:
    """The findings fn makes on the smallest kept problem that it makes on every kept problem too
    (of the same mistake, with the same threshold where there is one); the smallest's words, so that
    any number quoted is the problem shown's."""
    smallest = kept[-1]
    mine = fn(smallest)
    others = [fn(o) for o in kept[:-1]]
    return [f for f in mine if all(any(_agree(f, g) for g in other) for other in others)]


def _agree(a: Finding, b: Finding) -> bool:
    if a.mistake is not b.mistake:
        return False
    for key in ("threshold", "c", "k", "precision", "loss", "sequence"):
        if key in a.values and key in b.values:
            x, y = a.values[key], b.values[key]
            if isinstance(x, float) and abs(x - y) > 1e-6 * max(abs(x), abs(y)):
                return False
            if not isinstance(x, float) and x != y:
                return False
    if a.mistake in (Mistake.SCALED_ALL, Mistake.SCALED_ONE):
        return a.arrays == b.arrays and abs(a.values["factor"] - b.values["factor"]) <= 1e-6 * abs(a.values["factor"])
    return a.arrays == b.arrays or a.mistake is not Mistake.CLIPPED_NORM  # by each norm: whichever exceed it


def _mutant_findings(failure: Failure, ev: Evidence, opts: Options) -> list[Finding]:
    """The derivation's mutants that explain every kept failing problem (one finding per group of
    equivalent mutants; several groups fit equally)."""
    kept = tuple(o for o in failure.kept if o.result is not None)
    others = tuple(o for o in (*ev.passing, *ev.trials) if o.result is not None and o.reference is not None)
    groups = mutants.matching(kept, others, opts.precision)
    role = Role.CAUSE if len(groups) == 1 else Role.EQUAL
    arrays = failure.arrays - {"hs"} if failure.arrays else failure.smallest.failing
    out = []
    for g in groups:
        f = mutants.finding(g, role, failure.smallest.case)
        out.append(replace(f, arrays=arrays))
    return out


def candidates_to_split(
    failure: Failure, ev: Evidence, diag: Diagnosis, opts: Options, cases: Iterable[Case]
) -> list[Case]:
    """Problems that tell apart the mutants that fit equally (none when one fits, or none tie)."""
    tied = [f for f in diag.causes if f.role is Role.EQUAL and f.mistake is Mistake.DERIVATION]
    if len(tied) < 2 or ev.trials:
        return []
    groups = [[mutants.Candidate(f.mutations, f.values.get("consistent", False))] for f in tied]
    return mutants.split_cases(groups, failure.smallest, cases, opts.precision)


def needs_probes(failure: Failure, diag: Diagnosis) -> bool:
    """Narrowed searches say what a failure needs: a non-finite one (is it the large logits?), or a
    mismatch that nothing explains."""
    kind = failure.smallest.kind
    return kind is Kind.NONFINITE or (
        kind is Kind.MISMATCH and not diag.explained and failure.smallest.failing - NOT_GRADIENTS != frozenset()
    )
