"""The arithmetic an implementation computes in: every fact about a precision, in one record.

The model, the round-off model, the problem generator, the judge, diagnosis, golden vectors and
the command line all take a `Precision` from here; nothing else keys a table by dtype or eps.

    FLOAT64    numpy/XLA/torch double          eps 2.2e-16  max 1.8e308   exp overflows at 709.8
    FLOAT32    single                          eps 1.2e-7   max 3.4e38    exp overflows at 88.7
    FLOAT16    IEEE half (GPU training code)   eps 9.8e-4   max 65504     exp overflows at 11.1
    BFLOAT16   brain float (TPU/GPU training)  eps 7.8e-3   max 3.4e38    exp overflows at 88.7

Half-precision code stores every result in half precision but accumulates dot products in
float32: numpy's float16 matmul, PyTorch (CPU and cuBLAS) and XLA all do (measured: numpy's
float16 `a @ a` of 4096 ones gives 4096, which a float16 accumulator stagnating at 2048 cannot).
Sums over time steps written as loops (`dW += ...`), and ml_dtypes' bfloat16 `np.sum`, accumulate
in the storage precision; the round-off model charges those at `eps` (roundoff.py).

Importing this module imports neither numpy nor ml_dtypes (the command line's help and a float64
run need no bfloat16): the numbers of each format are the IEEE formulas below, and a Precision's
numpy dtype is looked up when it is first asked for.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import GradcheckError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Precision:
    """One floating-point arithmetic, as the code under test uses it."""

    name: str  # also the numpy dtype's name (ml_dtypes' for bfloat16): see `dtype`
    eps: float  # machine epsilon: the spacing of the numbers just above 1
    max: float  # the largest finite number
    tiny: float  # the smallest normal number (code that flushes subnormals loses everything below)
    sum_eps: float  # the epsilon in which dot products accumulate (see the module docstring)
    # An elementary function's (tanh, exp, log) error between two libraries, in units of eps.
    ulps: float
    # Round-off moving some hidden state by more than this makes a problem ill-conditioned: two
    # correct codes can then follow different trajectories (units flip), and it is not judged.
    ill_conditioned: float
    # The large_logits regime's common logit offset: past exp()'s overflow (log max), so a softmax
    # without the max shift breaks, and still far inside the range.
    logit_offsets: tuple[float, float]
    # Logit spreads max_k q - min_k q are capped so that every yhat_k stays a normal number:
    # exp(-gap) >= tiny, or code computing E_t = -log(yhat_t[y]) would be failed for log(0).
    max_logit_gap: float

    def __post_init__(self) -> None:
        """The facts that the problem generator relies on hold, or the precision is refused."""
        lo, hi = self.logit_offsets
        if not 0 < lo <= hi <= self.max / 16 or hi <= self.exp_overflow:
            raise GradcheckError(
                f"{self.name}: logit_offsets {self.logit_offsets} must be a range 0 < low <= high that "
                f"reaches past exp()'s overflow ({self.exp_overflow:.4g}) and stays far inside the range "
                f"({self.max:.3g} / 16)"
            )
        if not 0 < self.max_logit_gap <= -math.log(self.tiny):
            raise GradcheckError(
                f"{self.name}: max_logit_gap {self.max_logit_gap} must keep exp(-gap) a normal number "
                f"(gap <= {-math.log(self.tiny):.4g})"
            )

    @property
    def exp_overflow(self) -> float:
        """exp(z) overflows for z above log(max): 709.8, 88.7, 11.1."""
        return math.log(self.max)

    @property
    def large_logit(self) -> float:
        """|q| above which a softmax without the max shift overflows: what 'large logits' means."""
        return self.exp_overflow

    @property
    def saturation(self) -> float:
        """|p| beyond which tanh(p) rounds to +-1 and tanh' = 1 - h^2 to 0: 1 - tanh(p) ~ 2 e^{-2p}
        falls below half the spacing of the numbers just below 1, eps/4, at (1/2) log(8 / eps)
        (19.1 in float64, 9.0 in float32, 4.5 in float16, 3.5 in bfloat16)."""
        return 0.5 * math.log(8 / self.eps)

    @property
    def fd_relative_step(self) -> float:
        """Central differences: truncation O(h^2) + round-off O(eps / h) is smallest near h = eps^(1/3)."""
        return self.eps ** (1 / 3)

    @property
    def underflow_floor(self) -> float:
        """The smallest absolute tolerance: 16 normal-number spacings (code that flushes subnormals
        differs from code that keeps them by `tiny` wherever a value underflows, and a few later
        products can scale that up)."""
        return 16 * self.tiny

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype (ml_dtypes' bfloat16 for bfloat16, imported only then)."""
        return _dtype(self.name)

    def round(self, a: np.ndarray) -> np.ndarray:
        """a rounded to this precision, as float64 (the values an implementation can hold exactly)."""
        import numpy as np

        return np.asarray(a, dtype=np.float64).astype(self.dtype).astype(np.float64)

    def __str__(self) -> str:
        return self.name


@functools.cache
def _dtype(name: str) -> np.dtype:
    import numpy as np

    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


# The binary formats by their significand bits p (the implicit leading bit included) and largest
# exponent emax: eps = 2^(1 - p), max = (2 - 2^(1 - p)) 2^emax, tiny = 2^(1 - emax) (IEEE 754;
# bfloat16 is float32 with p = 8). properties/test_startup.py checks them against numpy's and
# ml_dtypes' finfo.
FORMATS: dict[str, tuple[int, int]] = {
    "float64": (53, 1023),
    "float32": (24, 127),
    "float16": (11, 15),
    "bfloat16": (8, 127),
}


def _finfo(name: str) -> tuple[float, float, float]:
    p, emax = FORMATS[name]
    eps = 2.0 ** (1 - p)
    return eps, (2.0 - eps) * 2.0**emax, 2.0 ** (1 - emax)


def _precision(name: str, *, sum_dtype: str, ulps: float, ill_conditioned: float, logit_offsets, gap) -> Precision:
    eps, big, tiny = _finfo(name)
    return Precision(name, eps, big, tiny, _finfo(sum_dtype)[0], ulps, ill_conditioned, logit_offsets, gap)


# ulps: XLA's float64 tanh differs from numpy's by up to 6 ulps near saturation, exp by 2, log by
# 1; in float32 XLA's tanh is 2 ulps from the exact value, numpy's exp 1.6; in float16 and
# bfloat16, numpy, torch and XLA round a float32 result (0.25 ulps seen): measured over 300,000
# points in [-20, 20]. 8, 4 and 1 cover them.
# ill_conditioned: well-conditioned float64 problems move states by 1e-15 to 1e-12, the exploding
# ones we judge by up to 3e-8, flipping ones by 2; float32 is nine digits coarser. Half
# precisions store states to 5e-4 (float16) and 4e-3 (bfloat16) at best, and rounding moves them
# by 2e-3 to 1e-2 (float16) and 1e-2 to 5e-2 (bfloat16) in every regime (H = 64, T = 200): 5e-2
# and 0.2 leave that room and stay far below a flip (2).
FLOAT64 = _precision(
    "float64",
    sum_dtype="float64",
    ulps=8.0,
    ill_conditioned=1e-6,
    logit_offsets=(700.0, 1000.0),
    gap=600.0,
)
FLOAT32 = _precision(
    "float32", sum_dtype="float32", ulps=4.0, ill_conditioned=1e-2, logit_offsets=(90.0, 150.0), gap=60.0
)
FLOAT16 = _precision(
    "float16", sum_dtype="float32", ulps=1.0, ill_conditioned=5e-2, logit_offsets=(12.0, 30.0), gap=8.0
)
BFLOAT16 = _precision(
    "bfloat16",
    sum_dtype="float32",
    ulps=1.0,
    ill_conditioned=0.2,
    logit_offsets=(90.0, 150.0),
    gap=60.0,
)

PRECISIONS: dict[str, Precision] = {p.name: p for p in (FLOAT64, FLOAT32, FLOAT16, BFLOAT16)}


def precision(name: str | Precision) -> Precision:
    """The Precision of a name ("float64", "float32", "float16", "bfloat16"); an unknown one is an error."""
    if isinstance(name, Precision):
        return name
    if name not in PRECISIONS:
        raise GradcheckError(f"dtype: {name!r} is not one of {', '.join(PRECISIONS)}")
    return PRECISIONS[name]
