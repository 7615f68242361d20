"""The command line: `python -m gradcheck COMMAND` (also installed as `gradcheck`).

Exit codes: 0 agrees, 1 disagrees, 2 usage error (bad option, missing file, bad input).
Errors are one line on stderr; --debug shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from .problem import GradcheckError

EXIT_AGREE, EXIT_DISAGREE, EXIT_USAGE = 0, 1, 2


class UsageError(GradcheckError):
    """A bad command line: exit code 2."""


def _report(args: argparse.Namespace) -> int:
    from .report import format_report, run_report, write_json

    rows, problems, seconds = run_report()
    print(format_report(rows, problems, seconds))
    if args.json:
        write_json(args.json, rows, problems, seconds)
    return EXIT_AGREE if all(r.ok for r in rows) else EXIT_DISAGREE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcheck",
        description="Gradient verification for the seed's vanilla RNN: hand-derived BPTT checked "
        "against finite differences and JAX autodiff.",
        epilog="Exit codes: 0 agrees, 1 disagrees, 2 usage error.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "report",
        help="check the built-in gradients against JAX and finite differences on a sweep of problems",
        description="Check the hand-derived gradients (recursion and the seed's series) against JAX "
        "autodiff, central finite differences and the complex step on a fixed sweep of problems "
        "(every regime: saturated, large logits, exploding, vanishing, one-hot, h0 = 0 and not). "
        "Prints, per parameter, the worst error over the sweep in units of its tolerance.",
    )
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON to FILE")
    p.set_defaults(run=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except GradcheckError as e:
        if args.debug:
            raise
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gradcheck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
