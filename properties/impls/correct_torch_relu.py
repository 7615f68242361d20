"""Correct ReLU-RNN gradients via PyTorch autograd (float64).

nn.RNN(nonlinearity="relu") + nn.Linear + F.cross_entropy(reduction="sum").
nn.RNN has two biases; b_h goes into bias_ih_l0 and bias_hh_l0 is held at 0,
so dE/db_h is the gradient of bias_ih_l0.  U, W go into weight_ih_l0 /
weight_hh_l0, V / b_y into the Linear layer; h0 is a leaf with requires_grad.
torch's relu backward takes relu'(0) = 0.  torch is imported inside grads().
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "relu"


def grads(params, xs, ys, h0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float64
    H, D = params["U"].shape
    K = params["V"].shape[0]
    rnn = nn.RNN(D, H, nonlinearity="relu", bias=True).to(dt)
    out_layer = nn.Linear(H, K).to(dt)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.as_tensor(params["U"], dtype=dt))
        rnn.weight_hh_l0.copy_(torch.as_tensor(params["W"], dtype=dt))
        rnn.bias_ih_l0.copy_(torch.as_tensor(params["b_h"], dtype=dt))
        rnn.bias_hh_l0.zero_()
        out_layer.weight.copy_(torch.as_tensor(params["V"], dtype=dt))
        out_layer.bias.copy_(torch.as_tensor(params["b_y"], dtype=dt))

    x = torch.as_tensor(np.asarray(xs), dtype=dt).unsqueeze(1)  # (T, 1, D)
    y = torch.as_tensor(np.asarray(ys), dtype=torch.long)
    h_init = torch.as_tensor(np.asarray(h0), dtype=dt).reshape(1, 1, H).clone().requires_grad_(True)
    hs, _ = rnn(x, h_init)
    loss = F.cross_entropy(out_layer(hs[:, 0, :]), y, reduction="sum")
    loss.backward()

    to_np = lambda t: t.detach().numpy().astype(np.float64).copy()
    return {
        "U": to_np(rnn.weight_ih_l0.grad),
        "W": to_np(rnn.weight_hh_l0.grad),
        "b_h": to_np(rnn.bias_ih_l0.grad),
        "V": to_np(out_layer.weight.grad),
        "b_y": to_np(out_layer.bias.grad),
        "h0": to_np(h_init.grad).reshape(H),
        "loss": float(loss.item()),
    }
