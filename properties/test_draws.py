"""verify draws the same problems for the same seed, whatever the code under test's module holds.

Hypothesis collects literal constants from every local module loaded and mixes them into its
draws (strategies.pin_hypothesis_constants): without the pin, a target whose file holds other
numbers than another's saw other problems under the same --seed, and benchmarks/tolerance_width.py
drew another sample when it imported one module fewer.
"""

import importlib.util
import sys

import gradcheck
from gradcheck import strategies

TARGET = """
import numpy as np
import gradcheck

{constants}
SEEN = []


def grads(params, xs, ys, h0):
    SEEN.append((xs.shape, params["W"].shape, float(np.sum(params["W"])), float(np.sum(xs))))
    return gradcheck.bptt_gradients(params, xs, ys, h0)
"""
# Literals a user's file might hold: six numbers inside each range the problem strategy draws a
# scale from, and a seed.
RANGES = [(0.0, 1.0), (0.5, 2.0), (2.0, 6.0), (5.0, 30.0), (25.0, 60.0), (50.0, 400.0), (700.0, 1000.0)]
BUSY = tuple(round(lo + (hi - lo) * k / 7, 3) for lo, hi in RANGES for k in range(1, 7))
CONSTANTS = {"plain": "", "busy": f"SCALES = {BUSY!r}\nSEED = 987654321"}


def load_target(tmp_path, name: str):
    path = tmp_path / f"target_{name}.py"
    path.write_text(TARGET.format(constants=CONSTANTS[name]))
    spec = importlib.util.spec_from_file_location(f"target_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # loaded, as a TARGET is: Hypothesis scans sys.modules
    spec.loader.exec_module(module)
    return module


def problems_seen(tmp_path, seed: int = 3) -> list[list]:
    """The problems each target was called on, the plain one first, then the busy one."""
    seen = []
    try:
        for name in CONSTANTS:  # (both stay in sys.modules: Hypothesis rescans when its length changes)
            module = load_target(tmp_path, name)
            assert gradcheck.verify(module.grads, examples=100, seed=seed).ok
            seen.append(module.SEEN)
    finally:
        for name in CONSTANTS:
            sys.modules.pop(f"target_{name}", None)
    return seen


def test_targets_with_different_constants_see_the_same_problems(tmp_path):
    plain, busy = problems_seen(tmp_path)
    assert len(plain) > 100 and plain == busy


def test_without_the_pin_the_problems_follow_the_targets_constants(tmp_path, monkeypatch):
    """The claim above fails when Hypothesis' own collection runs: the planted bug is the pin undone."""
    from hypothesis.internal.conjecture import providers

    strategies.pin_hypothesis_constants()
    monkeypatch.setattr(providers, "_get_local_constants", providers._get_local_constants.original)
    monkeypatch.setattr(providers, "_sys_modules_len", None)  # rescan sys.modules
    monkeypatch.setattr(strategies, "pin_hypothesis_constants", lambda: None)
    monkeypatch.setattr(gradcheck.oracle, "pin_hypothesis_constants", lambda: None)
    providers.CONSTANTS_CACHE.cache.clear()
    plain, busy = problems_seen(tmp_path)
    assert plain != busy
    providers.CONSTANTS_CACHE.cache.clear()  # nothing collected here outlives the test
