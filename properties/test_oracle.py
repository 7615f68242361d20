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
from gradcheck.options import Options

IMPLS = Path(__file__).parent / "impls"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"impls_{name}", IMPLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options_for(module) -> dict:
    """The options a file's constants call for (LOSS, CONTRACT, BATCH_LOSS, DTYPE, REQUIRES)."""
    contract = getattr(module, "CONTRACT", "sequence")
    opts = {"dtype": getattr(module, "DTYPE", "float64"), "batch": "batch" in contract, "layer": "layer" in contract}
    if not opts["layer"]:
        opts["loss"] = getattr(module, "LOSS", "sum")
    if opts["batch"] and not opts["layer"]:
        opts["batch_loss"] = getattr(module, "BATCH_LOSS", "sum")
    opts.update({flag: True for flag in getattr(module, "REQUIRES", [])})
    return opts


def needs_torch(name: str) -> None:
    if "torch" in name or name == "bug_accumulates":
        pytest.importorskip("torch")


# Files whose loss is not the seed's (an L2 penalty, label smoothing): for `taylor`, not verify.
SELF_CONSISTENT = sorted(p.stem for p in IMPLS.glob("correct_*.py") if not getattr(load(p.stem), "SEED_LOSS", True))
CORRECT = sorted(p.stem for p in IMPLS.glob("correct_*.py") if p.stem not in SELF_CONSISTENT)
BUGGY = sorted(p.stem for p in IMPLS.glob("bug_*.py"))

# What the report must say about each planted mistake (a substring of its failure, diagnosis or notes).
EXPECTED = {
    "bug_no_tanh_deriv": "(1 - h_t^2) is missing",
    "bug_W_not_transposed": "W is used where W^T belongs",
    "bug_no_recurrent": "recurrent term W^T dp_{t+1} is missing",
    "bug_h_t_for_h_prev": "h_t is used where h_{t-1} belongs",
    "bug_truncated_wildml": "cut after k = 4 terms per step (WildML-style bptt_truncate = 3)",
    "bug_mean_scaling": "divided by T",
    "bug_inconsistent_loss": "divided by T",
    "bug_mean_of_last_step": "those of the 'last' loss",
    "bug_clip5": "clipped to [-5, 5]",
    "bug_clip_big_only": "clipped to [-5, 5]",
    "bug_float32": "the arithmetic is float32",
    "bug_relative_1e4": "W is the reference times 1.0001",
    "bug_h0_only": "the failure needs h0 != 0",
    "bug_x0_ignored": "the failure needs some x_t[0] != 0",
    "bug_naive_softmax": "softmax is computed without the max shift: exp(q) overflows above 709.8",
    "bug_nan": "V[0, 0] is nan",
    "bug_raises": "raised ValueError: shapes not aligned",
    "bug_returns_none": "returned None",
    "bug_wrong_shape": "U is returned transposed",
    "bug_missing_key": "no key(s) ['b_y']",
    "bug_inplace": "modified its input params['W'] in place",
    "bug_wrong_signature": "wrong signature",
    "bug_accumulates": "gradients accumulate between calls",
    "bug_noisy": "two calls on the same problem differ",
    "bug_wrong_loss": "the forward pass (the loss) is not the model's",
    "bug_zero_entry": "every failing entry of U is in column",
    "bug_float16_truncated": "cut after k = 3 terms per step",
    "bug_float16_W_not_transposed": "W is used where W^T belongs",
    "bug_bfloat16_truncated": "cut after k = 3 terms per step",
    "bug_bfloat16_W_not_transposed": "W is used where W^T belongs",
    "bug_batch_one_sequence": "those of sequence 0 alone",
    "bug_batch_no_mean": "the 1/N of the batch mean is missing",
    "bug_batch_mean_one_param": "the 1/N of the batch mean is missing in W only",
    "bug_batch_mixed": "sequences are mixed up",
    "bug_batch_h0_summed": "the h0 gradient is summed over the batch",
    "bug_layer_truncated": "cut after k = 4 terms per step",
    "bug_layer_W_not_transposed": "W is used where W^T belongs",
    "bug_layer_no_tanh_deriv": "(1 - h_t^2) is missing",
    "bug_layer_h_t_for_h_prev": "h_t is used where h_{t-1} belongs",
    "bug_fwd_q_from_prev_state": "the outputs are computed from the previous state",
    "bug_fwd_no_b_h": "b_h is missing from the forward pass",
    "bug_fwd_h0_ignored": "h0 is ignored in the forward pass",
    "bug_fwd_sigmoid": "the nonlinearity is a sigmoid",
}


def test_every_planted_mistake_has_an_expectation():
    assert set(EXPECTED) == set(BUGGY)


@pytest.mark.parametrize("name", CORRECT)
def test_correct_implementations_agree(name):
    needs_torch(name)
    module = load(name)
    report = gradcheck.verify(module.grads, **options_for(module))
    assert report.ok, report.format()
    assert report.coverage["problems"] >= 200


@pytest.mark.parametrize("name", BUGGY)
def test_planted_mistakes_are_caught_and_named(name):
    needs_torch(name)
    module = load(name)
    report = gradcheck.verify(module.grads, **options_for(module))
    assert not report.ok
    text = report.format()
    assert EXPECTED[name] in text, text


def test_forward_pass_mistakes_are_named_before_the_gradients():
    report = gradcheck.verify(load("bug_fwd_q_from_prev_state").grads)
    assert report.diagnosis[0].startswith("the forward pass (the loss) is not the model's"), report.diagnosis


def test_a_nondeterministic_code_at_round_off_level_passes_with_a_note():
    report = gradcheck.verify(load("correct_random_order").grads)
    assert report.ok and "nondeterministic at round-off level" in report.repeats, report.format()
    report = gradcheck.verify(load("correct_loop").grads, examples=10)
    assert report.ok and report.repeats.endswith("identical")


def test_the_failure_line_of_calls_that_differ():
    for name in ("bug_noisy", "bug_accumulates"):
        needs_torch(name)
        report = gradcheck.verify(load(name).grads)
        assert report.message.startswith("two calls on the same problem differ"), report.format()
    assert "accumulate" not in " ".join(gradcheck.verify(load("bug_noisy").grads).diagnosis)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_correct_code_passes_for_every_seed(seed):
    """No false alarms: another draw of problems, and the JAX reference in place of the recursion."""
    for name in ("correct_einsum", "correct_batched"):
        report = gradcheck.verify(load(name).grads, seed=seed, reference="jax" if seed == 3 else "bptt")
        assert report.ok, report.format()


def test_a_failure_shrinks_to_a_small_problem_and_shows_the_clearest_one():
    report = gradcheck.verify(load("bug_W_not_transposed").grads)
    D, H, K, T = report.failure.case.sizes
    assert H == 2 and T <= 2 and D == 1 and K <= 2  # W^T != W needs H >= 2; a recurrence, T >= 1 with h0
    clearest = report.search.clearest
    assert clearest.ratio >= report.failure.ratio
    assert "clearest failure seen" in report.format()


def test_skip_regime_leaves_a_regime_out_and_says_so():
    module = load("bug_naive_softmax")
    report = gradcheck.verify(module.grads, skip_regimes=["large_logits"])
    assert report.ok, report.format()
    assert "skipped regimes (not drawn): large_logits" in report.format()
    assert report.to_json()["skipped_regimes"] == ["large_logits"]
    with pytest.raises(gradcheck.GradcheckError, match="regime: 'huge' is not one of"):
        gradcheck.verify(module.grads, skip_regimes=["huge"])


def test_probes_do_not_blame_a_condition_on_weak_evidence():
    """A rare failure (one problem in 30, by a hash of its inputs) that has nothing to do with h0,
    large logits or x_t[0]: narrowed searches that happen not to meet it must not blame any of them
    (the old probes did, for any narrowed search of 100 problems that passed)."""
    import zlib

    def rare(params, xs, ys, h0):
        g = gradcheck.bptt_gradients(params, xs, ys, h0)
        if zlib.crc32(np.asarray(xs).tobytes()) % 30 == 0:
            g["W"] = g["W"] + 1.0
        return g

    for seed in (0, 1):
        report = gradcheck.verify(rare, seed=seed)
        assert not report.ok, report.format()
        assert not any("the failure needs" in n for n in report.notes), report.format()


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


@pytest.mark.parametrize(
    "bad",
    [
        ["--examples", "0"],
        ["--loss", "median"],
        ["--dtype", "float8"],
        ["--seed", "x"],
        ["--skip-regime", "huge"],
        ["--batch-loss", "max"],
        ["--timeout", "0"],
    ],
)
def test_cli_bad_option_values_exit_2(capsys, bad):
    with pytest.raises(SystemExit) as e:
        main(["verify", f"{IMPLS}/correct_loop.py:grads", *bad])
    assert e.value.code == 2


def test_every_command_has_help(capsys):
    for argv in (
        ["--help"],
        ["report", "--help"],
        ["verify", "--help"],
        ["golden", "--help"],
        ["golden", "export", "--help"],
        ["golden", "check", "--help"],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_options_are_validated():
    with pytest.raises(gradcheck.GradcheckError, match="examples: 0 given"):
        gradcheck.verify(load("correct_loop").grads, examples=0)
    with pytest.raises(gradcheck.GradcheckError, match="loss: 'median'"):
        Options(loss="median")
    with pytest.raises(gradcheck.GradcheckError, match="batch_loss"):
        Options(layer=True, batch_loss="mean")


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


@pytest.mark.parametrize("damage", ["altered", "missing", "manifest", "pickled", "pickled, sha256 updated", "stray"])
@pytest.mark.parametrize("victim", ["case_000.npz", "case_007.npz"])  # a 'sum' case, and a 'mean' case not run
def test_golden_damage_is_a_usage_error_naming_the_file(corpus, tmp_path, capsys, damage, victim):
    """Any damaged file is exit 2 before anything runs, whether or not the options would run its case."""
    import hashlib
    import json
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(corpus, d)
    path = d / victim
    manifest = json.loads((d / "manifest.json").read_text())
    assert [c["loss"] for c in manifest["cases"] if c["file"] == victim] == [
        "sum" if victim.endswith("0.npz") else "mean"
    ]
    if damage == "altered":
        data = bytearray(path.read_bytes())
        data[-50] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "missing":
        path.unlink()
    elif damage == "manifest":
        (d / "manifest.json").unlink()
    elif damage == "stray":
        shutil.copy(path, d / "case_999.npz")
    else:  # an object array needs pickle to load
        np.savez(path, U=np.array([object()], dtype=object))
        if damage.endswith("updated"):  # so that only the loader can object
            for c in manifest["cases"]:
                if c["file"] == victim:
                    c["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            (d / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "golden", "check", str(d), f"{IMPLS}/correct_loop.py:grads")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    expected = {"manifest": "manifest.json", "stray": "case_999.npz"}.get(damage, victim)
    assert expected in err


def test_golden_check_uses_the_stored_tolerances(corpus, tmp_path, capsys):
    """Zeroed tol_W arrays (sha256 updated) make a correct implementation fail on W: they are the tolerances."""
    import hashlib
    import json
    import shutil

    d = tmp_path / "copy"
    shutil.copytree(corpus, d)
    manifest = json.loads((d / "manifest.json").read_text())
    for c in manifest["cases"]:
        with np.load(d / c["file"]) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["tol_W"] = np.zeros_like(arrays["tol_W"])
        np.savez(d / c["file"], **arrays)
        c["sha256"] = hashlib.sha256((d / c["file"]).read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = run(capsys, "golden", "check", str(d), f"{IMPLS}/correct_einsum.py:grads")
    assert code == 1 and "gradients differ in W" in out


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
