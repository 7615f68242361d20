"""A plain numpy RNN that trains on batches of sequences, and the adapter that lets gradcheck judge it.

The model code works on a batch: xs (B, T, D), ys (B, T), h0 (B, H), and returns the gradients
of the loss summed over the batch and the steps. The adapter calls it with B = 1.

Run:  python -m gradcheck verify examples/numpy_batched.py:grads
"""

import numpy as np


def log_softmax(q):
    q = q - q.max(axis=-1, keepdims=True)
    return q - np.log(np.exp(q).sum(axis=-1, keepdims=True))


def forward_backward(U, W, V, b_h, b_y, xs, ys, h0):
    """Loss and gradients for a batch; h[:, t] is the state after step t (h[:, -1] is h0)."""
    B, T, _ = xs.shape
    H = W.shape[0]
    h = np.zeros((B, T + 1, H))
    h[:, 0] = h0
    for t in range(T):
        h[:, t + 1] = np.tanh(xs[:, t] @ U.T + h[:, t] @ W.T + b_h)
    logp = log_softmax(h[:, 1:] @ V.T + b_y)  # (B, T, K)
    rows, steps = np.meshgrid(np.arange(B), np.arange(T), indexing="ij")
    loss = -logp[rows, steps, ys].sum()
    dq = np.exp(logp)
    dq[rows, steps, ys] -= 1.0
    g = {"V": np.einsum("btk,bth->kh", dq, h[:, 1:]), "b_y": dq.sum(axis=(0, 1))}
    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dh_next = np.zeros((B, H))
    for t in reversed(range(T)):
        dh = dq[:, t] @ V + dh_next
        dp = (1.0 - h[:, t + 1] ** 2) * dh
        dU += dp.T @ xs[:, t]
        dW += dp.T @ h[:, t]
        db_h += dp.sum(axis=0)
        dh_next = dp @ W
    g.update(U=dU, W=dW, b_h=db_h, h0=dh_next, loss=loss)
    return g


def grads(params, xs, ys, h0):
    """gradcheck's contract: one sequence in, its gradients out."""
    g = forward_backward(
        params["U"], params["W"], params["V"], params["b_h"], params["b_y"],
        np.asarray(xs)[None], np.asarray(ys)[None], np.asarray(h0)[None],
    )  # fmt: skip
    g["h0"] = g["h0"][0]
    return g


if __name__ == "__main__":
    import gradcheck

    print(gradcheck.verify(grads).format())
