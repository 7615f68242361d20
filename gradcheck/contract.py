"""How an implementation is called, and what it must return: the four contracts.

    sequence     fn(params, xs (T, D), ys (T,) int, h0 (H,))                -> U W V b_h b_y [h0 loss]
    batch        fn(params, xs (N, T, D), ys (N, T) int, h0 (N, H))         -> U W V b_h b_y [h0 (N, H) loss]
    layer        fn(params {U W b_h}, xs (T, D), h0 (H,), dhs (T, H))        -> U W b_h [xs h0 hs loss]
    batch-layer  fn(params {U W b_h}, xs (N, T, D), h0 (N, H), dhs (N, T, H)) -> U W b_h [xs h0 hs loss]

A batch's loss is the sum over its N sequences of each sequence's loss (--loss), or their mean
(--batch-loss mean). The layer's loss is L = sum_t dhs_t . h_t; "hs" is h_1..h_T. Another cell
(--cell) has its own parameters (docs/cells.md: W_ih W_hh b_ih b_hh for the GRU and LSTM), and the
LSTM receives c0 after h0 and may return "c0".

A `Case` is one call's worth of problems: N >= 1 sequences through one network
(`problem.Problem`, the layer's with their upstream dhs). Its reference and tolerance are the
sequences' own, combined as the contract combines the losses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .compare import Judgement, Tolerance, roundoff_check
from .layouts import has_cell_state, recurrent_shapes
from .model import forward
from .precision import Precision
from .problem import Problem, as_contract_inputs, layer_param_names, param_names
from .roundoff import Spread


@dataclass(frozen=True)
class Contract:
    """The calling convention of the code under test."""

    batch: bool = False
    layer: bool = False
    no_bias: bool = False
    cell: str = "tanh"

    @property
    def name(self) -> str:
        return "-".join(n for n, on in (("batch", self.batch), ("layer", self.layer)) if on) or "sequence"

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameters the implementation receives."""
        return layer_param_names(self.cell) if self.layer else param_names(self.cell)

    @property
    def required(self) -> tuple[str, ...]:
        """The gradients it must return (no biases with no_bias)."""
        return tuple(k for k in self.parameters if not (self.no_bias and k.startswith("b_")))

    @property
    def optional(self) -> tuple[str, ...]:
        """The arrays compared when it returns them."""
        c0 = ("c0",) if has_cell_state(self.cell) else ()
        return ("xs", "h0", *c0, "hs", "loss") if self.layer else ("h0", *c0, "loss")

    @property
    def inputs(self) -> tuple[str, ...]:
        """The arguments after params, in the order the implementation receives them."""
        c0 = ("c0",) if has_cell_state(self.cell) else ()
        return ("xs", "h0", *c0, "dhs") if self.layer else ("xs", "ys", "h0", *c0)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: it holds arrays
class Case:
    """One call: N sequences through one network, as `contract` passes them."""

    problems: tuple[Problem, ...]
    contract: Contract
    batch_mean: bool = False  # the batch loss is the mean over the N sequences
    spreads: tuple[Spread, ...] | None = None  # round-off spreads in the case's precision, if known
    # A stored reference and tolerance (golden vectors) instead of computed ones.
    stored: tuple[dict, dict] | None = None
    regime: str | None = None  # the regime it was drawn from, when known (coverage counts)

    def __repr__(self) -> str:
        # Hypothesis prints the failing example's repr: the sizes, not kilobytes of arrays.
        D, H, K, T = self.sizes
        return f"Case({self.contract.name}, N={self.n}, D={D} H={H} K={K} T={T}, regime={self.regime})"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # Hypothesis' printer takes this over __repr__
        printer.text(repr(self))

    @property
    def n(self) -> int:
        return len(self.problems)

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(D, H, K, T) of its sequences (K = 1 for the layer)."""
        return self.problems[0].sizes

    @property
    def weight(self) -> float:
        """Each sequence's weight in the batch's loss: 1, or 1/N for the mean."""
        return 1.0 / self.n if self.batch_mean else 1.0

    def arguments(self) -> tuple[Any, ...]:
        """Fresh arrays for one call, in the contract's order (float64; ys int64)."""
        per = [as_contract_inputs(p) for p in self.problems]
        params = {k: per[0][0][k] for k in self.contract.parameters}
        values = {
            "xs": lambda: [a[1] for a in per],
            "ys": lambda: [a[2] for a in per],
            "h0": lambda: [a[3] for a in per],
            "c0": lambda: [p.c0.copy() for p in self.problems],
            "dhs": lambda: [p.dhs.copy() for p in self.problems],
        }
        stack = (lambda k: np.stack(values[k]())) if self.contract.batch else (lambda k: values[k]()[0])
        out = {k: stack(k) for k in self.contract.inputs}
        if "ys" in out and np.issubdtype(out["ys"].dtype, np.integer):  # class indices (one-hot targets)
            out["ys"] = out["ys"].astype(np.int64)
        return (params, *out.values())

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every array the implementation may return."""
        D, H, K, T = self.sizes
        lead = (self.n,) if self.contract.batch else ()
        out = {**recurrent_shapes(self.contract.cell, D, H), "V": (K, H), "b_y": (K,), "loss": ()}
        out.update(h0=(*lead, H), c0=(*lead, H), xs=(*lead, T, D), hs=(*lead, T, H))
        return out

    def with_problems(self, problems: tuple[Problem, ...]) -> Case:
        """The same contract and reduction on other problems (spreads recomputed when needed)."""
        return Case(tuple(problems), self.contract, self.batch_mean)


SHAPE_NAMES = {
    "U": "(H, D)",
    "W": "(H, H)",
    "V": "(K, H)",
    "b_h": "(H,)",
    "b_y": "(K,)",
    "W_ih": "(G H, D)",
    "W_hh": "(G H, H)",
    "b_ih": "(G H,)",
    "b_hh": "(G H,)",
    "loss": "()",
    "h0": "(H,)",
    "c0": "(H,)",
    "xs": "(T, D)",
    "hs": "(T, H)",
}


def combine(case: Case, per: list[Mapping[str, Any]], hs: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """A case's arrays from its sequences' own: parameter gradients and the loss summed with the
    batch weight; h0 and xs gradients, and hs, stacked along N (as the contract returns them)."""
    c, keys = case.weight, case.contract
    out = {k: c * np.sum([np.asarray(r[k]) for r in per], axis=0) for k in (*keys.parameters, "loss")}
    for k in ("h0", "c0", "xs"):
        if k not in per[0]:
            continue
        rows = [c * np.asarray(r[k]) for r in per]
        out[k] = np.stack(rows) if keys.batch else rows[0]
    if hs is not None:
        out["hs"] = np.stack(hs) if keys.batch else hs[0]
    return out


def reference(case: Case, reference_fn) -> dict[str, np.ndarray]:
    """The case's reference arrays; reference_fn(problem) gives one sequence's gradients (with "xs")."""
    if case.stored is not None:
        return case.stored[0]
    return combine(case, [reference_fn(p) for p in case.problems], [forward(p).hs[1:] for p in case.problems])


def tolerance(case: Case, pr: Precision) -> Tolerance:
    """The case's round-off tolerance in precision pr, and whether it can be judged (the first of
    its sequences that cannot says why).

    A batch's final sums run over N T terms instead of T: the rounding of those sums grows by
    sqrt(N), and the sum of the N sequences' tolerances bounds the rest; sqrt(N) times that sum
    covers both (a factor 2.9 at N = 8).
    """
    if case.stored is not None:
        return Tolerance(case.stored[1], Judgement.JUDGED, "")
    spreads = case.spreads or (None,) * case.n
    per = [roundoff_check(p, pr, s) for p, s in zip(case.problems, spreads, strict=True)]
    tol = combine(case, [kinks(p, t.tol) for p, t in zip(case.problems, per, strict=True)], [t.tol["hs"] for t in per])
    grow = np.sqrt(case.n)
    for k in (*case.contract.parameters, "loss"):
        tol[k] = grow * tol[k]
    blocked = next((t for t in per if t.judgement is not Judgement.JUDGED), None)
    return Tolerance(tol, *(blocked[1:] if blocked else (Judgement.JUDGED, "")))


KINK_WIDTH = 2.0


def kinks(problem: Problem, tol: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The tolerance of a ReLU problem whose pre-activations hit 0 exactly, widened by what relu'(0)'s
    convention changes: the reference takes relu'(0) = 0 (PyTorch's), and code that takes 1 is not
    wrong there (p = 0 has no derivative). Other problems' tolerance is left as it is."""
    if problem.cell != "relu":
        return tol
    from .derivation import evaluate, relu_at_zero
    from .strategies import preactivations

    if not np.any(preactivations(problem, forward(problem).hs) == 0):
        return tol
    ref, other = evaluate(relu_at_zero(0.0), problem).arrays, evaluate(relu_at_zero(1.0), problem).arrays
    # Twice the change: the normwise test expects an array's error near a sixth of its tolerance
    # (compare.NORM_LIMIT), and the other convention's code errs by the whole change.
    return {k: v + KINK_WIDTH * np.abs(other[k] - ref[k]) if k in other and k != "loss" else v for k, v in tol.items()}


def read_result(out: Any, case: Case) -> tuple[dict[str, np.ndarray], str, str, str]:
    """The returned arrays as float64, and (kind, key, message) when the result cannot be compared
    ("" when it can). Arrays read before a shape failure are returned too (diagnosis reads them)."""
    if out is None:
        return {}, "returned", "", "returned None, expected a dict of gradients"
    if not isinstance(out, Mapping):
        return {}, "returned", "", f"returned a {type(out).__name__}, expected a dict of gradients"
    contract = case.contract
    missing = [k for k in contract.required if k not in out]
    if missing:
        return {}, "missing", missing[0], f"the result has no key(s) {missing} (it has {sorted(map(str, out))})"
    arrays: dict[str, np.ndarray] = {}
    shapes = case.shapes()
    for k in (*contract.required, *contract.optional):
        if k not in out:
            continue
        try:
            a = _as_array(out[k])
        except Exception as e:
            return arrays, "returned", k, f"{k}: returned {type(out[k]).__name__} that is not an array of numbers ({e})"
        expected = shapes[k]
        squeeze = lambda shape: tuple(n for n in shape if n != 1)
        if a.shape != expected and squeeze(a.shape) == squeeze(expected) and a.size == int(np.prod(expected)):
            a = a.reshape(expected)  # only singleton axes differ: (H, 1) column vectors, torch's (1, 1, H)
        arrays[k] = a
        if a.shape != expected:
            D, H, K, T = case.sizes
            hint = " (transposed?)" if a.shape == expected[::-1] and len(expected) == 2 else ""
            n = f" N={case.n}" if contract.batch else ""
            what = (
                SHAPE_NAMES[k]
                if not (contract.batch and k in ("h0", "c0", "xs", "hs"))
                else "(N, " + SHAPE_NAMES[k][1:]
            )
            message = (
                f"{k}: shape {a.shape} returned, expected {expected} = {what} with D={D} H={H} K={K} T={T}{n}{hint}"
            )
            return arrays, "shape", k, message
    return arrays, "", "", ""


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor; accept it rather than fail on a technicality
        value = value.detach().cpu()
        value = value.float().numpy() if str(value.dtype) == "torch.bfloat16" else value.numpy()
    a = np.asarray(value)
    if np.iscomplexobj(a):
        raise TypeError("complex numbers")
    return a.astype(np.float64)


__all__ = ["Case", "Contract", "combine", "read_result", "reference", "tolerance"]
