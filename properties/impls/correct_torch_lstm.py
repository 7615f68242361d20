"""Correct LSTM gradients via PyTorch autograd (float64).

nn.LSTM (gates i, f, g, o stacked by rows; c_t = f c_{t-1} + i g, h_t = o
tanh(c_t)) + nn.Linear + F.cross_entropy(reduction="sum").  W_ih, W_hh, b_ih,
b_hh are nn.LSTM's weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 as they
are.  h0 and c0 are leaves with requires_grad, so "h0" = dE/dh0 and "c0" =
dE/dc0 are returned.
"""

import numpy as np

BUG = None
LOSS = "sum"
CELL = "lstm"


def grads(params, xs, ys, h0, c0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float64
    H = params["W_hh"].shape[1]
    D = params["W_ih"].shape[1]
    K = params["V"].shape[0]
    lstm = nn.LSTM(input_size=D, hidden_size=H, batch_first=True).to(dt)
    head = nn.Linear(H, K).to(dt)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.as_tensor(params["W_ih"], dtype=dt))
        lstm.weight_hh_l0.copy_(torch.as_tensor(params["W_hh"], dtype=dt))
        lstm.bias_ih_l0.copy_(torch.as_tensor(params["b_ih"], dtype=dt))
        lstm.bias_hh_l0.copy_(torch.as_tensor(params["b_hh"], dtype=dt))
        head.weight.copy_(torch.as_tensor(params["V"], dtype=dt))
        head.bias.copy_(torch.as_tensor(params["b_y"], dtype=dt))

    x = torch.as_tensor(np.asarray(xs), dtype=dt)[None]  # (1, T, D), batch_first
    y = torch.as_tensor(np.asarray(ys), dtype=torch.long)
    h_init = torch.as_tensor(np.asarray(h0), dtype=dt).reshape(1, 1, H).clone().requires_grad_(True)
    c_init = torch.as_tensor(np.asarray(c0), dtype=dt).reshape(1, 1, H).clone().requires_grad_(True)
    out, (_h_T, _c_T) = lstm(x, (h_init, c_init))
    loss = F.cross_entropy(head(out[0]), y, reduction="sum")
    loss.backward()

    g = lambda t: t.grad.detach().numpy().copy()
    return {
        "W_ih": g(lstm.weight_ih_l0),
        "W_hh": g(lstm.weight_hh_l0),
        "b_ih": g(lstm.bias_ih_l0),
        "b_hh": g(lstm.bias_hh_l0),
        "V": g(head.weight),
        "b_y": g(head.bias),
        "h0": g(h_init).reshape(H),
        "c0": g(c_init).reshape(H),
        "loss": float(loss.item()),
    }
