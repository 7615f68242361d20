"""Correct LSTM gradients via PyTorch autograd in float16, on CPU.

nn.LSTM + nn.Linear + F.cross_entropy(reduction="sum"), everything in
torch.float16.  W_ih, W_hh, b_ih, b_hh are nn.LSTM's own tensors (gate order
i, f, g, o); h0 and c0 are leaves with requires_grad ("h0", "c0" returned).
Results are float64 numpy arrays; expect ~1e-3..1e-2 relative agreement
with a float64 reference.
"""

BUG = None
LOSS = "sum"
CELL = "lstm"
DTYPE = "float16"


def grads(params, xs, ys, h0, c0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float16
    D = params["W_ih"].shape[1]
    H = params["W_hh"].shape[1]
    K = params["V"].shape[0]
    lstm = nn.LSTM(D, H).to(dt)
    lin = nn.Linear(H, K).to(dt)
    with torch.no_grad():
        for ours, theirs in (
            ("W_ih", "weight_ih_l0"),
            ("W_hh", "weight_hh_l0"),
            ("b_ih", "bias_ih_l0"),
            ("b_hh", "bias_hh_l0"),
        ):
            getattr(lstm, theirs).copy_(torch.tensor(params[ours], dtype=dt))
        lin.weight.copy_(torch.tensor(params["V"], dtype=dt))
        lin.bias.copy_(torch.tensor(params["b_y"], dtype=dt))

    x = torch.tensor(xs, dtype=dt).unsqueeze(1)  # (T, 1, D)
    y = torch.tensor(ys, dtype=torch.long)
    h_init = torch.tensor(h0, dtype=dt).reshape(1, 1, H).requires_grad_(True)
    c_init = torch.tensor(c0, dtype=dt).reshape(1, 1, H).requires_grad_(True)
    out, _ = lstm(x, (h_init, c_init))
    loss = F.cross_entropy(lin(out.squeeze(1)), y, reduction="sum")
    loss.backward()

    f64 = lambda t: t.detach().to(torch.float64).numpy().copy()
    return {
        "W_ih": f64(lstm.weight_ih_l0.grad),
        "W_hh": f64(lstm.weight_hh_l0.grad),
        "b_ih": f64(lstm.bias_ih_l0.grad),
        "b_hh": f64(lstm.bias_hh_l0.grad),
        "V": f64(lin.weight.grad),
        "b_y": f64(lin.bias.grad),
        "h0": f64(h_init.grad).reshape(H),
        "c0": f64(c_init.grad).reshape(H),
        "loss": float(loss.item()),
    }
