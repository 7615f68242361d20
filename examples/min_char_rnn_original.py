"""Andrej Karpathy's min-char-rnn lossFun (2015) with its softmax as published: exp(y) / sum(exp(y)).

Without the max shift, exp() overflows once a logit passes 709.8 (float64): the probabilities
become inf / inf = NaN and so does every gradient. verify names it:

    python -m gradcheck verify examples/min_char_rnn_original.py:lossFun_adapter --one-hot-inputs --same-io-dim
    ... FAILURE: U[0, 0] is nan where the reference is ... (it warned: overflow encountered in exp)
    ... diagnosis: softmax is computed without the max shift: exp(q) overflows above 709.8 in float64 ...

and, with that regime knowingly left out, judges the gradient itself (it agrees):

    python -m gradcheck verify examples/min_char_rnn_original.py:lossFun_adapter --one-hot-inputs --same-io-dim \\
        --skip-regime large_logits

The gist clips every gradient entry to [-5, 5] at the end of lossFun; that training trick is
examples/min_char_rnn.py's failure, so here the clipping sits in the training loop (`step`), where
it belongs, and lossFun returns the gradient.
"""

import numpy as np


def lossFun(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """inputs, targets are both list of integers; hprev is Hx1 array of initial hidden state
    returns the loss, gradients on model parameters, and last hidden state"""
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    vocab_size = Wxh.shape[1]
    # forward pass
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))  # encode in 1-of-k representation
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)  # hidden state
        ys[t] = np.dot(Why, hs[t]) + by  # unnormalized log probabilities for next chars
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))  # probabilities for next chars
        loss += -np.log(ps[t][targets[t], 0])  # softmax (cross-entropy loss)
    # backward pass: compute gradients going backwards
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # backprop into y
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext  # backprop into h
        dhraw = (1 - hs[t] * hs[t]) * dh  # backprop through tanh nonlinearity
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def step(params, grads, learning_rate=1e-1):
    """The training loop's update, with the gist's clipping (to mitigate exploding gradients)."""
    for dparam in grads:
        np.clip(dparam, -5, 5, out=dparam)
    return [p - learning_rate * d for p, d in zip(params, grads, strict=True)]


def lossFun_adapter(params, xs, ys, h0):
    """gradcheck's contract around lossFun: one-hot xs back to token indices, column vectors."""
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
