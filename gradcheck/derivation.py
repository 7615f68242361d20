"""The seed's derivation as data: equations a diagnosis can mutate, and the interpreter that runs them.

Each equation is written as the seed writes it, with its time indices, factors, transposes, sums,
loop bounds and initial values (`SEED`):

    p_t  = U x_t + W h_{t-1} + b_h          h_t = tanh(p_t)          t = 1..T, h_0 = h0
    q_t  = V h_t + b_y                      (yhat_t, E_t: softmax and cross-entropy, fixed)
    dq_t = w_t yhat_t - w_t y_t
    c_t  = W^T dp_{t+1}                     (the carry, dp_{T+1} = 0)
    dh_t = V^T dq_t + c_t + dhs_t           dp_t = (1 - h_t^2) dh_t     t = T..1
    dV = Σ_{t=1}^{T} dq_t h_t^T   db_y = Σ_{t=1}^{T} dq_t   dW = Σ_{t=1}^{T} dp_t h_{t-1}^T
    dU = Σ_{t=1}^{T} dp_t x_t^T   db_h = Σ_{t=1}^{T} dp_t   dh_0 = c_0   dx_t = U^T dp_t

A term is a chain of factors read right to left: a time-indexed vector (`Ref`, h_{t-1}), an
elementwise function of one (`Fn`, (1 - h_t^2)), or a parameter (`Par`): a matrix applies to what
stands right of it, a vector multiplies it (or is the term, alone). Rows outside 1..T read as 0,
but for the initial values (h_0, and the carry's dp_{T+1} = 0).

A `Mutation` changes one site the way people get it wrong when they write the equations down
(`mutations`): a time index shifted by one in one factor, a sum's bound or the backward loop's
bound off by one, h_0 taken as 0 in one place, one term or factor dropped, a transpose missing or
extra, a sign flipped, a symbol or function confused with its neighbour (dh_t for dp_t, 1 - h_t
for 1 - h_t^2). `evaluate` runs the derivation with any set of mutations; diagnosis compares the
result with the implementation's.

Forward-pass mutations change the states and the loss; the backward equations then run on those
states (code whose forward pass is wrong and whose backward pass is right for the intended model).
`consistent_gradients` gives the other reading, the true gradient of the mutated model (code that
differentiates its own wrong model correctly), by the complex step through the same interpreter.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import Enum
from functools import reduce
from itertools import permutations
from typing import NamedTuple

import numpy as np

from .model import log_softmax
from .problem import Problem

# --- the language ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """x_{t + offset}. `edge` says how rows outside 1..T read here: as they are ("": h_0, and 0
    elsewhere), as 0 ("zero": an initial value ignored), or wrapped round ("wrap": Python's xs[-1],
    x_0 read as x_T)."""

    sym: str
    offset: int = 0
    edge: str = ""


@dataclass(frozen=True)
class Par:
    """A parameter: a matrix applied to the vector on its right (transposed or not), or a vector;
    `block` g takes its rows g H..(g + 1) H - 1 (one gate of a gated cell's stacked parameters)."""

    name: str
    transpose: bool = False
    block: int | None = None


@dataclass(frozen=True)
class Fn:
    """An elementwise function (FUNCTIONS) of a time-indexed vector."""

    name: str
    arg: Ref


Factor = Ref | Par | Fn


@dataclass(frozen=True)
class Term:
    factors: tuple[Factor, ...]
    sign: int = 1


@dataclass(frozen=True)
class Eq:
    """lhs_t = Σ terms (negate: the whole right-hand side with the wrong sign)."""

    lhs: str
    terms: tuple[Term, ...]
    negate: bool = False


@dataclass(frozen=True)
class Block:
    """Equations evaluated together: for t = start..stop one step at a time (a recurrence, `step`
    +1 or -1, bounds given as offsets from 1 and from T), or for every t at once (step 0)."""

    eqs: tuple[Eq, ...]
    step: int = 0
    start: int = 0  # the first t is 1 + start (forward) or T + start (backward)
    stop: int = 0  # the last t is T + stop (forward) or 1 + stop (backward)


@dataclass(frozen=True)
class Outer:
    """A gradient lhs = Σ_{t=1+lo}^{T+hi} left_t right_t^T, or Σ left_t when right is None."""

    lhs: str
    left: Term
    right: Term | None = None
    lo: int = 0
    hi: int = 0


@dataclass(frozen=True)
class At:
    """A gradient lhs = the equation `source` at t = `t` (dh_0 = c_0), or its own terms when
    mutated alone (code that computes dh_0 separately after the loop)."""

    lhs: str
    source: str
    t: int = 0
    own: tuple[Term, ...] | None = None
    negate: bool = False


@dataclass(frozen=True)
class Rows:
    """A gradient with one row per step: lhs[t - 1] = the equation `source` at t (dx_t = U^T dp_t)."""

    lhs: str
    eq: Eq


@dataclass(frozen=True)
class Derivation:
    forward: tuple[Block, ...]
    backward: tuple[Block, ...]
    gradients: tuple[Outer | At | Rows, ...]
    initial: tuple[tuple[str, str], ...]  # (symbol, problem field) of the initial states at t = 0
    dims: tuple[tuple[str, str], ...]  # (symbol, "D" | "H" | "K") of every computed symbol
    gates: str = ""  # a gated cell's gate letters in their stacking order ("ifgo", "rzn")
    cell: str = "tanh"
    # Symbols of our own notation (a carry), shown by what they stand for, with the equations a
    # change to them is shown in.
    inline: tuple[tuple[str, tuple[str, ...]], ...] = (("c", ("dh", "dh0")), ("e", ("dq",)))
    # The gate order the code reads the stacked parameters in (and writes their gradients in):
    # block g of the equations is block perm[g] of the arrays (None: the declared order).
    perm: tuple[int, ...] | None = None


def _chain(*factors: Factor) -> Term:
    return Term(tuple(factors))


SEED = Derivation(
    forward=(
        Block(
            (
                Eq("p", (_chain(Par("U"), Ref("x")), _chain(Par("W"), Ref("h", -1)), _chain(Par("b_h")))),
                Eq("h", (_chain(Fn("tanh", Ref("p"))),)),
            ),
            step=1,
        ),
        Block((Eq("q", (_chain(Par("V"), Ref("h")), _chain(Par("b_y")))),)),
    ),
    backward=(
        Block((Eq("e", (_chain(Ref("yhat")), Term((Ref("y"),), -1))), Eq("dq", (_chain(Ref("w"), Ref("e")),)))),
        Block(
            (
                Eq("c", (_chain(Par("W", True), Ref("dp", 1)),)),
                Eq("dh", (_chain(Par("V", True), Ref("dq")), _chain(Ref("c")), _chain(Ref("dhs")))),
                Eq("dp", (_chain(Fn("dtanh", Ref("h")), Ref("dh")),)),
            ),
            step=-1,
        ),
    ),
    gradients=(
        Outer("V", _chain(Ref("dq")), _chain(Ref("h"))),
        Outer("b_y", _chain(Ref("dq"))),
        Outer("W", _chain(Ref("dp")), _chain(Ref("h", -1))),
        Outer("U", _chain(Ref("dp")), _chain(Ref("x"))),
        Outer("b_h", _chain(Ref("dp"))),
        At("h0", "c"),
        Rows("xs", Eq("dx", (_chain(Par("U", True), Ref("dp")),))),
    ),
    initial=(("h", "h0"),),
    dims=(*((s, "H") for s in ("p", "h", "c", "dh", "dp")), ("q", "K"), ("e", "K"), ("dq", "K"), ("dx", "D")),
)

_sigmoid = lambda z: 0.5 * (1.0 + np.tanh(0.5 * z))  # never overflows; analytic for the complex step
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], str]] = {
    # name: (function, how it reads with {} for the argument)
    "tanh": (np.tanh, "tanh({})"),
    "sigmoid": (_sigmoid, "sigmoid({})"),
    "relu": (lambda z: np.where(np.real(z) > 0, z, 0.0), "relu({})"),
    "identity": (lambda z: z, "{}"),
    "dtanh": (lambda h: 1.0 - h * h, "(1 - {}^2)"),
    "one_minus": (lambda h: 1.0 - h, "(1 - {})"),
    "dsigmoid": (lambda h: h * (1.0 - h), "{} (1 - {})"),
    "one_plus_sq": (lambda h: 1.0 + h * h, "(1 + {}^2)"),
    "drelu": (lambda p: (np.real(p) > 0).astype(float), "[{} > 0]"),
    "drelu_at_zero_one": (lambda p: (np.real(p) >= 0).astype(float), "[{} >= 0]"),
    "dtanh_of_relu": (lambda p: 1.0 - np.where(np.real(p) > 0, p, 0.0) ** 2, "(1 - relu({})^2)"),
    "sign": (lambda p: np.sign(np.real(p)).astype(float), "sign({})"),
}
# What a function is mistaken for: another nonlinearity in the forward pass; for tanh's derivative
# 1 - h^2, the square forgotten, the sigmoid's derivative h (1 - h), or the sign inside flipped;
# for relu's, tanh's 1 - h^2 kept from the tanh cell.
CONFUSED_FUNCTIONS = {
    "tanh": ("sigmoid", "relu", "identity"),
    "dtanh": ("one_minus", "dsigmoid", "one_plus_sq"),
    "relu": ("tanh", "identity"),
    "drelu": ("dtanh_of_relu",),
    "dsigmoid": ("identity", "one_minus", "dtanh"),
}
CONFUSED_FUNCTIONS["drelu"] += ("sign",)
# What a symbol is mistaken for: the gradient before tanh' for the one after (and back), the
# pre-activation for the state, the LSTM's c_t for tanh(c_t).
CONFUSED_SYMBOLS = {"dp": "dh", "dh": "dp", "h": "p", "p": "h", "k": "c"}
# Symbols code keeps in arrays indexed from 0, where x_{t-1} at t = 1 reads xs[-1] = x_T.
WRAPPED = ("x", "y")
GRADIENT_SYMBOL = {"h0": "h_0", "c0": "c_0", "xs": "x_t"}
# How symbols read: tanh(c_t) for the LSTM's k_t, and gates' pre-activations and adjoints by gate.
SYMBOL_TEXT = {"k": "tanh(c_{})", "sn": "s^n_{}", "rh": "(r h_-1)_{}", **{f"p{g}": f"p^{g}_{{}}" for g in "ifgozrn"}}
SYMBOL_TEXT |= {f"dp{g}": f"dp^{g}_{{}}" for g in "ifgozrn"} | {"dsn": "ds^n_{}", "drh": "d(r h_-1)_{}"}


def gradient_symbol(lhs: str, d: Derivation) -> str:
    """The name a gradient's lhs reads as: W_ih[2] is W_ig for the LSTM (PyTorch's docs' names)."""
    if "[" in lhs:
        name, g = lhs[:-1].split("[")
        return f"{name[0]}_{name[2]}{d.gates[int(g)]}"
    return GRADIENT_SYMBOL.get(lhs, lhs)


# --- the other cells of cells.py, written the same way ------------------------------------------


def _relu() -> Derivation:
    """The seed's RNN with relu for tanh: h_t = relu(p_t), dp_t = relu'(p_t) dh_t (relu'(0) = 0)."""
    (fw_rec, fw_out), (bw_out, bw_rec) = SEED.forward, SEED.backward
    p, _h = fw_rec.eqs
    c, dh, _dp = bw_rec.eqs
    h = Eq("h", (_chain(Fn("relu", Ref("p"))),))
    dp = Eq("dp", (_chain(Fn("drelu", Ref("p")), Ref("dh")),))
    return replace(
        SEED,
        forward=(replace(fw_rec, eqs=(p, h)), fw_out),
        backward=(bw_out, replace(bw_rec, eqs=(c, dh, dp))),
        cell="relu",
    )


def _gate(g: int, with_hidden: Ref | None = Ref("h", -1)) -> tuple[Term, ...]:
    """The pre-activation of gate g: W_i. x_t + b_i. + W_h. h_{t-1} + b_h. (its hidden part left out
    when with_hidden is None)."""
    hidden = (_chain(Par("W_hh", False, g), with_hidden), _chain(Par("b_hh", False, g))) if with_hidden else ()
    return (_chain(Par("W_ih", False, g), Ref("x")), _chain(Par("b_ih", False, g)), *hidden)


def _gate_sums(names: dict[int, str], hidden: dict[int, Ref]) -> tuple[Outer, ...]:
    """dW_ih, db_ih, dW_hh, db_hh block by block: gate g's adjoints names[g] (the input side) and
    hidden[g] (the recurrent side's adjoint), against x_t and h_{t-1}."""
    out = []
    for g, a in names.items():
        r = hidden.get(g, Ref(a))
        out += [
            Outer(f"W_ih[{g}]", _chain(Ref(a)), _chain(Ref("x"))),
            Outer(f"b_ih[{g}]", _chain(Ref(a))),
            Outer(f"W_hh[{g}]", _chain(r), _chain(Ref("h", -1))),
            Outer(f"b_hh[{g}]", _chain(r)),
        ]
    return tuple(out)


def _lstm() -> Derivation:
    """torch.nn.LSTM, gates i, f, g, o (cells.py): c_t = f_t c_{t-1} + i_t g_t, h_t = o_t tanh(c_t)."""
    pre = [Eq(f"p{x}", _gate(k)) for k, x in enumerate("ifgo")]
    act = [Eq(x, (_chain(Fn("tanh" if x == "g" else "sigmoid", Ref(f"p{x}"))),)) for x in "ifgo"]
    cell = (
        Eq("c", (_chain(Ref("f"), Ref("c", -1)), _chain(Ref("i"), Ref("g")))),
        Eq("k", (_chain(Fn("tanh", Ref("c"))),)),
        Eq("h", (_chain(Ref("o"), Ref("k")),)),
    )
    carry_h = Eq("ch", tuple(_chain(Par("W_hh", True, k), Ref(f"dp{x}", 1)) for k, x in enumerate("ifgo")))
    carry_c = Eq("cc", (_chain(Ref("f", 1), Ref("dc", 1)),))
    back = (
        carry_h,
        carry_c,
        Eq("dh", (_chain(Par("V", True), Ref("dq")), _chain(Ref("ch")), _chain(Ref("dhs")))),
        Eq("dc", (_chain(Ref("o"), Fn("dtanh", Ref("k")), Ref("dh")), _chain(Ref("cc")))),
        Eq("dpo", (_chain(Ref("k"), Fn("dsigmoid", Ref("o")), Ref("dh")),)),
        Eq("dpi", (_chain(Ref("g"), Fn("dsigmoid", Ref("i")), Ref("dc")),)),
        Eq("dpf", (_chain(Ref("c", -1), Fn("dsigmoid", Ref("f")), Ref("dc")),)),
        Eq("dpg", (_chain(Ref("i"), Fn("dtanh", Ref("g")), Ref("dc")),)),
    )
    dx = Eq("dx", tuple(_chain(Par("W_ih", True, k), Ref(f"dp{x}")) for k, x in enumerate("ifgo")))
    grads = (
        Outer("V", _chain(Ref("dq")), _chain(Ref("h"))),
        Outer("b_y", _chain(Ref("dq"))),
        *_gate_sums({k: f"dp{x}" for k, x in enumerate("ifgo")}, {}),
        At("h0", "ch"),
        At("c0", "cc"),
        Rows("xs", dx),
    )
    H = ("p", "h", "c", "k", "ch", "cc", "dh", "dc", *(f"p{x}" for x in "ifgo"), *"ifgo", *(f"dp{x}" for x in "ifgo"))
    return Derivation(
        forward=(Block((*pre, *act, *cell), step=1), SEED.forward[1]),
        backward=(SEED.backward[0], Block(back, step=-1)),
        gradients=grads,
        initial=(("h", "h0"), ("c", "c0")),
        dims=(*((x, "H") for x in H), ("q", "K"), ("e", "K"), ("dq", "K"), ("dx", "D")),
        gates="ifgo",
        cell="lstm",
        inline=(("ch", ("dh", "dh0")), ("cc", ("dc", "dc0")), ("e", ("dq",))),
    )


def _gru(cho: bool) -> Derivation:
    """torch.nn.GRU (cho=False: n_t = tanh(W_in x_t + b_in + r_t (W_hn h_{t-1} + b_hn))) or Cho et
    al.'s (n_t = tanh(W_in x_t + b_in + W_hn (r_t h_{t-1}) + b_hn)); h_t = (1 - z_t) n_t + z_t h_{t-1}."""
    fw = [Eq("pr", _gate(0)), Eq("r", (_chain(Fn("sigmoid", Ref("pr"))),)), Eq("pz", _gate(1))]
    fw.append(Eq("z", (_chain(Fn("sigmoid", Ref("pz"))),)))
    if cho:
        fw.append(Eq("rh", (_chain(Ref("r"), Ref("h", -1)),)))
        fw.append(Eq("pn", (*_gate(2, None), _chain(Par("W_hh", False, 2), Ref("rh")), _chain(Par("b_hh", False, 2)))))
    else:
        fw.append(Eq("sn", (_chain(Par("W_hh", False, 2), Ref("h", -1)), _chain(Par("b_hh", False, 2)))))
        fw.append(Eq("pn", (*_gate(2, None), _chain(Ref("r"), Ref("sn")))))
    fw.append(Eq("n", (_chain(Fn("tanh", Ref("pn"))),)))
    fw.append(Eq("h", (_chain(Fn("one_minus", Ref("z")), Ref("n")), _chain(Ref("z"), Ref("h", -1)))))
    hidden_n = "dpn" if cho else "dsn"
    carry = [
        _chain(Par("W_hh", True, 0), Ref("dpr", 1)),
        _chain(Par("W_hh", True, 1), Ref("dpz", 1)),
        _chain(Ref("z", 1), Ref("dh", 1)),
    ]
    carry.append(_chain(Ref("r", 1), Ref("drh", 1)) if cho else _chain(Par("W_hh", True, 2), Ref("dsn", 1)))
    back = [
        Eq("ch", tuple(carry)),
        Eq("dh", (_chain(Par("V", True), Ref("dq")), _chain(Ref("ch")), _chain(Ref("dhs")))),
        Eq("dpn", (_chain(Fn("dtanh", Ref("n")), Fn("one_minus", Ref("z")), Ref("dh")),)),
        Eq(
            "dpz",
            (
                _chain(Fn("dsigmoid", Ref("z")), Ref("h", -1), Ref("dh")),
                Term((Fn("dsigmoid", Ref("z")), Ref("n"), Ref("dh")), -1),
            ),
        ),
    ]
    if cho:
        back.append(Eq("drh", (_chain(Par("W_hh", True, 2), Ref("dpn")),)))
        back.append(Eq("dpr", (_chain(Fn("dsigmoid", Ref("r")), Ref("h", -1), Ref("drh")),)))
    else:
        back.append(Eq("dsn", (_chain(Ref("r"), Ref("dpn")),)))
        back.append(Eq("dpr", (_chain(Fn("dsigmoid", Ref("r")), Ref("sn"), Ref("dpn")),)))
    dx = Eq("dx", tuple(_chain(Par("W_ih", True, k), Ref(f"dp{x}")) for k, x in enumerate("rzn")))
    sums = []
    for g, a in enumerate(("dpr", "dpz", "dpn")):
        r = Ref(hidden_n) if g == 2 else Ref(a)
        state = Ref("rh") if (cho and g == 2) else Ref("h", -1)
        sums += [
            Outer(f"W_ih[{g}]", _chain(Ref(a)), _chain(Ref("x"))),
            Outer(f"b_ih[{g}]", _chain(Ref(a))),
            Outer(f"W_hh[{g}]", _chain(r), _chain(state)),
            Outer(f"b_hh[{g}]", _chain(r)),
        ]
    grads = (
        Outer("V", _chain(Ref("dq")), _chain(Ref("h"))),
        Outer("b_y", _chain(Ref("dq"))),
        *sums,
        At("h0", "ch"),
        Rows("xs", dx),
    )
    H = ("h", "ch", "dh", "pr", "pz", "pn", "r", "z", "n", "sn", "rh", "dpr", "dpz", "dpn", "dsn", "drh")
    return Derivation(
        forward=(Block(tuple(fw), step=1), SEED.forward[1]),
        backward=(SEED.backward[0], Block(tuple(back), step=-1)),
        gradients=grads,
        initial=(("h", "h0"),),
        dims=(*((x, "H") for x in H), ("q", "K"), ("e", "K"), ("dq", "K"), ("dx", "D")),
        gates="rzn",
        cell="gru_cho" if cho else "gru",
        inline=(("ch", ("dh", "dh0")), ("e", ("dq",))),
    )


DERIVATIONS = {"tanh": SEED, "relu": _relu(), "gru": _gru(False), "gru_cho": _gru(True), "lstm": _lstm()}
# The GRU's two published variants, each the other's likely mistake: where the reset gate goes.
VARIANTS = {"gru": ("gru_cho",), "gru_cho": ("gru",)}
VARIANT_WORDS = {
    "gru_cho": (
        "n_t = tanh(W_in x_t + b_in + W_hn (r_t h_{t-1}) + b_hn)",
        "the reset gate is applied before the recurrent matmul (Cho et al. 2014), where PyTorch and cuDNN "
        "apply it after: n_t = tanh(W_in x_t + b_in + r_t (W_hn h_{t-1} + b_hn))",
    ),
    "gru": (
        "n_t = tanh(W_in x_t + b_in + r_t (W_hn h_{t-1} + b_hn))",
        "the reset gate is applied after the recurrent matmul (PyTorch's and cuDNN's GRU), where Cho et al. "
        "(2014) apply it before: n_t = tanh(W_in x_t + b_in + W_hn (r_t h_{t-1}) + b_hn)",
    ),
}


def relu_at_zero(value: float) -> Derivation:
    """The ReLU cell's derivation with relu'(0) = value (0: PyTorch's convention; 1: the other one)."""
    d = DERIVATIONS["relu"]
    if value == 0:
        return d
    rec = d.backward[1]
    dp = Eq("dp", (_chain(Fn("drelu_at_zero_one", Ref("p")), Ref("dh")),))
    return replace(d, backward=(d.backward[0], replace(rec, eqs=(*rec.eqs[:-1], dp))))


def derivation_of(cell: str) -> Derivation:
    """The derivation of a cell's model (the seed's for tanh)."""
    return DERIVATIONS[str(cell)]


# --- evaluation -----------------------------------------------------------------------------


class Invalid(Exception):
    """A mutation whose equations cannot be evaluated on a problem (shapes, or a value read before
    it is computed): it is not a candidate there."""


class Values(NamedTuple):
    arrays: dict[str, np.ndarray]  # the contract's names: "U", "W", ..., "h0", "xs", "hs", "loss"
    loss: float


def _table(problem: Problem, dtype) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
    """The parameters, and every time-indexed input as rows 0..T+1 (row t is step t)."""
    T = problem.xs.shape[0]
    rows = lambda a, n: np.vstack([np.zeros((1, n)), np.asarray(a).reshape(T, n), np.zeros((1, n))])
    H = problem.h0.shape[0]
    seq = {
        "x": rows(problem.xs, problem.xs.shape[1]),
        "y": rows(problem.Y, problem.Y.shape[1]),
        "w": rows(problem.weights, 1),
        "dhs": rows(problem.dhs if problem.dhs is not None else np.zeros((T, H)), H),
    }
    params = {k: np.asarray(v, dtype=dtype) for k, v in problem.params._asdict().items()}
    return params, {k: v.astype(dtype) for k, v in seq.items()}, T


class _Run:
    """One evaluation: the symbols' rows, filled block by block. With `noise` (the round-off
    model's, roundoff.py), every computed row carries a leading axis of runs, and each operation's
    result passes through the noise: noise.dot(y, v, M) for y = M v, noise.fn(name, y) for an
    elementwise function, noise.product(y) for an elementwise product, noise.add(y, parts) for a
    sum of terms, noise.softmax(log_yhat, q) for the output layer."""

    def __init__(self, d: Derivation, problem: Problem, dtype=np.float64, noise=None):
        self.params, self.seq, self.T = _table(problem, dtype)
        self.dtype, self.H, self.perm, self.noise = dtype, problem.sizes[1], d.perm, noise
        size = dict(zip("DHK", problem.sizes[:3], strict=True))
        runs = () if noise is None else (noise.runs,)
        for sym, dim in d.dims:  # 0 until computed: a row a loop never reaches stays 0, as in code
            self.seq[sym] = np.zeros((*runs, self.T + 2, size[dim]), dtype=dtype)
        self.pending: dict[str, set[int]] = {}  # rows a running block has yet to compute

    def new(self, sym: str, size: int) -> None:
        if self.seq[sym].shape[-1] != size:
            raise Invalid(f"{sym} computed with size {size}, expected {self.seq[sym].shape[-1]}")

    def read(self, f: Ref, ts: np.ndarray) -> np.ndarray:
        if len(ts) == 1:  # one step of a loop: most reads, by far
            return self._read_row(f, int(ts[0]))
        T, idx = self.T, ts + f.offset
        if f.edge == "wrap":
            idx = np.where((idx < 1) | (idx > T), (idx - 1) % T + 1, idx)
        if f.sym not in self.seq or self.pending.get(f.sym, set()) & set(idx.tolist()):
            raise Invalid(f"{f.sym} is read before it is computed")
        inside = (idx >= (1 if f.edge == "zero" else 0)) & (idx <= (T if f.edge == "zero" else T + 1))
        a = self.seq[f.sym][..., np.clip(idx, 0, T + 1), :]
        return np.where(inside[:, None], a, 0.0)

    def _read_row(self, f: Ref, t: int) -> np.ndarray:
        T, i = self.T, t + f.offset
        if f.edge == "wrap" and (i < 1 or i > T):
            i = (i - 1) % T + 1
        if f.sym not in self.seq or i in self.pending.get(f.sym, ()):
            raise Invalid(f"{f.sym} is read before it is computed")
        a = self.seq[f.sym]
        if (1 if f.edge == "zero" else 0) <= i <= (T if f.edge == "zero" else T + 1):
            return a[..., i : i + 1, :].copy()
        return np.zeros_like(a[..., :1, :])

    def term(self, term: Term, ts: np.ndarray) -> np.ndarray:
        v = None
        for f in reversed(term.factors):
            if isinstance(f, Par):
                M = self.params[f.name]
                if f.block is not None:
                    b = f.block if self.perm is None else self.perm[f.block]
                    M = M[b * self.H : (b + 1) * self.H]
                if M.ndim == 1:
                    v = np.broadcast_to(M, (len(ts), M.size)) if v is None else _times(v, M)
                    continue
                M = M.T if f.transpose else M
                if v is None or v.shape[-1] != M.shape[1]:
                    raise Invalid(f"{f.name} does not fit the vector it multiplies")
                y = v @ M.T
                v = y if self.noise is None else self.noise.dot(y, v, M)
            else:
                x = self.read(f.arg, ts) if isinstance(f, Fn) else self.read(f, ts)
                if isinstance(f, Fn):
                    x = FUNCTIONS[f.name][0](x)
                    x = x if self.noise is None else self.noise.fn(f.name, x)
                product = v is not None
                v = x if v is None else _times(v, x)
                v = v if self.noise is None or not product else self.noise.product(v)
        if v is None:
            raise Invalid("a term with no factors")
        return term.sign * v

    def eq(self, eq: Eq, ts: np.ndarray) -> np.ndarray:
        parts = [self.term(t, ts) for t in eq.terms]
        sizes = {p.shape[-1] for p in parts}
        if len(sizes) > 1:
            raise Invalid(f"the terms of {eq.lhs} have different sizes")
        if not parts:
            raise Invalid(f"{eq.lhs} has no terms")
        out = reduce(np.add, parts)
        out = out if self.noise is None or len(parts) == 1 else self.noise.add(out, parts)
        return -out if eq.negate else out

    def block(self, b: Block) -> None:
        T = self.T
        if b.step == 0:
            ts = np.arange(1, T + 1)
            self.pending = {e.lhs: set(range(1, T + 1)) for e in b.eqs}
            for e in b.eqs:
                v = self.eq(e, ts)
                self.new(e.lhs, v.shape[-1])
                self.seq[e.lhs][..., 1 : T + 1, :] = v
                self.pending[e.lhs] = set()
            return
        first, last = (1 + b.start, T + b.stop) if b.step > 0 else (T + b.start, 1 + b.stop)
        steps = range(first, last + b.step, b.step)
        self.pending = {e.lhs: set(steps) for e in b.eqs}
        for t in steps:
            ts = np.array([t])
            for e in b.eqs:
                v = self.eq(e, ts)
                self.new(e.lhs, v.shape[-1])
                self.seq[e.lhs][..., t, :] = v[..., 0, :]
                self.pending[e.lhs].discard(t)
        self.pending = {}


def _times(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    if v.shape[-1] != x.shape[-1] and 1 not in (v.shape[-1], x.shape[-1]):
        raise Invalid("an elementwise product of vectors of different sizes")
    return v * x


def _output(run: _Run) -> float | np.ndarray:
    """yhat_t (times sum_k y_{t,k}), log yhat_t and E = Σ w_t E_t (+ Σ dhs_t . h_t) from q (one E
    per run, with noise)."""
    T = run.T
    q = run.seq["q"][..., 1 : T + 1, :]
    log_yhat = log_softmax(q)
    log_yhat = log_yhat if run.noise is None else run.noise.softmax(log_yhat, q)
    Y = run.seq["y"][1 : T + 1]
    yhat = Y.sum(axis=1, keepdims=True) * np.exp(log_yhat)
    edge = np.zeros((*yhat.shape[:-2], 1, yhat.shape[-1]), dtype=yhat.dtype)
    run.seq["yhat"] = np.concatenate([edge, yhat, edge], axis=-2)
    E = -np.sum(Y * log_yhat, axis=-1) + np.sum(run.seq["dhs"][1 : T + 1] * run.seq["h"][..., 1 : T + 1, :], axis=-1)
    return E @ run.seq["w"][1 : T + 1, 0]


def forward_values(d: Derivation, problem: Problem, dtype=np.float64, noise=None) -> tuple[_Run, float]:
    """The forward pass of a derivation: every state's rows, and the loss."""
    run = _Run(d, problem, dtype, noise)
    for sym, field in d.initial:
        run.seq[sym][..., 0, :] = np.asarray(getattr(problem, field), dtype=dtype)
    for e in _of_initial(d):  # k_0 = tanh(c_0): code that reads k_{t-1} at t = 1 gets it
        run.seq[e.lhs][..., 0, :] = run.eq(e, np.array([0]))[..., 0, :]
    for b in d.forward:
        run.block(b)
    return run, _output(run)


def _of_initial(d: Derivation) -> list[Eq]:
    """The forward equations that are functions of initial states alone, at the same step."""
    start = {sym for sym, _ in d.initial}
    out = []
    for b in d.forward:
        for e in b.eqs:
            factors = [f for t in e.terms for f in t.factors]
            refs = [f.arg if isinstance(f, Fn) else f for f in factors]
            if refs and all(isinstance(r, Ref) and r.sym in start and r.offset == 0 for r in refs):
                out.append(e)
    return out


# Forward passes kept for the mutants that change only the backward pass (most of them): a
# diagnosis evaluates hundreds on the same few problems.
_FORWARD_KEPT: dict[tuple, tuple] = {}
FORWARD_KEPT = 32


def _forward_once(d: Derivation, problem: Problem) -> tuple[_Run, float]:
    """forward_values, shared by every derivation with the same forward pass (a fresh copy of its rows)."""
    key = (id(problem), id(d.forward), d.initial, d.perm)
    kept = _FORWARD_KEPT.get(key)
    if kept is None or kept[0] is not problem or kept[1] is not d.forward:  # (ids of freed objects recur)
        if len(_FORWARD_KEPT) >= FORWARD_KEPT:
            _FORWARD_KEPT.clear()
        _FORWARD_KEPT[key] = kept = (problem, d.forward, *forward_values(d, problem))
    _, _, run, loss = kept
    fresh = copy.copy(run)
    fresh.seq = {k: v.copy() for k, v in run.seq.items()}
    return fresh, loss


def evaluate(d: Derivation, problem: Problem, noise=None) -> Values:
    """The derivation's gradients, states and loss on one sequence (Invalid when it cannot run);
    with noise, every run's at once (a leading axis; `loss` then holds the clean runs' first)."""
    run, loss = _forward_once(d, problem) if noise is None else forward_values(d, problem, noise=noise)
    for b in d.backward:
        run.block(b)
    out = _stacked(_gradients(d, run), d.perm, run.params)
    out["hs"] = run.seq["h"][..., 1 : run.T + 1, :].copy()
    if "c" in run.seq and d.cell == "lstm":
        out["cs"] = run.seq["c"][..., 1 : run.T + 1, :].copy()
    out["loss"] = np.asarray(np.real(loss))
    return Values(out, float(np.real(np.ravel(loss)[0])))


def _gradients(d: Derivation, run: _Run) -> dict[str, np.ndarray]:
    T, out = run.T, {}
    eqs = {e.lhs: e for b in d.backward for e in b.eqs}
    for g in d.gradients:
        if isinstance(g, Outer):
            ts = np.arange(1 + g.lo, T + g.hi + 1)
            left = run.term(g.left, ts)
            right = run.term(g.right, ts) if g.right is not None else None
            out[g.lhs] = np.einsum("...ta,...tb->...ab", left, right) if right is not None else left.sum(axis=-2)
        elif isinstance(g, At):
            v = run.eq(Eq(g.lhs, g.own) if g.own is not None else eqs[g.source], np.array([g.t]))[..., 0, :]
            out[g.lhs] = -v if g.negate else v
        else:
            out[g.lhs] = run.eq(g.eq, np.arange(1, T + 1))
    return out


def _stacked(out: dict[str, np.ndarray], perm: tuple[int, ...] | None = None, params=None) -> dict[str, np.ndarray]:
    """Gate blocks "W_ih[g]" stacked by rows into "W_ih", gate g at block perm[g] (in gate order:
    PyTorch's layout, when perm is None)."""
    blocks: dict[str, list[tuple[int, np.ndarray]]] = {}
    for k in [k for k in out if "[" in k]:
        name, g = k[:-1].split("[")
        blocks.setdefault(name, []).append((int(g) if perm is None else perm[int(g)], out.pop(k)))
    axis = lambda name: -params[name].ndim if params is not None else 0  # the rows of a matrix, a vector's axis
    try:
        return out | {
            name: np.concatenate([a for _, a in sorted(parts, key=lambda x: x[0])], axis=axis(name))
            for name, parts in blocks.items()
        }
    except ValueError:  # a block of another shape (an outer product the wrong way round)
        raise Invalid("gate blocks of different shapes") from None


# --- mutations ------------------------------------------------------------------------------


class MutationKind(Enum):
    """How one site of the derivation is written wrong."""

    SHIFT = "time index shifted"
    BOUND = "sum bound off by one"
    LOOP = "loop bound off by one"
    INITIAL = "initial value taken as 0"
    DROP_TERM = "term dropped"
    DROP_FACTOR = "factor dropped"
    TRANSPOSE = "transpose"
    SIGN = "sign flipped"
    CONFUSED = "symbol or function confused"
    SWAP = "x and 1 - x swapped"
    VARIANT = "another variant of the cell"
    LAYOUT = "gates read in another order"


@dataclass(frozen=True)
class Mutation:
    """One site written wrong: `where` names the equation (the lhs: "dW" for a gradient's sum, "dp"
    for dp_t), `path` locates the site inside it, `change` is what it becomes."""

    kind: MutationKind
    where: str
    path: tuple
    change: object = None
    forward: bool = False  # the site is in the forward pass: the states and the loss change

    @property
    def equation(self) -> str:
        return self.where


def _sites(terms: tuple[Term, ...]) -> Iterator[tuple[tuple, Term]]:
    for i, t in enumerate(terms):
        yield (i,), t


def _term_mutations(where: str, terms: tuple[Term, ...], forward: bool) -> Iterator[Mutation]:
    M = lambda kind, path, change=None: Mutation(kind, where, path, change, forward)
    if _complements(terms):  # x and 1 - x in one equation (a GRU's z): the two swapped
        yield M(MutationKind.SWAP, ("swap",), _complements(terms))
    if not forward:  # never computed: the array stays 0 (a carry never updated)
        yield M(MutationKind.DROP_TERM, ("all",))
    for j in _common_factors(terms):  # a factor written once in code, (a - b) f, dropped
        yield M(MutationKind.DROP_FACTOR, ("common", j))
    for name, group in _stacked_groups(terms).items():  # one matmul of the stacked layout, dropped
        if len(group) < len(terms):
            yield M(MutationKind.DROP_TERM, ("stacked", name))
    for i, term in enumerate(terms):
        if len(terms) > 1:
            yield M(MutationKind.DROP_TERM, (i,))
            yield M(MutationKind.SIGN, (i,))
        for j, f in enumerate(term.factors):
            if len(term.factors) > 1:
                yield M(MutationKind.DROP_FACTOR, (i, j))
            ref = f.arg if isinstance(f, Fn) else f if isinstance(f, Ref) else None
            if ref is not None and ref.sym not in ("w", "yhat", "dhs"):
                for delta in (-1, 1):
                    yield M(MutationKind.SHIFT, (i, j), ref.offset + delta)
                if ref.sym in WRAPPED and ref.offset == 0:  # x_{t-1} read from an array at t = 1: xs[-1]
                    yield M(MutationKind.SHIFT, (i, j), (-1, "wrap"))
                if ref.sym in CONFUSED_SYMBOLS:
                    yield M(MutationKind.CONFUSED, (i, j), CONFUSED_SYMBOLS[ref.sym])
                if ref.sym == "h" and ref.offset < 0 and not ref.edge:  # h_0 ignored, or read as hs[-1]
                    yield M(MutationKind.INITIAL, (i, j), "zero")
                    yield M(MutationKind.INITIAL, (i, j), "wrap")
            if isinstance(f, Fn):
                for other in CONFUSED_FUNCTIONS.get(f.name, ()):
                    yield M(MutationKind.CONFUSED, (i, j), other)
            if isinstance(f, Par) and not f.name.startswith("b_"):
                yield M(MutationKind.TRANSPOSE, (i, j))


def mutations(d: Derivation = SEED) -> list[Mutation]:
    """Every single-site mutation of the derivation (some are invalid or change nothing on a given
    problem; diagnosis keeps those that change the failing arrays)."""
    out: list[Mutation] = [Mutation(MutationKind.INITIAL, sym, ("initial",), None, True) for sym, _ in d.initial]
    if _at_preactivations(d) != d:  # every derivative evaluated at the pre-activation
        out.append(Mutation(MutationKind.CONFUSED, "derivatives", ("everywhere",), "pre-activations"))
    out += [Mutation(MutationKind.VARIANT, "cell", ("cell",), other, True) for other in VARIANTS.get(d.cell, ())]
    if d.gates:  # every other order of the gates, read and written consistently
        out += [Mutation(MutationKind.LAYOUT, "gates", ("gates",), p, True) for p in permutations(range(len(d.gates)))][
            1:
        ]
    for forward, blocks in ((True, d.forward), (False, d.backward)):
        for b in blocks:
            for e in b.eqs:
                out += _term_mutations(e.lhs, e.terms, forward)
                if not forward:
                    out.append(Mutation(MutationKind.SIGN, e.lhs, (), "negate"))
            if b.step != 0 and not forward:  # the loop starts one step late, or stops one early
                out += [Mutation(MutationKind.LOOP, "loop", ("start",), (b.step, scope)) for scope in LOOP_SCOPES[::2]]
                out += [Mutation(MutationKind.LOOP, "loop", ("stop",), (-b.step, scope)) for scope in LOOP_SCOPES]
    for g in d.gradients:
        name = "d" + g.lhs
        if isinstance(g, Outer):
            out += [Mutation(MutationKind.BOUND, name, ("lo",), 1), Mutation(MutationKind.BOUND, name, ("hi",), -1)]
            terms = (g.left,) + ((g.right,) if g.right is not None else ())
            out += [m for m in _term_mutations(name, terms, False) if m.kind is not MutationKind.DROP_TERM]
            if g.right is not None:
                out.append(Mutation(MutationKind.TRANSPOSE, name, ("outer",)))
        elif isinstance(g, At):
            source = next(e for b in d.backward for e in b.eqs if e.lhs == g.source)
            out += list(_term_mutations(name, source.terms, False))
            out.append(Mutation(MutationKind.SIGN, name, (), "negate"))
            total = _total_of(d, g.source)
            if total is not None:  # the loop's last state gradient returned, one step short
                out.append(Mutation(MutationKind.SHIFT, name, ("total",), total))
        else:
            out += list(_term_mutations(name, g.eq.terms, False))
    out += _stacked_gradient_mutations(d, out)
    return out


STACKED = "[*]"  # a mutation made alike in every gate's block of a stacked parameter's gradient


def _stacked_gradient_mutations(d: Derivation, singles: list[Mutation]) -> list[Mutation]:
    """Code that sums one stacked gradient (dW_hh = sum_t ds_t h_{t-1}^T, every gate at once) makes
    a bound, index or transpose mistake in every gate's block alike: block 0's mutations, made in all."""
    blocks = {g.lhs.split("[")[0] for g in d.gradients if isinstance(g, Outer) and "[" in g.lhs}
    kinds = (MutationKind.BOUND, MutationKind.SHIFT, MutationKind.TRANSPOSE, MutationKind.INITIAL)
    return [
        replace(m, where=f"d{name}{STACKED}")
        for name in sorted(blocks)
        for m in singles
        if m.where == f"d{name}[0]" and m.kind in kinds
    ]


def _total_of(d: Derivation, sym: str) -> str | None:
    """The backward equation that adds the carry `sym` into a state's whole gradient (dh_t = ... + c_t)."""
    for b in d.backward:
        for e in b.eqs:
            if any(t.factors == (Ref(sym),) for t in e.terms):
                return e.lhs
    return None


def _common_factors(terms: tuple[Term, ...]) -> list[int]:
    """The factors of the first term that every other term has too (none for one term)."""
    if len(terms) < 2:
        return []
    return [j for j, f in enumerate(terms[0].factors) if all(f in t.factors for t in terms[1:])]


def _stacked_groups(terms: tuple[Term, ...]) -> dict[str, list[int]]:
    """The terms that one matmul makes in the stacked layout, by parameter: W_hh^T ds_t, with ds_t
    every gate's gradient stacked, is the equations' W_hr^T dp^r_t + W_hz^T dp^z_t + ...; code
    written that way drops or keeps them together."""
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(terms):
        f = t.factors[0]
        if isinstance(f, Par) and f.block is not None:
            groups.setdefault(f.name, []).append(i)
    return {k: v for k, v in groups.items() if len(v) > 1}


def _complements(terms: tuple[Term, ...]) -> str | None:
    """A symbol that stands as x_t in one term and as (1 - x_t) in another, if any."""
    plain = {f.sym for t in terms for f in t.factors if isinstance(f, Ref)}
    for t in terms:
        for f in t.factors:
            if isinstance(f, Fn) and f.name == "one_minus" and f.arg.sym in plain:
                return f.arg.sym
    return None


def _swapped(terms: tuple[Term, ...], sym: str) -> tuple[Term, ...]:
    def swap(f: Factor) -> Factor:
        if isinstance(f, Fn) and f.name == "one_minus" and f.arg.sym == sym:
            return f.arg
        if isinstance(f, Ref) and f.sym == sym:
            return Fn("one_minus", f)
        return f

    return tuple(replace(t, factors=tuple(map(swap, t.factors))) for t in terms)


def _mutate_terms(terms: tuple[Term, ...], m: Mutation) -> tuple[Term, ...]:
    if m.kind is MutationKind.SWAP:
        return _swapped(terms, m.change)
    i = m.path[0]
    if m.kind is MutationKind.DROP_TERM and i == "all":
        return (replace(terms[0], sign=0),)
    if m.kind is MutationKind.DROP_FACTOR and i == "common":
        f = terms[0].factors[m.path[1]]
        return tuple(replace(t, factors=tuple(x for x in t.factors if x != f)) for t in terms)
    if m.kind is MutationKind.DROP_TERM and i == "stacked":
        group = _stacked_groups(terms)[m.path[1]]
        return tuple(t for k, t in enumerate(terms) if k not in group)
    if m.kind is MutationKind.DROP_TERM:
        return terms[:i] + terms[i + 1 :]
    term = terms[i]
    if m.kind is MutationKind.SIGN:
        return (*terms[:i], replace(term, sign=-term.sign), *terms[i + 1 :])
    j = m.path[1]
    f = term.factors[j]
    if m.kind is MutationKind.DROP_FACTOR:
        factors = term.factors[:j] + term.factors[j + 1 :]
    else:
        factors = (*term.factors[:j], _mutate_factor(f, m), *term.factors[j + 1 :])
    return (*terms[:i], replace(term, factors=factors), *terms[i + 1 :])


def _mutate_factor(f: Factor, m: Mutation) -> Factor:
    if m.kind is MutationKind.TRANSPOSE:
        return replace(f, transpose=not f.transpose)
    if isinstance(f, Fn):
        if m.kind is MutationKind.CONFUSED and m.change in FUNCTIONS:
            return replace(f, name=m.change)
        return replace(f, arg=_mutate_factor(f.arg, m))
    if m.kind is MutationKind.SHIFT:
        offset, edge = m.change if isinstance(m.change, tuple) else (m.change, f.edge)
        return replace(f, offset=f.offset + offset if isinstance(m.change, tuple) else offset, edge=edge)
    if m.kind is MutationKind.CONFUSED:
        return replace(f, sym=m.change)
    if m.kind is MutationKind.INITIAL:
        return replace(f, edge=m.change)
    raise ValueError(m)


def apply(d: Derivation, ms: tuple[Mutation, ...]) -> Derivation:
    """The derivation with every mutation in ms applied."""
    for m in ms:
        d = _apply_one(d, m)
    return d


# What a loop bound off by one takes with it: the recurrence alone (the sums computed after it);
# also dh_0, when code takes it as the last carry left by the loop; or every sum, when code
# accumulates all the gradients inside the loop.
LOOP_SCOPES = ("recurrence", "carry", "all")


def _loop(d: Derivation, m: Mutation) -> Derivation:
    delta, scope = m.change
    bi = next(i for i, b in enumerate(d.backward) if b.step != 0)
    b = replace(d.backward[bi], **{m.path[0]: getattr(d.backward[bi], m.path[0]) + delta})
    grads = list(d.gradients)
    if m.path[0] == "stop" and scope != "recurrence":  # dh_0 = the carry at t = 1: W^T dp_2
        grads = [replace(g, t=g.t + delta) if isinstance(g, At) else g for g in grads]
    if scope == "all":  # each sum misses the step the loop skips
        bound = {"stop": "lo", "start": "hi"}[m.path[0]]
        grads = [replace(g, **{bound: getattr(g, bound) + delta}) if isinstance(g, Outer) else g for g in grads]
    return replace(d, backward=(*d.backward[:bi], b, *d.backward[bi + 1 :]), gradients=tuple(grads))


# An activation's pre-activation: code that evaluates a derivative there, f'(p) written as the
# activation's formula, (1 - p^2) for (1 - h^2), does so at every derivative alike.
PRE_ACTIVATION = {"h": "p", "k": "c", **{g: f"p{g}" for g in "ifgozrn"}}
DERIVATIVES = ("dtanh", "dsigmoid")


def _at_preactivations(d: Derivation) -> Derivation:
    def fix(f: Factor) -> Factor:
        if isinstance(f, Fn) and f.name in DERIVATIVES and f.arg.sym in PRE_ACTIVATION:
            return replace(f, arg=replace(f.arg, sym=PRE_ACTIVATION[f.arg.sym]))
        return f

    def eq(e: Eq) -> Eq:
        return replace(e, terms=tuple(replace(t, factors=tuple(map(fix, t.factors))) for t in e.terms))

    backward = tuple(replace(b, eqs=tuple(map(eq, b.eqs))) for b in d.backward)
    return replace(d, backward=backward)


def _apply_one(d: Derivation, m: Mutation) -> Derivation:
    if m.path == ("everywhere",):
        return _at_preactivations(d)
    if m.path == ("initial",):  # the initial state ignored: its row stays 0
        return replace(d, initial=tuple(i for i in d.initial if i[0] != m.where))
    if m.kind is MutationKind.VARIANT:  # the sibling cell's equations, forward and backward
        return replace(DERIVATIONS[m.change], perm=d.perm)
    if m.kind is MutationKind.LAYOUT:
        return replace(d, perm=m.change)
    blocks = d.forward if m.forward else d.backward
    if m.where == "loop":
        return _loop(d, m)
    for bi, b in enumerate(blocks):
        for ei, e in enumerate(b.eqs):
            if e.lhs == m.where:
                e2 = (
                    replace(e, negate=not e.negate)
                    if m.change == "negate"
                    else replace(e, terms=_mutate_terms(e.terms, m))
                )
                b2 = replace(b, eqs=(*b.eqs[:ei], e2, *b.eqs[ei + 1 :]))
                new = (*blocks[:bi], b2, *blocks[bi + 1 :])
                return replace(d, forward=new) if m.forward else replace(d, backward=new)
    grads = list(d.gradients)
    if m.where.endswith(STACKED):
        prefix = m.where[1 : -len(STACKED)] + "["
        return replace(d, gradients=tuple(_mutate_gradient(d, g, m) if g.lhs.startswith(prefix) else g for g in grads))
    gi = next(i for i, g in enumerate(grads) if "d" + g.lhs == m.where)
    grads[gi] = _mutate_gradient(d, grads[gi], m)
    return replace(d, gradients=tuple(grads))


def _mutate_gradient(d: Derivation, g, m: Mutation):
    if isinstance(g, At):
        if m.change == "negate":
            return replace(g, negate=not g.negate)
        if m.path == ("total",):
            return replace(g, source=m.change, t=g.t + 1)
        source = next(e for b in d.backward for e in b.eqs if e.lhs == g.source)
        return replace(g, own=_mutate_terms(g.own or source.terms, m))
    if isinstance(g, Rows):
        return replace(g, eq=replace(g.eq, terms=_mutate_terms(g.eq.terms, m)))
    if m.kind is MutationKind.BOUND:
        return replace(g, **{m.path[0]: getattr(g, m.path[0]) + m.change})
    if m.path == ("outer",):
        return replace(g, left=g.right, right=g.left)
    terms = _mutate_terms((g.left,) + ((g.right,) if g.right else ()), m)
    return replace(g, left=terms[0], right=terms[1] if len(terms) > 1 else None)


# --- the true gradient of a mutated model -----------------------------------------------------

COMPLEX_STEP = 1e-20  # Im f(θ + i h) / h: no cancellation, exact to round-off for analytic f


def consistent_gradients(d: Derivation, problem: Problem, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The true gradient of the loss d's forward pass computes (complex step, one entry at a time):
    what code that differentiates its own, mistaken model correctly returns."""
    out = {}
    for name in names:
        base = _entry_source(problem, name)
        if base is None:
            continue
        g = np.zeros(base.size)
        for i in range(base.size):
            z = base.astype(complex).ravel()
            z[i] += 1j * COMPLEX_STEP
            _, loss = forward_values(d, _with(problem, name, z.reshape(base.shape)), np.complex128)
            g[i] = np.imag(loss) / COMPLEX_STEP
        out[name] = g.reshape(base.shape)
    return out


def _entry_source(problem: Problem, name: str) -> np.ndarray | None:
    if name in problem.params._fields:
        return getattr(problem.params, name)
    return {"h0": problem.h0, "xs": problem.xs, "c0": problem.c0}.get(name)


def _with(problem: Problem, name: str, value: np.ndarray) -> Problem:
    if name in problem.params._fields:
        return problem._replace(params=problem.params._replace(**{name: value}))
    return problem._replace(**{name: value})


# --- reading an equation --------------------------------------------------------------------

# Symbols of our own notation, shown by what they stand for (the carry c_t = W^T dp_{t+1}), and the
# equation a change to them is shown in.


def _index(offset: int, t: int | str | None) -> str:
    if t is None or isinstance(t, str):
        base = "t" if t is None else t
        return base if offset == 0 else f"{base}{offset:+d}"
    return str(t + offset)


def _sub(name: str, index: str) -> str:
    if name in SYMBOL_TEXT:
        return SYMBOL_TEXT[name].format(index if len(index) == 1 else f"{{{index}}}")
    return f"{name}_{index}" if len(index) == 1 else f"{name}_{{{index}}}"


def factor_text(f: Factor, t: int | str | None = None, d: Derivation = SEED) -> str:
    if isinstance(f, Par):
        name = f.name if f.block is None else gradient_symbol(f"{f.name}[{f.block}]", d)
        return f"{name}^T" if f.transpose else name
    if isinstance(f, Fn):
        arg = factor_text(f.arg, t, d)
        form = FUNCTIONS[f.name][1]
        return form.format(*([arg] * form.count("{}")))
    if f.sym in dict(d.inline):  # shown as its definition, shifted by the offset it is read at
        eq = next(e for b in d.backward for e in b.eqs if e.lhs == f.sym)
        shift = lambda x: replace(x, offset=x.offset + f.offset) if isinstance(x, Ref) else x
        body = terms_text(tuple(replace(tm, factors=tuple(map(shift, tm.factors))) for tm in eq.terms), t, d=d)
        body = f"({body})" if len(eq.terms) > 1 or eq.terms[0].sign < 0 else body
        return f"-{body}" if eq.negate else body
    return _sub(f.sym, _index(f.offset, t))


def term_text(term: Term, t: int | str | None = None, right: Term | None = None, d: Derivation = SEED) -> str:
    text = " ".join(factor_text(f, t, d) for f in term.factors)
    if right is not None:
        text += " " + " ".join(factor_text(f, t, d) for f in right.factors) + "^T"
    return text


def terms_text(
    terms: tuple[Term, ...], t: int | str | None = None, hidden: frozenset[str] = frozenset(), d: Derivation = SEED
) -> str:
    out = ""
    for term in terms:
        if term.sign == 0 or any(isinstance(f, Ref) and f.sym in hidden for f in term.factors):
            continue
        body = term_text(term, t, None, d)
        first = not out
        out += (("- " if first else " - ") if term.sign < 0 else ("" if first else " + ")) + body
    return out or "0"


def _hidden(layer: bool) -> frozenset[str]:
    """Terms that are 0 in a contract, left out of its equations: the upstream dhs_t outside the
    layer, the (dead) output layer inside it."""
    return frozenset({"dq"} if layer else {"dhs"})


def equation_text(d: Derivation, where: str, layer: bool = False) -> str:
    """One equation of d as it reads (the mutated one, when d is mutated)."""
    text = _equation_text(d, where, _hidden(layer))
    edges = _edges(d, where)
    if "zero" in edges:
        text += " with h_0 = 0"
    if "wrap" in edges:
        sym = edges["wrap"]
        text += f" with {sym}_0 read as {sym}_T ({sym}s[t - 1] at t = 1 is {sym}s[-1])"
    return text


def _edges(d: Derivation, where: str) -> dict[str, str]:
    """How the equation reads its initial values, where not as they are: {edge: symbol}."""
    terms, _ = _site(d, Mutation(MutationKind.SIGN, where, ()))
    refs = [f.arg if isinstance(f, Fn) else f for t in terms for f in t.factors if isinstance(f, Ref | Fn)]
    return {r.edge: r.sym for r in refs if r.edge}


def _equation_text(d: Derivation, where: str, hidden: frozenset[str]) -> str:
    for blocks in (d.forward, d.backward):
        for b in blocks:
            for e in b.eqs:
                if e.lhs == where:
                    rhs = terms_text(e.terms, None, hidden, d)
                    return f"{_sub(e.lhs, 't')} = " + (f"-({rhs})" if e.negate else rhs)
    for g in d.gradients:
        if "d" + g.lhs != where:
            continue
        name = "d" + gradient_symbol(g.lhs, d)
        if isinstance(g, Outer):
            lo = "1" if g.lo == 0 else str(1 + g.lo)
            hi = "T" if g.hi == 0 else f"T{g.hi:+d}"
            return f"{name} = Σ_{{t={lo}}}^{{{hi}}} {term_text(g.left, None, g.right, d)}"
        if isinstance(g, At):
            source = next(e for b in d.backward for e in b.eqs if e.lhs == g.source)
            rhs = terms_text(g.own if g.own is not None else source.terms, g.t, hidden, d)
            return f"{name} = " + (f"-({rhs})" if g.negate else rhs)
        return f"{name} = {terms_text(g.eq.terms, None, hidden, d)}"
    raise KeyError(where)


def describe(m: Mutation, d: Derivation = SEED, layer: bool = False) -> tuple[str, str]:
    """(the equation as the mutated code computes it, what is wrong in it, in words)."""
    if m.path == ("initial",):
        return f"{m.where}_0 = 0", f"the initial state {m.where}0 is ignored: {m.where}_0 is taken as 0 everywhere"
    if m.kind is MutationKind.VARIANT:
        return VARIANT_WORDS[m.change]
    if m.kind is MutationKind.LAYOUT:
        order = ", ".join(d.gates[g] for g in np.argsort(m.change))
        return (
            f"gates read as {order}",
            f"the stacked parameters are read (and their gradients written) in the gate order {order}, where "
            f"the layout is {', '.join(d.gates)} (PyTorch's)",
        )
    if m.kind is MutationKind.LOOP:
        return _loop_words(m)
    if m.path == ("everywhere",):
        return (
            "every f'(a) written as f'(p), at the pre-activation",
            "each activation's derivative is evaluated at its pre-activation, not at the activation: "
            "(1 - p^2) for (1 - h^2), p (1 - p) for s (1 - s)",
        )
    if m.where.endswith(STACKED):
        name = m.where[1 : -len(STACKED)]
        equation, what = describe(replace(m, where=f"d{name}[0]"), d, layer)
        return f"{equation}, and alike for every gate", f"in every gate's block of d{name} (one stacked sum): {what}"
    mutated = apply(d, (m,))
    if m.where in dict(d.inline):  # our own symbols: shown in the equations that read them
        return " and ".join(equation_text(mutated, w, layer) for w in dict(d.inline)[m.where]), _what(m, d)
    return equation_text(mutated, m.where, layer), _what(m, d)


def _loop_words(m: Mutation) -> tuple[str, str]:
    scope = m.change[1]
    if m.path[0] == "start":
        what = "the backward loop starts at t = T - 1: step T is never back-propagated (its adjoints stay 0)"
        return "for t = T-1..1", what + (
            ", and every sum, accumulated in the loop, misses its t = T term" if scope == "all" else ""
        )
    what = "the backward loop stops at t = 2: step 1 is never back-propagated (its adjoints stay 0)"
    if scope == "recurrence":
        return "for t = T..2", what + ", so every t = 1 term, and dh_0, is 0"
    h0 = "dh_0 is the carry the loop leaves, the one into step 1"
    if scope == "carry":
        return "for t = T..2", f"{what}, and {h0}"
    return "for t = T..2", f"{what}; every sum, accumulated in the loop, misses its t = 1 term; and {h0}"


def _site(d: Derivation, m: Mutation) -> tuple[tuple[Term, ...], Outer | At | Rows | None]:
    """The terms of the equation m changes, and the gradient it belongs to (None for a pass's equation)."""
    for blocks in (d.forward, d.backward):
        for b in blocks:
            for e in b.eqs:
                if e.lhs == m.where:
                    return e.terms, None
    g = next(g for g in d.gradients if "d" + g.lhs == m.where)
    if isinstance(g, Outer):
        return (g.left,) + ((g.right,) if g.right else ()), g
    if isinstance(g, At):
        return next(e for b in d.backward for e in b.eqs if e.lhs == g.source).terms, g
    return g.eq.terms, g


def _what(m: Mutation, d: Derivation) -> str:
    terms, g = _site(d, m)
    t = g.t if isinstance(g, At) else None
    if m.kind is MutationKind.BOUND:
        at = 1 if m.path[0] == "lo" else "T"
        where = "starts at t = 2" if m.path[0] == "lo" else "stops at t = T - 1"
        return f"the sum {where}, so {term_text(g.left, at, g.right, d)} is missing"
    if m.change == "negate":
        return "the whole right-hand side has the wrong sign"
    if m.path == ("total",):
        sym = _sub(m.change, str(g.t + 1))
        carry = terms_text(terms, g.t, frozenset(), d)
        last = f"the whole gradient {sym} at step {g.t + 1} is returned (the backward loop's last one)"
        return f"{last}, where {carry} belongs"
    if m.kind is MutationKind.SWAP:
        return f"{m.change}_t and (1 - {m.change}_t) are swapped"
    if m.path == ("outer",):
        return "the outer product is the wrong way round (the gradient is returned transposed)"
    if m.kind is MutationKind.DROP_TERM and m.path[0] == "all":
        return f"{terms_text(terms, t, frozenset(), d)} is never computed (it stays 0)"
    if m.kind is MutationKind.DROP_FACTOR and m.path[0] == "common":
        return f"the factor {factor_text(terms[0].factors[m.path[1]], t, d)} is missing from every term"
    if m.kind is MutationKind.DROP_TERM and m.path[0] == "stacked":
        group = " + ".join(term_text(terms[k], t, None, d) for k in _stacked_groups(terms)[m.path[1]])
        return f"the terms {group} are missing: the one matmul {m.path[1]}^T (every gate's gradient stacked)"
    term = terms[m.path[0]]
    if m.kind is MutationKind.DROP_TERM:
        return f"the term {term_text(term, t, None, d)} is missing"
    if m.kind is MutationKind.SIGN:
        whole = term_text(g.left, t, g.right, d) if isinstance(g, Outer) else term_text(term, t, None, d)
        return f"the sign of {whole} is flipped"
    f = term.factors[m.path[1]]
    if m.kind is MutationKind.DROP_FACTOR:
        return f"the factor {factor_text(f, t, d)} is missing"
    if m.kind is MutationKind.INITIAL:
        at = -(f.arg if isinstance(f, Fn) else f).offset
        whole = term_text(g.left, at, g.right, d) if isinstance(g, Outer) else term_text(term, at, None, d)
        if m.change == "wrap":
            return f"h_0 is read as h_T here (hs[-1] of an array of h_1..h_T), so the t = {at} term {whole} uses h_T"
        return f"h_0 is taken as 0 here, so the t = {at} term {whole} is missing"
    return f"{factor_text(_mutate_factor(f, m), t, d)} where {factor_text(f, t, d)} belongs"


__all__ = [
    "SEED",
    "Derivation",
    "Invalid",
    "Mutation",
    "MutationKind",
    "Values",
    "apply",
    "consistent_gradients",
    "describe",
    "equation_text",
    "evaluate",
    "mutations",
]
