"""Mistakes that are not one site of the derivation: each a function of the reference with
parameters found from the numbers (a clipping threshold, a factor, a truncation length, a
precision, a loss reduction), named only when the implementation matches it to round-off.

    lower precision   the whole computation in float32 (or float16, bfloat16)
    truncated(k)      the seed's series cut after k terms per step        (truncated BPTT)
    another loss      the gradients of the mean (or sum, or last step) over t
    scaled            a gradient, or all of them, times a constant
    clipped           by value at c; by the joint L2 norm of a subset of the gradients; by each
                      gradient's own norm
    batch             one sequence's gradient only; 1/N missing or extra; sequences mixed before
                      an outer product; the h0 gradient summed over the batch
    loss              the returned loss a known transform of the model's (mean over t, over the
                      batch, the last step, an L2 term), reconciled with the returned gradients
    non-finite        softmax without the max shift; tanh written with exp(), both past exp()'s
                      overflow
    calls differ      gradients accumulated between calls; results that change from call to call
"""

from __future__ import annotations

import numpy as np

from .bptt import backward_recursion, bptt, direct_state_gradient, output_error, truncated
from .compare import compare_array
from .contract import Case, combine, tolerance
from .model import forward
from .mutants import fit
from .options import Options
from .outcome import Evidence, Finding, Mistake, Outcome, Repeat
from .precision import PRECISIONS, Precision
from .problem import GRAD_NAMES, Problem, loss_weights
from .strategies import round_problem

# The coarser precisions code slips into: float32 in float64 code (a float32 array, torch's default
# dtype), half precision in float32 code (autocast). A coarser one still would "explain" any error
# of a few per cent, a wrong loss term included, and explain nothing.
LOWER = {"float64": ("float32",), "float32": ("float16", "bfloat16")}
# Code computing in the coarser precision errs by a sizeable part of that precision's tolerance; code
# in the finer one that overshoots its own tolerance errs a million times less. The lower precision
# is named only where the error is at least this part of the coarser tolerance (float64 code at 1.3
# times its tolerance is not float32 code).
LOWER_EVIDENCE = 1e-3
# A factor found by least squares is "the same" across arrays, or "exactly" 1/T or N, to this
# relative precision (far below any round-off tolerance a factor passes through).
SAME_FACTOR = 1e-9


def _per(case: Case, fn) -> dict:
    """A per-sequence gradient function, combined over the case as its contract does."""
    return combine(case, [fn(p) for p in case.problems])


def _grads(o: Outcome) -> dict[str, np.ndarray]:
    return {k: v for k, v in o.result.items() if k not in ("loss", "hs")}


def _matches(o: Outcome, cand: dict, pr: Precision, keys=None) -> bool:
    keys = keys or [k for k in o.result if k not in ("loss", "hs")]
    sub = Outcome(o.case, o.kind, result={k: o.result[k] for k in keys}, reference=o.reference, tolerance=o.tolerance)
    return fit(sub, cand, pr) <= 1.0


# --- precision, truncation, another loss ---------------------------------------------------


def in_precision(problem: Problem, pr: Precision) -> dict:
    """The recursion computed in a lower precision (float32 and float16 natively; bfloat16 through
    ml_dtypes), returned as float64."""
    f = lambda a: np.asarray(a, dtype=pr.dtype)
    low = problem._replace(
        params=type(problem.params)(*map(f, problem.params)),
        xs=f(problem.xs),
        Y=f(problem.Y),
        h0=f(problem.h0),
        weights=f(problem.weights),
        dhs=None if problem.dhs is None else f(problem.dhs),
        c0=None if problem.c0 is None else f(problem.c0),
    )
    with np.errstate(all="ignore"):
        return {k: (np.asarray(v, dtype=np.float64) if k != "loss" else float(v)) for k, v in bptt(low).items()}


def lower_precision(o: Outcome, opts: Options) -> Finding | None:
    """The result (loss included) is the recursion computed in a coarser precision, inputs rounded."""
    for name in LOWER.get(opts.dtype, ()):
        pr = PRECISIONS[name]
        rounded = o.case.with_problems(tuple(round_problem(p, pr) for p in o.case.problems))
        candidate = combine(rounded, [in_precision(p, pr) for p in rounded.problems])
        tol = tolerance(rounded, pr).tol
        low = Outcome(o.case, o.kind, result=o.result, reference=o.reference, tolerance=tol)
        size = max(compare_array(k, o.result[k], o.reference[k], tol[k]).ratio for k in o.failing)
        if size >= LOWER_EVIDENCE and fit(low, candidate, pr) <= 1.0:
            text = (
                f"the arithmetic is {name} (the result is right to {name} precision only); if that is intended, "
                f"run with --dtype {name}"
            )
            return Finding(Mistake.LOWER_PRECISION, text, o.failing, values={"precision": name})
    return None


def truncation(o: Outcome, opts: Options) -> Finding | None:
    """Truncated BPTT: the series cut after k terms per step, the k that fits best (and the run of
    k that fit, where a coarse precision cannot tell them apart)."""
    T, fits = o.case.sizes[3], {}
    for k in range(1, T):
        ratio = fit(_sub(o), _per(o.case, lambda p, k=k: truncated(p, k)), opts.precision)
        if ratio <= 1.0:
            fits[k] = ratio
        elif fits:
            break
    if not fits:
        return None
    k = min(fits, key=fits.__getitem__)
    run = f" (k = {min(fits)} to {max(fits)} all fit within this precision's tolerance)" if len(fits) > 1 else ""
    text = f"truncated BPTT: the series is cut after k = {k} terms per step (WildML-style bptt_truncate = {k - 1}){run}"
    return Finding(Mistake.TRUNCATED, text, o.failing, values={"k": k, "fits": tuple(fits)})


def _sub(o: Outcome) -> Outcome:
    """The outcome with only its gradients (a candidate that keeps the loss is judged on them)."""
    g = _grads(o)
    return Outcome(o.case, o.kind, result=g, reference=o.reference, tolerance=o.tolerance)


def other_loss(o: Outcome, opts: Options) -> Finding | None:
    """The gradients of another reduction over steps (mean where the sum belongs, ...)."""
    if o.case.contract.layer:
        return None
    T = o.case.sizes[3]
    for other in ("sum", "mean", "last"):
        if other == opts.loss:
            continue
        alt = o.case.with_problems(
            tuple(p._replace(weights=loss_weights(other, T), loss=other) for p in o.case.problems)
        )
        grads = _per(alt, bptt)
        if fit(_sub(o), grads, opts.precision) <= 1.0:
            why = "divided by T: " if (other, opts.loss) == ("mean", "sum") else ""
            text = f"the gradients are {why}those of the {other!r} loss, not {opts.loss!r}"
            if "loss" not in o.result:
                text += f" (use --loss {other})"
            elif "loss" not in o.failing:  # the returned loss is the model's
                text += f", while the loss returned is the {opts.loss!r} loss: the code's loss and gradients disagree"
            elif abs(float(o.result["loss"]) - float(grads["loss"])) <= float(o.tolerance["loss"]):
                text += f", and so is the loss returned: the code computes the {other!r} loss (use --loss {other})"
            return Finding(Mistake.OTHER_LOSS, text, o.failing - {"loss"}, values={"loss": other})
    return None


# --- scaled and clipped --------------------------------------------------------------------


def _factor(a: np.ndarray, r: np.ndarray, tol: np.ndarray, name: str) -> float | None:
    """c with a = c r to round-off (least squares), or None."""
    denom = float(np.sum(r * r))
    if denom == 0:
        return None
    c = float(np.sum(a * r)) / denom
    return c if compare_array(name, a, c * r, tol).ok else None


def scalings(o: Outcome, opts: Options) -> list[Finding]:
    """Gradients that are the reference times a factor, each reading that fits: clipping by the joint
    L2 norm of a subset (one factor below 1; the threshold found), by each gradient's own norm (one
    threshold), or stray factors. Which of clipping and a factor it is shows across problems (the
    threshold, or the factor, stays the same): diagnosis keeps what holds on every failing problem."""
    grads, ref, tol = _grads(o), o.reference, o.tolerance
    factors = {k: c for k in grads if (c := _factor(grads[k], ref[k], tol[k], k)) is not None}
    scaled = {k: c for k, c in factors.items() if abs(c - 1) > SAME_FACTOR}
    if not scaled or not (o.failing - {"loss", "hs"}) <= set(scaled):
        return []
    T, N = o.case.sizes[3], o.case.n
    batch = o.case.contract.batch and N > 1
    if any(_is(c, 1 / T) or (batch and (_is(c, N) or _is(c, 1 / N))) for c in scaled.values()):
        return []  # said better by the loss reduction and the batch findings
    subset = tuple(k for k in GRAD_NAMES if k in scaled)
    norm = lambda ks: float(np.sqrt(sum(np.sum(ref[k] ** 2) for k in ks)))
    every = set(subset) == set(grads)
    values = set(scaled.values())
    out = []
    if max(values) - min(values) <= SAME_FACTOR * max(map(abs, values)):
        s = next(iter(values))
        who = "every gradient" if every else ", ".join(subset)
        if 0 < s < 1:
            tau = s * norm(subset)
            rest = "" if every else f"; {', '.join(k for k in grads if k not in scaled)} not"
            norm = "their joint L2 norm" if len(subset) > 1 else "its L2 norm"
            verb = "is" if len(subset) == 1 or every else "are"
            text = f"{who} {verb} clipped by {norm} to {tau:.6g} (scaled by {s:.6g} on this problem){rest}"
            out.append(
                Finding(
                    Mistake.CLIPPED_NORM,
                    text,
                    frozenset(subset),
                    values={"threshold": tau, "subset": subset, "factor": s},
                )
            )
        mistake = Mistake.SCALED_ALL if every else Mistake.SCALED_ONE
        verb = "is" if every or len(subset) == 1 else "are"
        text = f"{who} {verb} the reference times {s:.10g} (relative error {s - 1:.3g})"
        out.append(Finding(mistake, text, frozenset(subset), values={"factor": s}))
        return out + (_each_norm(grads, ref, scaled) if len(subset) == 1 else [])
    out += _each_norm(grads, ref, scaled)
    out += [
        Finding(
            Mistake.SCALED_ONE,
            f"{k} is the reference times {c:.10g} (relative error {c - 1:.3g})",
            frozenset({k}),
            values={"factor": c},
        )
        for k, c in scaled.items()
        if k in o.failing
    ]
    return out


def _each_norm(grads: dict, ref: dict, scaled: dict[str, float]) -> list[Finding]:
    """Each gradient scaled to one L2 norm tau where its own is larger (those below tau untouched)."""
    taus = {k: c * float(np.sqrt(np.sum(ref[k] ** 2))) for k, c in scaled.items() if 0 < c < 1}
    if len(taus) != len(scaled) or max(taus.values()) - min(taus.values()) > 1e-6 * max(taus.values()):
        return []
    tau = float(np.mean(list(taus.values())))
    untouched = [k for k in grads if k not in scaled]
    above = [k for k in untouched if np.sqrt(np.sum(ref[k] ** 2)) > tau * (1 + 1e-6)]
    if above:  # an array above the threshold left alone: a subset is clipped (the joint-norm reading)
        return []
    text = f"each gradient is clipped by its own L2 norm to {tau:.6g}: here {', '.join(taus)}"
    return [Finding(Mistake.CLIPPED_EACH, text, frozenset(taus), values={"threshold": tau})]


def _is(c: float, target: float) -> bool:
    return abs(c - target) <= SAME_FACTOR * abs(target)


def clipped_by_value(o: Outcome, opts: Options) -> Finding | None:
    """Entries clipped to [-c, c] (np.clip), in every gradient or some: c is the largest |entry|
    returned where the reference exceeds it."""
    grads, ref = _grads(o), o.reference
    over = [
        k for k in grads if np.max(np.abs(ref[k]), initial=0.0) > np.max(np.abs(grads[k]), initial=0.0) * (1 + 1e-9)
    ]
    if not over:
        return None
    c = max(float(np.max(np.abs(grads[k]))) for k in over)
    clip = {k: np.clip(ref[k], -c, c) for k in grads}
    inside = [k for k in grads if compare_array(k, grads[k], clip[k], o.tolerance[k]).ok]
    untouched = [k for k in grads if k not in inside and compare_array(k, grads[k], ref[k], o.tolerance[k]).ok]
    if set(inside) | set(untouched) != set(grads) or not set(over) <= set(inside):
        return None
    if not (o.failing - {"loss", "hs"}) <= set(inside):
        return None
    tail = f"; {', '.join(untouched)} not, although above it" if untouched else ""
    who = "every gradient entry is" if not untouched else "gradient entries are"
    seen = [k for k in grads if k in over]
    tail = f" (seen in {', '.join(seen)}{tail})" if untouched else tail
    return Finding(
        Mistake.CLIPPED_VALUE,
        f"{who} clipped to [-{c:.6g}, {c:.6g}] (np.clip){tail}",
        frozenset(inside),
        values={"c": c},
    )


# --- batch ---------------------------------------------------------------------------------


def batch_mixed(problems: tuple[Problem, ...], weight: float) -> dict:
    """The batch summed before the outer products: dW = sum_t (sum_n dp_{n,t}) (sum_n h_{n,t-1})^T,
    and likewise dU (with x) and dV (with dq and h): sequences mixed into each other's gradients."""
    fws = [forward(p) for p in problems]
    dqs = [weight * output_error(p, fw.log_yhat) for p, fw in zip(problems, fws, strict=True)]
    dps = [
        backward_recursion(direct_state_gradient(p, dq), fw.hs, p.params.W)
        for p, fw, dq in zip(problems, fws, dqs, strict=True)
    ]
    dp, dq = sum(dps), sum(dqs)
    hs, xs = sum(fw.hs for fw in fws), sum(p.xs for p in problems)
    return {"W": dp.T @ hs[:-1], "U": dp.T @ xs, "V": dq.T @ hs[1:]}


def batch_mistakes(o: Outcome, opts: Options) -> list[Finding]:
    """One sequence's gradient only, a 1/N too many or too few, sequences mixed, h0 summed."""
    case, res, ref, tol = o.case, _grads(o), o.reference, o.tolerance
    if not case.contract.batch or case.n < 2:
        return []
    out, N, params = [], case.n, [k for k in case.contract.parameters if k in res]
    for n in range(N):
        alone = combine(case.with_problems((case.problems[n],)), [bptt(case.problems[n])])
        alone = {k: case.weight * v for k, v in alone.items()} if case.batch_mean else alone
        if _matches(o, alone, opts.precision, params):
            text = f"the parameter gradients are those of sequence {n} alone, not of the whole batch of {N}"
            out.append(Finding(Mistake.BATCH_ONE_SEQUENCE, text, frozenset(params), values={"sequence": n}))
            break
    scaled = {k: c for k in params for c in (N, 1 / N) if compare_array(k, res[k], c * ref[k], tol[k]).ok}
    if scaled:
        missing = case.batch_mean and all(c == N for c in scaled.values())
        what = "the 1/N of the batch mean is missing" if missing else "divided by N (a mean where the sum belongs)"
        if len(scaled) < len(params):
            what += f" in {', '.join(scaled)} only (the other gradients are right)"
        out.append(Finding(Mistake.BATCH_SCALE, f"{what}: N = {N}", frozenset(scaled), values={"N": N}))
    if case.problems[0].cell != "tanh":  # (the seed's recursion only)
        return out
    mixed = batch_mixed(case.problems, case.weight)
    wrong = [
        k
        for k in ("W", "U", "V")
        if k in res
        and compare_array(k, res[k], mixed[k], tol[k]).ok
        and not compare_array(k, res[k], ref[k], tol[k]).ok
    ]
    if wrong:
        text = (
            f"sequences are mixed up: d{wrong[0]} sums over the batch before the outer product "
            "(sum_t (sum_n dp_n,t)(sum_n h_n,t-1)^T), so one sequence's states enter another's gradient"
        )
        out.append(Finding(Mistake.BATCH_MIXED, text, frozenset(wrong)))
    if "h0" in res and res["h0"].ndim == 2:
        total = ref["h0"].sum(axis=0)
        if compare_array("h0", res["h0"], np.broadcast_to(total, ref["h0"].shape), tol["h0"] * N).ok:
            text = (
                "the h0 gradient is summed over the batch (every row is the sum): each sequence has its own h0, "
                "and its own gradient"
            )
            out.append(Finding(Mistake.H0_SUMMED, text, frozenset({"h0"})))
    return out


def h0_summed_shape(o: Outcome) -> list[Finding]:
    """A batch's h0 gradient returned as (H,): is it the sum over the sequences?"""
    a = (o.result or {}).get("h0")
    if a is None or not o.case.contract.batch or a.shape != o.case.problems[0].h0.shape:
        return []
    total = sum(o.case.weight * bptt(p)["h0"] for p in o.case.problems)
    if np.max(np.abs(a - total)) <= 1e-6 * (float(np.max(np.abs(total))) or 1.0):
        text = "the h0 gradient is summed over the batch: each sequence has its own h0; return (N, H)"
        return [Finding(Mistake.H0_SUMMED, text, frozenset({"h0"}))]
    return []


# --- the loss ------------------------------------------------------------------------------


def loss_transforms(o: Outcome, opts: Options) -> list[tuple[str, str, dict]]:
    """Known transforms of the model's loss: (name, words, the transform's gradients)."""
    case, T, N = o.case, o.case.sizes[3], o.case.n
    out = []
    for other, words in (
        ("mean", "the mean over t (1/T of the sum)"),
        ("sum", "the sum over t"),
        ("last", "the last step's E_T only"),
    ):
        if other != opts.loss and not case.contract.layer:
            alt = case.with_problems(
                tuple(p._replace(weights=loss_weights(other, T), loss=other) for p in case.problems)
            )
            out.append((other, words, _per(alt, bptt)))
    if case.contract.batch and N > 1:
        factor, words = (1 / N, "the mean over the batch") if not case.batch_mean else (N, "the sum over the batch")
        out.append(("batch", words, {k: factor * v for k, v in o.reference.items()}))
    return out


def _l2(o: Outcome) -> tuple[float, dict] | None:
    """An L2 penalty lambda/2 sum ||theta||^2 over the returned parameters that accounts for the loss."""
    params = o.case.problems[0].params._asdict()
    keys = [k for k in o.case.contract.parameters if k in o.result]
    sq = sum(float(np.sum(params[k] ** 2)) for k in keys)
    lam = 2 * (float(o.result["loss"]) - float(o.reference["loss"])) / sq if sq else 0.0
    if not lam > 0:
        return None
    return lam, {**o.reference, **{k: o.reference[k] + lam * params[k] for k in keys}}


def loss_findings(o: Outcome, ev: Evidence, opts: Options) -> list[Finding]:
    """The returned loss is not the model's: which known transform it is, and whether the returned
    gradients are those of the returned loss (and of the code's own loss, by the Taylor test)."""
    check = next((c for c in o.checks if c.name == "loss"), None)
    if check is None or check.ok:
        return []
    got, tol = float(o.result["loss"]), float(o.tolerance["loss"])
    grads = _sub(o)
    for name, words, g in loss_transforms(o, opts):
        if abs(float(g["loss"]) - got) <= tol:
            return [_reconciled(name, words, g, grads, o, ev, opts)]
    l2 = _l2(o)
    if l2 is not None and fit(grads, l2[1], opts.precision) <= 1.0:
        text = (
            f"the loss includes an L2 penalty lambda/2 sum ||theta||^2 with lambda = {l2[0]:.6g}, and so do the "
            "gradients: consistent, but not the seed's model (judge it with gradcheck taylor)"
        )
        return [Finding(Mistake.LOSS, text, frozenset({"loss"}) | o.failing, values={"lambda": l2[0], "name": "l2"})]
    ref = float(o.reference["loss"])
    text = f"the forward pass (the loss) is not the model's: loss {got:.10g}, reference {ref:.10g}; fix the loss first"
    return [Finding(Mistake.FORWARD, text, frozenset({"loss"}))]


def _reconciled(name: str, words: str, g: dict, grads: Outcome, o: Outcome, ev: Evidence, opts: Options) -> Finding:
    ratio = float(g["loss"]) / float(o.reference["loss"]) if float(o.reference["loss"]) else np.nan
    own = fit(grads, g, opts.precision) <= 1.0
    model = not (o.failing - {"loss"})
    if own:
        tail = f"and the gradients are {words}'s too: consistent; if that is intended, " + (
            f"run with --loss {name}"
            if name in ("sum", "mean", "last")
            else "run with --batch-loss " + ("mean" if not o.case.batch_mean else "sum")
        )
    elif model:
        tail = f"while the gradients are the model's ({opts.loss}'s): the loss and the gradients disagree"
    else:
        tail = "and the gradients are neither that loss's nor the model's"
    taylor = ""
    if ev.loss is not None and ev.loss.consistent is not None:
        taylor = (
            " (Taylor test on the code's own loss: its gradient is "
            + ("" if ev.loss.consistent else "not ")
            + "that loss's gradient)"
        )
    text = f"the loss returned is {words} (the model's times {ratio:.6g}) {tail}{taylor}"
    return Finding(
        Mistake.LOSS,
        text,
        frozenset({"loss"}),
        values={"name": name, "ratio": ratio, "gradients": "own" if own else "model" if model else "neither"},
    )


# --- non-finite values, and calls that differ ------------------------------------------------


def naive_softmax(o: Outcome, ev: Evidence, opts: Options) -> Finding | None:
    """Non-finite values with logits past exp()'s overflow, and none without large logits."""
    from .outcome import Condition

    pr = opts.precision
    top = max(float(np.max(forward(p).q)) for p in o.case.problems)
    without = next((p for p in ev.probes if p.condition is Condition.LARGE_LOGITS), None)
    if top <= pr.exp_overflow or (without is not None and without.failed) or o.case.contract.layer:
        return None
    text = (
        f"softmax is computed without the max shift: exp(q) overflows above {pr.exp_overflow:.1f} in {pr} (this "
        f"problem's logits reach {top:.4g}); subtract max_k q_k before exp, or run with --skip-regime large_logits "
        "to judge the rest"
    )
    return Finding(Mistake.NAIVE_SOFTMAX, text, o.failing, values={"logit": top})


def tanh_overflow(o: Outcome, ev: Evidence, opts: Options) -> Finding | None:
    """Non-finite values with pre-activations past exp()'s overflow, and none without them: tanh
    written as (e^p - e^-p) / (e^p + e^-p), which is inf / inf there."""
    from .outcome import Condition

    pr = opts.precision
    if o.case.problems[0].cell != "tanh":
        return None
    top = 0.0
    for p in o.case.problems:
        hs = forward(p).hs
        pre = p.xs @ p.params.U.T + hs[:-1] @ p.params.W.T + p.params.b_h
        top = max(top, float(np.max(np.abs(pre))))
    without = next((p for p in ev.probes if p.condition is Condition.LARGE_PREACTIVATIONS), None)
    if top <= pr.exp_overflow or (without is not None and without.failed):
        return None
    text = (
        f"tanh is computed from exp() without a guard: exp(|p|) overflows above {pr.exp_overflow:.1f} in {pr} "
        f"(this problem's pre-activations reach {top:.4g}), and (e^p - e^-p) / (e^p + e^-p) is inf / inf = NaN; "
        "use np.tanh, or run with --skip-regime huge_preactivations to judge the rest"
    )
    return Finding(Mistake.TANH_OVERFLOW, text, o.failing, values={"preactivation": top})


def calls_differ(o: Outcome, r: Repeat | None) -> list[Finding]:
    """Two calls differ: the second result the first plus a new one means accumulated gradients."""
    if r is None or o.reference is None:
        return []
    keys = [k for k in r.first if k in r.second and k not in ("loss", "hs")]
    added = {k: r.second[k] - r.first[k] for k in keys}
    if keys and all(compare_array(k, added[k], o.reference[k], 2 * o.tolerance[k]).ok for k in keys):
        text = (
            "the second result is the first plus a new one: gradients accumulate between calls (they are not reset, "
            "e.g. a forgotten zero_grad() or accumulators kept from call to call)"
        )
        return [Finding(Mistake.ACCUMULATES, text, frozenset(keys))]
    text = (
        "the results change from call to call beyond round-off (random noise, uninitialised memory, or state kept "
        "between calls)"
    )
    return [Finding(Mistake.NONDETERMINISTIC, text, frozenset(keys))]
