"""Buggy vanilla-RNN gradients via PyTorch autograd (float64): no zero_grad.

A torch model (nn.RNN(tanh) + nn.Linear + a learnable initial state h0 as
an nn.Parameter) is built once per problem shape and cached in a module
level dict; each call copies the weights in, runs forward, and calls
loss.backward().  BUG: the .grad buffers are never zeroed (the forgotten
optimizer.zero_grad()), so torch accumulates into them: the first call for
a given shape is right, every later call returns the sum of the gradients
of all calls so far (previous total + new gradient), for every key
including h0.  The returned loss is right every time.  Sum loss.
"""

import numpy as np

BUG = "accumulates"
LOSS = "sum"

_MODELS = {}


def _model(D, H, K):
    import torch
    from torch import nn

    key = (D, H, K)
    if key not in _MODELS:
        rnn = nn.RNN(D, H, nonlinearity="tanh").double()
        lin = nn.Linear(H, K).double()
        h_init = nn.Parameter(torch.zeros(1, 1, H, dtype=torch.float64))
        _MODELS[key] = (rnn, lin, h_init)
    return _MODELS[key]


def grads(params, xs, ys, h0):
    import torch
    import torch.nn.functional as F

    H, D = params["U"].shape
    K = params["V"].shape[0]
    rnn, lin, h_init = _model(D, H, K)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(np.asarray(params["U"], dtype=np.float64)))
        rnn.weight_hh_l0.copy_(torch.from_numpy(np.asarray(params["W"], dtype=np.float64)))
        rnn.bias_ih_l0.copy_(torch.from_numpy(np.asarray(params["b_h"], dtype=np.float64)))
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(torch.from_numpy(np.asarray(params["V"], dtype=np.float64)))
        lin.bias.copy_(torch.from_numpy(np.asarray(params["b_y"], dtype=np.float64)))
        h_init.copy_(torch.from_numpy(np.asarray(h0, dtype=np.float64)).reshape(1, 1, H))
    # BUG: no rnn.zero_grad() / lin.zero_grad() / h_init.grad = None here

    x = torch.tensor(xs, dtype=torch.float64).unsqueeze(1)
    out, _ = rnn(x, h_init)
    loss = F.cross_entropy(lin(out.squeeze(1)), torch.tensor(ys, dtype=torch.long), reduction="sum")
    loss.backward()

    g = lambda p: p.grad.detach().numpy().copy()
    return {
        "U": g(rnn.weight_ih_l0),
        "W": g(rnn.weight_hh_l0),
        "V": g(lin.weight),
        "b_h": g(rnn.bias_ih_l0),
        "b_y": g(lin.bias),
        "h0": g(h_init).reshape(H),
        "loss": float(loss.item()),
    }
