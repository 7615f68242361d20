"""What a verification produced, as plain records: one call's Outcome, a search's Search, the Report.

The oracle makes them, diagnosis reads them, render prints them; none of them computes anything.
An Outcome keeps what the implementation returned and what it was compared against (reference and
tolerance), so that no later step recomputes either.
"""

from __future__ import annotations

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

    @property
    def ok(self) -> bool:
        return self in (Kind.AGREE, Kind.NOT_JUDGED)


@dataclass(frozen=True)
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


@dataclass
class Search:
    """What a run saw: every problem's outcome in order, and the failures that matter."""

    seen: list[Outcome] = field(default_factory=list)  # up to the first failure (not the shrinking)
    first: Outcome | None = None  # the first failure met
    final: Outcome | None = None  # the smallest failure (after shrinking)
    clearest: Outcome | None = None  # the failure with the largest error/tol seen
    shrunk: bool = False
    note: str = ""
    calls: int = 0  # every call, shrinking included


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
class ProbeResult:
    """A narrowed search: `without` a condition, how many problems ran and failed."""

    condition: str  # what the failure would need ("h0 != 0")
    without: str  # how the narrowed search avoids it ("h0 = 0")
    run: int
    failed: int


@dataclass
class Evidence:
    """What the oracle ran after the search, for diagnosis to read."""

    repeats: list[Repeat] = field(default_factory=list)
    baseline: ProbeResult | None = None  # the un-narrowed search, counted the same way
    probes: list[ProbeResult] = field(default_factory=list)
    prefixes: list[Outcome] = field(default_factory=list)  # the final case cut to T' = 1..T steps


@dataclass
class Report:
    """The whole verdict on an implementation."""

    target: str
    options: Options
    ok: bool
    kind: Kind = Kind.AGREE
    message: str = ""
    command: str = "verify"  # verify | golden check | taylor
    search: Search | None = None
    coverage: dict[str, Any] = field(default_factory=dict)
    not_judged: dict[str, int] = field(default_factory=dict)  # reason -> count
    diagnosis: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    worst: dict[str, float] = field(default_factory=dict)  # per array: the worst error/tol seen
    repeats: str = ""  # what the repeated calls showed, in words
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # command-specific facts (golden counts)

    @property
    def failure(self) -> Outcome | None:
        return self.search.final if self.search else None

    def format(self, debug: bool = False) -> str:
        from .render import format_report

        return format_report(self, debug)

    def to_json(self) -> dict:
        from .render import report_json

        return report_json(self)
