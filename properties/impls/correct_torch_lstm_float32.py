"""Correct LSTM gradients via PyTorch autograd in float32, batch contract, batch mean.

nn.LSTM(batch_first=True) + nn.Linear; per-sequence loss sum_t E_t, averaged
over the N sequences (BATCH_LOSS "mean": F.cross_entropy(reduction="sum") / N).
xs (N, T, D), ys (N, T), h0 (N, H), c0 (N, H) -> "h0", "c0" (N, H).
Everything in torch.float32; results are float64.
"""

BUG = None
LOSS = "sum"
CELL = "lstm"
CONTRACT = "batch"
BATCH_LOSS = "mean"
DTYPE = "float32"


def grads(params, xs, ys, h0, c0):
    import torch
    import torch.nn.functional as F
    from torch import nn

    dt = torch.float32
    N, _T, D = xs.shape
    H = params["W_hh"].shape[1]
    K = params["V"].shape[0]
    lstm = nn.LSTM(D, H, batch_first=True).to(dt)
    lin = nn.Linear(H, K).to(dt)
    sd = {
        "weight_ih_l0": params["W_ih"],
        "weight_hh_l0": params["W_hh"],
        "bias_ih_l0": params["b_ih"],
        "bias_hh_l0": params["b_hh"],
    }
    lstm.load_state_dict({k: torch.tensor(v, dtype=dt) for k, v in sd.items()})
    lin.load_state_dict({"weight": torch.tensor(params["V"], dtype=dt), "bias": torch.tensor(params["b_y"], dtype=dt)})

    x = torch.tensor(xs, dtype=dt)
    y = torch.tensor(ys, dtype=torch.long)
    h_init = torch.tensor(h0, dtype=dt)[None].requires_grad_(True)
    c_init = torch.tensor(c0, dtype=dt)[None].requires_grad_(True)
    out, _ = lstm(x, (h_init, c_init))
    loss = F.cross_entropy(lin(out).reshape(-1, K), y.reshape(-1), reduction="sum") / N
    loss.backward()

    f64 = lambda t: t.detach().double().numpy().copy()
    return {
        "W_ih": f64(lstm.weight_ih_l0.grad),
        "W_hh": f64(lstm.weight_hh_l0.grad),
        "b_ih": f64(lstm.bias_ih_l0.grad),
        "b_hh": f64(lstm.bias_hh_l0.grad),
        "V": f64(lin.weight.grad),
        "b_y": f64(lin.bias.grad),
        "h0": f64(h_init.grad)[0],
        "c0": f64(c_init.grad)[0],
        "loss": float(loss.item()),
    }
