"""A campaign over several machines: two fuzz processes share one example database, and a failure
found by one replays first on the other. A shared directory, and a real Redis server started
here (skipped when redis-server or the redis package is absent)."""

import shutil
import socket
import subprocess
import time

import pytest

from gradcheck.cli import main

from .test_oracle import IMPLS

TARGET = f"{IMPLS}/bug_h_t_for_h_prev.py:grads"


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


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    pytest.importorskip("redis")
    if server is None:
        pytest.skip("no redis-server on this machine")
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
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    proc.wait()


def test_a_redis_server(capsys, redis_url):
    smallest, second = two_machines(capsys, redis_url)
    assert smallest in second


def test_a_redis_server_that_does_not_answer_is_a_usage_error(capsys):
    pytest.importorskip("redis")
    code = main(["fuzz", TARGET, "--examples", "1", "--database", "redis://127.0.0.1:1/0"])
    err = capsys.readouterr().err
    assert code == 2 and "the Redis server does not answer" in err and len(err.splitlines()) == 1
