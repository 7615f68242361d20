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
import re
import selectors
import shlex
import subprocess
import tempfile
import time
from dataclasses import dataclass
from enum import Enum

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


class Fault(Enum):
    """Why a worker gave no usable answer to a problem."""

    HANG = "hang"  # no complete answer within the timeout (it is killed)
    CRASH = "crash"  # it exited with a code other than 0, or was killed by a signal
    EXIT = "exit"  # it exited with code 0 (or closed its stdout) without answering
    MALFORMED = "malformed"  # it wrote something that is not a reply in the protocol


@dataclass(frozen=True)
class Failure:
    """What went wrong with a worker on one problem, in one line."""

    fault: Fault
    message: str


class _Stop(Enum):
    """Why the worker's output ended before a line was complete."""

    EOF = "eof"
    TIMEOUT = "timeout"


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
    """The worker's process: started on first use, restarted after it dies or hangs.

    Until the worker has answered one problem (a whole `result`, or an `error` line), nothing can
    be judged: whatever goes wrong before (it exits, is killed, hangs past the timeout, writes
    something that is not a reply) raises WorkerCannotStart, a usage error (exit 2). From the first
    answer on, the same events are Failures of the code under test (exit 1).
    """

    def __init__(self, command: str, timeout: float):
        self.argv = shlex.split(command)
        if not self.argv:
            raise WorkerCannotStart("--exec: the command is empty")
        self.command, self.timeout = command, timeout
        self.proc: subprocess.Popen | None = None
        self.answered = 0  # problems answered by any process of this worker
        self.unusable: WorkerCannotStart | None = None  # set once it failed its first problem
        self.started = 0
        self.sent = 0  # problems sent to the current process: the next id is sent + 1
        self._buffer = b""
        self._request = 0  # bytes of the request in flight, and how many of them were written
        self._written = 0
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
        ... from its start); the worker's Reply, or a Failure (it died, hung or wrote nonsense).

        Raises WorkerCannotStart when the worker fails its first problem (see the class)."""
        if self.unusable is not None:  # a search may ask again (shrinking): no new process, no new wait
            raise self.unusable
        result = self._exchange(make_request)
        if isinstance(result, Failure) and self.answered == 0:
            self.unusable = WorkerCannotStart(f"--exec {self.command!r}: {result.message}{_NEVER_ANSWERED}")
            raise self.unusable
        return result

    def _exchange(self, make_request) -> Reply | Failure:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.sent += 1
        pid, request = self.sent, make_request(self.sent)
        if not self._send(request):
            return self._died(pid, replying=False)
        deadline = time.monotonic() + self.timeout
        header = self._line(deadline)
        if isinstance(header, _Stop):
            return self._died(pid, replying=False) if header is _Stop.EOF else self._hung(pid)
        words = header.split(maxsplit=2)
        if len(words) >= 2 and words[0] == "error" and words[1] == str(pid):
            self.answered += 1
            return Reply([], words[2] if len(words) > 2 else "(no message)")
        if len(words) < 3 or words[0] != "result" or words[1] != str(pid) or not words[2].isdigit():
            self.kill()
            got = header if len(header) <= 70 else header[:70] + "..."
            return Failure(
                Fault.MALFORMED,
                f"the worker's reply to problem {pid} is malformed: expected "
                f"'result {pid} <count>' or 'error {pid} <message>', got {got!r}{self._stderr_says()}",
            )
        arrays = []
        for _ in range(int(words[2])):
            line = self._line(deadline)
            if isinstance(line, _Stop):
                return self._died(pid, replying=True) if line is _Stop.EOF else self._hung(pid)
            try:
                arrays.append(parse_array(line))
            except ValueError as e:
                self.kill()
                return Failure(Fault.MALFORMED, f"the worker's reply to problem {pid} is malformed: {e}")
        self.answered += 1
        return Reply(arrays)

    def _send(self, request: bytes) -> bool:
        """Write the whole request; False when the worker has stopped reading (a broken pipe)."""
        assert self.proc is not None and self.proc.stdin is not None
        fd, view = self.proc.stdin.fileno(), memoryview(request)
        self._request, self._written = len(request), 0
        try:
            while self._written < len(view):
                self._written += os.write(fd, view[self._written :])
        except OSError:  # BrokenPipeError, or the pipe closed under us
            return False
        return True

    def _line(self, deadline: float) -> str | _Stop:
        """The next line of the worker's output; EOF when it closes its stdout, TIMEOUT past the deadline."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return _Stop.TIMEOUT
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return _Stop.EOF
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", errors="replace").rstrip("\r")

    def _when(self, pid: int, replying: bool) -> str:
        """When, relative to problem pid, the worker stopped: read from what is left of the request
        in its stdin pipe (FIONREAD; where the system cannot say, "without answering")."""
        if replying:
            return f"in the middle of its reply to problem {pid}"
        consumed = None
        unread = self._unread()
        if unread is not None:
            consumed = max(0, self._written - unread)
        if consumed == 0:
            return f"before reading problem {pid}"
        if consumed is not None and consumed < self._request:
            return f"while reading problem {pid} ({consumed} of its {self._request} bytes read)"
        return f"without answering problem {pid}"

    def _unread(self) -> int | None:
        """Bytes written to the worker's stdin that it has not read, or None where unknown."""
        try:
            import array
            import fcntl
            import termios

            count = array.array("i", [0])
            assert self.proc is not None and self.proc.stdin is not None
            fcntl.ioctl(self.proc.stdin.fileno(), termios.FIONREAD, count)
            return int(count[0])
        except (ImportError, OSError, ValueError, AttributeError):
            return None

    def _died(self, pid: int, replying: bool) -> Failure:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it closed its stdout but goes on running
            self.kill()
            return Failure(
                Fault.CRASH, f"the worker closed its stdout {self._when(pid, replying)}{self._stderr_says()}"
            )
        when = self._when(pid, replying)  # before the pipes are closed: the unread bytes are in them
        self._release()
        if code in CANNOT_START and self.answered == 0:
            raise WorkerCannotStart(
                f"--exec: {self.command!r} exited with {code} {when} "
                f"(command not found or not executable?){self._stderr_says()}"
            )
        how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
        return Failure(Fault.CRASH if code != 0 else Fault.EXIT, f"the worker {how} {when}{self._stderr_says()}")

    def _hung(self, pid: int) -> Failure:
        self.kill()
        return Failure(
            Fault.HANG,
            f"the worker did not answer problem {pid} within {self.timeout:g} s (killed; --timeout sets the "
            f"limit; a worker must flush its stdout after each reply){self._stderr_says()}",
        )

    def _stderr_says(self) -> str:
        """What the worker wrote on stderr since the last look, in a clause: its first error line
        (where a runtime's real message is: node ends with a version line, Python with the
        exception, C's assert in the middle) and its last line."""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", errors="replace")
        self._stderr.seek(0)
        self._stderr.truncate()
        lines = [x.strip() for x in text.splitlines() if x.strip()]
        if not lines:
            return ""
        last = lines[-1][:160]
        first = next((i for i, x in enumerate(lines) if _ERROR_LINE.search(x)), None)
        if first is None or first == len(lines) - 1:
            return f"; its stderr ends: {last!r}"
        return f"; its stderr says: {lines[first][:160]!r} (line {first + 1} of {len(lines)}), and ends: {last!r}"

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self._release()

    def _release(self) -> None:
        """Close our ends of the pipes of a process that has ended."""
        assert self.proc is not None
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


# The line of a runtime's stderr that names the error: "Error: Cannot find module" (node),
# "ModuleNotFoundError: ..." (Python), "error: ..." (Rust, compilers), "panicked at" (Rust),
# "Assertion `...' failed" (C), "terminate called after throwing" (C++), "Segmentation fault".
_ERROR_LINE = re.compile(r"error|exception|panic|assert|fatal|terminate|fault|abort|not found|denied", re.IGNORECASE)
_NEVER_ANSWERED = (
    "; it never answered a problem, so nothing was judged: check the command, and that the worker "
    "speaks docs/worker-protocol.md (reads problems from stdin, writes each reply to stdout and flushes it)"
)
