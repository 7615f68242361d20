#!/usr/bin/env node
// A gradcheck worker (docs/worker-protocol.md, version 1) in Node.js, no packages:
//
//     node examples/node/worker.js [--bug W_not_transposed]
//
// The vanilla RNN of docs/derivation.md, for the sequence, batch, layer and batch-layer
// contracts, every loss and batch_loss:
//
//     p_t = U x_t + W h_{t-1} + b_h,   h_t = tanh(p_t)        (t = 1..T, h_0 = h0)
//     q_t = V h_t + b_y,               yhat_t = softmax(q_t)
//     E_t = -log yhat_t[ys[t]],        E = sum_t w_t E_t
//
// and by back-propagation through time (dp_{T+1} = 0):
//
//     dq_t = w_t (yhat_t - y_t),   dh_t = V^T dq_t + W^T dp_{t+1},   dp_t = (1 - h_t^2) * dh_t
//
// JavaScript numbers are float64, so every dtype is computed in float64 (a finer precision than
// float32 and below, which the protocol allows). Numbers are written with String(x): the shortest
// decimal that reads back to the same float64 (NaN and Infinity as such; gradcheck reads both).
// On Linux, process.stdout.write to a pipe is synchronous: each reply is out when it returns.
"use strict";

const readline = require("readline");

const BUG = process.argv[2] === "--bug" ? process.argv[3] : null;
if (BUG !== null && BUG !== "W_not_transposed") {
  process.stderr.write(`worker.js: error: unknown --bug ${BUG} (known: W_not_transposed)\n`);
  process.exit(2);
}

// --- arrays: { dims: [..], v: Float64Array } in row-major order ----------------------------------

function parseArray(line) {
  const parts = line.trim().split(/\s+/);
  const ndim = Number(parts[1]);
  const dims = parts.slice(2, 2 + ndim).map(Number);
  const v = Float64Array.from(parts.slice(2 + ndim), Number);
  return [parts[0], { dims, v }];
}

function formatArray(name, dims, v) {
  return [name, dims.length, ...dims, ...Array.from(v, String)].join(" ");
}

// --- the recurrent layer, one sequence ------------------------------------------------------------

// hs (T, H): h_t = tanh(U x_t + W h_{t-1} + b_h)
function layerForward(U, W, b, xs, h0, T, D, H) {
  const hs = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < H; i++) {
      let p = b[i];
      for (let j = 0; j < D; j++) p += U[i * D + j] * xs[t * D + j];
      for (let j = 0; j < H; j++) p += W[i * H + j] * (t > 0 ? hs[(t - 1) * H + j] : h0[j]);
      hs[t * H + i] = Math.tanh(p);
    }
  }
  return hs;
}

// Given dh (T, H), the loss's gradient with respect to each h_t from above, accumulates dU, dW,
// db and returns [dxs (T, D), dh0 (H)].
function layerBackward(g, U, W, xs, h0, hs, dh, T, D, H) {
  const dxs = new Float64Array(T * D);
  let carry = new Float64Array(H); // W^T dp_{t+1}
  const dp = new Float64Array(H);
  for (let t = T - 1; t >= 0; t--) {
    for (let i = 0; i < H; i++) dp[i] = (1 - hs[t * H + i] ** 2) * (dh[t * H + i] + carry[i]);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < D; j++) {
        g.U[i * D + j] += dp[i] * xs[t * D + j];
        dxs[t * D + j] += U[i * D + j] * dp[i];
      }
      for (let j = 0; j < H; j++) g.W[i * H + j] += dp[i] * (t > 0 ? hs[(t - 1) * H + j] : h0[j]);
      g.b_h[i] += dp[i];
    }
    carry = new Float64Array(H);
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < H; j++) {
        if (BUG === "W_not_transposed") carry[i] += W[i * H + j] * dp[j]; // W v: the planted mistake
        else carry[j] += W[i * H + j] * dp[i]; // (W^T v)_j
      }
    }
  }
  return [dxs, carry];
}

// The softmax head on hs: returns [E, dh (T, H)] and accumulates dV, db_y. dq_t = scale w_t
// (yhat_t - y_t), with the softmax's maximum subtracted (logits can be past exp()'s overflow).
function head(g, V, by, hs, ys, T, H, K, loss, scale) {
  const dh = new Float64Array(T * H);
  let E = 0;
  for (let t = 0; t < T; t++) {
    const w = loss === "mean" ? 1 / T : loss === "last" ? (t === T - 1 ? 1 : 0) : 1;
    const q = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      q[k] = by[k];
      for (let j = 0; j < H; j++) q[k] += V[k * H + j] * hs[t * H + j];
    }
    const m = Math.max(...q);
    let z = 0;
    for (let k = 0; k < K; k++) z += Math.exp(q[k] - m);
    const y = ys[t];
    E += scale * w * (Math.log(z) + m - q[y]);
    for (let k = 0; k < K; k++) {
      const dq = scale * w * (Math.exp(q[k] - m) / z - (k === y ? 1 : 0));
      for (let j = 0; j < H; j++) {
        g.V[k * H + j] += dq * hs[t * H + j];
        dh[t * H + j] += V[k * H + j] * dq;
      }
      g.b_y[k] += dq;
    }
  }
  return [E, dh];
}

// --- one request ----------------------------------------------------------------------------------

function answer(header, a) {
  const [, id, contract, loss, batchLoss] = header;
  const batch = contract.startsWith("batch");
  const layer = contract.endsWith("layer");
  const [H, D] = a.U.dims;
  const xd = a.xs.dims;
  const N = batch ? xd[0] : 1;
  const T = xd[batch ? 1 : 0];
  const K = layer ? 0 : a.V.dims[0];
  const scale = batch && batchLoss === "mean" ? 1 / N : 1;
  const g = { U: new Float64Array(H * D), W: new Float64Array(H * H), b_h: new Float64Array(H) };
  if (!layer) Object.assign(g, { V: new Float64Array(K * H), b_y: new Float64Array(K) });
  const dxs = new Float64Array(N * T * D);
  const dh0 = new Float64Array(N * H);
  const hsAll = new Float64Array(N * T * H);
  let L = 0;
  for (let n = 0; n < N; n++) {
    const xs = a.xs.v.subarray(n * T * D, (n + 1) * T * D);
    const h0 = a.h0.v.subarray(n * H, (n + 1) * H);
    const hs = layerForward(a.U.v, a.W.v, a.b_h.v, xs, h0, T, D, H);
    hsAll.set(hs, n * T * H);
    let dh;
    if (layer) {
      dh = a.dhs.v.subarray(n * T * H, (n + 1) * T * H);
      for (let i = 0; i < T * H; i++) L += dh[i] * hs[i];
    } else {
      const ys = a.ys.v.subarray(n * T, (n + 1) * T);
      let E;
      [E, dh] = head(g, a.V.v, a.b_y.v, hs, ys, T, H, K, loss, scale);
      L += E;
    }
    const [dx, dh0n] = layerBackward(g, a.U.v, a.W.v, xs, h0, hs, dh, T, D, H);
    dxs.set(dx, n * T * D);
    dh0.set(dh0n, n * H);
  }
  const lead = batch ? [N] : [];
  const out = [
    formatArray("U", [H, D], g.U),
    formatArray("W", [H, H], g.W),
    formatArray("b_h", [H], g.b_h),
    formatArray("h0", [...lead, H], dh0),
    formatArray("loss", [], [L]),
  ];
  if (layer) out.push(formatArray("xs", xd, dxs), formatArray("hs", [...lead, T, H], hsAll));
  else out.push(formatArray("V", [K, H], g.V), formatArray("b_y", [K], g.b_y));
  return `result ${id} ${out.length}\n${out.join("\n")}\n`;
}

// --- the loop: a header line, then `count` array lines; answer, and wait for the next -------------

let header = null;
let arrays = {};
let left = 0;
readline.createInterface({ input: process.stdin, terminal: false }).on("line", (line) => {
  if (header === null) {
    header = line.trim().split(/\s+/);
    if (header[0] !== "problem" || header.length !== 8) {
      process.stderr.write(`worker.js: error: expected a problem header, got ${line.slice(0, 60)}\n`);
      process.exit(2);
    }
    left = Number(header[7]);
    arrays = {};
  } else {
    const [name, array] = parseArray(line);
    arrays[name] = array;
    left -= 1;
  }
  if (left === 0) {
    let reply;
    try {
      reply = answer(header, arrays);
    } catch (e) {
      reply = `error ${header[1]} ${String(e.message).split("\n")[0]}\n`;
    }
    process.stdout.write(reply);
    header = null;
  }
});
