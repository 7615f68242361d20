"""The regression oracle: judge someone else's gradient code against gradcheck's reference.

`verify(fn)` calls fn(params, xs, ys, h0) (the contract of bptt_gradients) on problems that
Hypothesis generates across every regime, and compares each returned gradient, and "loss"
and "h0" when returned, with the reference in units of the round-off tolerance of the
implementation's precision. The first failure is shrunk to the smallest failing problem; the
report names the parameters and entries, and `diagnosis.py` names known mistakes.

After the random search, a fixed coverage set runs every regime at least once (with h0 zero
and non-zero), so a regime-specific bug cannot slip through an unlucky draw.
"""

from __future__ import annotations

import copy
import inspect
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from .bptt import _bptt
from .compare import EPS32, EPS64, ParamCheck, compare_array, roundoff_check
from .problem import LOSSES, PARAM_NAMES, GradcheckError, Problem, as_contract_inputs
from .strategies import REGIMES, build_problem, problems, regime_scales

# 200 random problems: every regime is drawn with probability 1/7 per problem, so the chance
# that one regime (and the bugs only it shows: large logits, saturation, clipping at large
# gradients) is never drawn is 7 (6/7)^200 ~ 3e-13; h0 != 0 and one-hot inputs come up half
# the time. The coverage set then runs each regime twice more (h0 = 0 and not) regardless.
# The measured cost is about 1 s for a numpy implementation (README).
DEFAULT_EXAMPLES = 200
EPS = {"float64": EPS64, "float32": EPS32}
# Logit spreads max_k q - min_k q are capped so that yhat of every class stays representable
# (exp(-gap) above the smallest normal number) in the implementation's precision: code that
# computes E_t = -log(yhat_t[y]) is correct and must not be failed for log(0).
MAX_LOGIT_GAP = {"float64": 600.0, "float32": 60.0}


@dataclass(frozen=True)
class Options:
    loss: str = "sum"
    no_bias: bool = False
    zero_h0: bool = False
    one_hot_inputs: bool = False
    same_io_dim: bool = False
    dtype: str = "float64"
    examples: int = DEFAULT_EXAMPLES
    seed: int = 0
    reference: str = "bptt"
    max_size: int = 16
    max_steps: int = 50
    regimes: tuple[str, ...] = REGIMES  # narrowed only to find what a failure needs
    first_input_zero: bool = False  # likewise: every x_t[0] = 0

    def check(self) -> None:
        if self.loss not in LOSSES:
            raise GradcheckError(f"loss: {self.loss!r} is not one of {', '.join(LOSSES)}")
        if self.dtype not in EPS:
            raise GradcheckError(f"dtype: {self.dtype!r} is not one of {', '.join(EPS)}")
        if self.reference not in ("bptt", "jax"):
            raise GradcheckError(f"reference: {self.reference!r} is not one of bptt, jax")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise GradcheckError(f"seed: {self.seed!r} given, expected a whole number >= 0")
        for name in ("examples", "max_size", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GradcheckError(f"{name}: {value!r} given, expected a whole number >= 1")

    @property
    def compared(self) -> tuple[str, ...]:
        """The parameters an implementation must return (h0 and loss are compared when present)."""
        return ("U", "W", "V") if self.no_bias else PARAM_NAMES


@dataclass
class Outcome:
    """One call of the implementation on one problem."""

    problem: Problem
    ok: bool
    kind: str  # agree | ill-conditioned | raised | returned | missing | shape | nonfinite | modified | mismatch
    # | signature
    message: str
    checks: list[ParamCheck] = field(default_factory=list)
    result: dict[str, np.ndarray] | None = None
    traceback: str | None = None


def contract_inputs(problem: Problem) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """(params, xs, ys, h0) as the implementation receives them: float64, ys int class indices
    (or, for the built-in campaign's soft targets, the (T, K) distributions)."""
    params, xs, ys, h0 = as_contract_inputs(problem)
    return params, xs, (np.asarray(ys, dtype=np.int64) if np.ndim(ys) == 1 else ys), h0


def reference(problem: Problem, opts: Options) -> dict:
    if opts.reference == "jax":
        from reference import jax_gradients

        return jax_gradients(*contract_inputs(problem), loss=problem.loss)
    return _bptt(problem)


def _modified(before: tuple, after: tuple) -> str | None:
    """Which input the call changed in place, if any."""
    names = ("xs", "ys", "h0")
    for k in before[0]:
        if k not in after[0]:
            return f"params (it removed the key {k!r})"
        if not np.array_equal(before[0][k], after[0][k], equal_nan=True):
            return f"params[{k!r}]"
    for name, b, a in zip(names, before[1:], after[1:], strict=True):
        if not np.array_equal(b, a, equal_nan=True):
            return name
    return None


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor; accept it rather than fail on a technicality
        value = value.detach().cpu().numpy()
    a = np.asarray(value)
    if np.iscomplexobj(a):
        raise TypeError("complex numbers")
    return a.astype(np.float64)


EXPECTED = {"U": "(H, D)", "W": "(H, H)", "V": "(K, H)", "b_h": "(H,)", "b_y": "(K,)", "h0": "(H,)", "loss": "()"}


def _read_result(out: Any, problem: Problem, opts: Options) -> tuple[dict | None, str, str]:
    """The returned arrays, or (None, kind, message) for a result that cannot be compared."""
    if out is None:
        return None, "returned", "returned None, expected a dict of gradients"
    if not isinstance(out, Mapping):
        return None, "returned", f"returned a {type(out).__name__}, expected a dict of gradients"
    missing = [k for k in opts.compared if k not in out]
    if missing:
        return None, "missing", f"the result has no key(s) {missing} (it has {sorted(map(str, out))})"
    arrays = {}
    for k in (*opts.compared, "h0", "loss"):
        if k not in out:
            continue
        try:
            a = _as_array(out[k])
        except Exception as e:
            return None, "returned", f"{k}: returned {type(out[k]).__name__} that is not an array of numbers ({e})"
        expected = () if k == "loss" else (problem.h0.shape if k == "h0" else getattr(problem.params, k).shape)
        if k == "loss" and a.size == 1:
            a = a.reshape(())
        squeeze = lambda shape: tuple(n for n in shape if n != 1)
        if a.shape != expected and squeeze(a.shape) == squeeze(expected) and a.size == int(np.prod(expected)):
            a = a.reshape(expected)  # only singleton axes differ: (H, 1) column vectors, torch's (1, 1, H)
        if a.shape != expected:
            D, H, K, _ = problem.sizes
            hint = " (transposed?)" if a.shape == expected[::-1] and len(expected) == 2 else ""
            return (
                None,
                "shape",
                (f"{k}: shape {a.shape} returned, expected {expected} = {EXPECTED[k]} with D={D} H={H} K={K}{hint}"),
            )
        arrays[k] = a
    return arrays, "", ""


def run_once(fn: Callable, problem: Problem, opts: Options, ref: dict | None = None) -> Outcome:
    """Call fn on one problem and judge the result."""
    args = contract_inputs(problem)
    before = copy.deepcopy(args)
    with warnings.catch_warnings(record=True) as caught:  # the implementation's own warnings
        warnings.simplefilter("always")
        try:
            out = fn(*args)
        except (Exception, SystemExit) as e:  # sys.exit() in the code under test is a failure, not our exit
            msg = f"raised {type(e).__name__}: {e}".splitlines()[0] if str(e) else f"raised {type(e).__name__}"
            return Outcome(problem, False, "raised", msg, traceback=traceback.format_exc())
    warned = f" (it warned: {caught[0].message})" if caught else ""
    changed = _modified(before, args)
    if changed:
        return Outcome(problem, False, "modified", f"modified its input {changed} in place")
    arrays, kind, message = _read_result(out, problem, opts)
    if arrays is None:
        return Outcome(problem, False, kind, message)
    ref = reference(problem, opts) if ref is None else ref
    for k, a in arrays.items():
        r = np.asarray(ref[k], dtype=np.float64)
        bad = ~np.isfinite(a) & np.isfinite(r)
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0]) if a.ndim else ()
            where = f"[{', '.join(map(str, i))}]" if i else ""
            msg = f"{k}{where} is {a[i]} where the reference is {r[i]:.6g}{warned}"
            return Outcome(problem, False, "nonfinite", msg,
                           result=arrays)  # fmt: skip
    tol, judgeable = roundoff_check(problem, EPS[opts.dtype])
    if not judgeable:  # round-off alone can move this gradient by O(1): say nothing about it
        return Outcome(problem, True, "ill-conditioned", "ill-conditioned in this precision; not judged", [], arrays)
    checks = [compare_array(k, a, ref[k], tol[k]) for k, a in arrays.items()]
    bad = [c for c in checks if not c.ok]
    if bad:
        msg = f"gradients differ in {', '.join(c.name for c in bad)}{warned}"
        return Outcome(problem, False, "mismatch", msg, checks,
                       arrays)  # fmt: skip
    return Outcome(problem, True, "agree", "agrees", checks, arrays)


def signature_problem(fn: Callable) -> str | None:
    """Why fn cannot be called as fn(params, xs, ys, h0), or None."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # builtins and some C functions: find out by calling
    try:
        sig.bind(1, 2, 3, 4)
    except TypeError:
        return f"wrong signature: {getattr(fn, '__name__', 'fn')}{sig} cannot be called as fn(params, xs, ys, h0)"
    return None


class _Disagrees(Exception):
    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


def strategy(opts: Options):
    return problems(
        max_D=opts.max_size,
        max_H=opts.max_size,
        max_K=opts.max_size,
        max_T=opts.max_steps,
        one_hot_inputs=True if opts.one_hot_inputs else None,
        zero_h0=True if opts.zero_h0 else None,
        no_bias=opts.no_bias,
        same_io_dim=opts.same_io_dim,
        soft_targets=False,
        loss=opts.loss,
        max_logit_gap=MAX_LOGIT_GAP[opts.dtype],
        dtype=opts.dtype,
        regimes=opts.regimes,
        first_input_zero=opts.first_input_zero,
    )


def coverage_set(opts: Options) -> list[Problem]:
    """One problem per regime with h0 = 0 and one with h0 != 0 (unless --zero-h0), fixed seeds."""
    rng = np.random.default_rng(opts.seed)
    out = []
    for i, regime in enumerate(opts.regimes):
        for zero_h0 in sorted({True, opts.zero_h0}):
            D, H = min(4, opts.max_size), min(5, opts.max_size)
            K = D if opts.same_io_dim else min(6, opts.max_size)
            T = min(20 if regime == "large_gradient" else 12, opts.max_steps)
            out.append(
                build_problem(
                    (D, H, K, T),
                    regime_scales(regime, rng, opts.dtype),
                    int(rng.integers(2**32)),
                    one_hot_inputs=opts.one_hot_inputs or bool(i % 2),
                    zero_h0=zero_h0,
                    no_bias=opts.no_bias,
                    loss=opts.loss,
                    max_logit_gap=MAX_LOGIT_GAP[opts.dtype],
                    first_input_zero=opts.first_input_zero,
                )
            )
    return out


@dataclass
class Search:
    """What a run saw: every problem's features, and the failing outcomes in the order found."""

    seen: list[Outcome] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)
    final: Outcome | None = None  # the smallest failure (after shrinking)
    shrunk: bool = False
    note: str = ""
    before_failure: int | None = None  # problems checked up to the first failure (shrinking calls come after)


def search_settings(max_examples: int, database=None, shrink: bool = True) -> settings:
    """Hypothesis settings for judging code: no deadline (implementations may be slow), no health
    checks (a slow implementation is not a bad test), one bug reported, shrinking optional."""
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


def search(fn: Callable, opts: Options, shrink: bool = True) -> Search:
    """Random problems (shrunk on failure, if shrink), then the coverage set."""
    found = Search()

    @hypothesis_seed(opts.seed)
    @search_settings(opts.examples, shrink=shrink)
    @given(strategy(opts))
    def prop(problem: Problem) -> None:
        out = run_once(fn, problem, opts)
        found.seen.append(out)
        if not out.ok:
            if found.before_failure is None:
                found.before_failure = len(found.seen)
            if len(found.failures) < 50:
                found.failures.append(out)
            raise _Disagrees(out)

    try:
        prop()
    except _Disagrees as e:
        found.final, found.shrunk = e.outcome, True
        return found
    except Flaky:
        found.final = found.failures[0] if found.failures else None
        found.note = "the implementation is not deterministic: the same problem failed once and passed once"
        return found
    for problem in coverage_set(opts):
        out = run_once(fn, problem, opts)
        found.seen.append(out)
        if not out.ok:
            found.failures.append(out)
            found.final = out
            found.note = "found by the fixed coverage set after the random search (not shrunk)"
            return found
    return found


def _with_options(opts: Options | None, kwargs: dict) -> Options:
    opts = replace(opts or Options(), **kwargs)
    opts.check()
    return opts


def verify(fn: Callable | str, opts: Options | None = None, **options: Any):
    """Verify a gradient implementation; returns a Report (report.ok, report.format()).

    fn follows the contract fn(params, xs, ys, h0) -> dict, or is a TARGET string
    ("package.module:function" or "path/file.py:function"). Options (see Options): loss,
    no_bias, zero_h0, one_hot_inputs, same_io_dim, dtype, examples, seed, reference.
    """
    from .diagnosis import Report, build_report
    from .target import load_target

    opts = _with_options(opts, options)
    name = fn if isinstance(fn, str) else getattr(fn, "__qualname__", repr(fn))
    fn = load_target(fn) if isinstance(fn, str) else fn
    if not callable(fn):
        raise GradcheckError(f"fn: an object of type {type(fn).__name__} is not callable")
    why = signature_problem(fn)
    if why:
        return Report(name, opts, ok=False, kind="signature", message=why)
    return build_report(name, fn, opts, search(fn, opts))
