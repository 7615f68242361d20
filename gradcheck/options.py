"""The options of verify, fuzz, golden check and taylor: what the code under test computes and how
to search it. One frozen record, validated once where it enters (the CLI, `gradcheck.verify`, the
pytest fixture); every later step reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from .errors import GradcheckError
from .layouts import has_cell_state, parse_cell
from .precision import PRECISIONS, Precision, precision
from .regimes import Regime, parse_regime, regimes_for

LOSSES = ("sum", "mean", "last")  # E = sum_t w_t E_t with w_t = 1, 1/T, or [t = T] (problem.loss_weights)
BATCH_LOSSES = ("sum", "mean")  # the reduction over the N sequences of a batch
REFERENCES = ("bptt", "jax")  # gradcheck's recursion, or JAX autodiff
# Flags that restrict the problems to what the code under test can take (each a bool option).
FLAGS = ("no_bias", "zero_h0", "zero_c0", "one_hot_inputs", "same_io_dim")
# 200 random problems: every regime is drawn with probability 1/8 per problem, so the chance
# that one regime (and the bugs only it shows: large logits, saturation, clipping at large
# gradients) is never drawn is 8 (7/8)^200 ~ 2e-11; h0 != 0 and one-hot inputs come up half
# the time. The coverage set then runs each regime twice more (h0 = 0 and not) regardless.
DEFAULT_EXAMPLES = 200
DEFAULT_MAX_BATCH = 8
DEFAULT_TIMEOUT = 60.0  # seconds per problem, for a worker (--exec)


@dataclass(frozen=True)
class Options:
    """How the implementation is called and what it computes; how the problems are drawn."""

    loss: str = "sum"  # each sequence's loss: sum, mean or last over its steps
    cell: str = "tanh"  # the recurrent cell: tanh (the seed's), relu, gru, gru_cho, lstm
    batch: bool = False  # inputs with a leading batch axis N
    batch_loss: str = "sum"  # sum or mean over the N sequences
    max_batch: int = DEFAULT_MAX_BATCH
    layer: bool = False  # the recurrent layer alone, with upstream gradients dhs
    no_bias: bool = False
    zero_h0: bool = False
    zero_c0: bool = False  # the LSTM's c0 = 0 always
    one_hot_inputs: bool = False
    same_io_dim: bool = False
    dtype: str = "float64"
    examples: int = DEFAULT_EXAMPLES
    seed: int = 0
    reference: str = "bptt"
    max_size: int = 16
    max_steps: int = 50
    skip_regimes: tuple[Regime, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    # Set only by the oracle's probes, to find what a failure needs: every x_t[0] = 0.
    first_input_zero: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Every option is valid, or GradcheckError names the first that is not."""
        _choice("loss", self.loss, LOSSES)
        _choice("batch_loss", self.batch_loss, BATCH_LOSSES)
        _choice("dtype", self.dtype, tuple(PRECISIONS))
        _choice("reference", self.reference, REFERENCES)
        object.__setattr__(self, "cell", parse_cell(self.cell).value)
        for name in ("batch", "layer", *FLAGS):
            if not isinstance(getattr(self, name), bool):
                raise GradcheckError(f"{name}: {getattr(self, name)!r} given, expected True or False")
        for name in ("examples", "max_size", "max_steps", "max_batch"):
            _whole(name, getattr(self, name), minimum=1)
        _whole("seed", self.seed, minimum=0)
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or not self.timeout > 0:
            raise GradcheckError(f"timeout: {self.timeout!r} given, expected a number of seconds > 0")
        if isinstance(self.skip_regimes, str) or not isinstance(self.skip_regimes, tuple | list):
            raise GradcheckError(f"skip_regimes: {self.skip_regimes!r} given, expected a list of regime names")
        object.__setattr__(self, "skip_regimes", tuple(dict.fromkeys(parse_regime(r) for r in self.skip_regimes)))
        if not self.regimes:
            raise GradcheckError("skip_regimes: every regime is skipped; nothing would be run")
        if self.layer and self.batch_loss != "sum":
            raise GradcheckError(
                "batch_loss: the layer's loss is sum_t dhs_t . h_t over the whole batch; "
                "scale dhs instead of asking for a mean"
            )
        if self.layer and self.loss != "sum":
            raise GradcheckError("loss: the layer's loss is sum_t dhs_t . h_t; --loss does not apply to --layer")
        if self.layer and self.same_io_dim:
            raise GradcheckError("same_io_dim: the layer alone has no output size K")
        if self.zero_c0 and not has_cell_state(self.cell):
            raise GradcheckError(f"zero_c0: the {self.cell} cell has no cell state (only the lstm has c0)")
        if self.reference == "jax" and self.cell != "tanh":
            raise GradcheckError(f"reference: 'jax' judges the tanh cell; the {self.cell} cell's reference is bptt")
        alien = [r for r in self.skip_regimes if r not in regimes_for(self.cell)]
        if alien:
            raise GradcheckError(f"skip_regimes: {alien[0]} is not a regime of the {self.cell} cell")

    @property
    def precision(self) -> Precision:
        return precision(self.dtype)

    @property
    def regimes(self) -> tuple[Regime, ...]:
        """The regimes the search draws: every one of the cell's but those skipped."""
        return tuple(r for r in regimes_for(self.cell) if r not in self.skip_regimes)

    @property
    def flags(self) -> tuple[str, ...]:
        """The problem-shaping flags that are set."""
        return tuple(f for f in FLAGS if getattr(self, f))

    def describe(self) -> str:
        """The options that matter, as a user would type them (for reports)."""
        words = [f"--cell {self.cell}"] if self.cell != "tanh" else []
        words += [f"loss={self.loss}"] if not self.layer else []
        words += [f"dtype={self.dtype}", f"reference={self.reference}", f"seed={self.seed}"]
        if self.batch:
            mean = "" if self.layer else f"batch-loss={self.batch_loss}, "
            words.append(f"--batch ({mean}N up to {self.max_batch})")
        if self.layer:
            words.append("--layer")
        words += [f"--{f.replace('_', '-')}" for f in self.flags]
        words += [f"--skip-regime {r}" for r in self.skip_regimes]
        return " ".join(words)


def _choice(name: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise GradcheckError(f"{name}: {value!r} is not one of {', '.join(allowed)}")


def _whole(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GradcheckError(f"{name}: {value!r} given, expected a whole number >= {minimum}")


OPTION_NAMES = tuple(f.name for f in fields(Options) if f.name != "first_input_zero")
