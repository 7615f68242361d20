"""Andrej Karpathy's min-char-rnn lossFun (2015), adapted to gradcheck's contract.

A realistic failure: the original clips every gradient entry to [-5, 5] before the update
(`np.clip(dparam, -5, 5, out=dparam)`), which is a training trick, not the gradient. It also
takes token indices, one vocabulary size (D == K), and sums the loss over steps.

Run:  python -m gradcheck verify examples/min_char_rnn.py:lossFun_adapter --one-hot-inputs --same-io-dim
"""

import numpy as np


def lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """inputs, targets are lists of integers; hprev is Hx1 array of initial hidden state."""
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    vocab_size = Wxh.shape[1]
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys[t] = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(ys[t] - np.max(ys[t])) / np.sum(np.exp(ys[t] - np.max(ys[t])))  # (max shift added)
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(dparam, -5, 5, out=dparam)  # mitigate exploding gradients
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def lossFun_adapter(params, xs, ys, h0):
    """gradcheck's contract around the original: one-hot xs back to token indices, column vectors."""
    inputs = [int(i) for i in np.argmax(xs, axis=1)]
    loss, dU, dW, dV, db_h, db_y, _ = lossFun(
        inputs,
        [int(y) for y in ys],
        np.asarray(h0)[:, None],
        params["U"],
        params["W"],
        params["V"],
        params["b_h"][:, None],
        params["b_y"][:, None],
    )
    return {"U": dU, "W": dW, "V": dV, "b_h": db_h[:, 0], "b_y": db_y[:, 0], "loss": loss}


if __name__ == "__main__":
    import gradcheck

    print(gradcheck.verify(lossFun_adapter, one_hot_inputs=True, same_io_dim=True).format())
