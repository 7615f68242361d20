"""Live progress on a terminal (rich), for verify and fuzz; plain lines, or nothing, elsewhere."""

from __future__ import annotations

import sys
import time


class LiveLine:
    """One status text, redrawn at most 4 times a second on a terminal or in a running notebook
    cell. Elsewhere it is printed every `plain_every` seconds, or never when that is None (verify
    prints only its report)."""

    def __init__(self, plain_every: float | None = None):
        from .notebook import CellLine, in_notebook

        self.plain_every, self.start = plain_every, time.perf_counter()
        self.cell = CellLine() if not sys.stdout.isatty() and in_notebook() else None
        live = sys.stdout.isatty() or self.cell is not None
        self.last = 0.0 if live else self.start  # plain lines: the first after plain_every
        self.live = None
        if sys.stdout.isatty():
            try:
                from rich.live import Live

                self.live = Live(refresh_per_second=4, transient=True)
                self.live.start()
            except ImportError:
                self.live = None

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def due(self) -> bool:
        """Whether an update now would be shown (callers skip building the text otherwise)."""
        every = 0.25 if self.live is not None or self.cell is not None else self.plain_every
        return every is not None and time.perf_counter() - self.last >= every

    def show(self, text: str) -> None:
        if not self.due():
            return
        self.last = time.perf_counter()
        if self.live is not None:
            self.live.update(text)
        elif self.cell is not None:
            self.cell.update(text)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
        if self.cell is not None:
            self.cell.close()


class VerifyProgress:
    """verify's progress: problems run, the current one's sizes, the time so far (terminal only)."""

    def __init__(self, target: str):
        self.target, self.count, self.line = target, 0, LiveLine(plain_every=None)

    def __call__(self, outcome) -> None:
        from .render import case_sizes

        self.count += 1
        if self.line.due():
            self.line.show(
                f"gradcheck verify {self.target}: {self.count} problems, now {case_sizes(outcome.case)}, "
                f"{self.line.elapsed:.0f} s"
            )

    def close(self) -> None:
        self.line.close()
