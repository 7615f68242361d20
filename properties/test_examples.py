"""The worked examples in examples/ do what the README says they do."""

import importlib.util
from pathlib import Path

import pytest

import gradcheck

EXAMPLES = Path(__file__).parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_numpy_batched_example_agrees():
    assert gradcheck.verify(load("numpy_batched").grads).ok


def test_torch_example_agrees_for_sum_and_mean():
    pytest.importorskip("torch")
    module = load("torch_rnn")
    assert gradcheck.verify(module.grads).ok
    assert gradcheck.verify(module.grads_mean, loss="mean").ok


def test_min_char_rnn_example_is_caught_clipping():
    report = gradcheck.verify(load("min_char_rnn").lossFun_adapter, one_hot_inputs=True, same_io_dim=True)
    assert not report.ok
    assert any("clipped to [-5, 5]" in d for d in report.diagnosis)
