"""The code under test, behind one seam: `Implementation.call(case) -> Call`.

Two kinds: a Python callable (a TARGET, or a function handed to `gradcheck.verify`) called with
the contract's arguments, and a worker process in any language (`--exec`, worker.py). A Call
records what came back and everything that went wrong on the way (it raised, exited, hung,
warned, modified its inputs); judging the result is the oracle's business.
"""

from __future__ import annotations

import copy
import inspect
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .contract import Case, Contract
from .errors import GradcheckError
from .options import Options
from .worker import Failure, Fault, WorkerProcess, format_request


@dataclass(frozen=True)
class Call:
    """One call of the implementation."""

    output: Any  # what it returned (None when it failed)
    failure: str = ""  # "" | "raised" | "modified" | "worker" | "hang"
    message: str = ""
    warnings: tuple[tuple[str, str], ...] = ()  # (category, message) of each warning it raised
    traceback: str | None = None
    seconds: float = 0.0
    fault: Fault | None = None  # why a worker gave no usable answer (failure == "worker")


class PythonImplementation:
    """A Python function following the contract (contract.py)."""

    def __init__(self, fn: Callable, name: str, contract: Contract):
        self.fn, self.name, self.contract = fn, name, contract

    def call(self, case: Case) -> Call:
        args = case.arguments()
        before = copy.deepcopy(args)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:  # the implementation's own warnings
            warnings.simplefilter("always")
            try:
                out = self.fn(*args)
            except (Exception, SystemExit) as e:  # sys.exit() in the code under test is a failure, not our exit
                msg = f"raised {type(e).__name__}: {e}".splitlines()[0] if str(e) else f"raised {type(e).__name__}"
                return Call(None, "raised", msg, _warnings(caught), traceback.format_exc(), time.perf_counter() - start)
        seconds = time.perf_counter() - start
        changed = _modified(before, args, self.contract)
        if changed:
            return Call(None, "modified", f"modified its input {changed} in place", _warnings(caught), None, seconds)
        return Call(out, warnings=_warnings(caught), seconds=seconds)

    def close(self) -> None:
        pass


def _warnings(caught) -> tuple[tuple[str, str], ...]:
    return tuple((w.category.__name__, str(w.message)) for w in caught)


def _modified(before: tuple, after: tuple, contract: Contract) -> str | None:
    """Which input the call changed in place, if any."""
    names = contract.inputs
    for k in before[0]:
        if k not in after[0]:
            return f"params (it removed the key {k!r})"
        if not np.array_equal(before[0][k], after[0][k], equal_nan=True):
            return f"params[{k!r}]"
    for name, b, a in zip(names, before[1:], after[1:], strict=True):
        if not np.array_equal(b, a, equal_nan=True):
            return name
    return None


class WorkerImplementation:
    """A worker process speaking docs/worker-protocol.md; restarted where it dies or hangs."""

    def __init__(self, command: str, opts: Options, contract: Contract):
        self.name, self.contract = command, contract
        self.header = {
            "loss": opts.loss,
            "batch_loss": opts.batch_loss,
            "dtype": opts.dtype,
            # Another cell than the seed's travels as a flag, so that the header keeps its fields.
            "flags": ",".join((*opts.flags, *((f"cell={opts.cell}",) if opts.cell != "tanh" else ()))),
        }
        self.process = WorkerProcess(command, opts.timeout)

    def call(self, case: Case) -> Call:
        rest = self.contract.inputs
        params, *values = case.arguments()
        arrays = [(k, params[k]) for k in self.contract.parameters] + list(zip(rest, values, strict=True))
        start = time.perf_counter()
        reply = self.process.ask(lambda pid: format_request(pid, self.contract.name, self.header, arrays))
        seconds = time.perf_counter() - start
        if isinstance(reply, Failure):
            kind = "hang" if reply.fault is Fault.HANG else "worker"
            return Call(None, kind, reply.message, seconds=seconds, fault=reply.fault)
        if reply.error is not None:
            return Call(None, "raised", f"answered error: {reply.error}", seconds=seconds)
        out: dict[str, Any] = {}
        for k, a in reply.arrays:
            if k in out:
                message = f"the worker's reply to this problem is malformed: it holds {k!r} twice"
                return Call(None, "worker", message, seconds=seconds, fault=Fault.MALFORMED)
            out[k] = a
        return Call(out, seconds=seconds)

    def close(self) -> None:
        self.process.close()


def signature_problem(fn: Callable, contract: Contract) -> str | None:
    """Why fn cannot be called with the contract's arguments, or None."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None  # builtins and some C functions: find out by calling
    names = ("params", *contract.inputs)
    try:
        sig.bind(*range(len(names)))
    except TypeError:
        return f"wrong signature: {getattr(fn, '__name__', 'fn')}{sig} cannot be called as fn({', '.join(names)})"
    return None


def implementation(fn: Callable | str | None, opts: Options, exec_command: str | None = None):
    """The Implementation for a callable, a TARGET string, or a worker command."""
    from .target import load_target

    contract = Contract(batch=opts.batch, layer=opts.layer, no_bias=opts.no_bias, cell=opts.cell)
    if exec_command is not None:
        if fn is not None:
            raise GradcheckError("give a TARGET or --exec, not both")
        return WorkerImplementation(exec_command, opts, contract)
    if fn is None:
        raise GradcheckError("give a TARGET (package.module:function or file.py:function) or --exec CMD")
    name = fn if isinstance(fn, str) else getattr(fn, "__qualname__", repr(fn))
    fn = load_target(fn) if isinstance(fn, str) else fn
    if not callable(fn):
        raise GradcheckError(f"fn: an object of type {type(fn).__name__} is not callable")
    return PythonImplementation(fn, name, contract)
