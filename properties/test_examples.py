"""The worked examples in examples/ do what the README says they do."""

import importlib.util
from pathlib import Path

import pytest

import gradcheck
from gradcheck.outcome import Mistake

EXAMPLES = Path(__file__).parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_numpy_batched_example_agrees_as_it_is_and_with_a_batch_of_one():
    module = load("numpy_batched")
    assert gradcheck.verify(module.grads_batch, batch=True, batch_loss="mean").ok
    assert gradcheck.verify(module.grads).ok
    assert not gradcheck.verify(module.grads_batch, batch=True, batch_loss="sum").ok  # its 1/N is seen


def test_cs231n_layer_is_judged_through_an_adapter_of_at_most_ten_lines():
    import inspect

    module = load("cs231n_layer")
    assert len(inspect.getsource(module.grads).splitlines()) <= 10
    assert gradcheck.verify(module.grads, layer=True, batch=True).ok


@pytest.mark.slow
def test_min_char_rnn_original_softmax_overflows_and_passes_without_large_logits():
    module = load("min_char_rnn_original")
    report = gradcheck.verify(module.lossFun_adapter, one_hot_inputs=True, same_io_dim=True)
    assert not report.ok and "(it warned: overflow encountered in exp)" in report.message
    assert any(f.mistake is Mistake.NAIVE_SOFTMAX for f in report.findings), report.format()
    report = gradcheck.verify(
        module.lossFun_adapter, one_hot_inputs=True, same_io_dim=True, skip_regimes=["large_logits"]
    )
    assert report.ok, report.format()


@pytest.mark.slow
def test_torch_example_agrees_for_sum_and_mean():
    pytest.importorskip("torch")
    module = load("torch_rnn")
    assert gradcheck.verify(module.grads).ok
    assert gradcheck.verify(module.grads_mean, loss="mean").ok


@pytest.mark.slow
def test_min_char_rnn_example_is_caught_clipping():
    report = gradcheck.verify(load("min_char_rnn").lossFun_adapter, one_hot_inputs=True, same_io_dim=True)
    assert not report.ok
    assert any(f.mistake is Mistake.CLIPPED_VALUE and f.values["c"] == 5 for f in report.findings), report.format()
