"""The recurrent cells (gradcheck.cells): the hand-derived BPTT of every cell against JAX autodiff,
the complex step, its own forward mode, truncation, torch's cells and CS231n's LSTM.

Every property runs once per cell (pytest's parametrize), on problems drawn as in
gradcheck/strategies.py: sizes from Hypothesis (D, H, K, T <= 6), arrays from a numpy Generator
seeded by a drawn integer, with well-scaled parameters (recurrent gain 0.5..1.5).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gradcheck.cells import (
    GATES,
    RECURRENT_NAMES,
    Cell,
    parse_cell,
    recurrent_shapes,
    run_backward,
    run_forward,
    run_tangent,
)
from gradcheck.compare import Judgement, roundoff_check
from gradcheck.precision import FLOAT64
from gradcheck.problem import GradcheckError, make_layer_problem, make_problem
from reference.jax_cells import cell_step, jax_cell_gradients, jax_cell_jvp

from .checks import examples

# --- the tolerance ------------------------------------------------------------------------------
#
# Every comparison is judged entry by entry in units of gradcheck's round-off model of the cell
# (roundoff_cells.py: the cell's derivation run with every operation perturbed), in float64.

EPS = float(np.finfo(np.float64).eps)


class CellProblem(NamedTuple):
    """A drawn problem: a cell, its parameters, the seed's output layer, and an upstream g."""

    cell: Cell
    rec: dict[str, np.ndarray]  # the cell's recurrent parameters (RECURRENT_NAMES)
    V: np.ndarray  # (K, H)
    b_y: np.ndarray  # (K,)
    xs: np.ndarray  # (T, D)
    Y: np.ndarray  # (T, K) target distributions
    h0: np.ndarray  # (H,)
    c0: np.ndarray | None  # (H,) for the LSTM
    weights: np.ndarray  # (T,) w_t
    g: np.ndarray  # (T, H): the layer form's upstream dL/dh_t

    @property
    def sizes(self) -> str:
        (T, D), (K, H) = self.xs.shape, self.V.shape
        return f"cell={self.cell} D={D} H={H} K={K} T={T}"

    def arrays(self, layer: bool) -> dict[str, np.ndarray]:
        """Everything the loss is differentiated in: rec, (V, b_y), h0, (c0), xs."""
        out = {**self.rec, "h0": self.h0, "xs": self.xs}
        if self.c0 is not None:
            out["c0"] = self.c0
        return out if layer else {**out, "V": self.V, "b_y": self.b_y}


def problem_of(p: CellProblem, layer: bool):
    """The gradcheck Problem of a drawn problem: the whole model, or the layer alone with upstream g."""
    if layer:
        return make_layer_problem(p.rec, p.xs, p.h0, p.g, cell=p.cell, c0=p.c0)
    params = {**p.rec, "V": p.V, "b_y": p.b_y}
    return make_problem(params, p.xs, p.Y, p.h0, cell=p.cell, c0=p.c0)._replace(weights=p.weights)


def model_tolerance(p: CellProblem, layer: bool) -> dict[str, np.ndarray]:
    """Each entry's round-off tolerance (the problems drawn here are well-conditioned: judged)."""
    tol = roundoff_check(problem_of(p, layer), FLOAT64)
    assert tol.judgement is Judgement.JUDGED, tol.reason
    return tol.tol


def scalar_tolerance(grads: dict, v: dict, tol: dict) -> float:
    """<grads, v>'s tolerance: sum_i tol_i |v_i|, and the P + 2 roundings of the dot product itself."""
    terms = sum(float(np.sum(np.abs(grads[k] * v[k]))) for k in v)
    P = sum(np.size(v[k]) for k in v)
    return sum(float(np.sum(tol[k] * np.abs(v[k]))) for k in v) + (P + 2) * EPS * terms


def assert_close(actual: dict, reference: dict, p: CellProblem, what: str, layer: bool = True) -> None:
    assert set(actual) == set(reference), f"{what}: keys {sorted(actual)} vs {sorted(reference)}"
    tol = model_tolerance(p, layer)
    tol["c_T"] = tol["cs"][-1] if "cs" in tol else None  # torch's final cell state: c_T's round-off
    for name, r in reference.items():
        err = np.abs(np.asarray(actual[name]) - r)
        over = err > tol[name]
        assert not over.any(), (
            f"{what} differ in {name} at {np.unravel_index(np.argmax(err - tol[name]), np.shape(err))}: |error| "
            f"{np.max(err):.3g}, tol {tol[name].ravel()[np.argmax((err - tol[name]).ravel())]:.3g}\n"
            f"{name} = {actual[name]!r}\nreference {r!r}\n{p.sizes}"
        )


# --- problems ----------------------------------------------------------------------------------


def build(cell: Cell, sizes: tuple[int, int, int, int], gain: float, zero_h0: bool, loss: str, seed: int):
    """A problem from sizes (D, H, K, T), a recurrent gain and a seed; deterministic."""
    D, H, K, T = sizes
    rng = np.random.default_rng(seed)
    n = rng.standard_normal
    scale = {"U": 1 / np.sqrt(D), "W_ih": 1 / np.sqrt(D), "W": gain / np.sqrt(H), "W_hh": gain / np.sqrt(H)}
    rec = {k: scale.get(k, 0.5) * n(shape) for k, shape in recurrent_shapes(cell, D, H).items()}  # biases 0.5
    h0 = np.zeros(H) if zero_h0 else rng.uniform(-1.0, 1.0, H)
    c0 = None if cell is not Cell.LSTM else (np.zeros(H) if zero_h0 else n(H))
    weights = {"sum": np.ones(T), "mean": np.full(T, 1.0 / T), "last": np.eye(T)[-1]}[loss]
    V, b_y, xs, Y = 2 * n((K, H)) / np.sqrt(H), 0.5 * n(K), n((T, D)), rng.dirichlet(np.ones(K), T)
    return CellProblem(cell, rec, V, b_y, xs, Y, h0, c0, weights, n((T, H)))


@st.composite
def cell_problems(draw, cell: Cell, *, max_size: int = 6, min_T: int = 1) -> CellProblem:
    """Problems of one cell: D, H, K in 1..max_size, T in min_T..max_size (strategies.py's way)."""
    sizes = tuple(draw(st.integers(lo, max_size), label=s) for s, lo in zip("DHKT", (1, 1, 1, min_T), strict=True))
    gain = draw(st.floats(0.5, 1.5), label="recurrent gain")
    zero_h0 = draw(st.booleans(), label="zero h0 (and c0)")
    loss = draw(st.sampled_from(("sum", "mean", "last")), label="loss")
    return build(cell, sizes, gain, zero_h0, loss, draw(st.integers(0, 2**32 - 1), label="seed"))


CELLS = pytest.mark.parametrize("cell", list(Cell), ids=str)
TORCH_CELLS = pytest.mark.parametrize("cell", [Cell.TANH, Cell.RELU, Cell.GRU, Cell.LSTM], ids=str)


# --- the gradients compared --------------------------------------------------------------------


def log_softmax(q: np.ndarray) -> np.ndarray:
    """Shifted by max Re q (a constant of the identity), so that it takes complex steps."""
    s = q - np.max(q.real, axis=-1, keepdims=True)
    return s - np.log(np.sum(np.exp(s), axis=-1, keepdims=True))


def model_loss(p: CellProblem, arrays: dict, layer: bool):
    """E = sum_t w_t E_t of the seed's output layer on the cell, or the layer's sum_t g_t . h_t."""
    rec = {k: arrays[k] for k in RECURRENT_NAMES[p.cell]}
    hs = run_forward(p.cell, rec, arrays["xs"], arrays["h0"], arrays.get("c0")).hs[1:]
    if layer:
        return np.sum(p.g * hs)
    return np.sum(p.weights * -np.sum(p.Y * log_softmax(hs @ arrays["V"].T + arrays["b_y"]), axis=-1))


def hand_gradients(p: CellProblem, layer: bool, k: int | None = None) -> dict:
    """run_backward under the seed's output layer (dq_t = w_t (yhat_t - y_t), g_t = V^T dq_t), or
    for the layer's upstream g alone."""
    traj = run_forward(p.cell, p.rec, p.xs, p.h0, p.c0)
    if layer:
        return run_backward(p.cell, p.rec, p.xs, traj, p.g, k=k)
    log_yhat = log_softmax(traj.hs[1:] @ p.V.T + p.b_y)
    dq = p.weights[:, None] * (p.Y.sum(axis=1, keepdims=True) * np.exp(log_yhat) - p.Y)
    out = run_backward(p.cell, p.rec, p.xs, traj, dq @ p.V, k=k)
    out.update(V=dq.T @ traj.hs[1:], b_y=dq.sum(axis=0), loss=model_loss(p, p.arrays(False), False))
    return out


def jax_gradients(p: CellProblem, layer: bool) -> dict:
    if layer:  # no output layer, no loss weights: L = sum_t g_t . h_t
        T, K = p.Y.shape
        out = jax_cell_gradients(p.cell, p.rec, p.xs, np.zeros((T, K)), p.h0, p.c0, np.zeros(T), dhs=p.g)
        return {k: v for k, v in out.items() if k != "loss"}
    return jax_cell_gradients(p.cell, {**p.rec, "V": p.V, "b_y": p.b_y}, p.xs, p.Y, p.h0, p.c0, p.weights)


# Complex step: Im L(θ + i h e_j) / h has no cancellation, so any h far below sqrt(eps) |θ| makes
# its truncation error O(h^2) vanish; 1e-20 is the customary choice (Squire and Trapp 1998).
COMPLEX_STEP = 1e-20


def complex_step_gradients(p: CellProblem, layer: bool) -> dict:
    """dL/dθ_j = Im L(θ + i h e_j) / h for every entry of every array L depends on."""
    arrays = p.arrays(layer)
    out = {}
    for name, a in arrays.items():
        out[name] = np.zeros(a.shape)
        for j in np.ndindex(a.shape):
            stepped = {k: v.astype(np.complex128) for k, v in arrays.items()}
            stepped[name][j] += 1j * COMPLEX_STEP
            out[name][j] = np.imag(model_loss(p, stepped, layer)) / COMPLEX_STEP
    return out


def jax_truncated(p: CellProblem, k: int) -> dict:
    """Truncated BPTT by JAX: each g_t . h_t with h_t recomputed over its last k steps from the states
    before them held constant (the states of JAX's own forward pass), or from h_0, c_0 when the
    window reaches them."""
    T, H = p.g.shape
    c0 = np.zeros(H) if p.c0 is None else p.c0
    states = [(p.h0, c0)]
    for t in range(T):
        states.append(tuple(np.asarray(s) for s in cell_step(p.cell, p.rec, p.xs[t], *states[-1])))

    def L(rec, xs, h0, c0):
        total = 0.0
        for t in range(1, T + 1):
            start = max(0, t - k)
            h, c = (h0, c0) if start == 0 else states[start]
            for s in range(start, t):
                h, c = cell_step(p.cell, rec, xs[s], h, c)
            total += jnp.dot(p.g[t - 1], h)
        return total

    rec, xs, h0, c0 = jax.grad(L, argnums=(0, 1, 2, 3))(p.rec, p.xs, p.h0, c0)
    out = {**{k: np.asarray(v) for k, v in rec.items()}, "xs": np.asarray(xs), "h0": np.asarray(h0)}
    return out if p.c0 is None else {**out, "c0": np.asarray(c0)}


# --- the claims --------------------------------------------------------------------------------


@CELLS
@given(data=st.data())
def test_backward_matches_jax_autodiff(cell, data):
    p = data.draw(cell_problems(cell))
    assert_close(hand_gradients(p, layer=False), jax_gradients(p, layer=False), p, "BPTT and JAX gradients", False)


@CELLS
@given(data=st.data())
def test_backward_matches_jax_autodiff_for_the_layer_alone(cell, data):
    p = data.draw(cell_problems(cell))
    assert_close(hand_gradients(p, layer=True), jax_gradients(p, layer=True), p, "BPTT and JAX layer gradients")


@CELLS
@examples(0.3)
@given(data=st.data())
def test_backward_matches_complex_step(cell, data):
    p = data.draw(cell_problems(cell, max_size=4))
    layer = data.draw(st.booleans(), label="layer alone")
    expected = complex_step_gradients(p, layer)
    actual = {k: v for k, v in hand_gradients(p, layer).items() if k != "loss"}
    assert_close(actual, expected, p, "BPTT and complex-step gradients", layer)


@CELLS
@given(data=st.data())
def test_tangent_dot_g_equals_backward_dot_direction(cell, data):
    """sum_t g_t . (dh_t/dθ) v by run_tangent == <run_backward, v>, for a random direction v."""
    p = data.draw(cell_problems(cell))
    grads = hand_gradients(p, layer=True)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="direction seed"))
    v = {k: rng.standard_normal(a.shape) for k, a in grads.items() if k != "xs"}
    forward = float(np.sum(p.g * run_tangent(cell, p.rec, p.xs, p.h0, p.c0, v)))
    backward = sum(float(np.sum(grads[k] * v[k])) for k in v)
    assert abs(forward - backward) <= scalar_tolerance(grads, v, model_tolerance(p, True)), (forward, backward, p.sizes)


@CELLS
@examples(0.5)
@given(data=st.data())
def test_tangent_matches_jax_jvp(cell, data):
    p = data.draw(cell_problems(cell))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="direction seed"))
    v = {k: rng.standard_normal(a.shape) for k, a in p.arrays(layer=True).items() if k != "xs"}
    T, K = p.Y.shape
    expected = jax_cell_jvp(cell, p.rec, p.xs, np.zeros((T, K)), p.h0, p.c0, np.zeros(T), v, dhs=p.g)
    dhs = run_tangent(cell, p.rec, p.xs, p.h0, p.c0, v)
    tol = scalar_tolerance(hand_gradients(p, layer=True), v, model_tolerance(p, True))
    assert abs(np.sum(p.g * dhs) - expected) <= tol, (expected, p.sizes)


@CELLS
@given(data=st.data(), extra=st.integers(0, 3))
def test_truncation_with_k_at_least_T_is_full(cell, data, extra):
    p = data.draw(cell_problems(cell))
    layer = data.draw(st.booleans(), label="layer alone")
    full = hand_gradients(p, layer)
    assert_close(hand_gradients(p, layer, k=p.xs.shape[0] + extra), full, p, f"k = T + {extra} and full BPTT", layer)


@CELLS
@examples(0.3)
@given(data=st.data())
def test_truncation_at_k_1_is_the_direct_terms(cell, data):
    """k = 1: each g_t . h_t differentiated in step t alone, h_{t-1} (and c_{t-1}) held constant."""
    p = data.draw(cell_problems(cell))
    assert_close(hand_gradients(p, layer=True, k=1), jax_truncated(p, 1), p, "k = 1 and the direct terms")


@CELLS
@examples(0.3)
@given(data=st.data())
def test_truncation_matches_jax_on_windows_of_k_steps(cell, data):
    p = data.draw(cell_problems(cell, min_T=2))
    k = data.draw(st.integers(1, p.xs.shape[0]), label="k")
    assert_close(hand_gradients(p, layer=True, k=k), jax_truncated(p, k), p, f"truncation at k = {k} and JAX's")


TORCH_NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def torch_module(cell: Cell, p: CellProblem):
    """torch.nn.RNN / GRU / LSTM in float64 holding the problem's weights (tanh, relu: b_hh = 0)."""
    import torch

    D, H = p.xs.shape[1], p.h0.shape[0]
    make = {Cell.GRU: torch.nn.GRU, Cell.LSTM: torch.nn.LSTM}.get(cell)
    m = (make(D, H) if make else torch.nn.RNN(D, H, nonlinearity=cell.value)).double()
    rec = p.rec if make else {"W_ih": p.rec["U"], "W_hh": p.rec["W"], "b_ih": p.rec["b_h"], "b_hh": np.zeros(H)}
    with torch.no_grad():
        for name, key in zip(TORCH_NAMES, ("W_ih", "W_hh", "b_ih", "b_hh"), strict=True):
            getattr(m, name).copy_(torch.from_numpy(rec[key]))
    return torch, m


def torch_states(cell: Cell, p: CellProblem):
    torch, m = torch_module(cell, p)
    x, h0 = torch.from_numpy(p.xs)[:, None, :], torch.from_numpy(p.h0)[None, None, :]
    if cell is Cell.LSTM:
        out, (_h, c) = m(x, (h0, torch.from_numpy(p.c0)[None, None, :]))
        return out.detach().numpy()[:, 0], c.detach().numpy()[0, 0]
    return m(x, h0)[0].detach().numpy()[:, 0], None


@TORCH_CELLS
def test_forward_matches_torch(cell):
    pytest.importorskip("torch")

    @given(cell_problems(cell))
    def check(p):
        traj = run_forward(cell, p.rec, p.xs, p.h0, p.c0)
        hs, c_T = torch_states(cell, p)
        expected = {"hs": hs} if c_T is None else {"hs": hs, "c_T": c_T}
        actual = {"hs": traj.hs[1:]} if c_T is None else {"hs": traj.hs[1:], "c_T": traj.cs[-1]}
        assert_close(actual, expected, p, f"run_forward and torch.nn's {cell} states")

    check()


@TORCH_CELLS
def test_backward_matches_torch_autograd(cell):
    pytest.importorskip("torch")

    @examples(0.5)
    @given(cell_problems(cell))
    def check(p):
        assert_close(hand_gradients(p, layer=True), torch_gradients(cell, p), p, "BPTT and torch.autograd")

    check()


def torch_gradients(cell: Cell, p: CellProblem) -> dict:
    """The gradients of sum_t g_t . h_t by torch.autograd, under the cell's parameter names."""
    torch, m = torch_module(cell, p)
    x = torch.from_numpy(p.xs)[:, None, :].requires_grad_()
    h0 = torch.from_numpy(p.h0)[None, None, :].requires_grad_()
    state = h0 if cell is not Cell.LSTM else (h0, torch.from_numpy(p.c0)[None, None, :].requires_grad_())
    out, _ = m(x, state)
    (out[:, 0] * torch.from_numpy(p.g)).sum().backward()
    names = RECURRENT_NAMES[cell] if GATES[cell] > 1 else ("U", "W", "b_h", None)
    out = {n: getattr(m, t).grad.numpy() for n, t in zip(names, TORCH_NAMES, strict=True) if n}
    out.update(xs=x.grad.numpy()[:, 0], h0=h0.grad.numpy()[0, 0])
    if cell is Cell.LSTM:
        out["c0"] = state[1].grad.numpy()[0, 0]
    return out


@given(cell_problems(Cell.GRU))
def test_gru_and_gru_cho_differ_unless_r_is_one(p):
    """With r_t != 1 (always, for these draws) the two GRUs' states differ beyond round-off; with the
    reset gate pinned at 1 (its rows 0, b_ir = 40: sigma(40) rounds to 1) they agree."""
    H = p.h0.shape[0]
    gru, cho = (run_forward(c, p.rec, p.xs, p.h0).hs for c in (Cell.GRU, Cell.GRU_CHO))
    gap = float(np.max(np.abs(gru - cho)[1:] - model_tolerance(p, True)["hs"]))
    assert gap > 0, f"gru and gru_cho agree to round-off\n{p.sizes}"
    pinned = {k: v.copy() for k, v in p.rec.items()}
    pinned["W_ih"][:H], pinned["W_hh"][:H], pinned["b_ih"][:H], pinned["b_hh"][:H] = 0.0, 0.0, 40.0, 0.0
    gru, cho = (run_forward(c, pinned, p.xs, p.h0).hs[1:] for c in (Cell.GRU, Cell.GRU_CHO))
    assert_close({"hs": gru}, {"hs": cho}, p._replace(rec=pinned), "gru and gru_cho with r = 1")


# --- CS231n's LSTM (examples/cs231n_lstm.py) ----------------------------------------------------


def load_example(name: str):
    path = Path(__file__).parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CS231N = load_example("cs231n_lstm")


@examples(0.5)
@given(cell_problems(Cell.LSTM), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_cs231n_lstm_example_matches_backward(p, N, seed):
    """CS231n's lstm_forward/lstm_backward through the adapter == run_backward, sequence by sequence
    (c0 = 0; the weight gradients summed over the batch of N)."""
    rng = np.random.default_rng(seed)
    (T, D), H = p.xs.shape, p.h0.shape[0]
    xs, h0, dhs = rng.standard_normal((N, T, D)), rng.uniform(-1, 1, (N, H)), rng.standard_normal((N, T, H))
    got = CS231N.grads(p.rec, xs, h0, np.zeros((N, H)), dhs)
    expected = {k: np.zeros(a.shape) for k, a in p.rec.items()}
    expected.update(xs=np.zeros(xs.shape), h0=np.zeros(h0.shape), hs=np.zeros(dhs.shape))
    for n in range(N):
        traj = run_forward(Cell.LSTM, p.rec, xs[n], h0[n], np.zeros(H))
        one = run_backward(Cell.LSTM, p.rec, xs[n], traj, dhs[n])
        for k in p.rec:
            expected[k] += one[k]
        expected["xs"][n], expected["h0"][n], expected["hs"][n] = one["xs"], one["h0"], traj.hs[1:]
    tols = [
        roundoff_check(make_layer_problem(p.rec, xs[n], h0[n], dhs[n], cell=Cell.LSTM, c0=np.zeros(H)), FLOAT64).tol
        for n in range(N)
    ]
    tol = {k: sum(t[k] for t in tols) for k in p.rec} | {k: np.stack([t[k] for t in tols]) for k in ("xs", "h0", "hs")}
    for k, r in expected.items():
        assert np.all(np.abs(got[k] - r) <= tol[k]), (k, np.max(np.abs(got[k] - r) - tol[k]), p.sizes)


def test_cs231n_adapter_has_at_most_ten_lines():
    import inspect

    assert len(inspect.getsource(CS231N.grads).splitlines()) <= 10


# --- the boundary ------------------------------------------------------------------------------


def test_bad_input_raises_gradcheck_error_naming_the_argument():
    p = build(Cell.LSTM, (2, 3, 2, 4), 1.0, False, "sum", 0)
    with pytest.raises(GradcheckError, match="cell: 'lstmm' is not one of tanh, relu, gru, gru_cho, lstm"):
        parse_cell("lstmm")
    with pytest.raises(GradcheckError, match=r"rec\['W_hh'\]: shape \(9, 3\) given, expected \(12, 3\)"):
        run_forward("lstm", {**p.rec, "W_hh": p.rec["W_hh"][:9]}, p.xs, p.h0, p.c0)
    with pytest.raises(GradcheckError, match="c0: given for cell 'gru'"):
        run_forward("gru", {k: v[: 3 * 3] for k, v in p.rec.items()}, p.xs, p.h0, p.c0)
    traj = run_forward("lstm", p.rec, p.xs, p.h0, p.c0)
    with pytest.raises(GradcheckError, match="k: 0 given"):
        run_backward("lstm", p.rec, p.xs, traj, p.g, k=0)
    with pytest.raises(GradcheckError, match=r"g: shape \(4, 2\) given"):
        run_backward("lstm", p.rec, p.xs, traj, p.g[:, :2])
    with pytest.raises(GradcheckError, match="tangents: unknown key"):
        run_tangent("lstm", p.rec, p.xs, p.h0, p.c0, {"W": np.zeros((3, 3))})
