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
from gradcheck.derivation import MutationKind as MK
from gradcheck.options import Options
from gradcheck.outcome import Condition, Kind, Role
from gradcheck.outcome import Mistake as M

IMPLS = Path(__file__).parent / "impls"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"impls_{name}", IMPLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def options_for(module) -> dict:
    """The options a file's constants call for (CELL, LOSS, CONTRACT, BATCH_LOSS, DTYPE, REQUIRES, SKIP_REGIMES)."""
    contract = getattr(module, "CONTRACT", "sequence")
    opts = {"dtype": getattr(module, "DTYPE", "float64"), "batch": "batch" in contract, "layer": "layer" in contract}
    opts["cell"] = getattr(module, "CELL", "tanh")
    if not opts["layer"]:
        opts["loss"] = getattr(module, "LOSS", "sum")
    if opts["batch"] and not opts["layer"]:
        opts["batch_loss"] = getattr(module, "BATCH_LOSS", "sum")
    opts.update({flag: True for flag in getattr(module, "REQUIRES", [])})
    if hasattr(module, "SKIP_REGIMES"):
        opts["skip_regimes"] = module.SKIP_REGIMES
    return opts


def needs_torch(name: str) -> None:
    if "torch" in name or name == "bug_accumulates":
        pytest.importorskip("torch")


# Files whose loss is not the seed's (an L2 penalty, label smoothing): for `taylor`, not verify.
SELF_CONSISTENT = sorted(p.stem for p in IMPLS.glob("correct_*.py") if not getattr(load(p.stem), "SEED_LOSS", True))
CORRECT = sorted(p.stem for p in IMPLS.glob("correct_*.py") if p.stem not in SELF_CONSISTENT)
BUGGY = sorted(p.stem for p in IMPLS.glob("bug_*.py"))
# The slowest of them (16 to 70 s each with `--durations=50`, 2 workers, docs/testing.md): `-m "not slow"` leaves
# them out of the fast loop; the torch ones are CPU torch, slow to call on many small problems.
SLOW = {"correct_torch", "correct_torch_float16", "correct_torch_float32", "correct_torch_bfloat16",
        "bug_clip_big_only", "bug_clip5", "bug_h0_only",
        *(p.stem for p in IMPLS.glob("*.py") if getattr(load(p.stem), "CELL", "tanh") != "tanh")}  # fmt: skip


def marked(names: list[str]) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


# What the diagnosis must find for each planted mistake: a finding (a mistake of the catalogue, or
# a mutant of the derivation at a site), a failure kind, or a condition the failure needs.
def mutant(kind: MK, where: str):
    return lambda r: any(
        f.role is not Role.NOTE and f.mistake is M.DERIVATION and f.has(kind, where) for f in r.findings
    )


def _same(a, b) -> bool:
    return abs(a - b) <= 1e-9 * abs(b) if isinstance(b, float) and a is not None else a == b


def found(mistake: M, **values):
    return lambda r: any(
        f.mistake is mistake and all(_same(f.values.get(k), v) for k, v in values.items()) for f in r.findings
    )


def kind(k: Kind):
    return lambda r: r.kind is k


def needs(condition: Condition):
    return lambda r: any(f.mistake is M.NEEDS and f.values["condition"] is condition for f in r.findings)


def truncated_at(k: int):
    return lambda r: any(f.mistake is M.TRUNCATED and k in f.values["fits"] for f in r.findings)


EXPECTED = {
    "bug_no_tanh_deriv": mutant(MK.DROP_FACTOR, "dp"),
    "bug_W_not_transposed": mutant(MK.TRANSPOSE, "c"),
    "bug_no_recurrent": mutant(MK.DROP_TERM, "dh"),
    "bug_h_t_for_h_prev": mutant(MK.SHIFT, "dW"),
    "bug_truncated_wildml": found(M.TRUNCATED, k=4),
    "bug_mean_scaling": found(M.OTHER_LOSS, loss="mean"),
    "bug_inconsistent_loss": found(M.OTHER_LOSS, loss="mean"),
    "bug_mean_of_last_step": found(M.OTHER_LOSS, loss="last"),
    "bug_clip5": found(M.CLIPPED_VALUE, c=5.0),
    "bug_clip_big_only": found(M.CLIPPED_VALUE, c=5.0),
    "bug_float32": found(M.LOWER_PRECISION, precision="float32"),
    "bug_relative_1e4": lambda r: any(f.mistake is M.SCALED_ONE and f.arrays == {"W"} for f in r.findings),
    "bug_h0_only": mutant(MK.BOUND, "dW"),
    "bug_x0_ignored": needs(Condition.X0_NONZERO),
    "bug_naive_softmax": found(M.NAIVE_SOFTMAX),
    "bug_nan": lambda r: r.kind is Kind.NONFINITE and r.failing_arrays == {"V"},
    "bug_raises": kind(Kind.RAISED),
    "bug_returns_none": kind(Kind.RETURNED),
    "bug_wrong_shape": lambda r: r.kind is Kind.SHAPE and mutant(MK.TRANSPOSE, "dU")(r),
    "bug_missing_key": kind(Kind.MISSING),
    "bug_inplace": kind(Kind.MODIFIED),
    "bug_wrong_signature": kind(Kind.SIGNATURE),
    "bug_accumulates": found(M.ACCUMULATES),
    "bug_noisy": lambda r: r.kind is Kind.CALLS_DIFFER and found(M.NONDETERMINISTIC)(r),
    "bug_wrong_loss": found(M.FORWARD),
    "bug_zero_entry": found(M.PATTERN, column=1),
    "bug_float16_truncated": truncated_at(3),
    "bug_float16_W_not_transposed": mutant(MK.TRANSPOSE, "c"),
    "bug_bfloat16_truncated": truncated_at(3),
    "bug_bfloat16_W_not_transposed": mutant(MK.TRANSPOSE, "c"),
    "bug_batch_one_sequence": found(M.BATCH_ONE_SEQUENCE, sequence=0),
    "bug_batch_no_mean": found(M.BATCH_SCALE),
    "bug_batch_mean_one_param": lambda r: any(f.mistake is M.BATCH_SCALE and f.arrays == {"W"} for f in r.findings),
    "bug_batch_mixed": found(M.BATCH_MIXED),
    "bug_batch_h0_summed": found(M.H0_SUMMED),
    "bug_layer_truncated": found(M.TRUNCATED, k=4),
    "bug_layer_W_not_transposed": mutant(MK.TRANSPOSE, "c"),
    "bug_layer_no_tanh_deriv": mutant(MK.DROP_FACTOR, "dp"),
    "bug_layer_h_t_for_h_prev": mutant(MK.SHIFT, "dW"),
    "bug_fwd_q_from_prev_state": mutant(MK.SHIFT, "q"),
    "bug_fwd_no_b_h": mutant(MK.DROP_TERM, "p"),
    "bug_fwd_h0_ignored": mutant(MK.INITIAL, "h"),
    "bug_fwd_sigmoid": mutant(MK.CONFUSED, "h"),
    # Single mistakes of the kinds public code makes (properties/impls/README.md), one site each.
    "bug_backward_loop_skips_first": mutant(MK.LOOP, "loop"),
    "bug_layer_loop_skips_first": mutant(MK.LOOP, "loop"),
    "bug_dW_sum_from_t2": mutant(MK.BOUND, "dW"),
    "bug_batch_dW_from_t2": mutant(MK.BOUND, "dW"),
    "bug_h0_left_out_of_dW": mutant(MK.BOUND, "dW"),
    "bug_dU_skips_last_step": mutant(MK.BOUND, "dU"),
    "bug_batch_dV_stops_at_T_minus_1": mutant(MK.BOUND, "dV"),
    "bug_batch_dW_uses_h_t": mutant(MK.SHIFT, "dW"),
    "bug_dU_x_prev": mutant(MK.SHIFT, "dU"),
    "bug_dV_h_prev": mutant(MK.SHIFT, "dV"),
    "bug_dh_uses_next_dq": mutant(MK.SHIFT, "dh"),
    "bug_tanh_deriv_prev_h": mutant(MK.SHIFT, "dp"),
    "bug_layer_tanh_deriv_prev_h": mutant(MK.SHIFT, "dp"),
    "bug_dh0_no_tanh_deriv": mutant(MK.CONFUSED, "dh0"),
    "bug_db_h_sums_dh": mutant(MK.CONFUSED, "db_h"),
    "bug_layer_dx_no_tanh_deriv": mutant(MK.CONFUSED, "dxs"),
    "bug_batch_dscores_no_y": mutant(MK.DROP_TERM, "e"),
    "bug_dh0_with_W": mutant(MK.TRANSPOSE, "dh0"),
    "bug_layer_dh0_with_W": mutant(MK.TRANSPOSE, "dh0"),
    "bug_recurrent_sign": mutant(MK.SIGN, "dh"),
    "bug_dW_outer_transposed": mutant(MK.TRANSPOSE, "dW"),
    "bug_layer_dWh_transposed": mutant(MK.TRANSPOSE, "dW"),
    "bug_mean_loss_sum_grads": found(M.OTHER_LOSS, loss="sum"),
    "bug_sum_loss_mean_grads": found(M.LOSS, name="sum", gradients="model"),
    "bug_batch_mean_loss_sum_grads": found(M.LOSS, name="batch", gradients="model"),
    "bug_clip_norm_recurrent": lambda r: any(
        f.mistake is M.CLIPPED_NORM
        and set(f.values["subset"]) == {"U", "W", "b_h"}
        and abs(f.values["threshold"] - 1) < 1e-9
        for f in r.findings
    ),
    "bug_clip_each_norm": found(M.CLIPPED_EACH, threshold=5.0),
    "bug_clip_value_1": found(M.CLIPPED_VALUE, c=1.0),
    # the other cells
    "bug_relu_linear_backward": mutant(MK.DROP_FACTOR, "dp"),
    "bug_relu_tanh_derivative": mutant(MK.CONFUSED, "dp"),
    "bug_gru_carry_no_Whh": mutant(MK.DROP_TERM, "ch"),
    "bug_gru_cho_declared_torch": mutant(MK.VARIANT, "cell"),
    "bug_gru_torch_declared_cho": mutant(MK.VARIANT, "cell"),
    "bug_gru_no_tanh_n_deriv": mutant(MK.DROP_FACTOR, "dpn"),
    "bug_gru_z_swapped": mutant(MK.SWAP, "h"),
    "bug_lstm_cell_carry_dropped": mutant(MK.DROP_TERM, "dc"),
    "bug_lstm_dh0_is_dh1": mutant(MK.SHIFT, "dh0"),
    "bug_lstm_dpf_uses_c_t": mutant(MK.SHIFT, "dpf"),
    "bug_lstm_forget_no_sigmoid_deriv": mutant(MK.DROP_FACTOR, "dpf"),
    "bug_lstm_gate_order_ifog": mutant(MK.LAYOUT, "gates"),
    "bug_lstm_loop_skips_first": mutant(MK.LOOP, "loop"),
    "bug_lstm_mean_grads_sum_loss": found(M.OTHER_LOSS, loss="mean"),
    "bug_lstm_no_tanh_c_deriv": mutant(MK.DROP_FACTOR, "dc"),
}


def _no_wrong_name(report) -> bool:
    """Every mistake named on the first failure is of one reading: no rival is named as a cause."""
    causes = (
        [f for f in report.failures[0].diagnosis.causes if f.mistake not in (M.FORWARD, M.LOSS)]
        if report.failures
        else []
    )
    return len(causes) <= 1 or all(f.role is Role.EQUAL for f in causes)


def test_every_planted_mistake_has_an_expectation():
    assert set(EXPECTED) == set(BUGGY)


@pytest.mark.parametrize("name", marked(CORRECT))
def test_correct_implementations_agree(name):
    needs_torch(name)
    module = load(name)
    report = gradcheck.verify(module.grads, **options_for(module))
    assert report.ok, report.format()
    assert report.coverage.counts["problems"] >= 200


@pytest.mark.parametrize("name", marked(BUGGY))
def test_planted_mistakes_are_caught_and_named(name):
    needs_torch(name)
    module = load(name)
    report = gradcheck.verify(module.grads, **options_for(module))
    assert not report.ok
    assert EXPECTED[name](report), report.format()
    assert _no_wrong_name(report), report.format()


def test_tanh_written_with_exp_is_caught_where_exp_overflows_and_named():
    module = load("correct_tanh_from_exp")
    opts = options_for(module)
    del opts["skip_regimes"]
    report = gradcheck.verify(module.grads, **opts)
    assert report.kind is Kind.NONFINITE and found(M.TANH_OVERFLOW)(report), report.format()


def test_forward_pass_mistakes_are_named_before_the_gradients():
    report = gradcheck.verify(load("bug_fwd_q_from_prev_state").grads)
    assert report.findings[0].mistake is M.FORWARD, report.format()


def test_a_nondeterministic_code_at_round_off_level_passes_with_a_note():
    report = gradcheck.verify(load("correct_random_order").grads)
    assert report.ok and "nondeterministic at round-off level" in report.coverage.repeats, report.format()
    report = gradcheck.verify(load("correct_loop").grads, examples=10)
    assert report.ok and report.coverage.repeats.endswith("identical")


def test_the_failure_line_of_calls_that_differ():
    for name in ("bug_noisy", "bug_accumulates"):
        needs_torch(name)
        report = gradcheck.verify(load(name).grads)
        assert report.kind is Kind.CALLS_DIFFER, report.format()
    assert not found(M.ACCUMULATES)(gradcheck.verify(load("bug_noisy").grads))


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
    clearest = report.failures[0].failure.clearest
    assert clearest.ratio >= report.failure.ratio


def test_skip_regime_leaves_a_regime_out_and_says_so():
    module = load("bug_naive_softmax")
    report = gradcheck.verify(module.grads, skip_regimes=["large_logits"])
    assert report.ok, report.format()
    assert report.to_json()["skipped_regimes"] == ["large_logits"]
    with pytest.raises(gradcheck.GradcheckError, match="regime: 'huge' is not one of"):
        gradcheck.verify(module.grads, skip_regimes=["huge"])


@pytest.mark.slow
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
        assert not any(f.mistake is M.NEEDS for f in report.findings), report.format()


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


@pytest.mark.slow
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


def test_golden_corpus_passes_correct_and_fails_buggy_code(corpus, capsys, tmp_path):
    import json

    assert run(capsys, "golden", "check", str(corpus), f"{IMPLS}/correct_loop.py:grads")[0] == 0
    assert run(capsys, "golden", "check", str(corpus), f"{IMPLS}/correct_mean.py:grads", "--loss", "mean")[0] == 0
    out = tmp_path / "report.json"
    code = run(capsys, "golden", "check", str(corpus), f"{IMPLS}/bug_h_t_for_h_prev.py:grads", "--json", str(out))[0]
    findings = json.loads(out.read_text())["failures"][0]["findings"]
    assert code == 1 and any(m["kind"] == "SHIFT" and m["where"] == "dW" for f in findings for m in f["mutations"])


def test_golden_files_are_plain_npz_with_a_manifest(corpus):
    import json

    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest["format"] == "gradcheck-golden" and manifest["version"] == 1
    case = manifest["cases"][0]
    with np.load(corpus / case["file"], allow_pickle=False) as z:
        assert {"U", "W", "V", "b_h", "b_y", "xs", "ys", "h0", "loss", "dW", "tol_W"} <= set(z.files)
        assert z["ys"].dtype == np.int64


@pytest.mark.parametrize("damage", ["altered", "missing", "manifest", "pickled", "pickled, sha256 updated", "stray"])
@pytest.mark.parametrize("victim", ["case_000.npz", "case_008.npz"])  # a 'sum' case, and a 'mean' case not run
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
    code = run(
        capsys, "golden", "check", str(d), f"{IMPLS}/correct_einsum.py:grads", "--json", str(tmp_path / "r.json")
    )[0]
    assert code == 1 and json.loads((tmp_path / "r.json").read_text())["failing_arrays"] == ["W"]


# --- the pytest plugin -----------------------------------------------------------------------

pytest_plugins = ["pytester"]


@pytest.mark.slow
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
    result.stdout.fnmatch_lines(["*DISAGREES*", "*dp_t = dh_t*"])


# Mistakes of the shapes code takes and the equations do not (a stacked sum, a carry never updated,
# a factor written once for two terms, the loop's last gradient returned, another function), planted
# as mutants of each cell's derivation and judged as code: each is named by its own site.
CELL_MUTANTS = [
    ("gru", MK.SHIFT, "dW_hh[*]", lambda m: m.change == 0),
    ("lstm", MK.DROP_TERM, "cc", lambda m: m.path == ("all",)),
    ("gru", MK.DROP_FACTOR, "dpz", lambda m: m.path == ("common", 0)),
    ("lstm", MK.SHIFT, "dh0", lambda m: m.path == ("total",)),
    ("relu", MK.CONFUSED, "dp", lambda m: m.change == "sign"),
    ("lstm", MK.CONFUSED, "derivatives", lambda m: m.path == ("everywhere",)),
]


@pytest.mark.slow
@pytest.mark.parametrize("cell, kind, where, which", CELL_MUTANTS, ids=[f"{c[0]}-{c[2]}" for c in CELL_MUTANTS])
def test_mutants_of_each_cell_planted_as_code_are_named(cell, kind, where, which):
    from gradcheck.derivation import DERIVATIONS, apply, evaluate, mutations
    from gradcheck.problem import make_problem

    m = next(m for m in mutations(DERIVATIONS[cell]) if m.kind is kind and m.where == where and which(m))
    wrong = apply(DERIVATIONS[cell], (m,))

    def grads(params, xs, ys, h0, c0=None):
        arrays = evaluate(wrong, make_problem(params, xs, ys, h0, cell=cell, c0=c0)).arrays
        return {k: v for k, v in arrays.items() if k not in ("hs", "cs", "xs", "loss")}

    report = gradcheck.verify(grads, cell=cell)
    assert not report.ok
    assert any(f.role is not Role.NOTE and f.has(kind, where) for f in report.findings), report.format()
