"""Mutation testing of the core modules with mutmut (configured in pyproject.toml, [tool.mutmut]).

    pip install ".[mutation]"
    python benchmarks/mutation.py                    # a stratified sample: 60 mutants per module, seed 0
    python benchmarks/mutation.py --per-module 0     # every mutant of every core module (hours)
    python benchmarks/mutation.py --report           # the last run's scores and survivors, again
    python benchmarks/mutation.py --retest           # after adding tests: run the sample's survivors again

mutmut copies the project into ./mutants and runs, for each mutant, the judges' tests that reach
the mutated function (pyproject.toml lists them) in the deterministic `mutation` Hypothesis
profile. This script chooses the mutants (a seeded sample per module, so that every module
counts, whatever its size), runs `mutmut run` on them, and reads `mutmut results` back: the score
per module (killed / run) and every mutant that is not killed, for docs/mutation.md. `mutmut show
NAME` prints a survivor's diff.
"""

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from mutmut.mutation.file_mutation import mutate_file_contents

ROOT = Path(__file__).resolve().parent.parent
MODULES = [
    *(f"gradcheck/{m}.py" for m in ("numeric", "compare", "roundoff", "bptt", "model", "problem", "forward_mode")),
    "reference/jax_rnn.py",
]
RUN = ROOT / "mutants" / "sample.json"  # the mutants of the last run


def mutant_names(path: str) -> list[str]:
    module = path.removesuffix(".py").replace("/", ".")
    mutated = mutate_file_contents(path, (ROOT / path).read_text())
    return [f"{module}.{name}" for name in sorted(mutated.mutant_names)]


def choose(per_module: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    chosen = {}
    for path in MODULES:
        names = mutant_names(path)
        chosen[path] = names if per_module == 0 or per_module >= len(names) else sorted(rng.sample(names, per_module))
    return chosen


def results() -> dict[str, str]:
    """mutmut's status of every mutant that is not killed."""
    out = subprocess.run(["mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        out = subprocess.run(["mutmut", "results"], cwd=ROOT, capture_output=True, text=True)
    text = out.stdout
    status = {}
    for line in text.splitlines():
        if ":" in line:
            name, _, state = line.strip().partition(":")
            status[name.strip()] = state.strip()
    return status


def report(chosen: dict[str, list[str]]) -> None:
    status = results()
    total_run = total_killed = 0
    print(f"{'module':28} {'mutants':>8} {'killed':>7} {'score':>7}")
    survivors = []
    for path, names in chosen.items():
        alive = [(n, status[n]) for n in names if n in status and status[n] != "killed"]
        killed = len(names) - len(alive)
        total_run, total_killed = total_run + len(names), total_killed + killed
        print(f"{path:28} {len(names):8d} {killed:7d} {100 * killed / max(1, len(names)):6.1f}%")
        survivors += alive
    print(f"{'all':28} {total_run:8d} {total_killed:7d} {100 * total_killed / max(1, total_run):6.1f}%")
    print("\nnot killed (mutmut show NAME for the diff):")
    for name, state in survivors:
        print(f"  {name}: {state}")


def forget(names: list[str]) -> None:
    """Drop mutmut's verdicts on these mutants (kept in mutants/**/*.py.meta), so that they run again."""
    for meta in (ROOT / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        hit = [n for n in names if n in data["exit_code_by_key"]]
        for n in hit:
            data["exit_code_by_key"][n] = None
        if hit:
            meta.write_text(json.dumps(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-module", type=int, default=60, help="mutants per module (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true", help="only print the last run's results")
    parser.add_argument("--retest", action="store_true", help="run the same sample's survivors again (new tests)")
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.report:
        report(json.loads(RUN.read_text()))
        return
    chosen = choose(args.per_module, args.seed)
    names = [n for ns in chosen.values() for n in ns]
    if args.retest:  # the sample again (a changed module samples anew); only what is not killed runs
        status = results()
        forget([n for n in names if n in status and status[n] != "killed"])
    print(f"running {len(names)} mutants of {len(MODULES)} modules", flush=True)
    env = {**os.environ, "CI": "true"}
    subprocess.run(["mutmut", "run", "--max-children", str(os.cpu_count() or 1), *names], env=env, check=False)
    RUN.parent.mkdir(exist_ok=True)
    RUN.write_text(json.dumps(chosen))
    report(chosen)


if __name__ == "__main__":
    sys.exit(main())
