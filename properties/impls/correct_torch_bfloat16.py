"""Correct vanilla-RNN gradients via PyTorch autograd in bfloat16, on CPU.

nn.RNN(nonlinearity="tanh") + nn.Linear + F.cross_entropy(reduction="sum"),
all parameters, inputs and arithmetic torch.bfloat16 (8-bit mantissa).  U, W go into
weight_ih_l0 / weight_hh_l0, b_h into bias_ih_l0 with bias_hh_l0 = 0, V / b_y
into the Linear layer; h0 is a leaf tensor with requires_grad.  Results are
cast back to float64 numpy arrays.  Expect ~1e-2 relative agreement
with a float64 reference, worse for an array that is small through
cancellation (a vanishing dh0).  Sum loss.
"""

BUG = None
LOSS = "sum"
DTYPE = "bfloat16"


def grads(params, xs, ys, h0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.bfloat16
    H, D = params["U"].shape
    K = params["V"].shape[0]
    rnn = nn.RNN(D, H, nonlinearity="tanh").to(dt)
    lin = nn.Linear(H, K).to(dt)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(params["U"], dtype=dt))
        rnn.weight_hh_l0.copy_(torch.tensor(params["W"], dtype=dt))
        rnn.bias_ih_l0.copy_(torch.tensor(params["b_h"], dtype=dt))
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(torch.tensor(params["V"], dtype=dt))
        lin.bias.copy_(torch.tensor(params["b_y"], dtype=dt))

    x = torch.tensor(xs, dtype=dt).unsqueeze(1)  # (T, 1, D)
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
