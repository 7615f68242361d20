"""Correct ReLU-RNN gradients via PyTorch autograd in float32.

nn.RNN(nonlinearity="relu") + nn.Linear + F.cross_entropy(reduction="sum"),
every parameter, input and operation in torch.float32.  b_h goes into
bias_ih_l0 with bias_hh_l0 = 0.  Results are cast back to float64 numpy
arrays (~1e-6 relative agreement with a float64 reference).
"""

BUG = None
LOSS = "sum"
CELL = "relu"
DTYPE = "float32"


def grads(params, xs, ys, h0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float32
    H, D = params["U"].shape
    K = params["V"].shape[0]
    rnn = nn.RNN(D, H, nonlinearity="relu").to(dt)
    lin = nn.Linear(H, K).to(dt)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(params["U"], dtype=dt))
        rnn.weight_hh_l0.copy_(torch.tensor(params["W"], dtype=dt))
        rnn.bias_ih_l0.copy_(torch.tensor(params["b_h"], dtype=dt))
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(torch.tensor(params["V"], dtype=dt))
        lin.bias.copy_(torch.tensor(params["b_y"], dtype=dt))

    x = torch.tensor(xs, dtype=dt).unsqueeze(1)
    y = torch.tensor(ys, dtype=torch.long)
    h_init = torch.tensor(h0, dtype=dt).reshape(1, 1, H).requires_grad_(True)
    out, _ = rnn(x, h_init)
    loss = F.cross_entropy(lin(out.squeeze(1)), y, reduction="sum")
    loss.backward()

    f64 = lambda t: t.detach().to(torch.float64).numpy().copy()
    return {
        "U": f64(rnn.weight_ih_l0.grad),
        "W": f64(rnn.weight_hh_l0.grad),
        "V": f64(lin.weight.grad),
        "b_h": f64(rnn.bias_ih_l0.grad),
        "b_y": f64(lin.bias.grad),
        "h0": f64(h_init.grad).reshape(H),
        "loss": float(loss.item()),
    }
