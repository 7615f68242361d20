"""The oracle judges other people's code: correct implementations in several styles pass,
every planted mistake is caught (and named, where it has a name), and the CLI's exit codes hold.

The implementations in properties/impls/ were written independently of gradcheck's code, from
the model equations alone (see properties/impls/README.md). Each declares BUG (None when
correct), LOSS, and REQUIRES / DTYPE where it needs an option.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import gradcheck
from gradcheck.cli import main
from gradcheck.oracle import Options

IMPLS = Path(__file__).parent / "impls"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"impls_{name}", IMPLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options_for(module) -> dict:
    opts = {"loss": getattr(module, "LOSS", "sum"), "dtype": getattr(module, "DTYPE", "float64")}
    opts.update({flag: True for flag in getattr(module, "REQUIRES", [])})
    return opts


CORRECT = sorted(p.stem for p in IMPLS.glob("correct_*.py"))
BUGGY = sorted(p.stem for p in IMPLS.glob("bug_*.py"))

# What the report must say about each planted mistake (a substring of its failure, diagnosis or notes).
EXPECTED = {
    "bug_no_tanh_deriv": "(1 - h_t^2) is missing",
    "bug_W_not_transposed": "W is used where W^T belongs",
    "bug_no_recurrent": "recurrent term W^T dp_{t+1} is missing",
    "bug_h_t_for_h_prev": "h_t is used where h_{t-1} belongs",
    "bug_truncated_wildml": "cut after k = 4 terms per step (WildML-style bptt_truncate = 3)",
    "bug_mean_scaling": "divided by T",
    "bug_mean_of_last_step": "those of the 'last' loss",
    "bug_clip5": "clipped to [-5, 5]",
    "bug_clip_big_only": "clipped to [-5, 5]",
    "bug_float32": "float32",
    "bug_relative_1e4": "W is the reference times 1.0001",
    "bug_h0_only": "the failure needs h0 != 0",
    "bug_x0_ignored": "the failure needs some x_t[0] != 0",
    "bug_naive_softmax": "the failure needs large logits",
    "bug_nan": "V[0, 0] is nan",
    "bug_raises": "raised ValueError: shapes not aligned",
    "bug_returns_none": "returned None",
    "bug_wrong_shape": "U is returned transposed",
    "bug_missing_key": "no key(s) ['b_y']",
    "bug_inplace": "modified its input params['W'] in place",
    "bug_wrong_signature": "wrong signature",
}


def test_every_planted_mistake_has_an_expectation():
    assert set(EXPECTED) == set(BUGGY)


@pytest.mark.parametrize("name", CORRECT)
def test_correct_implementations_agree(name):
    module = load(name)
    if name == "correct_torch":
        pytest.importorskip("torch")
    report = gradcheck.verify(module.grads, **options_for(module))
    assert report.ok, report.format()
    assert report.coverage["problems"] >= 200


@pytest.mark.parametrize("name", BUGGY)
def test_planted_mistakes_are_caught_and_named(name):
    module = load(name)
    report = gradcheck.verify(module.grads, **options_for(module))
    assert not report.ok
    text = report.format()
    assert EXPECTED[name] in text, text


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_code_passes_for_every_seed(seed):
    """No false alarms: another draw of problems, and the JAX reference in place of the recursion."""
    for name in ("correct_einsum", "correct_batched"):
        report = gradcheck.verify(load(name).grads, seed=seed, reference="jax" if seed == 3 else "bptt")
        assert report.ok, report.format()


def test_a_failure_shrinks_to_a_small_problem():
    report = gradcheck.verify(load("bug_W_not_transposed").grads)
    D, H, K, T = report.failure.problem.sizes
    assert H == 2 and T <= 2 and D == 1 and K <= 2  # W^T != W needs H >= 2; a recurrence, T >= 1 with h0


def test_report_json_holds_the_smallest_failing_problem(tmp_path):
    path = tmp_path / "report.json"
    code = main(["verify", str(IMPLS / "bug_no_recurrent.py") + ":grads", "--json", str(path)])
    import json

    data = json.loads(path.read_text())
    assert code == 1 and data["agrees"] is False
    problem = data["failure"]["problem"]
    grads = load("bug_no_recurrent").grads(
        {k: np.array(v) for k, v in problem["params"].items()},
        np.array(problem["xs"]),
        np.array(problem["ys"]),
        np.array(problem["h0"]),
    )
    ref = gradcheck.bptt_gradients(
        {k: np.array(v) for k, v in problem["params"].items()}, problem["xs"], problem["ys"], problem["h0"]
    )
    assert not np.allclose(grads["W"], ref["W"], rtol=1e-9, atol=0) or not np.allclose(grads["h0"], ref["h0"])


# --- the command line ------------------------------------------------------------------------


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_exit_codes(capsys):
    assert run(capsys, "verify", f"{IMPLS}/correct_loop.py:grads", "--examples", "20")[0] == 0
    assert run(capsys, "verify", f"{IMPLS}/bug_no_tanh_deriv.py:grads", "--examples", "20")[0] == 1
    assert run(capsys, "verify", f"{IMPLS}/bug_raises.py:grads")[0] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "no_colon_here"], "has no colon"),
        (["verify", "no_such_module_xyz:f"], "module 'no_such_module_xyz' not found"),
        (["verify", "missing/file.py:f"], "does not exist"),
        (["verify", f"{IMPLS}/correct_loop.py:nope"], "has no attribute 'nope'"),
        (["verify", f"{IMPLS}/correct_loop.py:BUG"], "is of type NoneType, not a function"),
        (["golden", "check", "/nonexistent_dir", f"{IMPLS}/correct_loop.py:grads"], "is not a directory"),
    ],
)
def test_cli_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, _out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("bad", [["--examples", "0"], ["--loss", "median"], ["--dtype", "float16"], ["--seed", "x"]])
def test_cli_bad_option_values_exit_2(capsys, bad):
    with pytest.raises(SystemExit) as e:
        main(["verify", f"{IMPLS}/correct_loop.py:grads", *bad])
    assert e.value.code == 2


def test_every_command_has_help(capsys):
    for argv in (["--help"], ["report", "--help"], ["verify", "--help"], ["golden", "--help"],
                 ["golden", "export", "--help"], ["golden", "check", "--help"]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_options_are_validated():
    with pytest.raises(gradcheck.GradcheckError, match="examples: 0 given"):
        gradcheck.verify(load("correct_loop").grads, examples=0)
    with pytest.raises(gradcheck.GradcheckError, match="loss: 'median'"):
        Options(loss="median").check()


# --- golden vectors --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("golden")
    assert main(["golden", "export", str(d), "--cases", "42"]) == 0
    return d


def test_golden_corpus_passes_correct_and_fails_buggy_code(corpus, capsys):
    assert run(capsys, "golden", "check", str(corpus), f"{IMPLS}/correct_loop.py:grads")[0] == 0
    assert run(capsys, "golden", "check", str(corpus), f"{IMPLS}/correct_mean.py:grads", "--loss", "mean")[0] == 0
    code, out, _ = run(capsys, "golden", "check", str(corpus), f"{IMPLS}/bug_h_t_for_h_prev.py:grads")
    assert code == 1 and "h_t is used where h_{t-1} belongs" in out


def test_golden_files_are_plain_npz_with_a_manifest(corpus):
    import json

    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest["format"] == "gradcheck-golden" and manifest["version"] == 1
    case = manifest["cases"][0]
    with np.load(corpus / case["file"], allow_pickle=False) as z:
        assert {"U", "W", "V", "b_h", "b_y", "xs", "ys", "h0", "loss", "dW", "tol_W"} <= set(z.files)
        assert z["ys"].dtype == np.int64


@pytest.mark.parametrize("damage", ["altered", "missing", "manifest", "pickled"])
def test_golden_damage_is_a_usage_error_naming_the_file(corpus, tmp_path, capsys, damage):
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(corpus, d)
    victim = d / "case_000.npz"
    if damage == "altered":
        data = bytearray(victim.read_bytes())
        data[-50] ^= 0xFF
        victim.write_bytes(bytes(data))
    elif damage == "missing":
        victim.unlink()
    elif damage == "manifest":
        (d / "manifest.json").unlink()
    else:  # an object array needs pickle to load; the sha256 is updated so only the loader can object
        import hashlib
        import json

        np.savez(victim, U=np.array([object()], dtype=object))
        manifest = json.loads((d / "manifest.json").read_text())
        manifest["cases"][0]["sha256"] = hashlib.sha256(victim.read_bytes()).hexdigest()
        (d / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "golden", "check", str(d), f"{IMPLS}/correct_loop.py:grads")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert ("manifest.json" if damage == "manifest" else "case_000.npz") in err


# --- the pytest plugin -----------------------------------------------------------------------

pytest_plugins = ["pytester"]


def test_pytest_plugin_fixture_reports_failures(pytester, monkeypatch):
    import importlib.metadata

    installed = any(e.name == "rnn_oracle" for e in importlib.metadata.entry_points(group="pytest11"))
    monkeypatch.setenv("PYTHONPATH", str(IMPLS.parent.parent))  # gradcheck from this checkout
    pytester.makepyfile(
        f"""
        import importlib.util
        def load(name):
            spec = importlib.util.spec_from_file_location(name, r"{IMPLS}/" + name + ".py")
            m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m

        def test_good(rnn_oracle):
            rnn_oracle.verify(load("correct_mean").grads, loss="mean")

        def test_bad(rnn_oracle):
            rnn_oracle.verify(load("bug_no_tanh_deriv").grads)
        """
    )
    args = ["--rnn-oracle-examples", "30", "-p", "no:cacheprovider"]
    result = pytester.runpytest_subprocess(*args, *([] if installed else ["-p", "gradcheck.pytest_plugin"]))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*DISAGREES*", "*(1 - h_t^2) is missing*"])
