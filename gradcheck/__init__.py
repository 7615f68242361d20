"""gradcheck: hand-derived BPTT gradients of the seed's vanilla RNN, and the checks that judge them."""

from .bptt import bptt_gradients, per_step_gradients, series_gradients, truncated_gradients
from .errors import GradcheckError
from .forward_mode import forward_gradients, jvp
from .numeric import fd_gradients
from .options import Options
from .oracle import verify
from .problem import GRAD_NAMES, PARAM_NAMES, Params, Problem, make_problem

__all__ = [
    "GRAD_NAMES",
    "PARAM_NAMES",
    "GradcheckError",
    "Options",
    "Params",
    "Problem",
    "bptt_gradients",
    "fd_gradients",
    "forward_gradients",
    "jvp",
    "make_problem",
    "per_step_gradients",
    "series_gradients",
    "truncated_gradients",
    "verify",
]
