"""Start-up: which modules each entry point imports, read from `python -X importtime` in a fresh
process (not a timing, which a shared machine would make flaky). `--help` and `import gradcheck`
load neither numpy nor Hypothesis; a float64 verify loads numpy and Hypothesis and not ml_dtypes,
JAX, matplotlib or torch; the public names still resolve, and bfloat16 still finds ml_dtypes."""

import subprocess
import sys
from pathlib import Path

import pytest

import gradcheck

ROOT = Path(__file__).parent.parent
HEAVY = {"ml_dtypes", "jax", "jaxlib", "matplotlib", "torch"}

# A correct float64 implementation that imports numpy alone (the loop of the seed's derivation).
CORRECT = """
import numpy as np


def grads(params, xs, ys, h0):
    U, W, V, b_h, b_y = (params[k] for k in ("U", "W", "V", "b_h", "b_y"))
    hs, ps, loss = [h0], [], 0.0
    for x, y in zip(xs, ys):
        hs.append(np.tanh(U @ x + W @ hs[-1] + b_h))
        q = V @ hs[-1] + b_y
        p = np.exp(q - q.max())
        p /= p.sum()
        loss -= np.log(p[y])
        ps.append(p)
    g = {k: np.zeros_like(v) for k, v in params.items()}
    carry = np.zeros_like(h0)
    for t in reversed(range(len(xs))):
        dq = ps[t].copy()
        dq[ys[t]] -= 1
        g["V"] += np.outer(dq, hs[t + 1])
        g["b_y"] += dq
        dp = (1 - hs[t + 1] ** 2) * (V.T @ dq + carry)
        g["U"] += np.outer(dp, xs[t])
        g["W"] += np.outer(dp, hs[t])
        g["b_h"] += dp
        carry = W.T @ dp
    return {**g, "h0": carry, "loss": loss}
"""


def imported(*argv: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """The top-level packages a fresh `python -X importtime ARGV` imports, and the process."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":  # the header line
                names.add(name.split(".")[0])
    assert names, proc.stderr[-2000:]
    return names, proc


def test_help_imports_neither_numpy_nor_hypothesis_nor_anything_heavy():
    names, proc = imported("-m", "gradcheck", "--help")
    assert proc.returncode == 0 and "Exit codes" in proc.stdout
    assert "gradcheck" in names and not names & (HEAVY | {"numpy", "hypothesis"}), sorted(names)


def test_every_commands_help_imports_nothing_heavy():
    for command in ("verify", "fuzz", "taylor", "golden", "plot", "report"):
        names, proc = imported("-m", "gradcheck", command, "--help")
        assert proc.returncode == 0 and not names & (HEAVY | {"numpy", "hypothesis"}), (command, sorted(names))


def test_import_gradcheck_imports_no_numpy():
    names, proc = imported("-c", "import gradcheck; gradcheck.GradcheckError")
    assert proc.returncode == 0 and not names & (HEAVY | {"numpy", "hypothesis"}), sorted(names)


def test_a_float64_verify_imports_numpy_and_hypothesis_and_nothing_heavy(tmp_path):
    (tmp_path / "correct_loop.py").write_text(CORRECT)
    names, proc = imported("-m", "gradcheck", "verify", f"{tmp_path / 'correct_loop.py'}:grads", "--examples", "5")
    assert proc.returncode == 0 and "AGREES" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert {"numpy", "hypothesis"} <= names and not names & HEAVY, sorted(names & HEAVY)


def test_a_bfloat16_verify_still_finds_ml_dtypes(tmp_path):
    pytest.importorskip("ml_dtypes")
    names, _ = imported("-c", "from gradcheck.precision import BFLOAT16; print(BFLOAT16.dtype)")
    assert "ml_dtypes" in names


@pytest.mark.parametrize("name", gradcheck.__all__)
def test_every_public_name_resolves_as_before(name):
    value = getattr(gradcheck, name)
    assert value is not None and name in dir(gradcheck)
    module = sys.modules[f"gradcheck.{gradcheck._WHERE[name]}"] if name in gradcheck._WHERE else None
    assert module is None or getattr(module, name) is value


def test_a_submodule_is_an_attribute_as_the_eager_imports_made_it():
    _, proc = imported("-c", "import gradcheck; print(gradcheck.numeric.fd_gradients.__name__)")
    assert proc.returncode == 0 and proc.stdout.strip() == "fd_gradients"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        gradcheck.no_such_name  # noqa: B018 (the look-up is the test)


def test_each_formats_numbers_are_numpys_and_ml_dtypes():
    """precision.py derives eps, max and tiny from IEEE formulas (to import no numpy or ml_dtypes):
    they must be the libraries' own."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    from gradcheck.precision import PRECISIONS

    for pr in PRECISIONS.values():
        f = ml_dtypes.finfo(pr.dtype)
        assert (pr.eps, pr.max, pr.tiny) == (float(f.eps), float(f.max), float(f.tiny)), pr.name
        assert pr.dtype.name == pr.name
