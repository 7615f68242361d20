//! A gradcheck worker (docs/worker-protocol.md, version 1) for the vanilla RNN of
//! docs/derivation.md, std only:
//!
//! ```text
//! p_t = U x_t + W h_{t-1} + b_h,   h_t = tanh(p_t)        (t = 1..T, h_0 = h0)
//! q_t = V h_t + b_y,               yhat_t = softmax(q_t)
//! E_t = -log yhat_t[ys[t]],        E = sum_t w_t E_t
//! ```
//!
//! Contracts: sequence, batch, layer, batch-layer. Everything is computed in f64
//! whatever the declared dtype; the flags are accepted and ignored.
//!
//! Build: `cargo build --release --manifest-path examples/rust/Cargo.toml`
//! Usage: `worker [--bug W_not_transposed | truncate3 | no_tanh_derivative]`

// Index loops mirror the equations' subscripts (W[i * H + j]); keep them.
#![allow(clippy::needless_range_loop)]

use std::io::{self, BufRead, BufWriter, Write};

/// A known mistake planted on request (to test gradcheck's diagnosis).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bug {
    None,
    /// W where W^T belongs in the backward recursion.
    WNotTransposed,
    /// Each step's error propagated back at most 3 steps (the series cut after k = 3 terms).
    Truncate3,
    /// The (1 - h^2) factor dropped.
    NoTanhDerivative,
}

const TRUNCATE_TERMS: usize = 3;

// ---------------------------------------------------------------------------
// Requests and arrays
// ---------------------------------------------------------------------------

struct Array {
    name: String,
    dims: Vec<usize>,
    values: Vec<f64>,
}

struct Request {
    id: String,
    contract: String,
    loss: String,
    batch_loss: String,
    arrays: Vec<Array>,
}

/// `<name> <ndim> <dim_1> ... <dim_ndim> <value_1> ... <value_n>`
fn parse_array(line: &str) -> Result<Array, String> {
    let mut tokens = line.split_ascii_whitespace();
    let name = tokens.next().ok_or("empty array line")?.to_string();
    let ndim: usize = tokens
        .next()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("bad ndim for array {name}"))?;
    let mut dims = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        let d: usize = tokens
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("bad dimension for array {name}"))?;
        dims.push(d);
    }
    let n: usize = dims.iter().product();
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        let v: f64 = tokens
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("missing or bad value in array {name}"))?;
        values.push(v);
    }
    if tokens.next().is_some() {
        return Err(format!("too many values in array {name}"));
    }
    Ok(Array { name, dims, values })
}

impl Request {
    /// The array `name`, checked against `dims` (None matches any size).
    fn get(&self, name: &str, dims: &[Option<usize>]) -> Result<&Array, String> {
        let a = self
            .arrays
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| format!("missing array {name}"))?;
        let ok = a.dims.len() == dims.len()
            && a.dims.iter().zip(dims).all(|(&got, want)| want.is_none() || *want == Some(got));
        if ok {
            Ok(a)
        } else {
            Err(format!("wrong shape for {name}: {:?}", a.dims))
        }
    }
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

type Output = Vec<(&'static str, Vec<usize>, Vec<f64>)>;

/// A float64 written so that it reads back exactly: Rust's `{:e}` is the shortest
/// round-trip form (like Python's repr); NaN and the infinities as `nan`, `inf`, `-inf`.
fn write_number(out: &mut impl Write, x: f64) -> io::Result<()> {
    if x.is_nan() {
        write!(out, " nan")
    } else if x.is_infinite() {
        write!(out, " {}", if x > 0.0 { "inf" } else { "-inf" })
    } else {
        write!(out, " {x:e}")
    }
}

fn write_result(out: &mut impl Write, id: &str, arrays: &Output) -> io::Result<()> {
    writeln!(out, "result {id} {}", arrays.len())?;
    for (name, dims, values) in arrays {
        write!(out, "{name} {}", dims.len())?;
        for d in dims {
            write!(out, " {d}")?;
        }
        for &x in values {
            write_number(out, x)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The recurrent layer
// ---------------------------------------------------------------------------

struct Layer<'a> {
    u: &'a [f64], // (H, D)
    w: &'a [f64], // (H, H)
    b: &'a [f64], // (H,)  b_h
    h: usize,
    d: usize,
    bug: Bug,
}

/// Gradients of the layer's parameters, accumulated over the sequences of a batch.
struct LayerGrad {
    u: Vec<f64>,
    w: Vec<f64>,
    b: Vec<f64>,
}

impl LayerGrad {
    fn new(h: usize, d: usize) -> Self {
        LayerGrad { u: vec![0.0; h * d], w: vec![0.0; h * h], b: vec![0.0; h] }
    }
}

impl<'a> Layer<'a> {
    fn from_request(req: &'a Request, bug: Bug) -> Result<Self, String> {
        let u = req.get("U", &[None, None])?;
        let (h, d) = (u.dims[0], u.dims[1]);
        let w = req.get("W", &[Some(h), Some(h)])?;
        let b = req.get("b_h", &[Some(h)])?;
        Ok(Layer { u: &u.values, w: &w.values, b: &b.values, h, d, bug })
    }

    /// h_{t-1}: row t-1 of hs, or h0 at the first step.
    fn prev<'b>(&self, t: usize, h0: &'b [f64], hs: &'b [f64]) -> &'b [f64] {
        if t == 0 {
            h0
        } else {
            &hs[(t - 1) * self.h..t * self.h]
        }
    }

    /// Forward pass: p_t = U x_t + W h_{t-1} + b_h, h_t = tanh(p_t); returns hs (T, H).
    fn forward(&self, xs: &[f64], h0: &[f64], steps: usize) -> Vec<f64> {
        let (h, d) = (self.h, self.d);
        let mut hs = vec![0.0; steps * h];
        for t in 0..steps {
            let x = &xs[t * d..(t + 1) * d];
            for i in 0..h {
                let mut p = self.b[i];
                for j in 0..d {
                    p += self.u[i * d + j] * x[j];
                }
                let hprev = self.prev(t, h0, &hs);
                for j in 0..h {
                    p += self.w[i * h + j] * hprev[j];
                }
                hs[t * h + i] = p.tanh();
            }
        }
        hs
    }

    /// W^T v (correct), or W v with the W_not_transposed bug.
    fn back_through_w(&self, v: &[f64]) -> Vec<f64> {
        let h = self.h;
        let mut out = vec![0.0; h];
        for i in 0..h {
            for j in 0..h {
                if self.bug == Bug::WNotTransposed {
                    out[i] += self.w[i * h + j] * v[j]; // (W v)_i: the planted mistake
                } else {
                    out[j] += self.w[i * h + j] * v[i]; // (W^T v)_j
                }
            }
        }
        out
    }

    /// dp = (1 - h^2) * g: the tanh derivative (dropped with no_tanh_derivative).
    fn through_tanh(&self, h: &[f64], g: &[f64]) -> Vec<f64> {
        if self.bug == Bug::NoTanhDerivative {
            return g.to_vec();
        }
        h.iter().zip(g).map(|(hi, gi)| (1.0 - hi * hi) * gi).collect()
    }

    /// Given dp_t: dU += dp_t x_t^T, dW += dp_t h_{t-1}^T, db_h += dp_t, dx_t += U^T dp_t.
    #[allow(clippy::too_many_arguments)]
    fn accumulate_step(
        &self,
        t: usize,
        xs: &[f64],
        h0: &[f64],
        hs: &[f64],
        dp: &[f64],
        g: &mut LayerGrad,
        dxs: &mut [f64],
    ) {
        let (h, d) = (self.h, self.d);
        let x = &xs[t * d..(t + 1) * d];
        let hprev = self.prev(t, h0, hs);
        for i in 0..h {
            for j in 0..d {
                g.u[i * d + j] += dp[i] * x[j];
                dxs[t * d + j] += self.u[i * d + j] * dp[i];
            }
            for j in 0..h {
                g.w[i * h + j] += dp[i] * hprev[j];
            }
            g.b[i] += dp[i];
        }
    }

    /// Backward pass given dh (T, H) = dLoss/dh_t from above. Accumulates into g and
    /// dxs (T, D); returns dLoss/dh0.
    fn backward(
        &self,
        xs: &[f64],
        h0: &[f64],
        hs: &[f64],
        dh: &[f64],
        g: &mut LayerGrad,
        dxs: &mut [f64],
    ) -> Vec<f64> {
        if self.bug == Bug::Truncate3 {
            self.backward_truncated(xs, h0, hs, dh, g, dxs)
        } else {
            self.backward_full(xs, h0, hs, dh, g, dxs)
        }
    }

    /// The full recursion:
    ///     dp_t = (1 - h_t^2) * (dh_t + W^T dp_{t+1}),  dp_{T+1} = 0;   dh0 = W^T dp_1
    fn backward_full(
        &self,
        xs: &[f64],
        h0: &[f64],
        hs: &[f64],
        dh: &[f64],
        g: &mut LayerGrad,
        dxs: &mut [f64],
    ) -> Vec<f64> {
        let h = self.h;
        let steps = hs.len() / h.max(1);
        let mut carry = vec![0.0; h]; // W^T dp_{t+1}
        for t in (0..steps).rev() {
            let sum: Vec<f64> = (0..h).map(|i| dh[t * h + i] + carry[i]).collect();
            let dp = self.through_tanh(&hs[t * h..(t + 1) * h], &sum);
            self.accumulate_step(t, xs, h0, hs, &dp, g, dxs);
            carry = self.back_through_w(&dp);
        }
        carry
    }

    /// The truncate3 mistake: each step's error dh_t goes back through at most
    /// TRUNCATE_TERMS steps (t, t-1, t-2): derivation.md's series cut after k = 3 terms.
    fn backward_truncated(
        &self,
        xs: &[f64],
        h0: &[f64],
        hs: &[f64],
        dh: &[f64],
        g: &mut LayerGrad,
        dxs: &mut [f64],
    ) -> Vec<f64> {
        let h = self.h;
        let steps = hs.len() / h.max(1);
        let mut dh0 = vec![0.0; h];
        for t in 0..steps {
            let mut up = dh[t * h..(t + 1) * h].to_vec();
            let last = (t + 1).saturating_sub(TRUNCATE_TERMS); // the earliest step reached
            for s in (last..=t).rev() {
                let dp = self.through_tanh(&hs[s * h..(s + 1) * h], &up);
                self.accumulate_step(s, xs, h0, hs, &dp, g, dxs);
                up = self.back_through_w(&dp); // the error reaching h_{s-1}
                if s == 0 {
                    for i in 0..h {
                        dh0[i] += up[i];
                    }
                }
            }
        }
        dh0
    }
}

// ---------------------------------------------------------------------------
// The output layer and the loss
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Loss {
    Sum,
    Mean,
    Last,
}

impl Loss {
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "sum" => Ok(Loss::Sum),
            "mean" => Ok(Loss::Mean),
            "last" => Ok(Loss::Last),
            _ => Err(format!("unknown loss {s}")),
        }
    }

    /// w_t of E = sum_t w_t E_t: 1 (sum), 1/T (mean), or 1 for the last step only.
    fn weight(self, t: usize, steps: usize) -> f64 {
        match self {
            Loss::Sum => 1.0,
            Loss::Mean => 1.0 / steps as f64,
            Loss::Last => {
                if t + 1 == steps {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

struct Net<'a> {
    layer: Layer<'a>,
    v: &'a [f64],  // (K, H)
    by: &'a [f64], // (K,)
    k: usize,
}

struct NetGrad {
    layer: LayerGrad,
    v: Vec<f64>,
    by: Vec<f64>,
}

impl<'a> Net<'a> {
    /// One sequence: returns (E, scale * dE/dh0) and accumulates scale * dE/dtheta in g.
    ///     q_t = V h_t + b_y,  yhat_t = softmax(q_t) (max logit subtracted),
    ///     E_t = logsumexp(q_t) - q_t[y_t],  dq_t = scale * w_t * (yhat_t - onehot(y_t)),
    ///     dV += dq_t h_t^T,  db_y += dq_t,  dh_t = V^T dq_t, then the layer's backward pass.
    fn sequence(
        &self,
        xs: &[f64],
        ys: &[usize],
        h0: &[f64],
        loss: Loss,
        scale: f64,
        g: &mut NetGrad,
    ) -> (f64, Vec<f64>) {
        let (h, d, k) = (self.layer.h, self.layer.d, self.k);
        let steps = ys.len();
        let hs = self.layer.forward(xs, h0, steps);
        let mut dh = vec![0.0; steps * h];
        let mut e = 0.0;
        for t in 0..steps {
            let ht = &hs[t * h..(t + 1) * h];
            let q: Vec<f64> = (0..k)
                .map(|c| self.by[c] + (0..h).map(|i| self.v[c * h + i] * ht[i]).sum::<f64>())
                .collect();
            let m = q.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let ex: Vec<f64> = q.iter().map(|qc| (qc - m).exp()).collect();
            let z: f64 = ex.iter().sum();
            let w = loss.weight(t, steps);
            e += w * (z.ln() - (q[ys[t]] - m)); // E_t = log z - (q_y - max q)
            if w == 0.0 {
                continue;
            }
            for c in 0..k {
                let onehot = if c == ys[t] { 1.0 } else { 0.0 };
                let dq = scale * w * (ex[c] / z - onehot);
                g.by[c] += dq;
                for i in 0..h {
                    g.v[c * h + i] += dq * ht[i];
                    dh[t * h + i] += self.v[c * h + i] * dq; // dh_t = V^T dq_t
                }
            }
        }
        let mut dxs = vec![0.0; steps * d];
        let dh0 = self.layer.backward(xs, h0, &hs, &dh, &mut g.layer, &mut dxs);
        (e, dh0)
    }
}

// ---------------------------------------------------------------------------
// The contracts
// ---------------------------------------------------------------------------

/// `sequence` (batched = false) and `batch` (batched = true).
fn run_sequence(req: &Request, batched: bool, bug: Bug) -> Result<Output, String> {
    let loss = Loss::parse(&req.loss)?;
    let layer = Layer::from_request(req, bug)?;
    let (h, d) = (layer.h, layer.d);
    let v = req.get("V", &[None, Some(h)])?;
    let k = v.dims[0];
    let by = req.get("b_y", &[Some(k)])?;
    let net = Net { layer, v: &v.values, by: &by.values, k };

    let xs = if batched {
        req.get("xs", &[None, None, Some(d)])?
    } else {
        req.get("xs", &[None, Some(d)])?
    };
    let (n, steps) = if batched { (xs.dims[0], xs.dims[1]) } else { (1, xs.dims[0]) };
    let (ys, h0) = if batched {
        (req.get("ys", &[Some(n), Some(steps)])?, req.get("h0", &[Some(n), Some(h)])?)
    } else {
        (req.get("ys", &[Some(steps)])?, req.get("h0", &[Some(h)])?)
    };
    if steps == 0 {
        return Err("T must be at least 1".into());
    }
    let classes = ys
        .values
        .iter()
        .map(|&y| {
            if y >= 0.0 && y < k as f64 && y == y.floor() {
                Ok(y as usize)
            } else {
                Err(format!("ys holds {y}, not a class index in 0..{}", k.saturating_sub(1)))
            }
        })
        .collect::<Result<Vec<usize>, String>>()?;
    let scale = match (batched, req.batch_loss.as_str()) {
        (false, _) | (true, "sum") => 1.0,
        (true, "mean") => 1.0 / n.max(1) as f64, // batch_loss mean: divide by N
        (true, other) => return Err(format!("unknown batch_loss {other}")),
    };

    let mut g = NetGrad { layer: LayerGrad::new(h, d), v: vec![0.0; k * h], by: vec![0.0; k] };
    let mut dh0 = Vec::with_capacity(n * h);
    let mut e = 0.0;
    for s in 0..n {
        let (es, dh0s) = net.sequence(
            &xs.values[s * steps * d..(s + 1) * steps * d],
            &classes[s * steps..(s + 1) * steps],
            &h0.values[s * h..(s + 1) * h],
            loss,
            scale,
            &mut g,
        );
        e += es;
        dh0.extend(dh0s);
    }
    let h0_dims = if batched { vec![n, h] } else { vec![h] };
    Ok(vec![
        ("U", vec![h, d], g.layer.u),
        ("W", vec![h, h], g.layer.w),
        ("V", vec![k, h], g.v),
        ("b_h", vec![h], g.layer.b),
        ("b_y", vec![k], g.by),
        ("h0", h0_dims, dh0),
        ("loss", vec![], vec![e * scale]),
    ])
}

/// `layer` (batched = false) and `batch-layer` (batched = true): L = sum_t dhs_t . h_t.
fn run_layer(req: &Request, batched: bool, bug: Bug) -> Result<Output, String> {
    let layer = Layer::from_request(req, bug)?;
    let (h, d) = (layer.h, layer.d);
    let xs = if batched {
        req.get("xs", &[None, None, Some(d)])?
    } else {
        req.get("xs", &[None, Some(d)])?
    };
    let (n, steps) = if batched { (xs.dims[0], xs.dims[1]) } else { (1, xs.dims[0]) };
    let (h0, dhs) = if batched {
        (req.get("h0", &[Some(n), Some(h)])?, req.get("dhs", &[Some(n), Some(steps), Some(h)])?)
    } else {
        (req.get("h0", &[Some(h)])?, req.get("dhs", &[Some(steps), Some(h)])?)
    };

    let mut g = LayerGrad::new(h, d);
    let (mut hs_all, mut dxs_all, mut dh0_all) = (Vec::new(), Vec::new(), Vec::new());
    let mut loss = 0.0;
    for s in 0..n {
        let x = &xs.values[s * steps * d..(s + 1) * steps * d];
        let h0s = &h0.values[s * h..(s + 1) * h];
        let dh = &dhs.values[s * steps * h..(s + 1) * steps * h];
        let hs = layer.forward(x, h0s, steps);
        loss += dh.iter().zip(&hs).map(|(a, b)| a * b).sum::<f64>(); // L = sum_t dhs_t . h_t
        let mut dxs = vec![0.0; steps * d];
        let dh0 = layer.backward(x, h0s, &hs, dh, &mut g, &mut dxs);
        hs_all.extend(hs);
        dxs_all.extend(dxs);
        dh0_all.extend(dh0);
    }
    let lead = |rest: Vec<usize>| if batched { [vec![n], rest].concat() } else { rest };
    Ok(vec![
        ("U", vec![h, d], g.u),
        ("W", vec![h, h], g.w),
        ("b_h", vec![h], g.b),
        ("xs", lead(vec![steps, d]), dxs_all),
        ("hs", lead(vec![steps, h]), hs_all),
        ("h0", lead(vec![h]), dh0_all),
        ("loss", vec![], vec![loss]),
    ])
}

fn run(req: &Request, bug: Bug) -> Result<Output, String> {
    match req.contract.as_str() {
        "sequence" => run_sequence(req, false, bug),
        "batch" => run_sequence(req, true, bug),
        "layer" => run_layer(req, false, bug),
        "batch-layer" => run_layer(req, true, bug),
        other => Err(format!("unknown contract {other}")),
    }
}

// ---------------------------------------------------------------------------
// Main loop
// ---------------------------------------------------------------------------

fn parse_args() -> Bug {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Bug::None,
        ["--bug", "W_not_transposed"] => Bug::WNotTransposed,
        ["--bug", "truncate3"] => Bug::Truncate3,
        ["--bug", "no_tanh_derivative"] => Bug::NoTanhDerivative,
        _ => {
            eprintln!("usage: worker [--bug W_not_transposed|truncate3|no_tanh_derivative]");
            std::process::exit(2);
        }
    }
}

/// Reads one line without its "\n" / "\r\n"; None at end of file.
fn read_line(input: &mut impl BufRead, line: &mut String) -> io::Result<bool> {
    line.clear();
    if input.read_line(line)? == 0 {
        return Ok(false);
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(true)
}

fn main() -> io::Result<()> {
    let bug = parse_args();
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut line = String::new();

    while read_line(&mut input, &mut line)? {
        // problem <id> <contract> <loss> <batch_loss> <dtype> <flags> <count>
        let header: Vec<&str> = line.split_ascii_whitespace().collect();
        if header.is_empty() {
            continue; // tolerate blank lines between requests
        }
        let count = match header.as_slice() {
            ["problem", _, _, _, _, _, _, count] => count.parse::<usize>().ok(),
            _ => None,
        };
        let Some(count) = count else {
            eprintln!("worker: ignoring unexpected line: {:.80}", line);
            continue;
        };
        // dtype (header[5]) and flags (header[6]) are not needed: we compute in f64.
        let mut req = Request {
            id: header[1].to_string(),
            contract: header[2].to_string(),
            loss: header[3].to_string(),
            batch_loss: header[4].to_string(),
            arrays: Vec::with_capacity(count),
        };
        let mut parse_error = None;
        for _ in 0..count {
            if !read_line(&mut input, &mut line)? {
                eprintln!("worker: end of input inside problem {}", req.id);
                std::process::exit(1);
            }
            match parse_array(&line) {
                Ok(a) => req.arrays.push(a),
                Err(e) => {
                    parse_error.get_or_insert(e);
                }
            }
        }
        let answer = match parse_error {
            Some(e) => Err(e),
            None => run(&req, bug),
        };
        match answer {
            Ok(arrays) => write_result(&mut out, &req.id, &arrays)?,
            Err(msg) => writeln!(out, "error {} {}", req.id, msg)?,
        }
        out.flush()?;
    }
    Ok(())
}
