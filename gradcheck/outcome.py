"""What a verification produced, as frozen records, stage by stage.

    Outcome      one call of the implementation on one case, judged (oracle.judge)
    Preflight    the signature, and the first problem called twice (oracle.preflight)
    Failure      one distinct failure: its smallest problem, the first and the clearest met
    SearchResult every problem seen and the distinct failures (oracle.search)
    Evidence     what the oracle ran on a failure after the search (oracle.gather)
    Finding      one statement of the diagnosis: a mistake named, where it lies, what it needs
    Diagnosis    the findings on one failure (mistakes.py, localisation.py)
    Report       the whole verdict

Each stage reads the records of the stages before it and returns a new one; none is patched
later. An Outcome keeps what the implementation returned and what it was compared against
(reference and tolerance), so no later stage recomputes either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from .compare import Judgement, ParamCheck
from .contract import Case
from .options import Options


class Kind(Enum):
    """What happened on one call."""

    AGREE = "agree"
    NOT_JUDGED = "not judged"  # ill-conditioned, or out of the precision's range
    RAISED = "raised"  # raised, called sys.exit, or (a worker) answered `error`
    RETURNED = "returned"  # not a dict, None, or values that are not numbers
    MISSING = "missing"  # a required gradient is absent
    SHAPE = "shape"
    NONFINITE = "nonfinite"  # NaN or inf where the reference is finite
    MODIFIED = "modified"  # changed its inputs in place
    MISMATCH = "mismatch"  # gradients (or the loss) differ beyond the tolerance
    CALLS_DIFFER = "calls differ"  # two calls on the same problem differ beyond round-off
    SIGNATURE = "signature"  # cannot be called with the contract's arguments
    WORKER = "worker"  # a worker hung, crashed, exited or wrote malformed output
    HANG = "hang"  # a worker did not answer within the timeout

    @property
    def ok(self) -> bool:
        return self in (Kind.AGREE, Kind.NOT_JUDGED)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: it holds arrays
class Outcome:
    """One call of the implementation on one case, judged."""

    case: Case
    kind: Kind
    message: str = ""
    result: dict[str, np.ndarray] | None = None  # what it returned, as float64 arrays
    reference: dict[str, np.ndarray] | None = None
    tolerance: dict[str, np.ndarray] | None = None
    checks: tuple[ParamCheck, ...] = ()
    warnings: tuple[tuple[str, str], ...] = ()
    traceback: str | None = None
    seconds: float = 0.0
    judgement: Judgement = Judgement.JUDGED  # why a NOT_JUDGED case was not judged

    @property
    def ok(self) -> bool:
        return self.kind.ok

    @property
    def ratio(self) -> float:
        """The worst error/tol over the compared arrays (0 when nothing was compared)."""
        return max((c.ratio for c in self.checks), default=0.0)

    @property
    def failing(self) -> frozenset[str]:
        """The arrays over their tolerance."""
        return frozenset(c.name for c in self.checks if not c.ok)

    @property
    def severity(self) -> float:
        """How bad the failure is, for ordering: error/tol of a mismatch, infinite for a call that
        failed outright or returned non-finite values."""
        return self.ratio if self.kind in (Kind.MISMATCH, Kind.CALLS_DIFFER) else np.inf


@dataclass(frozen=True)
class Repeat:
    """A second call on the same case, compared with the first."""

    case: Case
    first: dict[str, np.ndarray]
    second: dict[str, np.ndarray]
    identical: bool  # bitwise
    ratio: float  # the worst |first - second| / tol
    worst: str  # the worst entry, in words


@dataclass(frozen=True)
class Preflight:
    """Before the search: why the code cannot be called at all, or the first problem called twice."""

    refusal: str = ""  # a signature that cannot take the contract's arguments ("" when it can)
    first: Outcome | None = None
    repeat: Repeat | None = None  # the second call, compared with the first
    second: Outcome | None = None  # the second call, when it failed outright


class Found(Enum):
    """How a failure was found, and whether it was shrunk."""

    SHRUNK = "shrunk by the random search"
    FIRST_TWICE = "on the first problem, called twice (not shrunk)"
    HANG = "the search stopped at the first hang (not shrunk)"
    COVERAGE = "found by the fixed coverage set after the random search (not shrunk)"
    FLAKY = "the implementation is not deterministic: the same problem failed once and passed once"
    GOLDEN = "the smallest failing golden case"
    CAMPAIGN = "shrunk by the campaign"


@dataclass(frozen=True)
class Failure:
    """One distinct failure (a kind of failure and the arrays it fails in)."""

    smallest: Outcome  # the one shown: after shrinking, where it was shrunk
    first: Outcome  # the first met
    clearest: Outcome  # the largest error/tol met
    found: Found
    arrays: frozenset[str] = frozenset()  # every array it failed in, on any problem

    @property
    def shrunk(self) -> bool:
        return self.found in (Found.SHRUNK, Found.CAMPAIGN)

    @property
    def kept(self) -> tuple[Outcome, ...]:
        """The failing problems a diagnosis must explain: the first met and the smallest."""
        return tuple(dict.fromkeys(o for o in (self.first, self.smallest) if o.kind is self.smallest.kind))


@dataclass(frozen=True)
class SearchResult:
    seen: tuple[Outcome, ...] = ()  # every problem judged, in order (shrinking excepted)
    failures: tuple[Failure, ...] = ()  # distinct failures, the most severe first
    calls: int = 0  # every call, shrinking included


class Condition(Enum):
    """A condition a failure may need, and how a narrowed search avoids it."""

    H0_NONZERO = ("h0 != 0", "h0 = 0")
    LARGE_LOGITS = ("large logits (a common offset past exp()'s overflow)", "no large logits")
    X0_NONZERO = ("some x_t[0] != 0", "x_t[0] = 0 for every t")
    LARGE_PREACTIVATIONS = ("pre-activations past exp()'s overflow", "no pre-activations past exp()'s overflow")

    @property
    def needs(self) -> str:
        return self.value[0]

    @property
    def without(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class ProbeResult:
    """A narrowed search without a condition (None: the baseline), how many problems ran and failed."""

    condition: Condition | None
    run: int
    failed: int


@dataclass(frozen=True)
class LossCheck:
    """The code's own loss against its own gradient on the failing problem (the Taylor test), and the
    returned loss against the model's."""

    returned: float
    model: float
    rates: tuple[float, ...]  # the Taylor remainder's rate per direction (2: consistent, 1: not)

    @property
    def consistent(self) -> bool | None:
        from .taylor import CONSISTENT, INCONSISTENT

        if not self.rates or any(np.isnan(r) for r in self.rates):
            return None
        if all(r >= CONSISTENT for r in self.rates):
            return True
        return False if any(r <= INCONSISTENT for r in self.rates) else None


@dataclass(frozen=True)
class Evidence:
    """What the oracle ran on one failure after the search, for the diagnosis to read."""

    repeat: Repeat | None = None  # the failing problem called again
    prefixes: tuple[Outcome, ...] = ()  # the failing problem cut to T' = 1..T steps
    baseline: ProbeResult | None = None  # the un-narrowed search, counted like the probes
    probes: tuple[ProbeResult, ...] = ()
    trials: tuple[Outcome, ...] = ()  # problems called to tell candidate mistakes apart
    loss: LossCheck | None = None
    passing: tuple[Outcome, ...] = ()  # problems the implementation got right (candidates must too)


class Mistake(Enum):
    """What a finding names."""

    DERIVATION = "a site of the derivation written wrong"  # a mutant of derivation.py
    FORWARD = "the forward pass"  # the loss is not the model's (and which mutant it is)
    LOSS = "the loss returned"  # a known transform of the model's loss, reconciled with the gradients
    OTHER_LOSS = "the gradients of another reduction over steps"
    TRUNCATED = "truncated BPTT"
    SCALED_ALL = "every gradient scaled"
    SCALED_ONE = "one gradient scaled"
    CLIPPED_VALUE = "clipped by value"
    CLIPPED_NORM = "clipped by a joint norm"
    CLIPPED_EACH = "clipped by each gradient's own norm"
    LOWER_PRECISION = "lower precision"
    BATCH_ONE_SEQUENCE = "one sequence"
    BATCH_SCALE = "batch scale"
    BATCH_MIXED = "sequences mixed"
    H0_SUMMED = "h0 summed"
    NAIVE_SOFTMAX = "naive softmax"
    TANH_OVERFLOW = "tanh from exp overflows"
    ACCUMULATES = "accumulates"
    NONDETERMINISTIC = "results change between calls"
    NOT_GRADIENTS = "only outputs that are not gradients fail"
    # Notes: where the failure lies, what it needs
    PATTERN = "failing entries in one row or column"
    PER_STEP = "per-step localisation"
    NEEDS = "what the failure needs"
    UNEXPLAINED = "no known mistake matches exactly"


class Role(Enum):
    CAUSE = "cause"  # a mistake named: the numbers match it
    EQUAL = "equal"  # one of several mistakes that fit equally
    NOTE = "note"  # where it lies, what it needs, what was ruled out


# The numbers that say which mistake it is (a threshold, k, c), not how it shows on one problem.
STABLE = ("threshold", "c", "k", "precision", "loss", "name", "sequence", "consistent")


@dataclass(frozen=True)
class Finding:
    """One statement about a failure: the mistake, the equation the code computes, the arrays."""

    mistake: Mistake
    text: str
    arrays: frozenset[str] = frozenset()
    role: Role = Role.CAUSE
    equation: str = ""  # as the code computes it, for a mistake in the derivation
    mutations: tuple = ()  # derivation.Mutation sites (a pair when no single one fits)
    alternatives: tuple[str, ...] = ()  # equivalent readings of the same numbers, in words
    readings: tuple[tuple, ...] = ()  # every equivalent reading's mutations (the first is `mutations`)
    values: Mapping[str, Any] = field(default_factory=dict)  # numbers found: c, k, threshold, factor

    def has(self, kind, where: str) -> bool:
        """Does any reading of this finding change the site `where` in the way `kind`?"""
        return any(m.kind is kind and m.where == where for r in (self.mutations, *self.readings) for m in r)

    def key(self) -> tuple:
        """What the finding says, without the numbers of the problem it was found on: two failures
        with the same keys are one mistake."""
        fixed = tuple(
            sorted((k, round(v, 6) if isinstance(v, float) else v) for k, v in self.values.items() if k in STABLE)
        )
        return (self.mistake, self.role, self.mutations, fixed)

    def words(self) -> str:
        head = f"{self.equation}: {self.text}" if self.equation else self.text
        if self.alternatives:
            head += " (equivalently: " + "; ".join(self.alternatives) + ")"
        return head


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...] = ()

    @property
    def causes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.role is not Role.NOTE)

    @property
    def notes(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.role is Role.NOTE)

    @property
    def explained(self) -> bool:
        return any(f.mistake is not Mistake.UNEXPLAINED for f in self.causes)


@dataclass(frozen=True)
class Explained:
    """One failure with what was found out about it."""

    failure: Failure
    evidence: Evidence
    diagnosis: Diagnosis


@dataclass(frozen=True)
class Coverage:
    """What the problems run exercised, the worst error/tol per array, and repeated calls."""

    counts: dict[str, Any] = field(default_factory=dict)
    not_judged: dict[str, int] = field(default_factory=dict)  # reason -> count
    worst: dict[str, float] = field(default_factory=dict)  # per array: the worst error/tol seen
    repeats: str = ""  # what the repeated calls showed, in words
    # per array of two entries or more: the worst ||error||_2 / the round-off expected of it
    # (LAPACK's test ratio; compare.NORM_LIMIT fails)
    normwise: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """The whole verdict on an implementation."""

    target: str
    options: Options
    ok: bool
    command: str = "verify"  # verify | golden check | taylor | fuzz
    refusal: str = ""  # why it could not be called at all (a wrong signature)
    search: SearchResult | None = None
    failures: tuple[Explained, ...] = ()
    coverage: Coverage = field(default_factory=Coverage)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # command-specific facts (golden counts)

    @property
    def kind(self) -> Kind:
        if self.refusal:
            return Kind.SIGNATURE
        return self.failures[0].failure.smallest.kind if self.failures else Kind.AGREE

    @property
    def message(self) -> str:
        if self.refusal:
            return self.refusal
        return self.failures[0].failure.smallest.message if self.failures else ""

    @property
    def failure(self) -> Outcome | None:
        """The first failure's smallest problem."""
        return self.failures[0].failure.smallest if self.failures else None

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding, failure by failure."""
        return tuple(f for e in self.failures for f in e.diagnosis.findings)

    @property
    def failing_arrays(self) -> frozenset[str]:
        """Every array that failed on any problem, in any failure."""
        return frozenset().union(*(e.failure.arrays for e in self.failures)) if self.failures else frozenset()

    def format(self, debug: bool = False) -> str:
        from .render import report_text

        return report_text(self, debug)

    def to_json(self) -> dict:
        from .render import report_json

        return report_json(self)

    def _repr_html_(self) -> str:  # a notebook cell's display: verdict, table, findings, error map
        from .notebook import report_html

        return report_html(self)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython's text: the report, not the fields
        printer.text(self.format())
