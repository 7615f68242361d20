"""Every exception gradcheck raises, in one place; nothing here imports numpy.

GradcheckError       bad input: the message names the argument (the CLI's exit code 2)
  UsageError         a bad command line or TARGET
  CorpusError        a missing, damaged or altered golden file
  WorkerCannotStart  a worker command that cannot be started, or never answers a first problem
InternalError        a bug of gradcheck's own (exit code 3)
"""

from __future__ import annotations


class GradcheckError(ValueError):
    """Bad input to gradcheck: the message says which argument and what was expected."""

    def __init__(self, message: str):
        super().__init__(f"gradcheck: {message}")


class UsageError(GradcheckError):
    """A bad command line or TARGET: exit code 2."""


class CorpusError(GradcheckError):
    """A missing, damaged or altered golden file: exit code 2."""


class WorkerCannotStart(GradcheckError):
    """The worker command cannot be started at all (a usage error: exit code 2)."""


class InternalError(RuntimeError):
    """A bug of gradcheck's own (the CLI's exit code 3): an inconsistent tolerance, a broken invariant."""


__all__ = ["CorpusError", "GradcheckError", "InternalError", "UsageError", "WorkerCannotStart"]
