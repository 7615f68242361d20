"""The round-off model of every cell, from its derivation: the equations run with each operation's
result perturbed by the error one correct implementation can make there (Monte Carlo arithmetic,
as roundoff.py does by hand for the seed's tanh cell, and on the same assumptions).

The equations are derivation.py's, evaluated by its interpreter with a noise hook (`Noise`) at
every operation, in the arithmetic `pr` of the code under test, xi uniform in [-1, 1]:

    y = M v (n terms)        += xi sum_eps sqrt(n + 2) |M| |v|      (a dot product's roundings, a random walk)
    y = a + b + ...          += xi eps (|a| + |b| + ...)             (each addition and its storage)
    y = a * b                += xi eps |y|
    y = f(x): tanh, sigmoid  += xi (ULPS eps |y| + 2 eps) + xi tiny  (a library's, or a formula's, error)
    y = f(x): 1 - h^2, ...   += xi (ULPS eps |y| + 2 eps)            (absolute: from a rounded operand)
    log yhat                 += xi (eps (|q - max q| + |max q| + |log yhat| + 2 ULPS + sqrt(K + 2)) + sum_eps (K + 2))

SAMPLES runs draw every xi at random: an entry's spread is its root mean square deviation over
them. Two more runs make every elementwise function err one way, at every step (a library whose
tanh or sigmoid rounds differently from another's does so at every step, and through saturated
gates such a bias compounds): their largest deviation is a bound, added once. The final sums over
t are charged their worst case in either order, as roundoff.py charges them.

The model reads no code it judges: the derivation is the equations again, as data, and shares
nothing with cells.py (the reference) but the equations themselves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .derivation import At, Outer, derivation_of, evaluate
from .precision import Precision
from .problem import Problem

SAMPLES = 32
SEED = 20261207  # fixed: the same problem always gets the same tolerance
FORMULA_ABSOLUTE = 2.0  # eps: tanh or sigmoid written as a formula errs by this much absolutely (|f| <= 1)
BOUNDED = ("tanh", "sigmoid")  # functions whose value is at most 1 in size


class CellSpread(NamedTuple):
    """Round-off scales of E and of every entry (the parameters, "h0", "c0", "xs", "hs")."""

    loss: float  # the random runs' root mean square deviation of E
    grads: dict[str, np.ndarray]  # the same, per entry
    bias: dict[str, np.ndarray]  # the coherent runs' largest deviation, per entry and "loss"
    sums: dict[str, np.ndarray]  # the final sums' worst case, per entry and "loss"
    states: float  # how far round-off moves any h_t (and c_t)
    magnitude: float  # the largest sum of |terms| a correct implementation forms


class Noise:
    """The noise hook of derivation._Run: every operation's error (module docstring)."""

    def __init__(self, pr: Precision, runs: int = SAMPLES + 2) -> None:
        self.pr, self.runs, self.rng = pr, runs, np.random.default_rng(SEED)
        self.magnitude = 0.0

    def _xi(self, like: np.ndarray, coherent: float | None = None) -> np.ndarray:
        shape = like.shape if like.ndim and like.shape[0] == self.runs else (self.runs, *like.shape)
        a = self.rng.uniform(-1.0, 1.0, shape)
        if coherent is not None:
            a[0], a[1] = coherent, -coherent
        return a

    def _seen(self, size: np.ndarray) -> None:
        self.magnitude = max(self.magnitude, float(np.max(size, initial=0.0)))

    def dot(self, y: np.ndarray, v: np.ndarray, M: np.ndarray) -> np.ndarray:
        size = np.abs(v) @ np.abs(M).T
        self._seen(size)
        return y + self.pr.sum_eps * np.sqrt(M.shape[1] + 2) * size * self._xi(y)

    def add(self, y: np.ndarray, parts: list[np.ndarray]) -> np.ndarray:
        size = sum(np.abs(p) for p in parts)
        self._seen(size)
        return y + self.pr.eps * size * self._xi(y)

    def product(self, y: np.ndarray) -> np.ndarray:
        return y + self.pr.eps * np.abs(y) * self._xi(y)

    def fn(self, name: str, y: np.ndarray) -> np.ndarray:
        pr = self.pr
        error = pr.ulps * pr.eps * np.abs(y) + FORMULA_ABSOLUTE * pr.eps
        tiny = pr.tiny * self._xi(y) if name in BOUNDED else 0.0
        return y + error * self._xi(y, coherent=-1.0) + tiny

    def softmax(self, log_yhat: np.ndarray, q: np.ndarray) -> np.ndarray:
        pr, K = self.pr, q.shape[-1]
        top = q.max(axis=-1, keepdims=True)
        self._seen(np.abs(q))
        # log yhat = q - lse: the subtraction from q - max q, the lse's own rounding (m + log sum
        # exp(q - m) rounds at |max q|), exp and log, and the sum of K exponentials.
        local = pr.eps * (np.abs(q - top) + np.abs(top) + np.abs(log_yhat) + 2 * pr.ulps + np.sqrt(K + 2))
        return log_yhat + (local + pr.sum_eps * (K + 2)) * self._xi(log_yhat)


def cell_spread(problem: Problem, pr: Precision) -> CellSpread:
    """Round-off scales of every entry of a problem of any cell, in the arithmetic pr."""
    d = derivation_of(problem.cell)
    clean = evaluate(d, problem).arrays
    noise = Noise(pr)
    with np.errstate(all="ignore"):  # a run that overflows shows as an ill-conditioned spread
        noisy = evaluate(d, problem, noise).arrays
    random, bias = {}, {}
    for k, ref in clean.items():
        dev = noisy[k] - ref[None] if k != "loss" else np.asarray(noisy[k]) - float(ref)
        random[k] = _root_mean_square(dev[2:])
        bias[k] = np.max(np.abs(dev[:2]), axis=0)
    states = np.abs(noisy["hs"] - clean["hs"][None])
    if "cs" in clean:
        states = np.maximum(states, np.abs(noisy["cs"] - clean["cs"][None]))
    cond = float(np.max(np.maximum(2 * _root_mean_square(states[2:]), states[:2].max(axis=0)), initial=0.0))
    sums = _sums(d, problem, pr)
    loss = float(random.pop("loss"))
    bias["loss"] = float(bias["loss"])
    return CellSpread(loss, random, bias, sums, cond, max(noise.magnitude, float(np.max(np.abs(clean["loss"])))))


def _root_mean_square(d: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(d), axis=0)
    with np.errstate(all="ignore"):  # (a run that overflowed: an infinite spread, not judged)
        return np.where(scale > 0, scale * np.sqrt(np.mean((d / np.where(scale > 0, scale, 1.0)) ** 2, axis=0)), 0.0)


def _sums(d, problem: Problem, pr: Precision) -> dict[str, np.ndarray]:
    """The final sums' worst case: (eps/2) (sum of |partial sums| in the worse order + sum of |terms|)
    for every sum over t, and for E = sum_t w_t E_t; the rows of dx_t, dh_0, dc_0 and hs are
    single dot products, in the random runs already."""
    from .derivation import _forward_once, _stacked  # the clean run's terms, step by step

    run, _ = _forward_once(d, problem)
    for b in d.backward:
        run.block(b)
    out: dict[str, np.ndarray] = {}
    for g in d.gradients:
        if not isinstance(g, Outer):
            continue
        ts = np.arange(1 + g.lo, run.T + g.hi + 1)
        left = run.term(g.left, ts)
        terms = left[:, :, None] * run.term(g.right, ts)[:, None, :] if g.right is not None else left
        out[g.lhs] = _loop_sum_bound(terms, pr)
    out = _stacked(out, d.perm, run.params)
    for g in d.gradients:
        if isinstance(g, At) or g.lhs == "xs":
            out[g.lhs] = 0.0
    out["hs"] = 0.0
    fw_E = _step_losses(run)
    out["loss"] = float(_loop_sum_bound(problem.weights * fw_E, pr))
    return out


def _step_losses(run) -> np.ndarray:
    from .model import log_softmax

    T = run.T
    q, Y = run.seq["q"][1 : T + 1], run.seq["y"][1 : T + 1]
    return -np.sum(Y * log_softmax(q), axis=1) + np.sum(run.seq["dhs"][1 : T + 1] * run.seq["h"][1 : T + 1], axis=1)


def _loop_sum_bound(terms: np.ndarray, pr: Precision) -> np.ndarray:
    partial = np.cumsum(terms, axis=0)
    backward = partial[-1] - partial[:-1]
    forward_sum = np.abs(partial).sum(axis=0)
    backward_sum = np.abs(backward).sum(axis=0) + np.abs(partial[-1])
    return pr.eps / 2 * (np.maximum(forward_sum, backward_sum) + np.abs(terms).sum(axis=0))
