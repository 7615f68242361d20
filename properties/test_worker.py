"""Workers in any language (--exec): the protocol of docs/worker-protocol.md, its failures, and the
C example (built with cc when a compiler exists)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck.cli import main

ROOT = Path(__file__).parent.parent

# A worker in Python, speaking the protocol from the document (it reuses gradcheck's recursion for
# the numbers: what is tested here is the plumbing). MODE plants a failure.
WORKER = r"""
import sys, numpy as np, time
sys.path.insert(0, {root!r})
import gradcheck
MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"
answered = 0
for line in sys.stdin:
    head = line.split()
    pid, contract, loss, count = head[1], head[2], head[3], int(head[7])
    arrays = {{}}
    for _ in range(count):
        parts = sys.stdin.readline().split()
        ndim = int(parts[1]); dims = [int(d) for d in parts[2:2 + ndim]]
        arrays[parts[0]] = np.array([float(v) for v in parts[2 + ndim:]]).reshape(dims)
    answered += 1
    if MODE == "crash" and answered == 2:
        sys.stderr.write("worker: segmentation fault (simulated)\n"); sys.exit(139)
    if MODE == "crash_quoting_a_hang" and arrays["W"].shape[0] >= 6:  # a crash in a hang's words
        sys.stderr.write("the GPU did not answer\n"); sys.exit(1)
    if MODE == "read_then_exit":
        sys.stderr.write("Traceback (most recent call last):\nKeyError: 'dhs' (simulated)\nworker: exiting\n")
        sys.exit(3)
    if MODE == "header_then_die":
        print(f"result {{pid}} 7", flush=True); sys.exit(5)
    if MODE == "hang" or (MODE == "hang_second" and answered == 2):
        time.sleep(1000)
    if MODE == "error":
        print(f"error {{pid}} cannot handle this problem", flush=True); continue
    params = {{k: arrays[k] for k in ("U", "W", "V", "b_h", "b_y")}}
    g = gradcheck.bptt_gradients(params, arrays["xs"], arrays["ys"].astype(int), arrays["h0"], loss=loss)
    if MODE == "wrong_shape":
        g["W"] = g["W"][:, :1]
    if MODE == "truncated":
        g = gradcheck.truncated_gradients(params, arrays["xs"], arrays["ys"].astype(int), arrays["h0"], k=2, loss=loss)
    out = [(k, np.asarray(g[k])) for k in ("U", "W", "V", "b_h", "b_y", "h0", "loss")]
    print(f"result {{pid}} {{len(out)}}")
    for k, a in out:
        print(k, a.ndim, *a.shape, *(format(x, ".17g") for x in a.ravel()))
    sys.stdout.flush()
"""


@pytest.fixture(scope="module")
def python_worker(tmp_path_factory):
    path = tmp_path_factory.mktemp("worker") / "worker.py"
    path.write_text(WORKER.format(root=str(ROOT)))
    return f"{sys.executable} {path}"


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def failure_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip().startswith("FAILURE")]


def test_a_correct_worker_agrees(capsys, python_worker):
    code, out, _ = run(capsys, "verify", "--exec", python_worker, "--examples", "30")
    assert code == 0 and "AGREES" in out and "called twice: identical" in out


def test_a_worker_mistake_is_searched_shrunk_and_diagnosed(capsys, python_worker):
    code, out, _ = run(capsys, "verify", "--exec", f"{python_worker} truncated", "--examples", "50")
    assert code == 1 and "cut after k = 2 terms per step" in out and "smallest failing problem" in out


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("crash", "the worker exited with code 139 without answering problem 2"),
        ("error", "answered error: cannot handle this problem"),
        ("wrong_shape", "W: shape (2, 1) returned, expected (2, 2) = (H, H)"),
    ],
)
def test_worker_failures_are_exit_1_with_one_line(capsys, python_worker, mode, expected):
    code, out, err = run(capsys, "verify", "--exec", f"{python_worker} {mode}", "--examples", "20")
    assert code == 1 and "Traceback" not in out + err
    lines = failure_lines(out)
    assert len(lines) == 1 and expected in lines[0], out
    if mode == "crash":
        assert "segmentation fault (simulated)" in lines[0]  # the last line of its stderr


def test_a_worker_that_hangs_after_answering_is_killed_after_the_timeout(capsys, python_worker):
    # 8 s: the worker (a Python process importing numpy) must answer its first problem in time on a
    # loaded machine, or it never answered at all (exit 2)
    code, out, err = run(capsys, "verify", "--exec", f"{python_worker} hang_second", "--timeout", "8")
    lines = failure_lines(out)
    assert code == 1 and len(lines) == 1 and "did not answer problem 2 within 8 s" in lines[0] and not err


@pytest.mark.slow  # shrinking restarts the crashed worker (a Python process) at every step
def test_a_crash_is_not_taken_for_a_hang_whatever_it_says(capsys, python_worker):
    """The oracle stops a search at a hang without shrinking; a crash whose stderr reads like a hang
    ("did not answer") is still a crash, searched and shrunk (the Fault decides, not the words)."""
    code, out, _ = run(capsys, "verify", "--exec", f"{python_worker} crash_quoting_a_hang", "--examples", "30")
    assert code == 1 and "the GPU did not answer" in out
    assert "stopped at the first hang" not in out and "smallest failing problem: D=" in out and " H=6 " in out


def test_a_calls_fault_is_the_workers_failure(python_worker):
    from gradcheck.implementation import implementation
    from gradcheck.options import Options
    from gradcheck.oracle import coverage_set
    from gradcheck.worker import Fault

    opts = Options(timeout=8)  # time for the first answer of a Python worker on a loaded machine
    case = coverage_set(opts)[0]
    impl = implementation(None, opts, f"{python_worker} hang_second")
    try:
        first, second = impl.call(case), impl.call(case)
    finally:
        impl.close()
    assert first.fault is None and first.output is not None
    assert second.failure == "hang" and second.fault is Fault.HANG


@pytest.mark.parametrize(
    ("mode", "options", "expected"),
    [
        ("sh -c 'exit 1'", [], "the worker exited with code 1 before reading problem 1"),
        ("true", [], "the worker exited with code 0 before reading problem 1"),
        ("read_then_exit", [], "the worker exited with code 3 without answering problem 1"),
        ("header_then_die", [], "the worker exited with code 5 in the middle of its reply to problem 1"),
        ("cat", [], "the worker's reply to problem 1 is malformed: expected 'result 1 <count>'"),
        ("hang", ["--timeout", "2"], "the worker did not answer problem 1 within 2 s"),
    ],
)
def test_a_worker_that_never_answers_its_first_problem_is_exit_2(capsys, python_worker, mode, options, expected):
    command = mode if mode.startswith(("sh", "true", "cat")) else f"{python_worker} {mode}"
    code, out, err = run(capsys, "verify", "--exec", command, *options)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, (out, err)
    assert expected in err and "it never answered a problem, so nothing was judged" in err
    if mode == "read_then_exit":  # the error line of its stderr, not only its last line
        assert "its stderr says: \"KeyError: 'dhs' (simulated)\" (line 2 of 3), and ends: 'worker: exiting'" in err


@pytest.mark.parametrize("command", ["fuzz --examples 5", "taylor", "golden"])
def test_every_command_that_takes_a_worker_says_it_never_answered(capsys, tmp_path, command):
    argv = [*command.split(), "--exec", "true"]
    if command == "golden":
        assert main(["golden", "export", str(tmp_path / "g"), "--cases", "3"]) == 0
        capsys.readouterr()
        argv = ["golden", "check", str(tmp_path / "g"), "--exec", "true"]
    if command.startswith("fuzz"):
        argv += ["--database", str(tmp_path / "db")]
    code, out, err = run(capsys, *argv)
    assert code == 2 and "never answered a problem" in err and len(err.strip().splitlines()) == 1, (out, err)
    assert not out  # no report, and from fuzz no "Falsifying example" of a run that judged nothing


def test_nodes_error_is_quoted_not_only_its_version_line(capsys, tmp_path):
    """node prints the error above a last line 'Node.js v20...': the quote must hold the error."""
    if shutil.which("node") is None:
        pytest.skip("no node on this machine")
    code, out, err = run(capsys, "verify", "--exec", f"node {tmp_path / 'missing.js'}")
    assert code == 2 and not out
    assert "before reading problem 1" in err and "Error: Cannot find module" in err and "Node.js v" in err


def test_target_and_exec_together_is_a_usage_error(capsys):
    code, _, err = run(capsys, "verify", "examples/numpy_batched.py:grads", "--exec", "cat")
    assert code == 2 and "not both" in err


# --- the C example ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def c_worker(tmp_path_factory):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler (cc) on this machine")
    binary = tmp_path_factory.mktemp("c") / "worker"
    subprocess.run(
        [
            compiler,
            "-O2",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
            str(binary),
            str(ROOT / "examples" / "c" / "worker.c"),
            "-lm",
        ],
        check=True,
    )
    return str(binary)


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--loss", "mean"],
        ["--loss", "last"],
        ["--batch", "--batch-loss", "mean"],
        ["--layer"],
        ["--batch", "--layer"],
        ["--dtype", "float32"],
    ],
)
def test_the_c_worker_agrees_under_every_contract(capsys, c_worker, options):
    code, out, _ = run(capsys, "verify", "--exec", c_worker, "--examples", "60", *options)
    assert code == 0, out


@pytest.mark.parametrize(
    ("bug", "named"),
    [
        ("W_not_transposed", lambda f: any(m["kind"] == "TRANSPOSE" and m["where"] == "c" for m in f["mutations"])),
        ("truncate3", lambda f: f["mistake"] == "TRUNCATED" and f["values"]["k"] == 3),
        (
            "no_tanh_derivative",
            lambda f: any(m["kind"] == "DROP_FACTOR" and m["where"] == "dp" for m in f["mutations"]),
        ),
    ],
)
def test_the_c_workers_planted_mistakes_are_named(capsys, c_worker, tmp_path, bug, named):
    import json

    path = tmp_path / "report.json"
    code, _, _ = run(capsys, "verify", "--exec", f"{c_worker} --bug {bug}", "--json", str(path))
    findings = json.loads(path.read_text())["failures"][0]["findings"]
    assert code == 1 and any(named(f) for f in findings), findings


def test_golden_check_and_taylor_take_a_worker(capsys, c_worker, tmp_path):
    assert main(["golden", "export", str(tmp_path / "g"), "--cases", "21"]) == 0
    code, out, _ = run(capsys, "golden", "check", str(tmp_path / "g"), "--exec", c_worker)
    assert code == 0 and "AGREES" in out
    code, out, _ = run(capsys, "taylor", "--exec", f"{c_worker} --bug truncate3", "--directions", "1")
    assert code == 1 and "INCONSISTENT" in out


# --- the Node.js example -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_worker():
    if shutil.which("node") is None:
        pytest.skip("no node on this machine")
    return f"node {ROOT / 'examples' / 'node' / 'worker.js'}"


@pytest.mark.parametrize(
    "options",
    [[], ["--loss", "last"], ["--batch", "--batch-loss", "mean"], ["--batch", "--layer"], ["--dtype", "float32"]],
)
def test_the_node_worker_agrees_under_every_contract(capsys, node_worker, options):
    code, out, _ = run(capsys, "verify", "--exec", node_worker, "--examples", "40", *options)
    assert code == 0, out


def test_the_node_workers_planted_mistake_is_named(capsys, node_worker):
    code, out, _ = run(capsys, "verify", "--exec", f"{node_worker} --bug W_not_transposed")
    assert code == 1 and "W where W^T belongs" in out


# --- the document ------------------------------------------------------------------------------

# Each message the tests above see, as the protocol's document quotes it (its numbers aside).
DOCUMENTED = [
    "the worker exited with code 1 before reading problem 7",
    "the worker was killed by signal 11 without answering problem 7",
    "in the middle of its reply to problem 7",
    "the worker did not answer problem 7 within 3 s (killed; --timeout sets the limit",
    "the worker's reply to problem 7 is malformed: expected 'result 7 <count>' or 'error 7 <message>'",
    "it never answered a problem, so nothing was judged",
    "its stderr says: ",
]


@pytest.mark.parametrize("message", DOCUMENTED)
def test_the_documents_messages_are_the_tools(message):
    doc = " ".join((ROOT / "docs" / "worker-protocol.md").read_text().split())
    assert message in doc
