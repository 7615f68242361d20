"""Naming a mistake by mutating the derivation: the mutants whose numbers match the implementation's.

A mutant (derivation.py: one site of the seed's equations written wrong, or two where no single
one fits) explains a failure when, on every failing problem kept from the search, its arrays match
the implementation's to round-off in every array compared, and differ from the reference beyond
the tolerance in every array that fails. It must also match the implementation on the problems it
got right, and on any problem called to tell candidates apart. Mutants that give the same numbers
on all of these are one finding, described once with the other readings beside it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .compare import compare_array
from .contract import Case, combine
from .derivation import (
    Derivation,
    Invalid,
    Mutation,
    MutationKind,
    apply,
    consistent_gradients,
    derivation_of,
    describe,
    evaluate,
    mutations,
)
from .outcome import Finding, Mistake, Outcome, Role
from .precision import Precision

# A mutant whose values exceed the reference's is computed, by the code that makes that mistake,
# with round-off of its own size, which the reference's tolerance does not cover: this many eps
# (T + 2) of the excess are allowed (the tolerance's own factor on a sum of T + 2 roundings), the
# entry's own excess and the array's (an entry of a mutant that explodes can be a small sum of huge
# terms: a ReLU cell with tanh's 1 - h^2 gave dW = -3.0 from terms of 1e5, 1.9e-11 apart).
MUTANT_SLACK = 8.0
# Singles kept for pairing when no single mutant fits: those that bring the most failing arrays
# closest to the implementation (16 give 120 pairs, a second or so at default sizes).
PAIR_POOL = 16
# Kind order for the reading shown first among equivalent mutants: the plainest statement.
PLAIN = (
    MutationKind.VARIANT,
    MutationKind.LAYOUT,
    MutationKind.SWAP,
    MutationKind.BOUND,
    MutationKind.INITIAL,
    MutationKind.LOOP,
    MutationKind.DROP_TERM,
    MutationKind.DROP_FACTOR,
    MutationKind.SHIFT,
    MutationKind.TRANSPOSE,
    MutationKind.CONFUSED,
    MutationKind.SIGN,
)
# Mutations that make another whole model, its backward pass derived with it (the other GRU, the
# gates read and written in another order): the mutated derivation is that model's true gradient,
# with no complex step to compute it.
WHOLE_MODELS = (MutationKind.VARIANT, MutationKind.LAYOUT)
# Values closer than this (relative to the larger) are the same numbers: two readings of one mistake.
SAME_NUMBERS = 1e-12


def _plain(m: Mutation) -> int:
    """An initial state ignored everywhere reads plainest; then PLAIN's order."""
    return -1 if m.path == ("initial",) else PLAIN.index(m.kind)


@dataclass(frozen=True)
class Candidate:
    mutations: tuple[Mutation, ...]
    consistent: bool = False  # a forward-pass mutant read as its own model's true gradient
    clip: tuple[float, tuple[str, ...]] | None = None  # and then these arrays clipped to [-c, c]

    @property
    def forward(self) -> bool:
        return any(m.forward for m in self.mutations)

    def plainness(self) -> tuple:
        return (len(self.mutations) + (self.clip is not None), self.forward, *(_plain(m) for m in self.mutations))


def values(case: Case, c: Candidate, names: Iterable[str]) -> dict[str, np.ndarray] | None:
    """The candidate's arrays on a case, combined over its sequences as the contract does (None
    where the mutated equations cannot run on it)."""
    per, hs = [], []
    # A mutant can overflow where the reference does not (its recursion grows): its values are
    # then not finite, and it is no candidate; the arithmetic says nothing more.
    with np.errstate(all="ignore"):
        try:
            d = apply(derivation_of(case.problems[0].cell), c.mutations)
            for p in case.problems:
                v = evaluate(d, p).arrays
                if c.consistent and not all(m.kind in WHOLE_MODELS for m in c.mutations):
                    v = v | consistent_gradients(d, p, tuple(k for k in names if k not in ("loss", "hs")))
                per.append(v)
                hs.append(v["hs"])
        except (Invalid, IndexError):  # IndexError: a pair whose second site the first removed
            return None
        out = combine(case, per, hs)
    if c.clip is not None:
        out |= {k: np.clip(out[k], -c.clip[0], c.clip[0]) for k in c.clip[1] if k in out}
    return out if all(np.all(np.isfinite(a)) for a in out.values()) else None


def fit(o: Outcome, cand: dict[str, np.ndarray], pr: Precision) -> float:
    """The worst error/tol of the implementation's arrays against the candidate's (inf if none)."""
    slack = MUTANT_SLACK * pr.eps * (o.case.sizes[3] + 2)
    worst = 0.0
    for k, a in o.result.items():
        c = cand.get(k)
        if c is None or c.size != a.size or (c.shape != a.shape and _squeezed(c) != _squeezed(a)):
            return np.inf
        c = c.reshape(a.shape)  # singleton axes aside, as contract.read_result reads results
        ref = np.abs(o.reference[k])
        excess = np.maximum(np.abs(c) - ref, max(0.0, float(np.max(np.abs(c), initial=0.0) - np.max(ref, initial=0.0))))
        tol = o.tolerance[k] + slack * excess
        worst = max(worst, compare_array(k, a, c, tol).ratio)
    return worst


def _squeezed(a: np.ndarray) -> tuple[int, ...]:
    return tuple(n for n in a.shape if n != 1)


def explains(o: Outcome, cand: dict[str, np.ndarray] | None, pr: Precision) -> bool:
    """The candidate matches the implementation everywhere, and differs from the reference wherever
    the implementation does (on a problem it got right: nowhere)."""
    if cand is None or fit(o, cand, pr) > 1.0:
        return False
    return all(not compare_array(k, cand[k], o.reference[k], o.tolerance[k]).ok for k in o.failing)


def _scale(o: Outcome) -> float:
    return max((float(np.max(np.abs(v))) for v in o.result.values() if np.size(v)), default=1.0) or 1.0


def _groups(cands: list[Candidate], outs: list[Outcome]) -> list[list[Candidate]]:
    """Candidates that give the same numbers on every outcome, grouped; the plainest first."""
    groups: list[tuple[list[dict], list[Candidate]]] = []
    for c in sorted(cands, key=Candidate.plainness):
        vs = [values(o.case, c, o.result) for o in outs]
        for gv, members in groups:
            if all(_same(a, b, _scale(o)) for a, b, o in zip(vs, gv, outs, strict=True)):
                members.append(c)
                break
        else:
            groups.append((vs, [c]))
    return [members for _, members in groups]


def _same(a: dict, b: dict, scale: float) -> bool:
    return all(k in b and np.max(np.abs(a[k] - b[k]), initial=0.0) <= SAME_NUMBERS * scale for k in a)


def singles(case: Case) -> list[Candidate]:
    """Every single-site mutant, with the true-gradient reading of each forward-pass one."""
    out = []
    for m in mutations(derivation_of(case.problems[0].cell)):
        if m.kind in WHOLE_MODELS:  # its backward pass is its true gradient: one reading
            out.append(Candidate((m,), consistent=True))
            continue
        out.append(Candidate((m,)))
        if m.forward:
            out.append(Candidate((m,), consistent=True))
    return out


def matching(kept: tuple[Outcome, ...], others: tuple[Outcome, ...], pr: Precision) -> list[list[Candidate]]:
    """Groups of mutants that explain every kept failing outcome and match the implementation on
    the others (problems it got right, problems called to tell candidates apart)."""
    smallest = min(kept, key=lambda o: o.case.sizes[3] * o.case.n)
    rest = [o for o in kept if o is not smallest]
    pool = singles(smallest.case)
    fits = [c for c in pool if _explains_all(c, [smallest, *rest], others, pr)]
    if not fits:
        close = _closest(smallest, pool)
        pairs = [
            Candidate(a.mutations + b.mutations)
            for a, b in combinations(close, 2)
            if (a.mutations[0].where, a.mutations[0].path) != (b.mutations[0].where, b.mutations[0].path)
        ]
        fits = [c for c in pairs if _explains_all(c, [smallest, *rest], others, pr)]
    if not fits:
        fits = [c for c in _clipped([smallest, *rest], close) if _explains_all(c, [smallest, *rest], others, pr)]
    return _groups(fits, [*kept, *others]) if fits else []


def _clipped(kept: list[Outcome], close: list[Candidate]) -> list[Candidate]:
    """The closest singles with their gradients then clipped by value, as code clips before an update
    (c: the largest |entry| returned in a failing array of any kept problem, where the clip binds;
    the parameters, with h0 or without)."""
    c = max(
        (float(np.max(np.abs(o.result[k]), initial=0.0)) for o in kept for k in o.failing if k not in ("loss", "hs")),
        default=0.0,
    )
    o = kept[0]
    params = tuple(k for k in o.case.contract.parameters if k in o.result)
    sets = {params, (*params, *(k for k in ("h0", "xs") if k in o.result))}
    return [Candidate(x.mutations, x.consistent, (c, arrays)) for x in close for arrays in sets if c > 0]


def _explains_all(c: Candidate, kept: list[Outcome], others: tuple[Outcome, ...], pr: Precision) -> bool:
    if c.consistent and not all(_loss_fits(o, Candidate(c.mutations)) for o in kept):
        return False  # the true gradient (a complex step per entry) only where the loss already fits
    if not all(explains(o, values(o.case, c, o.result), pr) for o in kept):
        return False
    return all(fit(o, v, pr) <= 1.0 for o in others if (v := values(o.case, c, o.result)) is not None)


def _loss_fits(o: Outcome, c: Candidate) -> bool:
    """The candidate's loss matches the returned one (True when none is returned)."""
    if "loss" not in o.result:
        return True
    v = values(o.case, c, ("loss",))
    return v is not None and abs(float(v["loss"]) - float(o.result["loss"])) <= float(o.tolerance["loss"])


def loss_matching(o: Outcome) -> list[Candidate]:
    """The forward-pass mutants (plainest first) whose loss is the returned loss."""
    found = [c for c in singles(o.case) if c.forward and not c.consistent and _loss_fits(o, c)]
    return sorted(found, key=Candidate.plainness)


def _closest(o: Outcome, pool: list[Candidate]) -> list[Candidate]:
    """The singles that bring the failing arrays closest to the implementation's (for pairing)."""
    scored = []
    for c in pool:
        if c.forward and c.consistent:
            continue
        v = values(o.case, c, o.result)
        if v is None or any(v[k].shape != o.result[k].shape for k in o.failing):
            continue
        gain = 0.0
        for k in o.failing:
            before = np.linalg.norm(o.result[k] - o.reference[k])
            after = np.linalg.norm(o.result[k] - v[k])
            gain += max(0.0, np.log10((before + 1e-300) / (after + 1e-300)))
        if gain > 0:
            scored.append((gain, c))
    scored.sort(key=lambda x: -x[0])
    return [c for _, c in scored[:PAIR_POOL]]


def finding(group: list[Candidate], role: Role, case: Case) -> Finding:
    """The finding of one group of equivalent mutants: the plainest reading, the others beside it."""
    first, layer, d = group[0], case.contract.layer, derivation_of(case.problems[0].cell)
    equation, text = _words(first, layer, d)
    # The same forward mistake read both ways (the backward pass on its states, or its model's own
    # gradient) is one mistake whose gradients the problems cannot tell apart: said once.
    both = first.forward and any(c.mutations == first.mutations and c.consistent != first.consistent for c in group)
    if both:
        equation, text = _words(first, layer, d, both=True)
    rest = [c for c in group[1:] if not (both and c.mutations == first.mutations)][:3]
    alternatives = tuple(
        dict.fromkeys(": ".join(_words(c, layer, d)) for c in rest if _words(c, layer, d) != (equation, text))
    )
    return Finding(
        Mistake.DERIVATION,
        text,
        role=role,
        equation=equation,
        mutations=first.mutations,
        alternatives=alternatives,
        readings=tuple(c.mutations for c in group),
        values={"consistent": first.consistent},
    )


def _words(c: Candidate, layer: bool, d: Derivation, both: bool = False) -> tuple[str, str]:
    parts = [describe(m, d, layer) for m in c.mutations]
    equation = "; ".join(p[0] for p in parts)
    text = " and ".join(p[1] for p in parts)
    if c.forward:
        how = "its own (mistaken) model's true gradient" if c.consistent else "the backward pass run on these states"
        how = "the backward pass run on these states, or its own model's true gradient alike" if both else how
        text += f" (in the forward pass; the gradients are {how})"
    if c.clip is not None:
        text += f"; and then the entries of {', '.join(c.clip[1])} are clipped to [-{c.clip[0]:.6g}, {c.clip[0]:.6g}]"
    return equation, text


def split_cases(groups: list[list[Candidate]], like: Outcome, cases: Iterable[Case], pr: Precision) -> list[Case]:
    """Problems on which the candidate groups' numbers differ beyond the tolerance: the implementation
    called on them tells the groups apart."""
    from .contract import tolerance

    out = []
    for case in cases:
        tol = tolerance(case, pr).tol
        vs = [values(case, g[0], like.result) for g in groups]
        if any(v is None for v in vs):
            continue
        if any(_differ(a, b, tol) for a, b in combinations(vs, 2)):
            out.append(case)
        if len(out) == 3:
            break
    return out


def _differ(a: dict, b: dict, tol: dict) -> bool:
    return any(k in b and k in tol and not compare_array(k, a[k], b[k], 2 * tol[k]).ok for k in a)
