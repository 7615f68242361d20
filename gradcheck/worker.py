"""Workers in any language (`--exec "CMD"`): one process serves many problems over stdin/stdout.

The protocol (docs/worker-protocol.md has the full text, a transcript and a C worker) is plain
text, one line per message header and one line per array, so that a C program can speak it with
the standard library alone (fgets, strtod, printf):

    gradcheck -> worker   problem <id> <contract> <loss> <batch_loss> <dtype> <flags> <count>
                          <name> <ndim> <dim_1> .. <dim_ndim> <value_1> .. <value_n>     (count lines)
    worker -> gradcheck   result <id> <count>
                          <name> <ndim> <dim_1> .. <dim_ndim> <value_1> .. <value_n>     (count lines)
                      or  error <id> <message>

Values are in row-major (C) order, written as the shortest decimal that reads back to the same
float64 (Python's repr: 17 significant digits at most), so that strtod recovers them exactly; a
worker answers with printf("%.17g") (or "%a"), which gradcheck reads back exactly. The worker
exits when its stdin closes.
"""

from __future__ import annotations

import os
import selectors
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from .errors import WorkerCannotStart

PROTOCOL = "gradcheck-worker 1"
# A worker that exits with one of these before answering anything did not start: the shell's
# "command not found" (127) and "not executable" (126).
CANNOT_START = (126, 127)


@dataclass(frozen=True)
class Reply:
    """A worker's answer: its arrays, or the message of an `error` line."""

    arrays: list[tuple[str, np.ndarray]]
    error: str | None = None


@dataclass(frozen=True)
class Failure:
    """What went wrong with a worker on one problem, in one line."""

    what: str  # hang | crash | exit | malformed | error
    message: str


def format_request(pid: int, contract: str, header: dict[str, str], arrays: list[tuple[str, np.ndarray]]) -> bytes:
    """The request for problem `pid`: header line, then one line per array."""
    flags = header["flags"] or "none"
    lines = [
        f"problem {pid} {contract} {header['loss']} {header['batch_loss']} {header['dtype']} {flags} {len(arrays)}"
    ]
    lines += [format_array(name, a) for name, a in arrays]
    return ("\n".join(lines) + "\n").encode("ascii")


def format_array(name: str, a: np.ndarray) -> str:
    a = np.asarray(a)
    values = a.ravel().tolist()  # Python floats and ints: repr is the shortest exact decimal
    return " ".join([name, str(a.ndim), *map(str, a.shape), *map(repr, values)])


def parse_array(line: str) -> tuple[str, np.ndarray]:
    """One array line; ValueError with a reason when it is malformed."""
    parts = line.split()
    if len(parts) < 2:
        raise ValueError(f"an array line needs a name and a number of dimensions, got {line[:60]!r}")
    name = parts[0]
    try:
        ndim = int(parts[1])
        dims = [int(d) for d in parts[2 : 2 + ndim]]
    except ValueError:
        raise ValueError(f"array {name}: the dimensions are not whole numbers ({' '.join(parts[1:4])!r})") from None
    if ndim < 0 or len(dims) != ndim or any(d < 0 for d in dims):
        raise ValueError(f"array {name}: {ndim} dimensions announced, {len(dims)} given")
    values = parts[2 + ndim :]
    size = int(np.prod(dims)) if dims else 1
    if len(values) != size:
        raise ValueError(f"array {name}: shape {tuple(dims)} needs {size} values, {len(values)} given")
    try:
        data = [float(v) for v in values]
    except ValueError:
        try:
            data = [float.fromhex(v) if "0x" in v.lower() else float(v) for v in values]
        except ValueError:
            bad = next(v for v in values if not _is_number(v))
            raise ValueError(f"array {name}: {bad[:30]!r} is not a number") from None
    return name, np.array(data, dtype=np.float64).reshape(dims)


def _is_number(v: str) -> bool:
    try:
        float.fromhex(v) if "0x" in v.lower() else float(v)
        return True
    except ValueError:
        return False


class WorkerProcess:
    """The worker's process: started on first use, restarted after it dies or hangs."""

    def __init__(self, command: str, timeout: float):
        self.argv = shlex.split(command)
        if not self.argv:
            raise WorkerCannotStart("--exec: the command is empty")
        self.command, self.timeout = command, timeout
        self.proc: subprocess.Popen | None = None
        self.answered = 0  # problems answered by any process of this worker
        self.started = 0
        self.sent = 0  # problems sent to the current process: the next id is sent + 1
        self._buffer = b""
        self._stderr = tempfile.TemporaryFile()

    def _start(self) -> None:
        try:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0
            )
        except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
            raise WorkerCannotStart(f"--exec: cannot start {self.argv[0]!r}: {e.strerror}") from None
        except OSError as e:
            raise WorkerCannotStart(f"--exec: cannot start {self.command!r}: {e}") from None
        self._buffer = b""
        self.started += 1
        self.sent = 0

    def ask(self, make_request) -> Reply | Failure:
        """Send one problem, make_request(id) -> bytes with the id the current process expects (1, 2,
        ... from its start); the worker's Reply, or a Failure (it died, hung or wrote nonsense)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.sent += 1
        pid, request = self.sent, make_request(self.sent)
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(request)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._died(pid, "before reading")
        deadline = time.monotonic() + self.timeout
        header = self._line(deadline)
        if isinstance(header, Failure):
            return self._died(pid, "without answering") if header.what == "exit" else self._hung(pid, header)
        words = header.split(maxsplit=2)
        if len(words) >= 2 and words[0] == "error" and words[1] == str(pid):
            self.answered += 1
            return Reply([], words[2] if len(words) > 2 else "(no message)")
        if len(words) < 3 or words[0] != "result" or words[1] != str(pid) or not words[2].isdigit():
            self.kill()
            got = header if len(header) <= 70 else header[:70] + "..."
            return Failure(
                "malformed",
                f"the worker's reply to problem {pid} is malformed: expected "
                f"'result {pid} <count>' or 'error {pid} <message>', got {got!r}",
            )
        arrays = []
        for _ in range(int(words[2])):
            line = self._line(deadline)
            if isinstance(line, Failure):
                return self._died(pid, "in the middle of its reply") if line.what == "exit" else self._hung(pid, line)
            try:
                arrays.append(parse_array(line))
            except ValueError as e:
                self.kill()
                return Failure("malformed", f"the worker's reply to problem {pid} is malformed: {e}")
        self.answered += 1
        return Reply(arrays)

    def _line(self, deadline: float) -> str | Failure:
        """The next line of the worker's output, or a Failure (exit, or hang past the deadline)."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return Failure("hang", "")
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return Failure("exit", "")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", errors="replace").rstrip("\r")

    def _died(self, pid: int, when: str) -> Failure:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        if code in CANNOT_START and self.answered == 0:
            raise WorkerCannotStart(
                f"--exec: {self.command!r} exited with {code} before answering anything "
                f"(command not found or not executable?){self._last_stderr()}"
            )
        how = f"exited with code {code}" if code is not None and code >= 0 else f"was killed by signal {-code}"
        if self.proc is not None:
            self._release()
        return Failure(
            "crash" if code is None or code != 0 else "exit",
            f"the worker {how} {when} problem {pid}{self._last_stderr()}",
        )

    def _hung(self, pid: int, _: Failure) -> Failure:
        self.kill()
        return Failure(
            "hang",
            f"the worker did not answer problem {pid} within {self.timeout:g} s (killed; --timeout sets the limit)",
        )

    def _last_stderr(self) -> str:
        self._stderr.seek(0)
        lines = [x for x in self._stderr.read().decode("utf-8", errors="replace").splitlines() if x.strip()]
        self._stderr.seek(0)
        self._stderr.truncate()
        return f"; its stderr ends: {lines[-1][:120]!r}" if lines else ""

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self._release()

    def _release(self) -> None:
        """Close our ends of the pipes of a process that has ended."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe:
                    pipe.close()
            except OSError:
                pass
        self.proc = None

    def close(self) -> None:
        """Close stdin (the worker's cue to exit) and wait briefly."""
        if self.proc is not None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=5)
                self._release()
            except (subprocess.TimeoutExpired, OSError):
                self.kill()
        self._stderr.close()
