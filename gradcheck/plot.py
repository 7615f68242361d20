"""Pictures (matplotlib, the optional `plot` extra): what finite differences and the seed's series look like.

- `step_curves`: finite-difference error against the step h, per parameter: the V of truncation
  (slope h^2) against round-off (slope 1/h), with the harness's step eps^(1/3) marked;
- `timestep_terms`: the seed's series made visible: the size of the contribution of step k to
  dE_t/dW against t - k, for several scales of W (vanishing below 1, exploding above);
- `error_maps`: per-parameter maps of |implementation - reference| / tolerance, for a failure.
"""

from __future__ import annotations

import numpy as np

from .bptt import bptt, output_error
from .errors import GradcheckError
from .model import forward
from .numeric import EPS, central_differences
from .problem import GRAD_NAMES, Problem
from .regimes import Scales
from .strategies import build_problem


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GradcheckError("plot: needs matplotlib (pip install 'gradcheck-rnn[plot]')") from None
    return plt


def step_curves(out: str, problem: Problem | None = None) -> str:
    """FD error max|D - exact| / max|exact| against the relative step, one line per parameter."""
    plt = _pyplot()
    problem = problem or build_problem((4, 8, 5, 12), Scales(1.0, 1.0, 1.5, 0.5, 1.0, 0.0), 0)
    exact = bptt(problem)
    steps = np.logspace(-13, -1, 49)
    errors = {n: [] for n in GRAD_NAMES}
    for h in steps:
        fd = central_differences(problem, float(h))
        for n in GRAD_NAMES:
            errors[n].append(max(np.max(np.abs(fd[n] - exact[n])) / np.max(np.abs(exact[n])), 1e-17))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for n in GRAD_NAMES:
        ax.loglog(steps, errors[n], marker=".", label=n)
    ax.axvline(EPS ** (1 / 3), color="k", ls="--", lw=1, label=r"harness step $\epsilon^{1/3}$")
    # Guides anchored where each effect dominates: the largest step (truncation), the smallest (round-off).
    hidden = ("U", "W", "b_h", "h0")
    top, bottom = np.median([errors[n][-1] for n in hidden]), np.median([errors[n][0] for n in hidden])
    ax.loglog(steps[30:], top * (steps[30:] / steps[-1]) ** 2 / 3, "k:", lw=1, label=r"truncation $\propto h^2$")
    ax.loglog(steps[:18], bottom * (steps[:18] / steps[0]) ** -1 / 3, "k-.", lw=1, label=r"round-off $\propto 1/h$")
    D, H, K, T = problem.sizes
    ax.set(
        xlabel="relative step h  (step = h max(1, |θ_i|))",
        ylabel="max |FD - exact| / max |exact|",
        title=f"Central differences against the step: D={D} H={H} K={K} T={T}",
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def series_term_sizes(problem: Problem, t: int | None = None) -> np.ndarray:
    """|| (T^t W T^{t-1} ... W T^k)^T V^T dq_t || ||h_{k-1}||: the size of term k of the seed's
    series for dE_t/dW, for k = t, t-1, .., 1 (index t - k)."""
    fw = forward(problem)
    dq = output_error(problem, fw.log_yhat)
    W, hs = problem.params.W, fw.hs
    t = t or problem.xs.shape[0]
    u = (1 - hs[t] ** 2) * (dq[t - 1] @ problem.params.V)  # P_t^T g_t
    sizes = []
    for k in range(t, 0, -1):
        sizes.append(np.linalg.norm(u) * np.linalg.norm(hs[k - 1]))
        u = (1 - hs[k - 1] ** 2) * (u @ W)  # P_{k-1}^T g_t = T^{k-1} W^T P_k^T g_t
    return np.array(sizes)


def timestep_terms(out: str, gains=(0.25, 0.5, 1.0, 1.5, 2.5, 4.0), T: int = 60) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for gain in gains:
        sizes = np.mean(
            [
                series_term_sizes(build_problem((4, 32, 5, T), Scales(0.3, gain, 1.0, 0.1, 1.0, 0.0), s))
                for s in range(8)
            ],
            axis=0,
        )
        ax.semilogy(np.arange(T), np.maximum(sizes, 1e-300), label=f"W gain {gain:g}")
    ax.set(
        xlabel="t - k  (how far back step k lies)",
        ylabel="size of term k of dE_t/dW (mean over 8 seeds)",
        title=f"The seed's series: contributions of earlier steps (H=32, t=T={T})",
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="W = gain N(0, 1/H)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def error_maps(out: str, result: dict, reference: dict, tol: dict, title: str) -> str:
    """log10(|a - r| / tol) per entry, one panel per parameter (vectors as one row)."""
    plt = _pyplot()
    names = [n for n in GRAD_NAMES if n in result]
    fig, axes = plt.subplots(1, len(names), figsize=(3.0 * len(names), 3.4), squeeze=False)
    for ax, n in zip(axes[0], names, strict=True):
        err = np.abs(np.asarray(result[n]) - reference[n]) / np.asarray(tol[n])
        grid = np.atleast_2d(np.log10(np.maximum(err, 1e-3)))
        im = ax.imshow(
            grid, cmap="magma", vmin=-3, vmax=max(3.0, float(grid.max())), aspect="auto", interpolation="nearest"
        )
        ax.set_title(f"{n}: {int(np.sum(err > 1))}/{err.size} over")
        ax.set_xlabel("column j" if np.ndim(result[n]) == 2 else "index")
        ax.set_ylabel("row i" if np.ndim(result[n]) == 2 else "")
        if np.ndim(result[n]) < 2:
            ax.set_yticks([])
        fig.colorbar(im, ax=ax, shrink=0.8, label="log10 error/tol")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
