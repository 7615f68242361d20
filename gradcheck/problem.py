"""The problem: parameters, inputs x_t, targets y_t, initial state h_0, and the loss reduction.

Shapes (seed notation): U (H, D), W (H, H), V (K, H), b_h (H,), b_y (K,), xs (T, D), h0 (H,).
Targets ys are class indices (T,) int, or a (T, K) float array of target distributions
(one-hot or soft labels). The loss is E = sum_t w_t E_t with

    w_t = 1 for "sum" (the seed's E = sum_t E_t),  1/T for "mean",  [t == T] for "last".

`make_problem` is the single gate through which user data enters: it checks every shape and
value, names the argument that is wrong, and returns float64 copies, so nothing the caller
passed in is ever modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from .errors import GradcheckError
from .layouts import RECURRENT_NAMES, has_cell_state, parse_cell, recurrent_shapes
from .options import LOSSES

PARAM_NAMES = ("U", "W", "V", "b_h", "b_y")
LAYER_PARAM_NAMES = ("U", "W", "b_h")  # the recurrent layer alone
GRAD_NAMES = (*PARAM_NAMES, "h0")  # every array a gradient routine returns, besides "loss"
# The gated cells' parameters, PyTorch's names and layouts (cells.py), and the seed's output layer.
GATE_PARAM_NAMES = ("W_ih", "W_hh", "V", "b_ih", "b_hh", "b_y")


def param_names(cell: str = "tanh") -> tuple[str, ...]:
    """Every parameter of a cell's model: the recurrent ones, V and b_y."""
    return PARAM_NAMES if RECURRENT_NAMES[parse_cell(cell)] == LAYER_PARAM_NAMES else GATE_PARAM_NAMES


def layer_param_names(cell: str = "tanh") -> tuple[str, ...]:
    """The parameters of the recurrent layer alone."""
    return RECURRENT_NAMES[parse_cell(cell)]


def grad_names(cell: str = "tanh") -> tuple[str, ...]:
    """Every array a gradient routine returns besides "loss": the parameters, "h0", and "c0" for the LSTM."""
    return (*param_names(cell), "h0", *(("c0",) if has_cell_state(cell) else ()))


class Params(NamedTuple):
    """The RNN's parameters; a NamedTuple, so it is also a JAX pytree."""

    U: np.ndarray  # (H, D)
    W: np.ndarray  # (H, H)
    V: np.ndarray  # (K, H)
    b_h: np.ndarray  # (H,)
    b_y: np.ndarray  # (K,)


class GateParams(NamedTuple):
    """A gated cell's parameters (GRU: G = 3 gates r, z, n; LSTM: G = 4 gates i, f, g, o)."""

    W_ih: np.ndarray  # (G H, D)
    W_hh: np.ndarray  # (G H, H)
    V: np.ndarray  # (K, H)
    b_ih: np.ndarray  # (G H,)
    b_hh: np.ndarray  # (G H,)
    b_y: np.ndarray  # (K,)


class Problem(NamedTuple):
    """A validated problem; all arrays are float64 copies owned by gradcheck."""

    params: Params | GateParams
    xs: np.ndarray  # (T, D)
    Y: np.ndarray  # (T, K) target distributions y_t
    h0: np.ndarray  # (H,)
    weights: np.ndarray  # (T,) loss weights w_t
    loss: str = "sum"  # the reduction that gave the weights
    # The recurrent layer alone (`make_layer_problem`): the upstream gradients dL/dh_t (T, H), and
    # the loss L = sum_t dhs_t . h_t. The output layer is then a dead K = 1 (E_t = 0 exactly).
    dhs: np.ndarray | None = None
    cell: str = "tanh"  # cells.Cell: tanh (the seed's), relu, gru, gru_cho, lstm
    c0: np.ndarray | None = None  # (H,): the LSTM's initial cell state

    @property
    def is_layer(self) -> bool:
        return self.dhs is not None

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(D, H, K, T)."""
        return self.xs.shape[1], self.h0.shape[0], self.params.V.shape[0], self.xs.shape[0]

    @property
    def recurrent(self) -> dict[str, np.ndarray]:
        """The recurrent layer's parameters by name (cells.py's `rec`)."""
        return {k: getattr(self.params, k) for k in layer_param_names(self.cell)}


def loss_weights(loss: str, T: int) -> np.ndarray:
    """The weights w_t of E = sum_t w_t E_t for a loss reduction."""
    if loss == "sum":
        return np.ones(T)
    if loss == "mean":
        return np.full(T, 1.0 / T)
    if loss == "last":
        return np.eye(T)[-1]
    raise GradcheckError(f"loss: {loss!r} is not one of {', '.join(LOSSES)}")


def _real_array(name: str, value: Any) -> np.ndarray:
    try:
        a = np.array(value)  # np.array copies: later changes by the caller cannot reach us
    except Exception as e:  # ragged lists and the like
        raise GradcheckError(f"{name}: cannot be read as an array ({e})") from None
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise GradcheckError(f"{name}: dtype {a.dtype} given, expected real numbers (float)")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise GradcheckError(f"{name}: contains NaN or inf at {_first_bad(a)}")
    return a


def _first_bad(a: np.ndarray) -> list[int]:
    return [int(i) for i in np.argwhere(~np.isfinite(a))[0]]


def _check_shape(name: str, a: np.ndarray, expected: tuple[int, ...], meaning: str) -> None:
    if a.shape != expected:
        raise GradcheckError(f"{name}: shape {a.shape} given, expected {expected} = {meaning}")


def make_params(params: Mapping[str, Any], cell: str = "tanh") -> Params | GateParams:
    """Check a mapping of the cell's parameters (param_names) and return float64 copies."""
    names = param_names(cell)
    if not isinstance(params, Mapping):
        raise GradcheckError(f"params: {type(params).__name__} given, expected a mapping with keys {names}")
    missing = [k for k in names if k not in params]
    if missing:
        raise GradcheckError(f"params: missing key(s) {missing}; expected {list(names)}")
    extra = sorted(str(k) for k in params if k not in names)
    if extra:
        raise GradcheckError(f"params: unknown key(s) {extra}; expected {list(names)}")
    if names != PARAM_NAMES:
        return _gate_params({k: _real_array(k, params[k]) for k in names}, cell)
    U, W, V, b_h, b_y = (_real_array(k, params[k]) for k in PARAM_NAMES)
    if U.ndim != 2:
        raise GradcheckError(f"U: shape {U.shape} given, expected 2 dimensions (H, D)")
    if V.ndim != 2:
        raise GradcheckError(f"V: shape {V.shape} given, expected 2 dimensions (K, H)")
    (H, D), K = U.shape, V.shape[0]
    if min(H, D, K) == 0:
        raise GradcheckError(f"params: empty dimension in D={D}, H={H}, K={K}")
    _check_shape("W", W, (H, H), f"(H, H) with H={H} from U")
    _check_shape("V", V, (K, H), f"(K, H) with H={H} from U")
    _check_shape("b_h", b_h, (H,), f"(H,) with H={H} from U")
    _check_shape("b_y", b_y, (K,), f"(K,) with K={K} from V")
    return Params(U, W, V, b_h, b_y)


def _gate_params(a: dict[str, np.ndarray], cell: str) -> GateParams:
    if a["W_hh"].ndim != 2 or a["V"].ndim != 2:
        raise GradcheckError(f"W_hh, V: shapes {a['W_hh'].shape}, {a['V'].shape} given, expected 2 dimensions each")
    H, K = a["W_hh"].shape[1], a["V"].shape[0]
    D = a["W_ih"].shape[1] if a["W_ih"].ndim == 2 else 0
    if min(H, D, K) == 0:
        raise GradcheckError(f"params: empty dimension in D={D}, H={H}, K={K}")
    for k, shape in recurrent_shapes(cell, D, H).items():
        _check_shape(k, a[k], shape, f"{shape} for cell {cell!r} with D={D} from W_ih, H={H} from W_hh")
    _check_shape("V", a["V"], (K, H), f"(K, H) with H={H} from W_hh")
    _check_shape("b_y", a["b_y"], (K,), f"(K,) with K={K} from V")
    return GateParams(*(a[k] for k in GATE_PARAM_NAMES))


def _targets(ys: Any, T: int, K: int) -> np.ndarray:
    """ys as a (T, K) array of target distributions y_t."""
    a = np.array(ys)
    if a.ndim == 1 and (np.issubdtype(a.dtype, np.integer) and a.dtype != bool):
        _check_shape("ys", a, (T,), f"(T,) with T={T} from xs")
        bad = (a < 0) | (a >= K)
        if bad.any():
            i = int(np.argmax(bad))
            raise GradcheckError(f"ys: class index {int(a[i])} at [{i}] is outside 0..{K - 1} (K={K})")
        return np.eye(K)[a]
    if a.ndim == 1:
        raise GradcheckError(f"ys: dtype {a.dtype} given for a 1-d array, expected integer class indices")
    Y = _real_array("ys", a)
    _check_shape("ys", Y, (T, K), f"(T, K) with T={T} from xs, K={K} from V")
    if (Y < 0).any():
        raise GradcheckError(f"ys: negative target probability at {[int(i) for i in np.argwhere(Y < 0)[0]]}")
    return Y


def make_problem(
    params: Mapping[str, Any],
    xs: Any,
    ys: Any,
    h0: Any = None,
    *,
    loss: str = "sum",
    cell: str = "tanh",
    c0: Any = None,
) -> Problem:
    """Validate the contract arguments (params, xs, ys, h0[, c0]) and return a Problem of copies."""
    cell = parse_cell(cell).value
    p = make_params(params, cell)
    first = "U" if isinstance(p, Params) else "W_ih"
    H, D = p.V.shape[1], getattr(p, first).shape[1]
    xs = _real_array("xs", xs)
    if xs.ndim != 2 or xs.shape[1] != D or xs.shape[0] == 0:
        raise GradcheckError(f"xs: shape {xs.shape} given, expected (T, D) with T >= 1 and D={D} from {first}")
    T = xs.shape[0]
    Y = _targets(ys, T, p.V.shape[0])
    h0 = np.zeros(H) if h0 is None else _real_array("h0", h0)
    _check_shape("h0", h0, (H,), f"(H,) with H={H} from V")
    if has_cell_state(cell):
        c0 = np.zeros(H) if c0 is None else _real_array("c0", c0)
        _check_shape("c0", c0, (H,), f"(H,) with H={H} from V")
    elif c0 is not None:
        raise GradcheckError(f"c0: given for cell {cell!r}, which has no cell state")
    return Problem(p, xs, Y, h0, loss_weights(loss, T), loss, None, cell, c0)


def make_layer_problem(
    params: Mapping[str, Any], xs: Any, h0: Any, dhs: Any, *, cell: str = "tanh", c0: Any = None
) -> Problem:
    """The recurrent layer alone: the cell's recurrent parameters ({"U", "W", "b_h"} for the seed's),
    xs (T, D), h0 (H,), upstream dhs (T, H) (and c0 (H,) for the LSTM).

    The loss is L = sum_t dhs_t . h_t, so that dL/dh_t = dhs_t from outside the recurrence: the
    seed's recursion with V^T dq_t replaced by dhs_t. V and b_y are a single dead class (V = 0,
    K = 1), whose softmax is 1 and E_t = 0 exactly.
    """
    names = layer_param_names(cell)
    if not isinstance(params, Mapping):
        raise GradcheckError(f"params: {type(params).__name__} given, expected a mapping with keys {', '.join(names)}")
    missing = [k for k in names if k not in params]
    if missing:
        raise GradcheckError(f"params: missing key(s) {missing}; expected {list(names)}")
    layer = {k: params[k] for k in names}
    H = np.shape(layer[names[1]])[1] if np.ndim(layer[names[1]]) == 2 else 0
    problem = make_problem(
        {**layer, "V": np.zeros((1, H)), "b_y": np.zeros(1)},
        xs,
        np.zeros(len(np.atleast_1d(xs)), dtype=int),
        h0,
        cell=cell,
        c0=c0,
    )
    dhs = _real_array("dhs", dhs)
    _check_shape("dhs", dhs, problem.xs.shape[:1] + problem.h0.shape, "(T, H)")
    return problem._replace(dhs=dhs)


def one_hot_labels(Y: np.ndarray) -> np.ndarray | None:
    """The class indices of one-hot targets Y (T, K), or None when Y is not one-hot."""
    labels = np.argmax(Y, axis=1)
    return labels if np.array_equal(Y, np.eye(Y.shape[1])[labels]) else None


def as_contract_inputs(problem: Problem) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Fresh (params, xs, ys, h0) for a contract function: ys as class indices when one-hot (an
    LSTM's c0 follows h0 in the call: `problem.c0`)."""
    params = {k: v.copy() for k, v in problem.params._asdict().items()}
    labels = one_hot_labels(problem.Y)
    return params, problem.xs.copy(), (problem.Y.copy() if labels is None else labels), problem.h0.copy()
