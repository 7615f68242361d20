"""Adapter: a PyTorch nn.RNN(nonlinearity="tanh") + nn.Linear + cross-entropy model, judged by gradcheck.

The mapping to the seed's notation:

    U   = rnn.weight_ih_l0 (H, D)      W   = rnn.weight_hh_l0 (H, H)
    b_h = rnn.bias_ih_l0 + rnn.bias_hh_l0 (PyTorch keeps two; we load b_h into bias_ih, 0 into bias_hh,
          and dE/db_h is the gradient of either)
    V   = out.weight (K, H)            b_y = out.bias (K,)
    h0  = the initial state, shape (num_layers=1, batch=1, H)
    E   = CrossEntropyLoss(reduction="sum") over the T steps (reduction="mean" is --loss mean)

Run:  python -m gradcheck verify examples/torch_rnn.py:grads     (needs `pip install torch==2.13.0`)
"""

import numpy as np


def grads(params, xs, ys, h0, reduction="sum"):
    import torch

    H, D = params["U"].shape
    K = params["V"].shape[0]
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", dtype=torch.float64)
    out = torch.nn.Linear(H, K, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(np.asarray(params["U"])))
        rnn.weight_hh_l0.copy_(torch.from_numpy(np.asarray(params["W"])))
        rnn.bias_ih_l0.copy_(torch.from_numpy(np.asarray(params["b_h"])))
        rnn.bias_hh_l0.zero_()
        out.weight.copy_(torch.from_numpy(np.asarray(params["V"])))
        out.bias.copy_(torch.from_numpy(np.asarray(params["b_y"])))
    x = torch.tensor(np.asarray(xs), dtype=torch.float64).unsqueeze(1)  # (T, batch=1, D)
    h_init = torch.tensor(np.asarray(h0), dtype=torch.float64).reshape(1, 1, H).requires_grad_()
    hs, _ = rnn(x, h_init)  # (T, 1, H)
    logits = out(hs[:, 0, :])  # (T, K)
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(np.asarray(ys)), reduction=reduction)
    loss.backward()
    return {
        "U": rnn.weight_ih_l0.grad.numpy(),
        "W": rnn.weight_hh_l0.grad.numpy(),
        "V": out.weight.grad.numpy(),
        "b_h": rnn.bias_ih_l0.grad.numpy(),
        "b_y": out.bias.grad.numpy(),
        "h0": h_init.grad.reshape(H).numpy(),
        "loss": loss.item(),
    }


def grads_mean(params, xs, ys, h0):
    """The same model with the mean over steps: verify with --loss mean."""
    return grads(params, xs, ys, h0, reduction="mean")


if __name__ == "__main__":
    import gradcheck

    print(gradcheck.verify(grads).format())
