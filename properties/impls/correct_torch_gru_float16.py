"""Correct GRU gradients via PyTorch autograd in float16, on CPU.

nn.GRU + nn.Linear + F.cross_entropy(reduction="sum"), all parameters,
inputs and arithmetic torch.float16 (torch runs half precisions on CPU).
The contract's W_ih, W_hh, b_ih, b_hh are nn.GRU's own tensors (gate order
r, z, n).  Results are cast back to float64; expect ~1e-3..1e-2 relative
agreement with a float64 reference.
"""

BUG = None
LOSS = "sum"
CELL = "gru"
DTYPE = "float16"


def grads(params, xs, ys, h0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float16
    D = params["W_ih"].shape[1]
    H = params["W_hh"].shape[1]
    K = params["V"].shape[0]
    gru = nn.GRU(D, H).to(dt)
    lin = nn.Linear(H, K).to(dt)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor(params["W_ih"], dtype=dt))
        gru.weight_hh_l0.copy_(torch.tensor(params["W_hh"], dtype=dt))
        gru.bias_ih_l0.copy_(torch.tensor(params["b_ih"], dtype=dt))
        gru.bias_hh_l0.copy_(torch.tensor(params["b_hh"], dtype=dt))
        lin.weight.copy_(torch.tensor(params["V"], dtype=dt))
        lin.bias.copy_(torch.tensor(params["b_y"], dtype=dt))

    x = torch.tensor(xs, dtype=dt).unsqueeze(1)  # (T, 1, D)
    y = torch.tensor(ys, dtype=torch.long)
    h_init = torch.tensor(h0, dtype=dt).reshape(1, 1, H).requires_grad_(True)
    out, _ = gru(x, h_init)
    loss = F.cross_entropy(lin(out.squeeze(1)), y, reduction="sum")
    loss.backward()

    f64 = lambda t: t.detach().to(torch.float64).numpy().copy()
    return {
        "W_ih": f64(gru.weight_ih_l0.grad),
        "W_hh": f64(gru.weight_hh_l0.grad),
        "b_ih": f64(gru.bias_ih_l0.grad),
        "b_hh": f64(gru.bias_hh_l0.grad),
        "V": f64(lin.weight.grad),
        "b_y": f64(lin.bias.grad),
        "h0": f64(h_init.grad).reshape(H),
        "loss": float(loss.item()),
    }
