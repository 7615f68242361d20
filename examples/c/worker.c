/* Build: cc -O2 -std=c99 -o examples/c/worker examples/c/worker.c -lm
 *
 * A gradcheck worker (docs/worker-protocol.md, version 1) for the vanilla RNN
 * of docs/derivation.md:
 *
 *     p_t = U x_t + W h_{t-1} + b_h,   h_t = tanh(p_t)        (t = 1..T, h_0 = h0)
 *     q_t = V h_t + b_y,               yhat_t = softmax(q_t)
 *     E_t = -log yhat_t[ys[t]],        E = sum_t w_t E_t
 *
 * Contracts: sequence, batch, layer, batch-layer.  Everything is computed in
 * double whatever the declared dtype; the flags are accepted and ignored.
 *
 * Usage: worker [--bug W_not_transposed | truncate3 | no_tanh_derivative]
 * The --bug flag plants a known mistake (for testing gradcheck's diagnosis).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Planted mistakes                                                          */
/* ------------------------------------------------------------------------ */

enum bug { BUG_NONE, BUG_W_NOT_TRANSPOSED, BUG_TRUNCATE3, BUG_NO_TANH_DERIVATIVE };
static enum bug g_bug = BUG_NONE;
#define TRUNCATE_TERMS 3 /* truncate3: the series for each E_t keeps k = 3 terms */

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "worker: out of memory\n");
        exit(3);
    }
    return p;
}

static double *zeros(long n) { return xcalloc((size_t)n, sizeof(double)); }

/* Message of the current request's error, answered as "error <id> <msg>". */
static char g_err[512];

static int fail(const char *msg, const char *name)
{
    if (!g_err[0])
        snprintf(g_err, sizeof g_err, "%s%s%s", msg, name ? " " : "", name ? name : "");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Reading: whole lines with a growing buffer                                */
/* ------------------------------------------------------------------------ */

/* Reads one line (without "\n" or "\r\n") into *buf; returns 0 at end of file. */
static int read_line(FILE *in, char **buf, size_t *cap)
{
    size_t len = 0;
    int c;
    if (!*buf) {
        *cap = 1 << 16;
        *buf = xcalloc(*cap, 1);
    }
    while ((c = getc(in)) != EOF && c != '\n') {
        if (len + 1 >= *cap) {
            char *bigger = realloc(*buf, *cap * 2);
            if (!bigger) {
                fprintf(stderr, "worker: out of memory reading a line\n");
                exit(3);
            }
            *buf = bigger;
            *cap *= 2;
        }
        (*buf)[len++] = (char)c;
    }
    if (c == EOF && len == 0)
        return 0;
    if (len > 0 && (*buf)[len - 1] == '\r')
        len--;
    (*buf)[len] = '\0';
    return 1;
}

/* Returns the next space-separated token of *cursor (NUL-terminated in place), or NULL. */
static char *next_token(char **cursor)
{
    char *p = *cursor, *start;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p) {
        *cursor = p;
        return NULL;
    }
    start = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    if (*p)
        *p++ = '\0';
    *cursor = p;
    return start;
}

static int parse_long(const char *tok, long *out)
{
    char *end;
    if (!tok)
        return 0;
    *out = strtol(tok, &end, 10);
    return *end == '\0' && end != tok;
}

static int parse_double(const char *tok, double *out)
{
    char *end;
    if (!tok)
        return 0;
    *out = strtod(tok, &end);
    return *end == '\0' && end != tok;
}

/* ------------------------------------------------------------------------ */
/* Arrays of a request                                                       */
/* ------------------------------------------------------------------------ */

#define MAX_NDIM 8
#define MAX_ARRAYS 32

typedef struct {
    char name[64];
    int ndim;
    long dims[MAX_NDIM];
    long n;    /* number of values: the product of dims */
    double *v; /* the values, row-major */
} Array;

typedef struct {
    char id[64];
    char contract[32];
    char loss[16];
    char batch_loss[16];
    int count;
    Array arrays[MAX_ARRAYS];
} Request;

/* "<name> <ndim> <dim_1> ... <dim_ndim> <value_1> ... <value_n>" */
static int parse_array(char *line, Array *a)
{
    char *cur = line, *tok = next_token(&cur);
    long ndim, i;
    if (!tok)
        return fail("empty array line", NULL);
    if (strlen(tok) >= sizeof a->name)
        return fail("array name too long:", tok);
    strcpy(a->name, tok);
    if (!parse_long(next_token(&cur), &ndim) || ndim < 0 || ndim > MAX_NDIM)
        return fail("bad ndim for array", a->name);
    a->ndim = (int)ndim;
    a->n = 1;
    for (i = 0; i < ndim; i++) {
        if (!parse_long(next_token(&cur), &a->dims[i]) || a->dims[i] < 0)
            return fail("bad dimension for array", a->name);
        a->n *= a->dims[i];
    }
    a->v = zeros(a->n);
    for (i = 0; i < a->n; i++)
        if (!parse_double(next_token(&cur), &a->v[i]))
            return fail("missing or bad value in array", a->name);
    if (next_token(&cur))
        return fail("too many values in array", a->name);
    return 1;
}

/* Parses the header fields; the array lines are read by read_request. */
static int parse_header(char *line, Request *r)
{
    char *cur = line, *tok = next_token(&cur);
    char *fields[7];
    long count;
    int i;
    if (!tok || strcmp(tok, "problem") != 0)
        return 0;
    for (i = 0; i < 7; i++)
        fields[i] = next_token(&cur);
    if (!fields[6] || !parse_long(fields[6], &count) || count < 0)
        return 0;
    snprintf(r->id, sizeof r->id, "%s", fields[0]);
    snprintf(r->contract, sizeof r->contract, "%s", fields[1]);
    snprintf(r->loss, sizeof r->loss, "%s", fields[2]);
    snprintf(r->batch_loss, sizeof r->batch_loss, "%s", fields[3]);
    /* fields[4] is the dtype and fields[5] the flags: we compute in double and
       need neither. */
    r->count = (int)count;
    return 1;
}

static void free_request(Request *r)
{
    int i;
    for (i = 0; i < MAX_ARRAYS; i++) {
        free(r->arrays[i].v);
        r->arrays[i].v = NULL;
    }
}

/* Finds array `name` and checks its shape; a dimension of -1 matches any size. */
static const Array *need(const Request *r, const char *name, int ndim, const long *dims)
{
    int i, k;
    for (i = 0; i < r->count && i < MAX_ARRAYS; i++) {
        const Array *a = &r->arrays[i];
        if (strcmp(a->name, name) != 0)
            continue;
        if (a->ndim != ndim) {
            fail("wrong number of dimensions for", name);
            return NULL;
        }
        for (k = 0; k < ndim; k++)
            if (dims[k] >= 0 && a->dims[k] != dims[k]) {
                fail("wrong shape for", name);
                return NULL;
            }
        return a;
    }
    fail("missing array", name);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */
/* ------------------------------------------------------------------------ */

/* "<name> <ndim> <dims...> <values...>", every value with %.17g (exact round trip). */
static void print_array(const char *name, int ndim, const long *dims, const double *v)
{
    long n = 1, i;
    int k;
    printf("%s %d", name, ndim);
    for (k = 0; k < ndim; k++) {
        printf(" %ld", dims[k]);
        n *= dims[k];
    }
    for (i = 0; i < n; i++)
        printf(" %.17g", v[i]);
    putchar('\n');
}

/* ------------------------------------------------------------------------ */
/* The recurrent layer                                                       */
/* ------------------------------------------------------------------------ */

typedef struct {
    const double *U; /* (H, D) */
    const double *W; /* (H, H) */
    const double *b; /* (H,)   b_h */
    long H, D;
} Layer;

/* Gradients of the layer's parameters, accumulated over sequences. */
typedef struct {
    double *U, *W, *b;
} LayerGrad;

/* Forward pass: p_t = U x_t + W h_{t-1} + b_h, h_t = tanh(p_t); hs is (T, H). */
static void layer_forward(const Layer *L, long T, const double *xs, const double *h0,
                          double *hs)
{
    long t, i, j, H = L->H, D = L->D;
    for (t = 0; t < T; t++) {
        const double *x = xs + t * D;
        const double *hprev = t > 0 ? hs + (t - 1) * H : h0;
        for (i = 0; i < H; i++) {
            double p = L->b[i];
            for (j = 0; j < D; j++)
                p += L->U[i * D + j] * x[j];
            for (j = 0; j < H; j++)
                p += L->W[i * H + j] * hprev[j];
            hs[t * H + i] = tanh(p);
        }
    }
}

/* out = W^T v (the correct backward step), or W v with the W_not_transposed bug. */
static void back_through_W(const Layer *L, const double *v, double *out)
{
    long i, j, H = L->H;
    for (j = 0; j < H; j++)
        out[j] = 0.0;
    for (i = 0; i < H; i++)
        for (j = 0; j < H; j++) {
            if (g_bug == BUG_W_NOT_TRANSPOSED)
                out[i] += L->W[i * H + j] * v[j]; /* (W v)_i: the planted mistake */
            else
                out[j] += L->W[i * H + j] * v[i]; /* (W^T v)_j */
        }
}

/* dp = (1 - h^2) * g, the tanh derivative (dropped with no_tanh_derivative). */
static void through_tanh(long H, const double *h, const double *g, double *dp)
{
    long i;
    for (i = 0; i < H; i++)
        dp[i] = g_bug == BUG_NO_TANH_DERIVATIVE ? g[i] : (1.0 - h[i] * h[i]) * g[i];
}

/* Given dp_t at step t: dU += dp_t x_t^T, dW += dp_t h_{t-1}^T, db_h += dp_t,
   dx_t += U^T dp_t. */
static void accumulate_step(const Layer *L, long t, const double *xs, const double *h0,
                            const double *hs, const double *dp, LayerGrad *g, double *dxs)
{
    long i, j, H = L->H, D = L->D;
    const double *x = xs + t * D;
    const double *hprev = t > 0 ? hs + (t - 1) * H : h0;
    for (i = 0; i < H; i++) {
        for (j = 0; j < D; j++)
            g->U[i * D + j] += dp[i] * x[j];
        for (j = 0; j < H; j++)
            g->W[i * H + j] += dp[i] * hprev[j];
        g->b[i] += dp[i];
        for (j = 0; j < D; j++)
            dxs[t * D + j] += L->U[i * D + j] * dp[i];
    }
}

/* Backward pass with the full recursion, given dh (T, H) = dLoss/dh_t from above:
 *     dp_t = (1 - h_t^2) * (dh_t + W^T dp_{t+1}),   dp_{T+1} = 0
 *     dh0  = W^T dp_1
 * Accumulates into g and dxs (T, D); writes dh0 (H). */
static void layer_backward_full(const Layer *L, long T, const double *xs, const double *h0,
                                const double *hs, const double *dh, LayerGrad *g,
                                double *dxs, double *dh0)
{
    long t, i, H = L->H;
    double *carry = zeros(H); /* W^T dp_{t+1} */
    double *sum = zeros(H), *dp = zeros(H);
    for (t = T - 1; t >= 0; t--) {
        for (i = 0; i < H; i++)
            sum[i] = dh[t * H + i] + carry[i];
        through_tanh(H, hs + t * H, sum, dp);
        accumulate_step(L, t, xs, h0, hs, dp, g, dxs);
        back_through_W(L, dp, carry);
    }
    memcpy(dh0, carry, (size_t)H * sizeof(double));
    free(carry);
    free(sum);
    free(dp);
}

/* The truncate3 mistake: the error dh_t of each step is propagated back through at
 * most TRUNCATE_TERMS steps (t, t-1, t-2), i.e. the series for dh_t/dW of
 * derivation.md cut after k = 3 terms.  dh0 receives only what reaches step 1. */
static void layer_backward_truncated(const Layer *L, long T, const double *xs,
                                     const double *h0, const double *hs, const double *dh,
                                     LayerGrad *g, double *dxs, double *dh0)
{
    long t, s, H = L->H;
    double *up = zeros(H), *dp = zeros(H);
    memset(dh0, 0, (size_t)H * sizeof(double));
    for (t = 0; t < T; t++) {
        memcpy(up, dh + t * H, (size_t)H * sizeof(double));
        for (s = t; s >= 0 && s > t - TRUNCATE_TERMS; s--) {
            through_tanh(H, hs + s * H, up, dp); /* dp_s = (1 - h_s^2) * up */
            accumulate_step(L, s, xs, h0, hs, dp, g, dxs);
            back_through_W(L, dp, up); /* up = W^T dp_s, the error reaching h_{s-1} */
            if (s == 0) {
                long i;
                for (i = 0; i < H; i++)
                    dh0[i] += up[i];
            }
        }
    }
    free(up);
    free(dp);
}

static void layer_backward(const Layer *L, long T, const double *xs, const double *h0,
                           const double *hs, const double *dh, LayerGrad *g, double *dxs,
                           double *dh0)
{
    if (g_bug == BUG_TRUNCATE3)
        layer_backward_truncated(L, T, xs, h0, hs, dh, g, dxs, dh0);
    else
        layer_backward_full(L, T, xs, h0, hs, dh, g, dxs, dh0);
}

/* ------------------------------------------------------------------------ */
/* The output layer and the loss                                             */
/* ------------------------------------------------------------------------ */

typedef struct {
    Layer layer;
    const double *V;  /* (K, H) */
    const double *by; /* (K,) */
    long K;
} Net;

typedef struct {
    LayerGrad layer;
    double *V, *by;
} NetGrad;

enum loss_kind { LOSS_SUM, LOSS_MEAN, LOSS_LAST };

/* w_t of E = sum_t w_t E_t: 1 (sum), 1/T (mean), or 1 for the last step only. */
static double step_weight(enum loss_kind kind, long t, long T)
{
    if (kind == LOSS_MEAN)
        return 1.0 / (double)T;
    if (kind == LOSS_LAST)
        return t == T - 1 ? 1.0 : 0.0;
    return 1.0;
}

/* One sequence: returns E, accumulates scale * dE/dtheta into g and writes
 * scale * dE/dh0 into dh0.
 *     q_t = V h_t + b_y, yhat_t = softmax(q_t) (max logit subtracted),
 *     E_t = logsumexp(q_t) - q_t[y_t],
 *     dq_t = scale * w_t * (yhat_t - onehot(y_t)),
 *     dV += dq_t h_t^T, db_y += dq_t, dh_t = V^T dq_t, then the layer's backward pass. */
static double sequence_gradients(const Net *net, long T, const double *xs, const long *ys,
                                 const double *h0, enum loss_kind kind, double scale,
                                 NetGrad *g, double *dh0)
{
    long t, k, i, H = net->layer.H, K = net->K, D = net->layer.D;
    double *hs = zeros(T * H), *dh = zeros(T * H), *dxs = zeros(T * D);
    double *q = zeros(K), *e = zeros(K);
    double E = 0.0;
    layer_forward(&net->layer, T, xs, h0, hs);
    for (t = 0; t < T; t++) {
        const double *h = hs + t * H;
        double w = step_weight(kind, t, T), m = -HUGE_VAL, z = 0.0;
        for (k = 0; k < K; k++) {
            q[k] = net->by[k]; /* q_t = V h_t + b_y */
            for (i = 0; i < H; i++)
                q[k] += net->V[k * H + i] * h[i];
            if (q[k] > m)
                m = q[k];
        }
        for (k = 0; k < K; k++) {
            e[k] = exp(q[k] - m); /* stable softmax: exp(q_k - max q) */
            z += e[k];
        }
        /* E_t = -log yhat_t[y] = log z - (q_y - m), without underflow */
        E += w * (log(z) - (q[ys[t]] - m));
        if (w == 0.0)
            continue;
        for (k = 0; k < K; k++) {
            double dq = scale * w * (e[k] / z - (k == ys[t] ? 1.0 : 0.0));
            g->by[k] += dq;
            for (i = 0; i < H; i++) {
                g->V[k * H + i] += dq * h[i];
                dh[t * H + i] += net->V[k * H + i] * dq; /* dh_t = V^T dq_t */
            }
        }
    }
    layer_backward(&net->layer, T, xs, h0, hs, dh, &g->layer, dxs, dh0);
    free(hs);
    free(dh);
    free(dxs);
    free(q);
    free(e);
    return E;
}

/* ------------------------------------------------------------------------ */
/* The contracts                                                             */
/* ------------------------------------------------------------------------ */

static int parse_loss(const char *s, enum loss_kind *out)
{
    if (strcmp(s, "sum") == 0)
        *out = LOSS_SUM;
    else if (strcmp(s, "mean") == 0)
        *out = LOSS_MEAN;
    else if (strcmp(s, "last") == 0)
        *out = LOSS_LAST;
    else
        return fail("unknown loss", s);
    return 1;
}

/* Reads U (H, D) and W (H, H) and b_h (H,) into a Layer. */
static int get_layer(const Request *r, Layer *L)
{
    long any2[2] = {-1, -1}, dims[2];
    const Array *U = need(r, "U", 2, any2), *W, *b;
    if (!U)
        return 0;
    L->H = U->dims[0];
    L->D = U->dims[1];
    dims[0] = dims[1] = L->H;
    if (!(W = need(r, "W", 2, dims)) || !(b = need(r, "b_h", 1, dims)))
        return 0;
    L->U = U->v;
    L->W = W->v;
    L->b = b->v;
    return 1;
}

/* Converts ys to class indices, checking 0 <= y < K. */
static long *get_classes(const Array *ys, long K)
{
    long i, *out = xcalloc((size_t)(ys->n ? ys->n : 1), sizeof(long));
    for (i = 0; i < ys->n; i++) {
        double y = ys->v[i];
        if (!(y >= 0 && y < (double)K) || y != floor(y)) {
            free(out);
            fail("ys holds a value that is not a class index in 0..K-1", NULL);
            return NULL;
        }
        out[i] = (long)y;
    }
    return out;
}

/* sequence (batched = 0) and batch (batched = 1). */
static int run_sequence(const Request *r, int batched)
{
    Net net;
    NetGrad g;
    enum loss_kind kind;
    const Array *V, *by, *xs, *ys, *h0;
    long dims[3], H, D, K, T, N, n, *cls;
    double E = 0.0, scale = 1.0, *dh0;

    if (!parse_loss(r->loss, &kind) || !get_layer(r, &net.layer))
        return 0;
    H = net.layer.H;
    D = net.layer.D;
    dims[0] = -1, dims[1] = H;
    if (!(V = need(r, "V", 2, dims)))
        return 0;
    K = net.K = V->dims[0];
    dims[0] = K;
    if (!(by = need(r, "b_y", 1, dims)))
        return 0;
    net.V = V->v;
    net.by = by->v;

    dims[0] = -1, dims[1] = batched ? -1 : D, dims[2] = D;
    if (!(xs = need(r, "xs", batched ? 3 : 2, dims)))
        return 0;
    N = batched ? xs->dims[0] : 1;
    T = batched ? xs->dims[1] : xs->dims[0];
    dims[0] = batched ? N : T, dims[1] = T;
    if (!(ys = need(r, "ys", batched ? 2 : 1, dims)))
        return 0;
    dims[0] = batched ? N : H, dims[1] = H;
    if (!(h0 = need(r, "h0", batched ? 2 : 1, dims)))
        return 0;
    if (T < 1)
        return fail("T must be at least 1", NULL);
    if (batched && strcmp(r->batch_loss, "mean") == 0)
        scale = N > 0 ? 1.0 / (double)N : 1.0; /* batch_loss mean: divide by N */
    else if (batched && strcmp(r->batch_loss, "sum") != 0)
        return fail("unknown batch_loss", r->batch_loss);
    if (!(cls = get_classes(ys, K)))
        return 0;

    g.layer.U = zeros(H * D), g.layer.W = zeros(H * H), g.layer.b = zeros(H);
    g.V = zeros(K * H), g.by = zeros(K);
    dh0 = zeros(N * H);
    for (n = 0; n < N; n++)
        E += sequence_gradients(&net, T, xs->v + n * T * D, cls + n * T, h0->v + n * H,
                                kind, scale, &g, dh0 + n * H);
    E *= scale;

    printf("result %s 7\n", r->id);
    dims[0] = H, dims[1] = D;
    print_array("U", 2, dims, g.layer.U);
    dims[1] = H;
    print_array("W", 2, dims, g.layer.W);
    dims[0] = K;
    print_array("V", 2, dims, g.V);
    dims[0] = H;
    print_array("b_h", 1, dims, g.layer.b);
    dims[0] = K;
    print_array("b_y", 1, dims, g.by);
    dims[0] = N, dims[1] = H;
    print_array("h0", batched ? 2 : 1, batched ? dims : dims + 1, dh0);
    print_array("loss", 0, dims, &E);

    free(g.layer.U), free(g.layer.W), free(g.layer.b), free(g.V), free(g.by);
    free(dh0);
    free(cls);
    return 1;
}

/* layer (batched = 0) and batch-layer (batched = 1): L = sum_t dhs_t . h_t. */
static int run_layer(const Request *r, int batched)
{
    Layer L;
    LayerGrad g;
    const Array *xs, *h0, *dhs;
    long dims[3], H, D, T, N, n, i;
    double loss = 0.0, *hs, *dxs, *dh0;

    if (!get_layer(r, &L))
        return 0;
    H = L.H;
    D = L.D;
    dims[0] = -1, dims[1] = batched ? -1 : D, dims[2] = D;
    if (!(xs = need(r, "xs", batched ? 3 : 2, dims)))
        return 0;
    N = batched ? xs->dims[0] : 1;
    T = batched ? xs->dims[1] : xs->dims[0];
    dims[0] = batched ? N : H, dims[1] = H;
    if (!(h0 = need(r, "h0", batched ? 2 : 1, dims)))
        return 0;
    dims[0] = batched ? N : T, dims[1] = batched ? T : H, dims[2] = H;
    if (!(dhs = need(r, "dhs", batched ? 3 : 2, dims)))
        return 0;

    g.U = zeros(H * D), g.W = zeros(H * H), g.b = zeros(H);
    hs = zeros(N * T * H), dxs = zeros(N * T * D), dh0 = zeros(N * H);
    for (n = 0; n < N; n++) {
        double *hs_n = hs + n * T * H;
        const double *dhs_n = dhs->v + n * T * H;
        layer_forward(&L, T, xs->v + n * T * D, h0->v + n * H, hs_n);
        for (i = 0; i < T * H; i++)
            loss += dhs_n[i] * hs_n[i]; /* L = sum_t dhs_t . h_t */
        layer_backward(&L, T, xs->v + n * T * D, h0->v + n * H, hs_n, dhs_n, &g,
                       dxs + n * T * D, dh0 + n * H);
    }

    printf("result %s 7\n", r->id);
    dims[0] = H, dims[1] = D;
    print_array("U", 2, dims, g.U);
    dims[1] = H;
    print_array("W", 2, dims, g.W);
    print_array("b_h", 1, dims, g.b);
    dims[0] = N, dims[1] = T, dims[2] = D;
    print_array("xs", batched ? 3 : 2, batched ? dims : dims + 1, dxs);
    dims[2] = H;
    print_array("hs", batched ? 3 : 2, batched ? dims : dims + 1, hs);
    dims[1] = H;
    print_array("h0", batched ? 2 : 1, batched ? dims : dims + 1, dh0);
    print_array("loss", 0, dims, &loss);

    free(g.U), free(g.W), free(g.b);
    free(hs), free(dxs), free(dh0);
    return 1;
}

/* Answers one request: a result, or "error <id> <message>". */
static void answer(const Request *r)
{
    int ok;
    if (g_err[0]) /* an array line could not be parsed */
        ok = 0;
    else if (strcmp(r->contract, "sequence") == 0)
        ok = run_sequence(r, 0);
    else if (strcmp(r->contract, "batch") == 0)
        ok = run_sequence(r, 1);
    else if (strcmp(r->contract, "layer") == 0)
        ok = run_layer(r, 0);
    else if (strcmp(r->contract, "batch-layer") == 0)
        ok = run_layer(r, 1);
    else
        ok = fail("unknown contract", r->contract);
    if (!ok)
        printf("error %s %s\n", r->id, g_err);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Main loop                                                                 */
/* ------------------------------------------------------------------------ */

static void parse_args(int argc, char **argv)
{
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bug") == 0 && i + 1 < argc) {
            const char *name = argv[++i];
            if (strcmp(name, "W_not_transposed") == 0)
                g_bug = BUG_W_NOT_TRANSPOSED;
            else if (strcmp(name, "truncate3") == 0)
                g_bug = BUG_TRUNCATE3;
            else if (strcmp(name, "no_tanh_derivative") == 0)
                g_bug = BUG_NO_TANH_DERIVATIVE;
            else {
                fprintf(stderr, "worker: unknown bug '%s' (W_not_transposed, truncate3, "
                                "no_tanh_derivative)\n", name);
                exit(2);
            }
        } else {
            fprintf(stderr, "usage: %s [--bug W_not_transposed|truncate3|"
                            "no_tanh_derivative]\n", argv[0]);
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    char *line = NULL;
    size_t cap = 0;
    static Request req;

    parse_args(argc, argv);
    while (read_line(stdin, &line, &cap)) {
        int i;
        if (line[strspn(line, " \t")] == '\0')
            continue; /* tolerate blank lines between requests */
        memset(&req, 0, sizeof req);
        g_err[0] = '\0';
        if (!parse_header(line, &req)) {
            fprintf(stderr, "worker: ignoring unexpected line: %.80s\n", line);
            continue;
        }
        for (i = 0; i < req.count; i++) {
            if (!read_line(stdin, &line, &cap)) {
                fprintf(stderr, "worker: end of input inside problem %s\n", req.id);
                return 1;
            }
            if (i < MAX_ARRAYS)
                parse_array(line, &req.arrays[i]);
            else
                fail("too many arrays", NULL);
        }
        answer(&req);
        free_request(&req);
    }
    free(line);
    return 0;
}
