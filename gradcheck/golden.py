"""Golden vectors: a versioned corpus of problems with reference losses and gradients.

For code outside Python. Each case is a plain `.npz` file (a zip of `.npy` arrays, readable
from C++ with cnpy, Rust with ndarray-npy, Julia with NPZ.jl), holding the problem, the
reference loss and gradients, and a per-entry tolerance. `manifest.json` holds the format
version, the model equations, the array names and shapes, each case's settings and the
sha256 of each file. Loading never unpickles (allow_pickle=False); a missing, damaged or
altered file is a usage error (exit 2) that names the file.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from .bptt import bptt
from .compare import roundoff_tolerance
from .contract import Case, Contract
from .errors import CorpusError, GradcheckError
from .implementation import implementation
from .layouts import Cell, parse_cell
from .options import FLAGS, Options
from .oracle import assemble, explain, fixed_search, merge, preflight
from .outcome import Found, Report
from .precision import FLOAT64
from .problem import LOSSES, Problem, grad_names, make_problem, param_names
from .regimes import REGIMES, regime_scales
from .strategies import build_problem, round_problem

DERIVATION_CELLS = tuple(c.value for c in Cell)

FORMAT = "gradcheck-golden"
VERSION = 1
DEFAULT_CASES = 96
MODEL = [
    "p_t = U x_t + W h_{t-1} + b_h,  h_t = tanh(p_t)          (t = 1..T, h_0 = h0)",
    "q_t = V h_t + b_y,  yhat_t = softmax(q_t)",
    "E_t = -log yhat_t[ys[t]],  E = sum_t w_t E_t  (w_t = 1 for sum, 1/T for mean, [t == T] for last)",
]
SHAPES = {
    "U": "(H, D)",
    "W": "(H, H)",
    "V": "(K, H)",
    "b_h": "(H,)",
    "b_y": "(K,)",
    "W_ih": "(G H, D)",
    "W_hh": "(G H, H)",
    "b_ih": "(G H,)",
    "b_hh": "(G H,)",
}


def arrays_of(cell: str = "tanh") -> dict[str, str]:
    """Every array of a case of the cell's corpus, with its shape and meaning."""
    grads = grad_names(cell)
    c0 = {"c0": "(H,) float64: the initial cell state"} if "c0" in grads else {}
    return {
        **{k: f"{SHAPES[k]} float64" for k in param_names(cell)},
        "xs": "(T, D) float64: xs[t-1] = x_t",
        "ys": "(T,) int64 class indices",
        "h0": "(H,) float64",
        **c0,
        "loss": "() float64: the reference E",
        **{f"d{k}": f"same shape as {k}: the reference dE/d{k}" for k in grads},
        **{f"tol_{k}": f"same shape as {k}: the tolerance of each entry of d{k}" for k in (*grads, "loss")},
    }


ARRAYS = arrays_of("tanh")
RULE = (
    "An implementation agrees with a case when |a_i - r_i| <= tol_i for every entry i of every gradient "
    "(and of the loss): a is the implementation's value, r the stored reference d<name>, tol the stored "
    "tol_<name>. The tolerances are for float64 arithmetic (8 x a Monte Carlo estimate of round-off, "
    "gradcheck/roundoff.py); for code in another precision, gradcheck's --dtype recomputes them in it."
)


def _case_problem(i: int, rng: np.random.Generator, cell: str = "tanh") -> tuple[Problem, dict]:
    """Case i: regime i mod 8, loss (i div 8) mod 3, the four flags cycling through all 16 combinations."""
    regime, loss = REGIMES[i % len(REGIMES)], LOSSES[(i // len(REGIMES)) % len(LOSSES)]
    bits = (i // (len(REGIMES) * len(LOSSES)) + i) % 16
    flags = {name: bool(bits >> b & 1) for b, name in enumerate(FLAGS)}
    D, H = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    K = D if flags["same_io_dim"] else int(rng.integers(2, 9))
    T = int(rng.integers(10 if regime == "large_gradient" else 1, 21))
    options = {k: flags[k] for k in ("zero_h0", "no_bias", "one_hot_inputs")}
    problem = build_problem(
        (D, H, K, T),
        regime_scales(regime, rng, FLOAT64),
        int(rng.integers(2**32)),
        loss=loss,
        precision=FLOAT64,
        cell=cell,
        **options,
    )
    return problem, {"regime": regime, "loss": loss, **flags, "sizes": dict(zip("DHKT", problem.sizes, strict=True))}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(directory: str, cases: int = DEFAULT_CASES, seed: int = 0, force: bool = False, cell: str = "tanh") -> dict:
    """Write the corpus of a cell: case_NNN.npz files, manifest.json and a README; returns the manifest."""
    cell = parse_cell(cell).value
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise GradcheckError(f"golden export: {directory!r} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise GradcheckError(f"golden export: {directory!r} exists and is not empty (use --force to overwrite)")
    if seed < 0:
        raise GradcheckError(f"golden export: --seed {seed} is not >= 0")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("case_*.npz"):  # --force: no stale cases from an earlier, larger corpus
            old.unlink()
    except OSError as e:
        raise GradcheckError(f"golden export: cannot write to {directory!r}: {e.strerror}") from e
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(cases):
        problem, info = _case_problem(i, rng, cell)
        ref, tol = bptt(problem), roundoff_tolerance(problem)
        labels = np.argmax(problem.Y, axis=1).astype(np.int64)
        arrays = dict(problem.params._asdict())
        arrays.update(xs=problem.xs, ys=labels, h0=problem.h0, loss=np.array(ref["loss"]))
        arrays.update({} if problem.c0 is None else {"c0": problem.c0})
        arrays.update({f"d{k}": ref[k] for k in grad_names(cell)})
        arrays.update({f"tol_{k}": np.asarray(tol[k]) for k in (*grad_names(cell), "loss")})
        name = f"case_{i:03d}.npz"
        np.savez(out / name, **arrays)
        entries.append({"file": name, "sha256": _sha256(out / name), **info})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "cell": cell,
        "model": MODEL
        if cell == "tanh"
        else [f"the {cell} cell of docs/cells.md, with the seed's output layer", *MODEL[1:]],
        "arrays": arrays_of(cell),
        "agreement": RULE,
        "seed": seed,
        "cases": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.md").write_text(_readme(manifest))
    return manifest


def _readme(manifest: dict) -> str:
    lines = [
        f"# gradcheck golden vectors (format {FORMAT} version {VERSION})",
        "",
        "The model:",
        "",
        *(f"    {m}" for m in manifest["model"]),
        "",
        "Each `case_NNN.npz` is an uncompressed NumPy zip of the arrays below (no pickled objects).",
        "`manifest.json` lists every case with its settings (loss, regime, flags, sizes) and sha256.",
        "",
        "| array | shape and meaning |",
        "|---|---|",
        *(f"| `{k}` | {v} |" for k, v in manifest["arrays"].items()),
        "",
        RULE,
        "",
        "Flags: zero_h0 (h0 = 0), no_bias (b_h = b_y = 0), one_hot_inputs (every x_t one-hot), "
        "same_io_dim (D == K). A case with a flag set is also a valid case for code without that limitation.",
        "",
        "Check a Python implementation with `python -m gradcheck golden check DIR module:function`.",
        "",
    ]
    return "\n".join(lines)


def _read_manifest(directory: Path) -> dict:
    path = directory / "manifest.json"
    if not path.is_file():
        raise CorpusError(f"golden: {path} is missing (is {str(directory)!r} a corpus made by `golden export`?)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorpusError(f"golden: {path} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CorpusError(f"golden: {path} is not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise CorpusError(
            f"golden: {path} has format version {manifest.get('version')!r}; this gradcheck reads {VERSION}"
        )
    if not isinstance(manifest.get("cases"), list) or not all(isinstance(c, dict) for c in manifest["cases"]):
        raise CorpusError(f"golden: {path} has no list of cases")
    return manifest


def load_case(
    directory: Path, entry: dict, cell: str = "tanh"
) -> tuple[Problem, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One case of a cell's corpus as (problem, stored reference, stored tolerances); checks its sha256 first."""
    name = entry.get("file", "")
    path = directory / name
    if not name or not path.is_file():
        raise CorpusError(f"golden: case file {path} is missing")
    if _sha256(path) != entry.get("sha256"):
        raise CorpusError(f"golden: {path} does not match its sha256 in manifest.json (altered or damaged)")
    try:
        with np.load(path, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
    except Exception as e:
        raise CorpusError(f"golden: {path} cannot be read as .npz ({type(e).__name__}: {e})") from None
    missing = sorted(set(arrays_of(cell)) - set(a))
    if missing:
        raise CorpusError(f"golden: {path} lacks arrays {missing}")
    grads = grad_names(cell)
    try:
        params = {k: a[k] for k in param_names(cell)}
        problem = make_problem(params, a["xs"], a["ys"], a["h0"], loss=entry.get("loss"), cell=cell, c0=a.get("c0"))
    except GradcheckError as e:
        raise CorpusError(f"golden: {path} holds an invalid problem: {str(e).removeprefix('gradcheck: ')}") from None
    ref = {k: a[f"d{k}"] for k in grads}
    ref["loss"] = a["loss"]
    for k in (*grads, "loss"):
        want = () if k == "loss" else (getattr(problem, k) if k in ("h0", "c0") else getattr(problem.params, k)).shape
        for stored in (f"d{k}" if k != "loss" else "loss", f"tol_{k}"):
            if a[stored].shape != want or not np.issubdtype(a[stored].dtype, np.floating):
                raise CorpusError(
                    f"golden: {path}: {stored} has shape {a[stored].shape} {a[stored].dtype}, expected {want} float64"
                )
    tol = {k: a[f"tol_{k}"] for k in (*grads, "loss")}
    if any(np.any(~(t >= 0)) for t in tol.values()):
        raise CorpusError(f"golden: {path} holds a negative or NaN tolerance")
    return problem, ref, tol


def compatible(entry: dict, opts: Options) -> bool:
    """Can an implementation with these options run this case?"""
    if entry.get("loss") != opts.loss:
        return False
    return all(entry.get(flag, False) for flag in FLAGS if getattr(opts, flag))


def verify_corpus(root: Path) -> tuple[dict, list[tuple[dict, Problem, dict, dict]]]:
    """Every file of the corpus checked against manifest.json (sha256, then a load without pickle)
    before anything runs; returns the manifest and every case as (entry, problem, reference, tol)."""
    if not root.is_dir():
        raise CorpusError(f"golden: {str(root)!r} is not a directory")
    manifest = _read_manifest(root)
    listed = {e.get("file") for e in manifest["cases"]}
    stray = sorted(p.name for p in root.glob("case_*.npz") if p.name not in listed)
    if stray:
        raise CorpusError(f"golden: {root / stray[0]} is not in manifest.json (a corpus holds only its own cases)")
    cell = manifest.get("cell", "tanh")
    if cell not in DERIVATION_CELLS:
        raise CorpusError(
            f"golden: {root / 'manifest.json'} names the cell {cell!r}, which this gradcheck does not know"
        )
    return manifest, [(entry, *load_case(root, entry, cell)) for entry in manifest["cases"]]


def check(directory: str, target, opts: Options, worker: str | None = None) -> Report:
    """Run an implementation on every case that fits its options, against the stored reference and
    tolerances (float64's; another --dtype recomputes them in that precision), through verify's
    stages: preflight, the cases in place of the search, evidence and diagnosis on each failure."""
    if opts.layer:
        raise GradcheckError("golden check: the corpus holds whole-model problems; --layer does not apply")
    root = Path(directory)
    manifest, corpus = verify_corpus(root)
    cell = manifest.get("cell", "tanh")
    if cell != opts.cell:
        raise CorpusError(f"golden: {directory!r} holds {cell} problems; check them with --cell {cell}")
    chosen = [c for c in corpus if compatible(c[0], opts)]
    if not chosen:
        raise CorpusError(
            f"golden: no case in {directory!r} fits loss={opts.loss}"
            + "".join(f" --{f.replace('_', '-')}" for f in FLAGS if getattr(opts, f))
        )
    impl = implementation(target, opts, worker)
    contract = Contract(batch=opts.batch, no_bias=opts.no_bias, cell=opts.cell)
    start = time.perf_counter()
    try:
        pre = preflight(impl, opts, twice=False)
        if pre.refusal:
            return Report(impl.name, opts, ok=False, command="golden check", refusal=pre.refusal)
        cases = [
            Case((problem,), contract, stored=(ref, tol))
            if opts.precision is FLOAT64
            else Case((round_problem(problem, opts.precision),), contract)  # judged afresh in that precision
            for _entry, problem, ref, tol in chosen
        ]
        found = fixed_search(impl, opts, cases, Found.GOLDEN)
        explained = merge(tuple(explain(impl, opts, f, found) for f in found.failures))
    finally:
        impl.close()
    failed = sum(not o.ok for o in found.seen)
    extra = {
        "golden cases": f"{len(chosen)} run, {failed} failed, {len(corpus) - len(chosen)} skipped (other loss or "
        "flags); every file matched its sha256"
    }
    return assemble(impl.name, opts, "golden check", found, explained, [], time.perf_counter() - start, extra)
