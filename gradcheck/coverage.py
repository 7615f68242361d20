"""What the problems of a run exercised: sizes, regimes, problems not judged, the worst error/tol
per array, and what the repeated calls showed. Read from the search's outcomes; nothing is called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .compare import Judgement
from .options import Options
from .outcome import Coverage, Outcome, Repeat, SearchResult
from .strategies import features


def summarize(found: SearchResult, first: list[Repeat], failing: list[Repeat], opts: Options) -> Coverage:
    """Coverage of the problems seen, problems not judged (and why), the worst error/tol per array,
    and the repeated calls (the first problem before the search, each failing one after it)."""
    seen = [o for o in found.seen if o.reference is not None]
    not_judged = {
        j.value: sum(o.judgement is j for o in seen) for j in (Judgement.ILL_CONDITIONED, Judgement.OUT_OF_RANGE)
    }
    worst: dict[str, float] = {}
    normwise: dict[str, float] = {}
    for o in seen:
        for c in o.checks:
            worst[c.name] = max(worst.get(c.name, 0.0), c.ratio)
            if c.entries > 1:
                normwise[c.name] = max(normwise.get(c.name, 0.0), c.norm_ratio)
    counts = _counts(seen, opts) if seen else {}
    return Coverage(counts, not_judged, worst, _repeats(first, failing), normwise)


def _repeats(first: list[Repeat], failing: list[Repeat]) -> str:
    r = [*first, *failing]
    if not r:
        return ""
    if all(x.identical for x in r):
        state = "identical"
    elif all(x.ratio <= 1 for x in r):
        worst = max(x.ratio for x in r)
        state = (
            f"different at round-off level (worst {worst:.2g} of the tolerance): the code is nondeterministic "
            "at round-off level"
        )
    else:
        state = "DIFFERENT"
    roles = ["the first problem"] * bool(first) + ["the failing problem"] * bool(failing)
    return f"{' and '.join(roles)}, called twice: {state}"


def _counts(outcomes: list[Outcome], opts: Options) -> dict[str, Any]:
    """How many problems, which sizes, and how often each hard regime came up."""
    pr = opts.precision
    fs = []
    for o in outcomes:  # a case's features: the most extreme of its sequences
        per = [features(p) for p in o.case.problems]
        f = {k: max(x[k] for x in per) for k in per[0]}
        grads = [np.max(np.abs(v)) for k, v in o.reference.items() if k not in ("loss", "hs") and np.size(v)]
        fs.append(f | {"max_grad": float(max(grads, default=0.0)), "N": o.case.n})
    spans = {k: (min(f[k] for f in fs), max(f[k] for f in fs)) for k in ("D", "H", "K", "T", "N")}
    out = {
        "problems": len(outcomes),
        "sizes": spans,
        "h0 != 0": sum(f["h0_nonzero"] > 0 for f in fs),
        "one-hot inputs": sum(f["one_hot"] > 0 for f in fs),
        "some x_t[0] != 0": sum(f["x0_nonzero"] > 0 for f in fs),
        f"{'saturated tanh' if opts.cell == 'tanh' else 'saturated units'} (|p| > {pr.saturation:.3g})": sum(
            f["max_abs_p"] > pr.saturation for f in fs
        ),
        f"|p| past exp()'s overflow ({pr.exp_overflow:.4g})": sum(f["max_abs_p"] > pr.exp_overflow for f in fs),
        f"large logits (|q| > {pr.large_logit:.4g})": sum(f["max_abs_logit"] > pr.large_logit for f in fs),
        "a gradient entry > 5": sum(f["max_grad"] > 5 for f in fs),
        "exploding (a gradient entry > 1e3)": sum(f["max_grad"] > 1e3 for f in fs),
        "max |logit|": max(f["max_abs_logit"] for f in fs),
        "max |gradient entry|": max(f["max_grad"] for f in fs),
    }
    if opts.layer:  # the layer alone has no logits
        out = {k: v for k, v in out.items() if "logit" not in k}
    return out
