"""Correct GRU gradients via PyTorch autograd in float32, batch contract.

nn.GRU(batch_first=True) + nn.Linear + F.cross_entropy(reduction="sum") over
all N*T steps of the batch (BATCH_LOSS "sum").  xs (N, T, D), ys (N, T),
h0 (N, H) -> "h0" (N, H).  Everything in torch.float32; results are float64.
"""

BUG = None
LOSS = "sum"
CELL = "gru"
CONTRACT = "batch"
BATCH_LOSS = "sum"
DTYPE = "float32"

_NAMES = (("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0"))


def grads(params, xs, ys, h0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float32
    N, T, D = xs.shape
    H = params["W_hh"].shape[1]
    K = params["V"].shape[0]
    gru = nn.GRU(D, H, batch_first=True).to(dt)
    lin = nn.Linear(H, K).to(dt)
    with torch.no_grad():
        for ours, theirs in _NAMES:
            getattr(gru, theirs).copy_(torch.tensor(params[ours], dtype=dt))
        lin.weight.copy_(torch.tensor(params["V"], dtype=dt))
        lin.bias.copy_(torch.tensor(params["b_y"], dtype=dt))

    x = torch.tensor(xs, dtype=dt)
    y = torch.tensor(ys, dtype=torch.long)
    h_init = torch.tensor(h0, dtype=dt).unsqueeze(0).requires_grad_(True)  # (1, N, H)
    out, _ = gru(x, h_init)  # (N, T, H)
    logits = lin(out)  # (N, T, K)
    loss = F.cross_entropy(logits.reshape(N * T, K), y.reshape(N * T), reduction="sum")
    loss.backward()

    f64 = lambda t: t.detach().double().numpy().copy()
    g = {ours: f64(getattr(gru, theirs).grad) for ours, theirs in _NAMES}
    g.update(V=f64(lin.weight.grad), b_y=f64(lin.bias.grad), h0=f64(h_init.grad)[0], loss=float(loss.item()))
    return g
