"""`python benchmarks/bench.py [--quick]`: this harness side by side with the tools people use, in one run.

Times are the best of several repeats on the same machine in the same process (the machines are
shared and noisy: ratios between rows of one run mean more than any single time). Nothing here
is asserted; the tests assert correctness only.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gradcheck.bptt import backward_recursion, bptt, direct_state_gradient, output_error, series
from gradcheck.compare import compare_grads, directional_check, fd_tolerance, roundoff_tolerance
from gradcheck.forward_mode import FORWARD_FLOP_LIMIT, forward_sensitivities, jvp_problem
from gradcheck.model import forward
from gradcheck.numeric import directional_derivative, fd_estimate, naive_central_differences, random_direction
from gradcheck.problem import GRAD_NAMES, Problem, as_contract_inputs
from gradcheck.regimes import Scales
from gradcheck.strategies import build_problem

SIZES = (16, 32, 16, 20)  # (D, H, K, T): 2096 parameter entries, 2128 with the 32 of h0


@dataclass
class Row:
    tool: str
    what: str
    seconds: float | None  # None: skipped
    error: str  # accuracy against the exact gradient
    verdict: str  # the tool's verdict on the correct gradient
    note: str = ""


def best_of(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """The shortest of `repeats` runs, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def _max_error(grads: dict, exact: dict) -> float:
    return max(
        float(np.max(np.abs(np.asarray(grads[k]) - exact[k])) / max(np.max(np.abs(exact[k])), 1e-300))
        for k in GRAD_NAMES
    )


def _flat(problem: Problem) -> np.ndarray:
    return np.concatenate([*(a.ravel() for a in problem.params), problem.h0])


def _shapes(problem: Problem) -> list[tuple[int, ...]]:
    return [a.shape for a in problem.params] + [problem.h0.shape]


def _unflat(theta, shapes):
    out, i = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(theta[i : i + n].reshape(s))
        i += n
    return out


def _as_grads(flat: np.ndarray, problem: Problem) -> dict:
    return dict(zip(GRAD_NAMES, _unflat(np.asarray(flat), _shapes(problem)), strict=True))


def harness_rows(problem: Problem, exact: dict, repeats: int) -> tuple[list[Row], float]:
    """This harness: naive 2P loop, plain and error-estimated full Jacobians, complex step, directional, JAX."""
    from gradcheck.model import loss

    rows = []
    t_naive, naive = best_of(lambda: naive_central_differences(loss, problem), max(1, repeats // 3))
    rows.append(Row("naive loop", "full FD, 2P forward passes", t_naive, f"{_max_error(naive, exact):.1e}", "-"))
    t, plain = best_of(lambda: fd_estimate(problem, "central", estimate_error=False), repeats)
    rows.append(
        Row(
            "gradcheck",
            "full FD, central (plain)",
            t,
            f"{_max_error(plain.grads, exact):.1e}",
            "-",
            f"{100 * t / t_naive:.1f}% of the naive loop",
        )
    )
    t, est = best_of(lambda: fd_estimate(problem, "central"), repeats)
    ok = all(c.ok for c in compare_grads(exact, est.grads, fd_tolerance(problem, est)))
    rows.append(
        Row(
            "gradcheck",
            "full FD, central + per-entry error",
            t,
            f"{_max_error(est.grads, exact):.1e}",
            "agree" if ok else "DISAGREE",
            f"{100 * t / t_naive:.1f}% of the naive loop",
        )
    )
    t, cs = best_of(lambda: fd_estimate(problem, "complex"), repeats)
    ok = all(c.ok for c in compare_grads(exact, cs.grads, fd_tolerance(problem, cs)))
    rows.append(
        Row("gradcheck", "full complex step", t, f"{_max_error(cs.grads, exact):.1e}", "agree" if ok else "DISAGREE")
    )
    v = random_direction(problem, np.random.default_rng(0))
    t, d = best_of(lambda: directional_derivative(problem, exact, v), repeats)
    rel = abs(d.numeric - d.analytic) / abs(d.analytic)
    rows.append(
        Row(
            "gradcheck", "directional (1 random v)", t, f"{rel:.1e}", "agree" if directional_check(d).ok else "DISAGREE"
        )
    )
    if importlib.util.find_spec("jax") is not None:
        from reference import jax_gradients

        args = as_contract_inputs(problem)
        jax_gradients(*args, loss=problem.loss)  # compile once, outside the timing

        def vs_jax():
            ref = jax_gradients(*args, loss=problem.loss)
            return ref, compare_grads(exact, ref, roundoff_tolerance(problem))

        t, (ref, checks) = best_of(vs_jax, repeats)
        rows.append(
            Row(
                "gradcheck",
                "vs JAX autodiff (every entry)",
                t,
                f"{_max_error(ref, exact):.1e}",
                "agree" if all(c.ok for c in checks) else "DISAGREE",
                "compiled once beforehand",
            )
        )
    return rows, t_naive


def torch_rows(problem: Problem, exact: dict, repeats: int) -> list[Row]:
    """torch.autograd.gradcheck, slow (full Jacobian) and fast mode, on the same loss in torch."""
    if importlib.util.find_spec("torch") is None:
        return [
            Row("torch.autograd.gradcheck", m, None, "-", "-", "skipped: torch not installed")
            for m in ("slow (full Jacobian)", "fast_mode=True")
        ]
    import torch

    shapes = _shapes(problem)
    xs, Y = torch.tensor(problem.xs), torch.tensor(problem.Y)
    w = torch.tensor(problem.weights)

    def loss(theta):
        U, W, V, b_h, b_y, h = _unflat(theta, shapes)
        E = theta.new_zeros(())
        for t in range(xs.shape[0]):
            h = torch.tanh(U @ xs[t] + W @ h + b_h)
            E = E - w[t] * (Y[t] * torch.log_softmax(V @ h + b_y, dim=0)).sum()
        return E

    theta = torch.tensor(_flat(problem), requires_grad=True)
    rows = []
    for mode, fast in (("slow (full Jacobian)", False), ("fast_mode=True", True)):
        check = lambda fast=fast: torch.autograd.gradcheck(loss, (theta,), fast_mode=fast, raise_exception=False)
        t, ok = best_of(check, max(1, repeats // 3 if not fast else repeats))
        error = "-"
        if not fast:  # its numerical Jacobian, for the accuracy column (computed outside the timing)
            numerical = _torch_numerical_gradient(loss, theta)
            error = f"{_max_error(_as_grads(numerical, problem), exact):.1e}" if numerical is not None else "n/a"
        rows.append(
            Row(
                "torch.autograd.gradcheck",
                mode,
                t,
                error,
                "agree" if ok else "DISAGREE",
                f"torch {torch.__version__}, eps 1e-6, atol 1e-5, rtol 1e-3",
            )
        )
    return rows


def _torch_numerical_gradient(loss, theta) -> np.ndarray | None:
    """torch's own central differences (eps 1e-6), as gradcheck computes them."""
    import torch

    eps, out = 1e-6, np.zeros(theta.numel())
    with torch.no_grad():
        base = theta.detach().clone()
        for i in range(theta.numel()):
            plus, minus = base.clone(), base.clone()
            plus[i] += eps
            minus[i] -= eps
            out[i] = (loss(plus) - loss(minus)).item() / (2 * eps)
    return out


def jax_rows(problem: Problem, exact: dict, repeats: int) -> list[Row]:
    """jax.test_util.check_grads on the same loss in JAX (reverse mode, order 1)."""
    if importlib.util.find_spec("jax") is None:
        return [Row("jax.test_util.check_grads", "order=1, rev", None, "-", "-", "skipped: jax not installed")]
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    shapes = _shapes(problem)
    xs, Y, w = jnp.asarray(problem.xs), jnp.asarray(problem.Y), jnp.asarray(problem.weights)

    def loss(theta):
        U, W, V, b_h, b_y, h0 = _unflat(theta, shapes)

        def step(h, inp):
            x, y = inp
            h = jnp.tanh(U @ x + W @ h + b_h)
            return h, -jnp.sum(y * jax.nn.log_softmax(V @ h + b_y))

        return jnp.sum(w * jax.lax.scan(step, h0, (xs, Y))[1])

    theta = jnp.asarray(_flat(problem))

    def run():
        try:
            check_grads(loss, (theta,), order=1, modes=("rev",))
            return True
        except AssertionError:
            return False

    t, ok = best_of(run, max(1, repeats // 3))
    return [
        Row(
            "jax.test_util.check_grads",
            "order=1, rev (random directions)",
            t,
            "-",
            "agree" if ok else "DISAGREE",
            f"jax {jax.__version__}; includes tracing, as a user calls it",
        )
    ]


def scaling_rows(repeats: int, quick: bool) -> list[tuple[int, int, float, float, float, float]]:
    """BPTT time / forward time, and the backward pass's peak memory / (T H 8 bytes)."""
    out = []
    Ts, Hs = ((10, 100, 1000), (16, 64, 256)) if not quick else ((10, 100), (16, 64))
    for H in Hs:
        for T in Ts:
            p = build_problem((16, H, 16, T), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 0)
            t_fwd, _ = best_of(lambda p=p: forward(p), repeats)
            tbptt, _ = best_of(lambda p=p: bptt(p), repeats)
            fw = forward(p)
            dq = output_error(p, fw.log_yhat)
            tracemalloc.start()
            backward_recursion(direct_state_gradient(p, dq), fw.hs, p.params.W)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            out.append((T, H, t_fwd, tbptt, tbptt / t_fwd, peak / (T * H * 8)))
    return out


def series_rows(quick: bool) -> list[tuple[int, int, float]]:
    """How long the seed's literal series takes (it is O(T^2 H^3))."""
    sizes = [(20, 16), (50, 16), (100, 16), (100, 32), (100, 64)] if not quick else [(20, 16), (50, 16)]
    out = []
    for T, H in sizes:
        p = build_problem((8, H, 8, T), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 0)
        t, _ = best_of(lambda p=p: series(p), 1)
        out.append((T, H, t))
    return out


def forward_mode_rows(repeats: int, quick: bool) -> list[tuple[int, int, float, float, float | None]]:
    """jvp (forward mode along one direction) against the forward pass, and forward_gradients."""
    out = []
    for T, H in ((100, 16), (100, 64), (1000, 64)) if not quick else ((100, 16),):
        p = build_problem((16, H, 16, T), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 0)
        v = random_direction(p, np.random.default_rng(0))
        t_fwd, _ = best_of(lambda p=p: forward(p), repeats)
        t_jvp, _ = best_of(lambda p=p, v=v: jvp_problem(p, v), repeats)
        cost = 2 * T * H * H * H * (H + 16 + 2)
        t_full = best_of(lambda p=p: forward_sensitivities(p), 1)[0] if cost <= FORWARD_FLOP_LIMIT / 4 else None
        out.append((T, H, t_fwd, t_jvp, t_full))
    return out


def worker_rows(quick: bool) -> list[tuple[str, float]] | None:
    """verify's default search of a correct numpy implementation (in process) against the C worker
    of examples/c (over the protocol), and the protocol's own cost per problem; None without cc."""
    import shutil
    import subprocess
    import tempfile

    from gradcheck.contract import Case, Contract
    from gradcheck.oracle import verify
    from gradcheck.worker import format_request, parse_array

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source, numpy_example = (
        os.path.join(root, "examples", "c", "worker.c"),
        os.path.join(root, "examples", "numpy_batched.py"),
    )
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not os.path.exists(source) or not os.path.exists(numpy_example):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "worker")
        subprocess.run([compiler, "-O2", "-std=c99", "-o", binary, source, "-lm"], check=True)
        t_numpy, _ = best_of(lambda: verify(numpy_example + ":grads"), 1 if quick else 3)
        t_c, _ = best_of(lambda: verify(worker=binary), 1 if quick else 3)
    p = build_problem((16, 16, 16, 50), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 0)
    case = Case((p,), Contract())
    params, xs, ys, h0 = case.arguments()
    arrays = [*params.items(), ("xs", xs), ("ys", ys), ("h0", h0)]
    reply = [format_array_line(k, v) for k, v in params.items()]
    t_format, _ = best_of(
        lambda: format_request(
            1, "sequence", {"loss": "sum", "batch_loss": "sum", "dtype": "float64", "flags": ""}, arrays
        ),
        20,
    )
    t_parse, _ = best_of(lambda: [parse_array(line) for line in reply], 20)
    numbers = sum(np.size(a) for _, a in arrays)
    return [
        ("verify of examples/numpy_batched.py:grads (in process)", t_numpy),
        ("verify --exec examples/c/worker (built with cc -O2)", t_c),
        (f"protocol: format one default-size request ({numbers} numbers)", t_format),
        (f"protocol: parse the gradients of one reply ({sum(np.size(a) for a in params.values())} numbers)", t_parse),
    ]


def format_array_line(name: str, a) -> str:
    from gradcheck.worker import format_array

    return format_array(name, np.asarray(a) * 1.0000001)


def compile_count(examples: int = 200) -> int | None:
    """JAX compilations in a verify of `examples` random shapes with the JAX reference."""
    if importlib.util.find_spec("jax") is None:
        return None
    import logging

    import jax

    from gradcheck.implementation import implementation
    from gradcheck.options import Options
    from gradcheck.oracle import search

    count = 0

    class Counter(logging.Handler):
        def emit(self, record):
            nonlocal count
            count += "Compiling" in record.getMessage() and "_loss" in record.getMessage()

    handler, logger = Counter(), logging.getLogger("jax")
    logger.addHandler(handler)
    jax.config.update("jax_log_compiles", True)
    try:
        from reference import jax_rnn

        jax_rnn._value_and_grad.clear_cache()
        opts = Options(reference="jax", examples=examples, max_size=64, max_steps=200)
        search(implementation(_correct_reference, opts), opts)
    finally:
        jax.config.update("jax_log_compiles", False)
        logger.removeHandler(handler)
    return count


def _correct_reference(params, xs, ys, h0):
    from gradcheck.bptt import bptt_gradients

    return bptt_gradients(params, xs, ys, h0)


def machine() -> str:
    import numpy

    parts = [platform.processor() or platform.machine(), f"{os.cpu_count()} cores"]
    parts += [f"Python {platform.python_version()}", f"numpy {numpy.__version__}"]
    for mod in ("jax", "torch"):
        if importlib.util.find_spec(mod) is not None:
            parts.append(f"{mod} {__import__(mod).__version__}")
    return ", ".join(parts)


def run_bench(quick: bool = False) -> str:
    repeats = 3 if quick else 7
    problem = build_problem(SIZES, Scales(1.0, 1.0, 1.5, 0.5, 1.0, 0.0), 0)
    exact = bptt(problem)
    P = sum(a.size for a in problem.params) + problem.h0.size
    rows, _ = harness_rows(problem, exact, repeats)
    rows += torch_rows(problem, exact, repeats) + jax_rows(problem, exact, repeats)
    slow = next((r.seconds for r in rows if r.what.startswith("slow") and r.seconds), None)
    D, H, K, T = SIZES
    lines = [
        f"benchmarks/bench.py on {machine()}",
        "",
        f"Gradient checks on one problem, (D, H, K, T) = ({D}, {H}, {K}, {T}), P = {P} entries (U, W, V, b_h, "
        "b_y, h0), float64. Best of repeated runs. 'error' is the largest |numeric - exact| / max|exact| over "
        "the parameters (directional: relative error of <grad, v>).",
        "",
    ]
    head = f"  {'tool':26} {'what':38} {'time':>10} {'x faster':>9}  {'error':>8}  {'verdict':8} note"
    lines += [head, "  " + "-" * (len(head) - 2)]
    for r in rows:
        time_s = f"{r.seconds * 1e3:8.1f} ms" if r.seconds is not None else "   skipped"
        ratio = f"{slow / r.seconds:8.1f}x" if slow and r.seconds else "        -"
        lines.append(f"  {r.tool:26} {r.what:38} {time_s:>10} {ratio:>9}  {r.error:>8}  {r.verdict:8} {r.note}")
    lines += ["", "'x faster' is relative to torch.autograd.gradcheck's slow (full-Jacobian) mode in this run.", ""]
    lines += [
        "Scaling of the backward recursion (O(T H^2) time, O(T H) memory): BPTT time / forward time, and",
        "the backward pass's peak memory / (T H 8 bytes):",
        "",
        f"  {'T':>5} {'H':>5} {'forward':>10} {'BPTT':>10} {'BPTT/fwd':>9} {'peak mem / (T H 8 B)':>21}",
    ]
    for T_, H_, tf, tb, ratio, mem in scaling_rows(repeats, quick):
        lines.append(f"  {T_:5d} {H_:5d} {tf * 1e3:8.2f}ms {tb * 1e3:8.2f}ms {ratio:9.2f} {mem:21.2f}")
    lines += ["", "The seed's literal series (O(T^2 H^3), refused beyond bptt.SERIES_FLOP_LIMIT):", ""]
    for T_, H_, t in series_rows(quick):
        lines.append(f"  T={T_:4d} H={H_:4d}: {t:7.2f} s")
    lines += [
        "",
        "Forward mode (the seed's recursion run forward): jvp along one direction, O(T H^2), against the",
        "forward pass; the full forward sensitivities forward_gradients, O(T H^2 P):",
        "",
        f"  {'T':>5} {'H':>5} {'forward':>10} {'jvp':>10} {'jvp/fwd':>8} {'forward_gradients':>18}",
    ]
    for T_, H_, tf, tj, tfull in forward_mode_rows(repeats, quick):
        full = f"{tfull:16.3f} s" if tfull is not None else "  (over the limit)"
        lines.append(f"  {T_:5d} {H_:5d} {tf * 1e3:8.2f}ms {tj * 1e3:8.2f}ms {tj / tf:8.2f} {full}")
    workers = worker_rows(quick)
    lines += ["", "Workers in other languages (--exec), the default verify search, best of runs:", ""]
    if workers is None:
        lines.append("  skipped (no C compiler, or not run from a checkout with examples/)")
    else:
        for what, t in workers:
            lines.append(f"  {what:74} {t * 1e3 if t < 0.1 else t:9.3f} {'ms' if t < 0.1 else 's'}")
        lines.append(f"  --exec / in process: {workers[1][1] / workers[0][1]:.2f}")
    count = compile_count(50 if quick else 200)
    lines += [
        "",
        f"JAX compilations in a verify of {50 if quick else 200} random problems with --reference jax, "
        f"sizes up to 64 and T up to 200: {count if count is not None else 'skipped (no jax)'}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(run_bench(quick="--quick" in sys.argv[1:]))
