"""Correct vanilla-RNN gradients via PyTorch autograd (float64).

nn.RNN(tanh) + nn.Linear + CrossEntropyLoss(reduction="sum").  U, W go
into weight_ih_l0 / weight_hh_l0, b_h into bias_ih_l0 with bias_hh_l0 = 0
(so dE/db_h = grad of bias_ih_l0), V / b_y into the Linear layer.  h0 is
the initial state (1, 1, H) and gets its own gradient.  torch is imported
inside grads() so this module imports without torch installed.  Sum loss.
"""

import numpy as np

BUG = None
LOSS = "sum"


def grads(params, xs, ys, h0):
    import torch
    from torch import nn

    U = np.asarray(params["U"], dtype=np.float64)
    H, D = U.shape
    K = params["V"].shape[0]
    rnn = nn.RNN(input_size=D, hidden_size=H, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False).double()
    lin = nn.Linear(H, K, bias=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(U))
        rnn.weight_hh_l0.copy_(torch.tensor(params["W"], dtype=torch.float64))
        rnn.bias_ih_l0.copy_(torch.tensor(params["b_h"], dtype=torch.float64))
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(torch.tensor(params["V"], dtype=torch.float64))
        lin.bias.copy_(torch.tensor(params["b_y"], dtype=torch.float64))

    x = torch.tensor(np.asarray(xs), dtype=torch.float64).reshape(-1, 1, D)
    y = torch.tensor(np.asarray(ys), dtype=torch.long).reshape(-1)
    h_init = torch.tensor(np.asarray(h0), dtype=torch.float64)
    h_init = h_init.reshape(1, 1, H).clone().requires_grad_(True)

    out, _ = rnn(x, h_init)  # (T, 1, H)
    logits = lin(out.reshape(-1, H))  # (T, K)
    loss = nn.CrossEntropyLoss(reduction="sum")(logits, y)
    loss.backward()

    def np_(t):
        return t.detach().cpu().numpy().astype(np.float64).copy()

    return {
        "U": np_(rnn.weight_ih_l0.grad),
        "W": np_(rnn.weight_hh_l0.grad),
        "V": np_(lin.weight.grad),
        "b_h": np_(rnn.bias_ih_l0.grad),
        "b_y": np_(lin.bias.grad),
        "h0": np_(h_init.grad).reshape(H),
        "loss": float(loss.item()),
    }
