"""The command line: `python -m gradcheck COMMAND` (also installed as `gradcheck`).

Exit codes: 0 agrees, 1 disagrees, 2 usage error (bad option, missing file, a worker command
that cannot start, a damaged golden corpus), 3 an internal error of gradcheck's.
Errors are one line on stderr; --debug shows the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields

from .errors import GradcheckError

DEFAULT_DATABASE = ".gradcheck/fuzz-db"  # under the directory the command runs in (the project)

EXIT_AGREE, EXIT_DISAGREE, EXIT_USAGE = 0, 1, 2
EXIT_INTERNAL = 3  # a bug in gradcheck itself (please report it with the --debug traceback)


def _print(text: str) -> None:
    """print, but a reader that stops early (`| head`) is not an error."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _report(args: argparse.Namespace) -> int:
    from .sweep import format_sweep, run_sweep, write_json

    rows, problems, seconds = run_sweep()
    _print(format_sweep(rows, problems, seconds))
    if args.json:
        try:
            write_json(args.json, rows, problems, seconds)
        except OSError as e:
            raise GradcheckError(f"--json: cannot write {args.json!r}: {e.strerror}") from e
    return EXIT_AGREE if all(r.ok for r in rows) else EXIT_DISAGREE


def _verify(args: argparse.Namespace) -> int:
    from .oracle import verify
    from .progress import VerifyProgress

    opts = _options(args)
    progress = VerifyProgress(args.exec or args.target)
    try:
        report = verify(args.target, opts, worker=args.exec, progress=progress)
    finally:
        progress.close()
    _print(report.format(debug=getattr(args, "debug", False)))
    if args.plot:
        _plot_failure(args.plot, report)
    if args.json:
        _write_json(args.json, report.to_json())
    return EXIT_AGREE if report.ok else EXIT_DISAGREE


def _taylor(args: argparse.Namespace) -> int:
    from .taylor import taylor

    report = taylor(args.target, _options(args), worker=args.exec, directions=args.directions)
    _print(report.format())
    if args.json:
        _write_json(args.json, report.to_json())
    return EXIT_AGREE if report.ok else EXIT_DISAGREE


def _fuzz(args: argparse.Namespace) -> int:
    import shlex

    from .fuzz import (
        Worst,
        builtin_check,
        campaign_problems,
        explain_failure,
        format_summary,
        run_campaign,
        target_check,
    )
    from .implementation import implementation
    from .progress import LiveLine

    if args.minutes is not None and args.examples is not None:
        raise GradcheckError("fuzz: give --minutes or --examples, not both")
    if args.minutes is not None and args.minutes <= 0:
        raise GradcheckError(f"--minutes: {args.minutes} is not > 0")
    minutes = args.minutes if args.minutes is not None or args.examples is not None else 10.0
    if args.seed is not None and args.seed < 0:
        raise GradcheckError(f"--seed: {args.seed} is not >= 0")
    worst = Worst()
    impl = None
    if args.target or args.exec:
        from .oracle import cases, preflight
        from .outcome import Report

        opts = _options(args, examples=1, seed=0)  # the campaign sets its own budget and draws
        impl = implementation(args.target, opts, args.exec)
        pre = preflight(impl, opts, twice=False)
        if pre.refusal:
            impl.close()
            _print(Report(impl.name, opts, ok=False, command="fuzz", refusal=pre.refusal).format())
            return EXIT_DISAGREE
        check, strat, what, pr = target_check(impl, opts, worst), cases(opts), impl.name, opts.precision
    else:
        from .precision import FLOAT64

        check, strat, what, pr = builtin_check(worst), campaign_problems(), "the built-in gradients", FLOAT64
    line, explained = LiveLine(plain_every=10.0), None
    try:
        camp = run_campaign(
            check,
            strat,
            minutes=minutes,
            examples=args.examples,
            database=args.database,
            progress=line,
            worst=worst,
            seed=args.seed,
            precision=pr,
        )
        line.close()
        if impl is not None and camp.failing_case is not None:
            explained = explain_failure(impl, opts, camp.failing_case)
    finally:
        line.close()
        if impl is not None:
            impl.close()
    replay = shlex.join(["python", "-m", "gradcheck", "fuzz", *_replay_args(args), "--examples", "1"])
    camp.what = what
    _print(format_summary(camp, what, replay, explained))
    if args.json:
        _write_json(args.json, camp.to_json())
    if camp.stopped and not camp.failure:  # the budget was not spent: no verdict of "no failure"
        print(f"gradcheck: fuzz: {camp.stopped}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_DISAGREE if camp.failure else EXIT_AGREE


def _replay_args(args: argparse.Namespace) -> list[str]:
    """The command-line arguments that select the same problems and database."""
    from .options import FLAGS

    out = [args.target] if args.target else []
    if args.exec:
        out += ["--exec", args.exec]
    if args.target or args.exec:
        out += ["--loss", args.loss, "--dtype", args.dtype, "--reference", args.reference]
        out += ["--max-size", str(args.max_size), "--max-steps", str(args.max_steps)]
        if args.batch:
            out += ["--batch", "--batch-loss", args.batch_loss, "--max-batch", str(args.max_batch)]
        out += ["--layer"] * args.layer
        out += [f"--{k.replace('_', '-')}" for k in FLAGS if getattr(args, k)]
        for r in args.skip_regime or ():
            out += ["--skip-regime", r]
    return [*out, "--database", args.database]


def _golden_export(args: argparse.Namespace) -> int:
    from .golden import export

    manifest = export(args.dir, cases=args.cases, seed=args.seed, force=args.force, cell=args.cell)
    _print(f"gradcheck golden: wrote {len(manifest['cases'])} cases, manifest.json and README.md to {args.dir}")
    return EXIT_AGREE


def _golden_check(args: argparse.Namespace) -> int:
    from .golden import check

    report = check(args.dir, args.target, _options(args), worker=args.exec)
    _print(report.format(debug=getattr(args, "debug", False)))
    if args.json:
        _write_json(args.json, report.to_json())
    return EXIT_AGREE if report.ok else EXIT_DISAGREE


def _plot_failure(path: str, report) -> None:
    """Error maps of the first failing problem the search met (larger than the shrunk one)."""
    from .plot import error_maps
    from .render import case_sizes

    f = report.failures[0].failure.first if report.failures else None
    if f is None or f.kind.value != "mismatch" or not f.result:
        _print(f"  --plot: nothing to draw ({'no failure' if f is None else 'the failure is not a numeric mismatch'})")
        return
    title = f"{report.target} vs reference: first failing problem found, {case_sizes(f.case)}"
    _drawing(lambda: error_maps(path, f.result, f.reference, f.tolerance, title), path)
    _print(f"  --plot: error maps of the first failing problem ({case_sizes(f.case)}) written to {path}")


def _drawing(draw, path: str):
    """Run a drawing; a path matplotlib cannot write is a usage error naming the path."""
    try:
        return draw()
    except (OSError, ValueError) as e:
        raise GradcheckError(f"cannot write the picture to {path!r}: {e}") from e


def _plot(args: argparse.Namespace) -> int:
    from .plot import step_curves, timestep_terms

    out = _drawing(lambda: (step_curves if args.picture == "steps" else timestep_terms)(args.out), args.out)
    _print(f"gradcheck plot {args.picture}: wrote {out}")
    return EXIT_AGREE


def _options(args: argparse.Namespace, **overrides):
    """The Options of the command line (validated by Options itself)."""
    from .options import Options

    given = {f.name: getattr(args, f.name) for f in fields(Options) if hasattr(args, f.name)}
    given["skip_regimes"] = tuple(args.skip_regime or ())
    return Options(**(given | overrides))


def _write_json(path: str, data: dict) -> None:
    import json

    try:
        with open(path, "w") as f:
            json.dump(data, f, indent=2, default=_jsonable)
    except OSError as e:
        raise GradcheckError(f"--json: cannot write {path!r}: {e.strerror}") from e


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value} is not > 0")
    return value


def _add_target_options(p: argparse.ArgumentParser, search: bool = True) -> None:
    """The options that describe the implementation under test (verify, golden check, fuzz, taylor)."""
    # Modules that import neither numpy nor Hypothesis: `--help` loads in a fraction of a second.
    from .layouts import Cell
    from .options import BATCH_LOSSES, DEFAULT_EXAMPLES, DEFAULT_MAX_BATCH, DEFAULT_TIMEOUT, LOSSES, REFERENCES
    from .precision import PRECISIONS
    from .regimes import Regime

    p.add_argument(
        "--exec",
        metavar="CMD",
        help="judge a worker process in any language instead of a Python "
        "TARGET: CMD serves problems over stdin/stdout (docs/worker-protocol.md)",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds a worker may take per problem (default {DEFAULT_TIMEOUT:g})",
    )
    c = p.add_argument_group("how the implementation is called (the contract)")
    c.add_argument(
        "--batch",
        action="store_true",
        help="inputs with a leading batch axis: xs (N, T, D), ys (N, T), "
        "h0 (N, H); the loss is summed over the N sequences (see --batch-loss)",
    )
    c.add_argument(
        "--batch-loss",
        choices=BATCH_LOSSES,
        default="sum",
        help="the reduction over the batch: sum (default) or mean (divide by N, as CS231n)",
    )
    c.add_argument(
        "--max-batch",
        type=_positive_int,
        default=DEFAULT_MAX_BATCH,
        help=f"the largest N drawn with --batch (default {DEFAULT_MAX_BATCH})",
    )
    c.add_argument(
        "--layer",
        action="store_true",
        help="the recurrent layer alone: fn(params {U, W, b_h}, xs, h0, "
        "dhs) with upstream gradients dhs = dL/dh_t, L = sum_t dhs_t . h_t",
    )
    g = p.add_argument_group("what the implementation computes")
    g.add_argument(
        "--loss",
        choices=LOSSES,
        default="sum",
        help="E = sum_t E_t (default), its mean over t, or the last step's E_T only (many-to-one)",
    )
    g.add_argument("--no-bias", action="store_true", help="b_h = b_y = 0, and their gradients are not compared")
    g.add_argument(
        "--cell",
        choices=tuple(c.value for c in Cell),
        default="tanh",
        help="the recurrent cell: tanh (the seed's, default), relu, gru (PyTorch's), gru_cho (Cho et al.'s), "
        "lstm; parameters and gate orders in docs/cells.md",
    )
    g.add_argument("--zero-h0", action="store_true", help="h0 = 0 always (for code that hard-codes it)")
    g.add_argument("--zero-c0", action="store_true", help="the LSTM's c0 = 0 always (for code that starts c at 0)")
    g.add_argument(
        "--one-hot-inputs", action="store_true", help="every x_t one-hot (for code that takes token indices)"
    )
    g.add_argument("--same-io-dim", action="store_true", help="D == K (for code with one vocabulary size)")
    g.add_argument(
        "--dtype",
        choices=tuple(PRECISIONS),
        default="float64",
        help="the precision the implementation computes in; tolerances, ranges and the problems follow it "
        "(the arrays passed in are float64 holding numbers exactly representable in it)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON to FILE")
    if not search:
        p.set_defaults(skip_regime=None, reference="bptt")
        return
    s = p.add_argument_group("the search")
    s.add_argument(
        "--examples",
        type=_positive_int,
        default=DEFAULT_EXAMPLES,
        help=f"random problems to try (default {DEFAULT_EXAMPLES}; then a fixed set, one per regime)",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the random search (default 0: reproducible)")
    s.add_argument(
        "--reference",
        choices=REFERENCES,
        default="bptt",
        help="the reference gradients: gradcheck's recursion (default) or JAX autodiff",
    )
    s.add_argument("--max-size", type=_positive_int, default=16, help="largest D, H, K (default 16)")
    s.add_argument("--max-steps", type=_positive_int, default=50, help="largest T (default 50)")
    s.add_argument(
        "--skip-regime",
        action="append",
        choices=[str(r) for r in Regime],
        metavar="REGIME",
        help="leave a regime out of the search and the coverage set (repeatable): " + ", ".join(map(str, Regime)),
    )


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        help="package.module:function or path/to/file.py:function (or give --exec CMD)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcheck",
        description="Gradient verification for the seed's vanilla RNN: hand-derived BPTT checked "
        "against finite differences and JAX autodiff, and an oracle for other implementations.",
        epilog="Exit codes: 0 agrees, 1 disagrees, 2 usage error, 3 internal error.",
    )
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a --debug given before the command is not reset by the command's own default
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks instead of one-line errors"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "report",
        parents=[common],
        help="check the built-in gradients against JAX and finite differences on a sweep of problems",
        description="Check the hand-derived gradients (recursion, the seed's series, forward mode) "
        "against JAX autodiff, central finite differences and the complex step on a fixed sweep of "
        "problems (every regime). Prints, per parameter, the worst error over the sweep in units of "
        "its tolerance.",
    )
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE")
    p.set_defaults(run=_report)

    p = sub.add_parser(
        "verify",
        parents=[common],
        help="judge another implementation's gradients (TARGET, or --exec CMD)",
        description="Call the implementation on random problems across every regime (sizes, "
        "saturation, large logits, large gradients, h0 zero and not), scaled to its precision, and "
        "compare each returned gradient (and 'loss', 'h0' when returned) with gradcheck's reference. "
        "On a failure, print the smallest failing problem and the clearest one, and name known "
        "mistakes it matches.",
        epilog="Exit codes: 0 agrees, 1 disagrees (or the implementation raises, returns a wrong "
        "shape, NaN, modifies its inputs, hangs or crashes), 2 usage error, 3 internal error.",
    )
    _target(p)
    _add_target_options(p)
    p.add_argument(
        "--plot", metavar="FILE.png", help="on a failure, draw per-parameter error maps to FILE.png (needs matplotlib)"
    )
    p.set_defaults(run=_verify)

    p = sub.add_parser(
        "taylor",
        parents=[common],
        help="the Taylor remainder test: is the implementation's gradient that of its own loss?",
        description="For random directions v and steps eps = eps0 / 2^k, compare the "
        "implementation's own loss E(theta + eps v) with E(theta) + eps g.v: the remainder r1 "
        "converges at rate 2 when g is the gradient of E, at rate 1 when it is not. No step to "
        "choose: the rates are read where r1 stands above round-off. Judges any loss (an L2 "
        "penalty, label smoothing) for self-consistency; verify remains the check for the seed's "
        "model. The implementation must return 'loss'.",
        epilog="Exit codes: 0 consistent, 1 inconsistent, 2 usage error, 3 internal error.",
    )
    _target(p)
    _add_target_options(p)
    p.add_argument("--directions", type=_positive_int, default=3, help="random directions v (default 3)")
    p.set_defaults(run=_taylor)

    p = sub.add_parser(
        "plot",
        parents=[common],
        help="draw a picture: FD error against step size, or the seed's series term by term",
        description="steps: finite-difference error against the step h for each parameter. "
        "timesteps: the size of each term of the seed's series for dE_t/dW against t - k, for "
        "several scales of W. Needs matplotlib (pip install 'gradcheck-rnn[plot]').",
    )
    p.add_argument("picture", choices=("steps", "timesteps"))
    p.add_argument("--out", metavar="FILE.png", required=True, help="where to write the PNG")
    p.set_defaults(run=_plot)

    p = sub.add_parser(
        "fuzz",
        parents=[common],
        help="a long Hypothesis campaign: the built-in gradients, or a TARGET / --exec (as verify)",
        description="Fuzz the built-in gradients (recursion, series, forward mode, truncation, finite "
        "differences, JAX; sizes up to H = 128 and T = 200 across every regime) or an implementation "
        "with verify's comparison, for --minutes or --examples (default: 10 minutes). Failures are "
        "shrunk and saved in an example database, which replays them first next time.",
        epilog="Exit codes: 0 no failure, 1 a failure (shrunk example and replay command printed), "
        "2 usage error, 3 internal error.",
    )
    _target(p)
    p.add_argument("--minutes", type=float, help="run for this long (default 10 when --examples is not given)")
    p.add_argument(
        "--database",
        metavar="DIR|URL",
        default=DEFAULT_DATABASE,
        help=f"the example database: a directory (default {DEFAULT_DATABASE}), or redis://host:port[/db]; share "
        "one between machines and a failure found by one replays first on all (docs/fuzzing.md)",
    )
    _add_target_options(p)
    for action in p._actions:  # fuzz's budget and seed mean something else than verify's
        if action.dest == "examples":
            action.help = "run this many examples instead of a time budget"
        if action.dest == "seed":
            action.help = "seed the batches (default: a fresh random draw every run; a seed turns off replay)"
    p.set_defaults(run=_fuzz, examples=None, seed=None)

    p = sub.add_parser(
        "golden",
        parents=[common],
        help="golden vectors: export a corpus, or check an implementation against one",
        description="Golden vectors: a versioned corpus of problems with reference losses, gradients "
        "and per-entry tolerances, as .npz files (no pickle) with a JSON manifest (sha256 per file).",
    )
    gsub = p.add_subparsers(dest="golden_command", metavar="ACTION", required=True)
    g = gsub.add_parser(
        "export",
        parents=[common],
        help="write a corpus to DIR",
        description="Write case_NNN.npz files, manifest.json and README.md to DIR.",
    )
    g.add_argument("dir", metavar="DIR")
    g.add_argument(
        "--cases",
        type=_positive_int,
        default=96,
        help="how many cases (default 96: every regime x loss, flags cycling through all 16 combinations)",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the corpus (default 0)")
    g.add_argument("--force", action="store_true", help="write into a non-empty DIR")
    g.add_argument("--cell", default="tanh", help="the cell of the corpus's problems (default tanh; docs/cells.md)")
    g.set_defaults(run=_golden_export)
    g = gsub.add_parser(
        "check",
        parents=[common],
        help="check a TARGET (or --exec CMD) against the corpus in DIR",
        description="Verify every file of the corpus against its sha256, then run the implementation "
        "on every case that fits its options (loss, flags) and compare with the stored reference "
        "and tolerances. A missing, damaged or altered file is a usage error (exit 2).",
        epilog="Exit codes: 0 agrees, 1 disagrees, 2 usage error, 3 internal error.",
    )
    g.add_argument("dir", metavar="DIR")
    _target(g)
    _add_target_options(g, search=False)
    g.set_defaults(run=_golden_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except GradcheckError as e:
        if getattr(args, "debug", False):
            raise
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gradcheck: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug of ours: one line, and the traceback under --debug
        if getattr(args, "debug", False):
            raise
        print(f"gradcheck: internal error: {type(e).__name__}: {e} (--debug shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
