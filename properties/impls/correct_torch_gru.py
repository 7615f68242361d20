"""Correct GRU gradients via PyTorch autograd (float64).

nn.GRU (reset gate applied after the recurrent matmul: n = tanh(W_in x + b_in
+ r * (W_hn h + b_hn))) + nn.Linear + F.cross_entropy(reduction="sum").  The
contract's W_ih, W_hh, b_ih, b_hh are nn.GRU's weight_ih_l0, weight_hh_l0,
bias_ih_l0, bias_hh_l0 as they are (gate blocks r, z, n stacked by rows);
V / b_y go into the Linear layer.  h0 is a leaf with requires_grad.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "gru"


def grads(params, xs, ys, h0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float64
    H3, D = params["W_ih"].shape
    H = H3 // 3
    K = params["V"].shape[0]
    gru = nn.GRU(D, H).to(dt)
    head = nn.Linear(H, K).to(dt)
    names = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}
    with torch.no_grad():
        for ours, theirs in names.items():
            getattr(gru, theirs).copy_(torch.as_tensor(params[ours], dtype=dt))
        head.weight.copy_(torch.as_tensor(params["V"], dtype=dt))
        head.bias.copy_(torch.as_tensor(params["b_y"], dtype=dt))

    x = torch.as_tensor(np.asarray(xs), dtype=dt).unsqueeze(1)
    y = torch.as_tensor(np.asarray(ys), dtype=torch.long)
    h_init = torch.as_tensor(np.asarray(h0), dtype=dt).view(1, 1, H).clone().requires_grad_(True)
    out, _ = gru(x, h_init)
    loss = F.cross_entropy(head(out.squeeze(1)), y, reduction="sum")
    loss.backward()

    res = {ours: getattr(gru, theirs).grad.detach().numpy().copy() for ours, theirs in names.items()}
    res["V"] = head.weight.grad.detach().numpy().copy()
    res["b_y"] = head.bias.grad.detach().numpy().copy()
    res["h0"] = h_init.grad.detach().numpy().reshape(H).copy()
    res["loss"] = float(loss.item())
    return res
