"""gradcheck: hand-derived BPTT gradients of the seed's vanilla RNN, and the checks that judge them.

The public names are imported when first used (PEP 562's module `__getattr__`), so that
`import gradcheck` and `python -m gradcheck --help` load no numpy, Hypothesis or JAX: each
submodule is imported where it is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import GradcheckError

# Each public name and the submodule that defines it.
_WHERE = {
    "GRAD_NAMES": "problem",
    "PARAM_NAMES": "problem",
    "Options": "options",
    "Params": "problem",
    "Problem": "problem",
    "bptt_gradients": "bptt",
    "fd_gradients": "numeric",
    "forward_gradients": "forward_mode",
    "jvp": "forward_mode",
    "make_problem": "problem",
    "per_step_gradients": "bptt",
    "series_gradients": "bptt",
    "truncated_gradients": "bptt",
    "verify": "oracle",
}

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


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value  # once: later look-ups do not come here
        return value
    if not name.startswith("_"):  # a submodule, as eager imports made them: gradcheck.numeric.fd_gradients
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":  # the submodule exists and imports something missing
                raise
    raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and editors: the names as if imported eagerly
    from .bptt import bptt_gradients, per_step_gradients, series_gradients, truncated_gradients
    from .forward_mode import forward_gradients, jvp
    from .numeric import fd_gradients
    from .options import Options
    from .oracle import verify
    from .problem import GRAD_NAMES, PARAM_NAMES, Params, Problem, make_problem
