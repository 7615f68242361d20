"""The fuzz command, the pictures and the benchmark's verdicts (correctness only: no timings here)."""

import importlib.util
from pathlib import Path

import pytest

from gradcheck.cli import main

IMPLS = Path(__file__).parent / "impls"


def test_fuzz_of_the_builtin_gradients_runs_clean(tmp_path, capsys):
    code = main(["fuzz", "--examples", "40", "--database", str(tmp_path / "db")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no failure after 40 examples" in out and "recursion vs JAX" in out


def test_fuzz_of_a_buggy_target_fails_shrinks_and_replays(tmp_path, capsys):
    db = str(tmp_path / "db")
    target = f"{IMPLS}/bug_h_t_for_h_prev.py:grads"
    assert main(["fuzz", target, "--examples", "100", "--database", db]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "smallest failing problem: D=1 H=1" in out and "replay" in out
    # the database replays the failure first: one example is enough
    assert main(["fuzz", target, "--examples", "1", "--database", db]) == 1
    out = capsys.readouterr().out
    assert "FAILED after" in out and "smallest failing problem: D=1 H=1" in out


def test_fuzz_rejects_two_budgets(tmp_path, capsys):
    assert main(["fuzz", "--examples", "5", "--minutes", "1", "--database", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize("picture", ["steps", "timesteps"])
def test_plots_are_written(tmp_path, picture):
    pytest.importorskip("matplotlib")
    out = tmp_path / f"{picture}.png"
    assert main(["plot", picture, "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_verify_plot_draws_error_maps_of_a_failure(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "maps.png"
    assert main(["verify", f"{IMPLS}/bug_x0_ignored.py:grads", "--plot", str(out)]) == 1
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_without_matplotlib_is_a_usage_error(monkeypatch, tmp_path, capsys):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert main(["plot", "steps", "--out", str(tmp_path / "x.png")]) == 2
    assert "needs matplotlib" in capsys.readouterr().err


def test_bench_verdicts_on_a_correct_gradient_are_right():
    """The benchmark's own rows judge the exact gradient correct (its times are not asserted)."""
    from benchmarks.bench import harness_rows
    from gradcheck.bptt import bptt
    from gradcheck.regimes import Scales
    from gradcheck.strategies import build_problem

    problem = build_problem((3, 4, 3, 5), Scales(1.0, 1.0, 1.0, 0.5, 1.0, 0.0), 0)
    rows, _ = harness_rows(problem, bptt(problem), repeats=1)
    assert all(r.verdict in ("agree", "-") for r in rows), [(r.what, r.verdict) for r in rows]
    if importlib.util.find_spec("jax"):
        assert any(r.what.startswith("vs JAX") for r in rows)


def test_fuzz_keeps_its_closest_call(tmp_path, capsys):
    """The summary names the example with the largest error/tol and counts examples per regime, and
    --json holds its arrays: judged again from them, the recursion against JAX gives the ratio the campaign recorded."""
    import json

    import numpy as np

    from gradcheck import bptt_gradients
    from gradcheck.compare import compare_grads, roundoff_tolerance
    from gradcheck.problem import make_problem
    from gradcheck.regimes import Regime
    from reference import jax_gradients

    out_json = tmp_path / "fuzz.json"
    args = ["--examples", "20", "--seed", "1", "--database", str(tmp_path / "db"), "--json", str(out_json)]
    assert main(["fuzz", *args]) == 0
    assert "closest call: " in capsys.readouterr().out
    data = json.loads(out_json.read_text())
    assert sum(data["regimes"].values()) == 20 and set(data["regimes"]) <= {r.value for r in Regime}
    record = data["closest"]["recursion vs JAX"]
    assert record["ratio"] == data["worst"]["recursion vs JAX"]
    a = {k: np.array(v) for k, v in record["arguments"].items()}
    params = {k: a[k] for k in ("U", "W", "V", "b_h", "b_y")}
    problem = make_problem(params, a["xs"], a["ys"], a["h0"], loss=record["loss"])
    exact = bptt_gradients(params, a["xs"], a["ys"], a["h0"], loss=record["loss"])
    ref = jax_gradients(params, a["xs"], a["ys"], a["h0"], loss=record["loss"])
    checks = compare_grads(exact, ref, roundoff_tolerance(problem))
    assert max(c.ratio for c in checks) == pytest.approx(record["ratio"], rel=1e-6)


@pytest.mark.parametrize(
    ("impl", "options"),
    [
        ("correct_batch_mean.py", ["--batch", "--batch-loss", "mean"]),
        ("correct_layer_loop.py", ["--layer"]),
        ("correct_layer_cs231n.py", ["--batch", "--layer"]),
    ],
)
def test_fuzz_judges_every_contract(tmp_path, capsys, impl, options):
    code = main(["fuzz", f"{IMPLS}/{impl}:grads", *options, "--examples", "15", "--database", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no failure after 15 examples" in out


def test_fuzz_shows_a_failing_batch_whole(tmp_path, capsys):
    """A batch mistake (only the first sequence's gradient) is shown as the batch that fails."""
    target = f"{IMPLS}/bug_batch_one_sequence.py:grads"
    assert main(["fuzz", target, "--batch", "--examples", "100", "--database", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    shown = out.split("smallest failing problem: ")[1].splitlines()[0]
    assert int(shown.split(" N=")[1].split(",")[0]) >= 2, out  # one sequence alone cannot show it
