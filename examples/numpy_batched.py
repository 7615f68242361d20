"""A plain numpy RNN that trains on batches of sequences, judged two ways.

The model code works on a batch: xs (N, T, D), ys (N, T), h0 (N, H), and returns the gradients of
the loss averaged over the N sequences (summed over each sequence's steps), as training code
usually does. Judge it as it is, batch and all:

    python -m gradcheck verify examples/numpy_batched.py:grads_batch --batch --batch-loss mean

or through the one-sequence contract, with a batch of one (`grads`, 4 lines):

    python -m gradcheck verify examples/numpy_batched.py:grads
"""

import numpy as np


def log_softmax(q):
    q = q - q.max(axis=-1, keepdims=True)
    return q - np.log(np.exp(q).sum(axis=-1, keepdims=True))


def forward_backward(U, W, V, b_h, b_y, xs, ys, h0):
    """Mean loss over the batch and its gradients; h[:, t] is the state after step t (h[:, 0] is h0)."""
    N, T, _ = xs.shape
    H = W.shape[0]
    h = np.zeros((N, T + 1, H))
    h[:, 0] = h0
    for t in range(T):
        h[:, t + 1] = np.tanh(xs[:, t] @ U.T + h[:, t] @ W.T + b_h)
    logp = log_softmax(h[:, 1:] @ V.T + b_y)  # (N, T, K)
    rows, steps = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
    loss = -logp[rows, steps, ys].sum() / N
    dq = np.exp(logp)
    dq[rows, steps, ys] -= 1.0
    dq /= N
    g = {"V": np.einsum("ntk,nth->kh", dq, h[:, 1:]), "b_y": dq.sum(axis=(0, 1))}
    dU, dW, db_h = np.zeros_like(U), np.zeros_like(W), np.zeros_like(b_h)
    dh_next = np.zeros((N, H))
    for t in reversed(range(T)):
        dh = dq[:, t] @ V + dh_next
        dp = (1.0 - h[:, t + 1] ** 2) * dh
        dU += dp.T @ xs[:, t]
        dW += dp.T @ h[:, t]
        db_h += dp.sum(axis=0)
        dh_next = dp @ W
    g.update(U=dU, W=dW, b_h=db_h, h0=dh_next, loss=loss)
    return g


def grads_batch(params, xs, ys, h0):
    """gradcheck's batch contract (--batch --batch-loss mean): the model code as it is."""
    return forward_backward(params["U"], params["W"], params["V"], params["b_h"], params["b_y"], xs, ys, h0)


def grads(params, xs, ys, h0):
    """gradcheck's one-sequence contract: a batch of one."""
    g = grads_batch(params, np.asarray(xs)[None], np.asarray(ys)[None], np.asarray(h0)[None])
    g["h0"] = g["h0"][0]
    return g


if __name__ == "__main__":
    import gradcheck

    print(gradcheck.verify(grads_batch, batch=True, batch_loss="mean").format())
