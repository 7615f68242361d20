"""The public contract: clear errors for bad input, inputs never modified, the documented keys."""

import re

import numpy as np
import pytest
from hypothesis import given

import gradcheck
from gradcheck import GradcheckError
from gradcheck.numeric import fd_gradients
from gradcheck.problem import as_contract_inputs
from gradcheck.strategies import problems
from reference import jax_gradients

PUBLIC = {
    "bptt_gradients": gradcheck.bptt_gradients,
    "series_gradients": gradcheck.series_gradients,
    "truncated_gradients": lambda *a, **kw: gradcheck.truncated_gradients(*a, k=3, **kw),
    "fd_gradients": fd_gradients,
    "jax_gradients": jax_gradients,
}
KEYS = {"U", "W", "V", "b_h", "b_y", "h0", "loss"}


def small(D=3, H=4, K=5, T=6, seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "U": rng.normal(size=(H, D)),
        "W": rng.normal(size=(H, H)) / 2,
        "V": rng.normal(size=(K, H)),
        "b_h": rng.normal(size=H),
        "b_y": rng.normal(size=K),
    }
    return params, rng.normal(size=(T, D)), rng.integers(0, K, T), rng.uniform(-1, 1, H)


@pytest.mark.parametrize("name", PUBLIC)
def test_contract_returns_every_key_with_the_parameter_shapes(name):
    params, xs, ys, h0 = small()
    out = PUBLIC[name](params, xs, ys, h0)
    assert set(out) == (KEYS | {"xs"} if name == "jax_gradients" else KEYS)  # JAX also gives dE/dx_t
    for k in params:
        assert out[k].shape == params[k].shape
    assert out["h0"].shape == h0.shape and isinstance(out["loss"], float)


@pytest.mark.parametrize("name", PUBLIC)
@given(problems(one_hot_inputs=None, zero_h0=None, soft_targets=None, max_T=8, max_H=6))
def test_inputs_are_never_modified(name, problem):
    args = as_contract_inputs(problem)
    before = [{k: v.copy() for k, v in args[0].items()}, *(a.copy() for a in args[1:])]
    PUBLIC[name](*args)
    for k in before[0]:
        assert np.array_equal(args[0][k], before[0][k]), k
    for a, b in zip(args[1:], before[1:], strict=True):
        assert np.array_equal(a, b)


def test_soft_labels_and_one_hot_targets_equal_class_indices():
    params, xs, ys, h0 = small()
    a = gradcheck.bptt_gradients(params, xs, ys, h0)
    b = gradcheck.bptt_gradients(params, xs, np.eye(5)[ys], h0)
    for k in KEYS - {"loss"}:
        np.testing.assert_array_equal(a[k], b[k])


def test_h0_none_means_zeros():
    params, xs, ys, _ = small()
    a = gradcheck.bptt_gradients(params, xs, ys, None)
    b = gradcheck.bptt_gradients(params, xs, ys, np.zeros(4))
    np.testing.assert_array_equal(a["W"], b["W"])


def test_logits_of_1e3_work():
    """Stable log-softmax: logits around 1e3 give finite losses and gradients that match JAX."""
    params, xs, ys, h0 = small()
    params = {**params, "b_y": params["b_y"] + 1000.0, "V": params["V"] * 300}
    ours, ref = gradcheck.bptt_gradients(params, xs, ys, h0), jax_gradients(params, xs, ys, h0)
    assert np.isfinite(ours["loss"]) and ours["loss"] > 100
    for k in KEYS:
        assert np.all(np.isfinite(ours[k]))
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-12, atol=1e-12)


def _bad(**changes):
    params, xs, ys, h0 = small()
    params = {k: v for k, v in params.items() if changes.get(k, 0) is not None}
    params.update({k: v for k, v in changes.items() if k in params or k == "extra"})
    return (
        params,
        changes.get("xs", xs),
        changes.get("ys", ys),
        changes.get("h0", h0),
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (_bad(W=np.zeros((4, 3))), r"W: shape \(4, 3\) given, expected \(4, 4\) = \(H, H\)"),
        (_bad(V=np.zeros(5)), r"V: shape \(5,\) given, expected 2 dimensions \(K, H\)"),
        (_bad(b_y=np.zeros(4)), r"b_y: shape \(4,\) given, expected \(5,\)"),
        (_bad(b_h=None), r"params: missing key\(s\) \['b_h'\]"),
        (_bad(extra=np.zeros(3)), r"params: unknown key\(s\) \['extra'\]"),
        (_bad(xs=np.zeros((6, 2))), r"xs: shape \(6, 2\) given, expected \(T, D\)"),
        (_bad(xs=np.zeros(6)), r"xs: shape \(6,\) given"),
        (_bad(ys=np.array([0, 1, 2, 3, 4, 5])), r"ys: class index 5 at \[5\] is outside 0..4"),
        (_bad(ys=np.zeros(5, dtype=int)), r"ys: shape \(5,\) given, expected \(6,\) = \(T,\) with T=6 from xs$"),
        (_bad(ys=np.zeros((6, 4))), r"ys: shape \(6, 4\) given, expected \(6, 5\) = \(T, K\) with T=6 from xs, K=5"),
        (_bad(b_h=np.zeros(3)), r"b_h: shape \(3,\) given, expected \(4,\) = \(H,\) with H=4 from U$"),
        (_bad(V=np.zeros((0, 4)), b_y=np.zeros(0)), r"params: empty dimension in D=3, H=4, K=0"),
        (_bad(ys=np.zeros(6)), r"ys: dtype float64 given for a 1-d array, expected integer class indices"),
        (_bad(ys=-np.ones((6, 5))), r"ys: negative target probability"),
        (_bad(h0=np.zeros(3)), r"h0: shape \(3,\) given, expected \(4,\)"),
        (_bad(h0=np.full(4, np.nan)), r"h0: contains NaN or inf at \[0\]"),
        (_bad(U=np.zeros(4)), r"U: shape \(4,\) given, expected 2 dimensions \(H, D\)"),
        (_bad(V=np.zeros((5, 3))), r"V: shape \(5, 3\) given, expected \(5, 4\)"),
        (_bad(U=np.full((4, 3), np.nan)), r"U: contains NaN or inf at \[0, 0\]"),
        (_bad(W=np.array([["a"] * 4] * 4)), r"W: dtype <U1 given, expected real numbers"),
        (_bad(b_h=np.ones(4, dtype=complex)), r"b_h: dtype complex128 given"),
        (("not a mapping", None, None, None), r"params: str given, expected a mapping"),
    ],
)
def test_bad_input_raises_one_clear_error(args, message):
    with pytest.raises(GradcheckError, match=message):
        gradcheck.bptt_gradients(*args)


def test_bad_loss_and_k_are_named():
    params, xs, ys, h0 = small()
    with pytest.raises(GradcheckError, match="loss: 'median' is not one of sum, mean, last"):
        gradcheck.bptt_gradients(params, xs, ys, h0, loss="median")
    for k in (0, -1, True, 2.5, "2", None):  # True and 2.5 would silently be k = 1 and k = 2
        with pytest.raises(GradcheckError, match=f"k: {k!r} given, expected a whole number"):
            gradcheck.truncated_gradients(params, xs, ys, h0, k=k)
    cut = gradcheck.truncated_gradients(params, xs, ys, h0, k=np.int64(2))  # numpy integers are whole numbers
    assert np.array_equal(cut["W"], gradcheck.truncated_gradients(params, xs, ys, h0, k=2)["W"])
    with pytest.raises(GradcheckError, match="method: 'forward' is not one of"):
        fd_gradients(params, xs, ys, h0, method="forward")


def test_series_refuses_sizes_beyond_its_budget():
    params, xs, ys, h0 = small(H=200, T=400, D=1, K=2)
    with pytest.raises(GradcheckError, match="use bptt_gradients for this size"):
        gradcheck.series_gradients(params, xs, ys, h0)


def test_the_layer_problem_validates_its_arguments():
    from gradcheck.problem import make_layer_problem

    params, xs, _, h0 = small()
    layer = {k: params[k] for k in ("U", "W", "b_h")}
    p = make_layer_problem(layer, xs, h0, np.ones((6, 4)))
    assert p.sizes == (3, 4, 1, 6) and p.is_layer and np.array_equal(p.dhs, np.ones((6, 4)))
    assert np.array_equal(p.h0, h0) and np.array_equal(p.xs, xs)
    with pytest.raises(GradcheckError, match=r"U: shape \(\) given, expected 2 dimensions"):
        make_layer_problem({**layer, "U": 3.0}, xs, h0, np.ones((6, 4)))
    with pytest.raises(GradcheckError, match=r"dhs: shape \(5, 4\) given, expected \(6, 4\) = \(T, H\)"):
        make_layer_problem(layer, xs, h0, np.ones((5, 4)))
    with pytest.raises(GradcheckError, match=r"params: missing key\(s\) \['b_h'\]; expected \['U', 'W', 'b_h'\]"):
        make_layer_problem({"U": params["U"], "W": params["W"]}, xs, h0, np.ones((6, 4)))
    with pytest.raises(GradcheckError, match="dhs: contains NaN"):
        make_layer_problem(layer, xs, h0, np.full((6, 4), np.nan))


def test_per_step_gradients_contract():
    """dE_t/dθ for every t, with a leading T axis; "loss" holds each E_t; their sum is the total."""
    params, xs, ys, h0 = small()
    steps = gradcheck.per_step_gradients(params, xs, ys, h0)
    total = gradcheck.bptt_gradients(params, xs, ys, h0)
    assert set(steps) == KEYS and steps["loss"].shape == (6,)
    for k in KEYS - {"loss"}:
        assert steps[k].shape == (6, *np.shape(total[k]))
        np.testing.assert_allclose(steps[k].sum(axis=0), total[k], rtol=1e-12, atol=1e-14)
    assert steps["loss"].sum() == pytest.approx(total["loss"], rel=1e-14)


def test_the_series_refuses_exactly_beyond_its_flop_estimate(monkeypatch):
    """T^2 (2 H^3 + H^2 D) flops: a limit just above a size's estimate runs it, just below refuses,
    and the message gives the estimate."""
    import gradcheck.bptt as bptt_module

    params, xs, ys, h0 = small()  # D=3, H=4, T=6
    estimate = 6 * 6 * (2 * 4**3 + 4**2 * 3)
    monkeypatch.setattr(bptt_module, "SERIES_FLOP_LIMIT", estimate * 1.001)
    gradcheck.series_gradients(params, xs, ys, h0)
    monkeypatch.setattr(bptt_module, "SERIES_FLOP_LIMIT", estimate * 0.999)
    with pytest.raises(GradcheckError, match=re.escape(f"needs about {estimate:.1e} flops")):
        gradcheck.series_gradients(params, xs, ys, h0)


def test_jax_pads_large_problems_into_the_next_bucket():
    """Sizes over 16 and T over 64 go to the next power-of-two bucket; the real entries are exact."""
    params, xs, ys, h0 = small(D=17, H=5, K=3, T=65, seed=4)
    ours, ref = gradcheck.bptt_gradients(params, xs, ys, h0), jax_gradients(params, xs, ys, h0)
    for k in KEYS:
        np.testing.assert_allclose(ref[k], ours[k], rtol=1e-10, atol=1e-12)


def _explicit_states(params, xs, h0):
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(params["U"] @ x + params["W"] @ hs[-1] + params["b_h"]))
    return np.array(hs)


def test_truncation_at_one_step_is_the_seed_formula_without_the_recurrence():
    """k = 1 keeps only the direct term: dE/dW = sum_t dp_t h_{t-1}^T, dp_t = (1 - h_t^2) V^T (yhat_t - y_t),
    written out here from the seed's equations (h0 != 0, so an h0 that went missing shows)."""
    params, xs, ys, h0 = small()
    hs = _explicit_states(params, xs, h0)
    q = hs[1:] @ params["V"].T + params["b_y"]
    yhat = np.exp(q - q.max(axis=1, keepdims=True))
    yhat /= yhat.sum(axis=1, keepdims=True)
    dp = (1 - hs[1:] ** 2) * ((yhat - np.eye(5)[ys]) @ params["V"])
    one = gradcheck.truncated_gradients(params, xs, ys, h0, k=1)
    np.testing.assert_allclose(one["W"], dp.T @ hs[:-1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(one["U"], dp.T @ xs, rtol=1e-12, atol=1e-14)


def test_the_layer_loss_is_the_upstream_gradient_against_the_states():
    """L = sum_t dhs_t . h_t, with the states written out from the seed's recurrence."""
    from gradcheck.model import loss
    from gradcheck.problem import make_layer_problem

    params, xs, _, h0 = small()
    layer = {k: params[k] for k in ("U", "W", "b_h")}
    dhs = np.random.default_rng(1).normal(size=(6, 4))
    hs = _explicit_states(params, xs, h0)
    assert loss(make_layer_problem(layer, xs, h0, dhs)) == pytest.approx(np.sum(dhs * hs[1:]), rel=1e-13)


def test_jax_buckets_by_the_hidden_size_too():
    """H = 20 above D, K and the smallest bucket (16): the reference pads to H, not to max(D, K)."""
    params, xs, ys, h0 = small(D=3, H=20, K=4, T=5, seed=2)
    ours, ref = gradcheck.bptt_gradients(params, xs, ys, h0), jax_gradients(params, xs, ys, h0)
    for k in KEYS:
        np.testing.assert_allclose(ref[k], ours[k], rtol=1e-10, atol=1e-12)


def test_jax_computes_in_float64_whatever_the_dtype_it_is_given():
    """float32 arrays (what a float32 implementation holds) are judged against a float64 reference of
    the same numbers, not a float32 one."""
    params, xs, ys, h0 = small()
    p32, xs32, h032 = {k: v.astype(np.float32) for k, v in params.items()}, xs.astype(np.float32), h0.astype(np.float32)
    ref = jax_gradients(p32, xs32, ys, h032)
    ours = gradcheck.bptt_gradients({k: v.astype(np.float64) for k, v in p32.items()}, xs32.astype(np.float64), ys,
                                    h032.astype(np.float64))  # fmt: skip
    for k in KEYS:
        np.testing.assert_allclose(ref[k], ours[k], rtol=1e-12, atol=1e-14)


def test_a_negative_target_probability_is_located():
    params, xs, _, h0 = small()
    Y = np.full((6, 5), 0.2)
    Y[0, :2] = 0.0, -0.1  # a zero before the negative entry
    with pytest.raises(GradcheckError, match=r"ys: negative target probability at \[0, 1\]"):
        gradcheck.bptt_gradients(params, xs, Y, h0)


def test_jax_h0_none_means_zeros():
    params, xs, ys, _ = small()
    a, b = jax_gradients(params, xs, ys, None), jax_gradients(params, xs, ys, np.zeros(4))
    for k in KEYS:
        np.testing.assert_array_equal(a[k], b[k])
