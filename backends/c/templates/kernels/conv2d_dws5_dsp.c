#ifdef QCC_ARM_GEMM4
/* Arm DSP depthwise forms, part two (part one, the 3x3 rows and the loop state qcc_dwa:
 * conv2d_dws_dsp.c): the 5x5 rows, the plane of one channel, every channel of a conv. */
/* 5x5 rows in assembly, the same loop and requantization as the 3x3 rows; the weights do not
 * fit the registers: per kernel row an LDRD of (w0, w2), (w1, w3) and, every other row, an LDR
 * of the two rows' w4 (SMLAxB / SMLAxT pick the half). Per pair, per kernel row, from the
 * words at j (E, O) and j + 4 (b4..b7):
 *   stride 1: E' = (b4, b6), O' = (b5, b7); y_j += E.(w0, w2) + O.(w1, w3) + b4 * w4,
 *             y_j+1 += O.(w0, w2) + E.hi * w1 + b4 * w3 + b5 * w4 (16 instructions);
 *   stride 2: T = (b6, b4), T' = (b7, b5) (SXTB16 ror 16 / ror 24); y_j += E.(w0, w2) +
 *             O.(w1, w3) + b4 * w4, y_j+1 += (b2, b4).(w0, w2) + (b3, b5).(w1, w3) + b6 * w4,
 *             the pairs by PKHTB (17 instructions);
 * the first row's load post-increments r, the next rows' base p runs pw apart. */
/* The pieces of a kernel row: its loads (the first row's post-increments r by INC and starts
 * p one row below; the next rows read at p + OT, p + OO and step p unless last), its weights
 * (the row's LDRD at WOFF, w4 when WC loads it) and its taps (H: the half of wc holding the
 * row's w4). */
#define QCC_DW5_LD0(INC)                                                                     \
    "ldr %[t], [%[r], #4]\n\t"                                                               \
    "ldr %[o], [%[r]], #" INC "\n\t"                                                         \
    "add %[p], %[r], %[pw]\n\t"
#define QCC_DW5_LDN(OT, OO, STEP)                                                            \
    "ldr %[t], [%[p], #" OT "]\n\t"                                                          \
    "ldr %[o], [%[p], #" OO "]\n\t"                                                          \
    STEP
#define QCC_DW5_STEP "add %[p], %[p], %[pw]\n\t"
#define QCC_DW5_W(WOFF, WC) "ldrd %[wa], %[wb], [%[prm], #" WOFF "]\n\t" WC
#define QCC_DW5_WC(OFF) "ldr %[wc], [%[prm], #" OFF "]\n\t"
#define QCC_DW5_TAPS1(H)                                                                     \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "sxtb16 %[u], %[t], ror #8\n\t"                                                          \
    "sxtb16 %[t], %[t]\n\t"                                                                  \
    "smlad %[a0], %[e], %[wa], %[a0]\n\t"                                                    \
    "smlad %[a0], %[o], %[wb], %[a0]\n\t"                                                    \
    "smlab" H " %[a0], %[t], %[wc], %[a0]\n\t"                                               \
    "smlad %[a1], %[o], %[wa], %[a1]\n\t"                                                    \
    "smlatb %[a1], %[e], %[wb], %[a1]\n\t"                                                   \
    "smlabt %[a1], %[t], %[wb], %[a1]\n\t"                                                   \
    "smlab" H " %[a1], %[u], %[wc], %[a1]\n\t"
#define QCC_DW5_TAPS2(H)                                                                     \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "sxtb16 %[u], %[t], ror #24\n\t"                                                         \
    "sxtb16 %[t], %[t], ror #16\n\t"                                                         \
    "smlad %[a0], %[e], %[wa], %[a0]\n\t"                                                    \
    "smlad %[a0], %[o], %[wb], %[a0]\n\t"                                                    \
    "smlat" H " %[a0], %[t], %[wc], %[a0]\n\t"                                               \
    "pkhtb %[e], %[t], %[e], asr #16\n\t"                                                    \
    "pkhtb %[o], %[u], %[o], asr #16\n\t"                                                    \
    "smlad %[a1], %[e], %[wa], %[a1]\n\t"                                                    \
    "smlad %[a1], %[o], %[wb], %[a1]\n\t"                                                    \
    "smlab" H " %[a1], %[t], %[wc], %[a1]\n\t"

/* The five kernel rows of a pair: INC the first row's step, OT / OO the next rows' offsets,
 * TAPS the stride's taps. */
#define QCC_DW5_ROWS(INC, OT, OO, TAPS)                                                      \
    "1:\n\t"                                                                                 \
    "ldr %[a0], [%[prm], #12]\n\t"                                                           \
    "mov %[a1], %[a0]\n\t"                                                                   \
    QCC_DW5_LD0(INC) QCC_DW5_W("44", QCC_DW5_WC("84")) TAPS("b")                             \
    QCC_DW5_LDN(OT, OO, QCC_DW5_STEP) QCC_DW5_W("52", "") TAPS("t")                          \
    QCC_DW5_LDN(OT, OO, QCC_DW5_STEP) QCC_DW5_W("60", QCC_DW5_WC("88")) TAPS("b")            \
    QCC_DW5_LDN(OT, OO, QCC_DW5_STEP) QCC_DW5_W("68", "") TAPS("t")                          \
    QCC_DW5_LDN(OT, OO, "") QCC_DW5_W("76", QCC_DW5_WC("92")) TAPS("b")

#define QCC_DW5_S1(CLAMP) QCC_DW5_ROWS("2", "2", "-2", QCC_DW5_TAPS1) QCC_DWA_REQ(CLAMP)
#define QCC_DW5_S2(CLAMP) QCC_DW5_ROWS("4", "0", "-4", QCC_DW5_TAPS2) QCC_DWA_REQ(CLAMP)

#define QCC_DW5_OPERANDS                                                                     \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [e] "=&r"(e), [o] "=&r"(o), [t] "=&r"(t),            \
      [u] "=&r"(u), [p] "=&r"(pp), [wa] "=&r"(wa), [wb] "=&r"(wb), [wc] "=&r"(wc),          \
      [r] "+r"(r), [y] "+r"(y)                                                               \
    : [pw] "r"(pw), [prm] "r"(prm)                                                           \
    : "cc", "memory"

/* NAME(r, pw, prm, y, S, narrow): the pairs of the rows prm describes, 5x5, by the row
 * assembly S1 (stride 1) or S2 (stride 2), narrow the clamp; this form's and the two-row
 * form's (conv2d_dw5r2_dsp.c) */
#define QCC_DW5_ROW_FN(NAME, S1, S2)                                                           \
    __attribute__((always_inline)) static inline void                                          \
    NAME(const int8_t *r, int32_t pw, const qcc_dwa *prm, int8_t *y, const int S,              \
         const int narrow)                                                                     \
    {                                                                                          \
        register int32_t e __asm__("r8");                                                      \
        register int32_t o __asm__("r9");                                                      \
        register int32_t t __asm__("r10");                                                     \
        int32_t a0, a1, u, wa, wb, wc;                                                         \
        const int8_t *pp;                                                                      \
        if (S == 1 && narrow)                                                                  \
            __asm__ volatile(S1(QCC_DWA_CLAMP) QCC_DW5_OPERANDS);                              \
        else if (S == 1)                                                                       \
            __asm__ volatile(S1("") QCC_DW5_OPERANDS);                                         \
        else if (narrow)                                                                       \
            __asm__ volatile(S2(QCC_DWA_CLAMP) QCC_DW5_OPERANDS);                              \
        else                                                                                   \
            __asm__ volatile(S2("") QCC_DW5_OPERANDS);                                         \
    }
QCC_DW5_ROW_FN(qcc_dw5_row, QCC_DW5_S1, QCC_DW5_S2)

/* Packs a 5x5 kernel into prm->w5 (per row a word load: SXTB16 gives (w0, w2), (w1, w3));
 * returns the weights' sum (SMLAD with (1, 1) adds a pair's halves). Unrolled: no loop state
 * next to the channel loop's. */
static inline int32_t qcc_dw5_pack(const int8_t *wk, qcc_dwa *prm)
{
    int32_t sum = wk[24], w45, w23;
#define QCC_DW5_PACK_ROW(u)                                                                    \
    do {                                                                                       \
        const uint32_t v_ = qcc_ld32(wk + 5 * (u));                                           \
        const int32_t e_ = (int32_t)__sxtb16(v_), o_ = (int32_t)qcc_sxtb16_ror8(v_);          \
        prm->w5[2 * (u)] = e_, prm->w5[2 * (u) + 1] = o_;                                      \
        sum = __smlad(e_, 0x00010001, __smlad(o_, 0x00010001, sum));                           \
    } while (0)
    QCC_DW5_PACK_ROW(0);
    QCC_DW5_PACK_ROW(1);
    QCC_DW5_PACK_ROW(2);
    QCC_DW5_PACK_ROW(3);
    QCC_DW5_PACK_ROW(4);
#undef QCC_DW5_PACK_ROW
    w45 = (int32_t)QCC_DWS_PAIR(wk[4], wk[9]), w23 = (int32_t)QCC_DWS_PAIR(wk[14], wk[19]);
    prm->w5[10] = w45, prm->w5[11] = w23, prm->w5[12] = wk[24];
    return __smlad(w45, 0x00010001, __smlad(w23, 0x00010001, sum));
}

/* One 5x5 output whose window starts at r (stride 1 or 2: the same taps), weights in prm. */
__attribute__((always_inline)) static inline void
qcc_dw5_one(const int8_t *r, int32_t pw, const qcc_dwa *prm, const qcc_rqf *rq, int32_t lo,
            int32_t hi, const int narrow, int8_t *out)
{
    int32_t u, a = prm->init;
    for (u = 0; u < 5; u++, r += pw) {
        const uint32_t v = qcc_ld32(r);
        a = __smlad((int32_t)__sxtb16(v), prm->w5[2 * u], a);
        a = __smlad((int32_t)qcc_sxtb16_ror8(v), prm->w5[2 * u + 1], a);
        a = __smlabb(r[4], prm->w5[10 + u / 2] >> (16 * (u & 1)), a);  /* b4 * w4 */
    }
    QCC_RQF_FAST(a, rq->m, rq->c, rq->sh, narrow, lo, hi, *out);
}

/* A conv's plane geometry, the same for every channel (qcc_dws_geom). */
typedef struct {
    int32_t ow, oh, ow2, owe, full, rstep;  /* full: rows whose pairs the first call runs */
    size_t stop, rlast, ylast;              /* offsets of the first call's end, the last row */
} qcc_dwg;

static inline void qcc_dws_geom(const qcc_conv2d_p *p, int32_t pw, int32_t S, int32_t U,
                                qcc_dwg *g, qcc_dwa *prm)
{   /* U: outputs per pass (2: pairs, 4: the quad form); ow2, owe: ow rounded down, up to U */
    g->ow = p->ow, g->oh = p->oh, g->ow2 = p->ow & ~(U - 1), g->owe = (p->ow + U - 1) & ~(U - 1);
    g->full = g->ow == g->ow2 ? g->oh : g->oh - 1;
    g->rstep = p->sh * pw;  /* input bytes from one output row to the next */
    g->stop = g->full > 0 ? (size_t)(g->full - 1) * g->ow + g->owe : 0;
    g->rlast = (size_t)(g->oh - 1) * g->rstep, g->ylast = (size_t)(g->oh - 1) * g->ow;
    prm->rskip = g->rstep - S * g->owe, prm->back = g->owe - g->ow, prm->ow = g->ow;
    prm->rew = 5 * pw - 4 * S;
}

/* The assembly row loops out of line, one per kernel size, stride and clamp (each assembly
 * block once in the image; qcc_dwa_rows picks one by direct calls, which keeps the static
 * stack bound computable). */
#define QCC_DWA_FN(name, KW, S, N)                                                             \
    __attribute__((noinline, unused)) static void name(const int8_t *r, int32_t pw,            \
                                                       const qcc_dw3 *q, const qcc_dwa *prm,   \
                                                       int8_t *y)                              \
    {                                                                                          \
        if (KW == 3)                                                                           \
            qcc_dwa_row(r, pw, q, prm, y, S, N);                                               \
        else                                                                                   \
            qcc_dw5_row(r, pw, prm, y, S, N);                                                  \
    }
QCC_DWA_FN(qcc_dwa_3s1w, 3, 1, 0)
QCC_DWA_FN(qcc_dwa_3s1n, 3, 1, 1)
QCC_DWA_FN(qcc_dwa_3s2w, 3, 2, 0)
QCC_DWA_FN(qcc_dwa_3s2n, 3, 2, 1)
QCC_DWA_FN(qcc_dwa_5s1w, 5, 1, 0)
QCC_DWA_FN(qcc_dwa_5s1n, 5, 1, 1)
QCC_DWA_FN(qcc_dwa_5s2w, 5, 2, 0)
QCC_DWA_FN(qcc_dwa_5s2n, 5, 2, 1)

/* form: 4 * (kw == 5) + 2 * (stride 2) + narrow */
static inline void qcc_dwa_rows(int32_t form, const int8_t *r, int32_t pw, const qcc_dw3 *q,
                                const qcc_dwa *prm, int8_t *y)
{
    switch (form) {
    case 0: QCC_DWF_DO(1 << 0, qcc_dwa_3s1w(r, pw, q, prm, y)); break;
    case 1: QCC_DWF_DO(1 << 1, qcc_dwa_3s1n(r, pw, q, prm, y)); break;
    case 2: QCC_DWF_DO(1 << 2, qcc_dwa_3s2w(r, pw, q, prm, y)); break;
    case 3: QCC_DWF_DO(1 << 3, qcc_dwa_3s2n(r, pw, q, prm, y)); break;
    case 4: QCC_DWF_DO(1 << 4, qcc_dwa_5s1w(r, pw, q, prm, y)); break;
    case 5: QCC_DWF_DO(1 << 5, qcc_dwa_5s1n(r, pw, q, prm, y)); break;
    case 6: QCC_DWF_DO(1 << 6, qcc_dwa_5s2w(r, pw, q, prm, y)); break;
    default: QCC_DWF_DO(1 << 7, qcc_dwa_5s2n(r, pw, q, prm, y)); break;
    }
}

/* The plane of one output channel (KW x KW, horizontal stride S, the vertical one p->sh, any)
 * in at most two calls of the row loop (qcc_dwa_rows): the rows before the last run ceil(ow / 2) pairs
 * each and step from row to row inside the loop (an odd row's extra output lands on the next
 * row's first, which that row then writes; its input columns lie inside the padded row,
 * qcc_dwd_dims); the last row runs floor(ow / 2) pairs (nothing is written past the plane)
 * and its odd last output is computed in C, as are planes one output wide. prm: the
 * requantization, init, bounds and row steps set. */
static inline void qcc_dwa_plane(const qcc_dwg *g, const int8_t *pad, int32_t pw,
                                 const qcc_dw3 *q, qcc_dwa *prm, const qcc_rqf *rq, int32_t lo,
                                 int32_t hi, int8_t *restrict y, int32_t KW, int32_t S,
                                 int narrow, int32_t form)
{
    const int32_t init = prm->init;
    int32_t i;
#define QCC_DWA_ONE(rr, out)                                                                   \
    do {                                                                                       \
        if (KW == 3)                                                                           \
            qcc_dwa_one(rr, pw, q, rq, init, lo, hi, narrow, out);                             \
        else                                                                                   \
            qcc_dw5_one(rr, pw, prm, rq, lo, hi, narrow, out);                                 \
    } while (0)
    if (g->ow2 == 0) {  /* one output per row */
        for (i = 0; i < g->oh; i++)
            QCC_DWA_ONE(pad + (size_t)i * g->rstep, y + i);
        return;
    }
    if (g->full > 0) {
        prm->yend = y + g->owe;
        prm->stop = y + g->stop;
        qcc_dwa_rows(form, pad, pw, q, prm, y);
    }
    if (g->full < g->oh) {  /* the last row of an odd width */
        int8_t *yl = y + g->ylast;
        prm->yend = prm->stop = yl + g->ow2;
        qcc_dwa_rows(form, pad + g->rlast, pw, q, prm, yl);
        QCC_DWA_ONE(pad + g->rlast + S * g->ow2, yl + g->ow2);
    }
#undef QCC_DWA_ONE
}

/* The plane of one output channel by the 5x5 quad form (horizontal stride S, ow >= 4;
 * conv2d_dwq_dsp.c), as qcc_dwa_plane does it with pairs: the rows before the last run
 * ceil(ow / 4) quads each (an overrun of up to three outputs lands on the next row's first,
 * which that row then writes), the last row floor(ow / 4) quads and its last ow % 4 outputs
 * in C. g: the geometry for U = 4. */
static inline void qcc_dwq_rows(const int8_t *r, int32_t pw, const qcc_dwa *prm, int32_t S,
                                int narrow)
{   /* direct calls: the static stack bound stays computable */
    if (S == 1 && narrow)
        QCC_DWF_DO(QCC_DWF_Q5S1N, qcc_dw5q_n(r, pw, prm));
    else if (S == 1)
        QCC_DWF_DO(QCC_DWF_Q5S1W, qcc_dw5q_w(r, pw, prm));
    else
        QCC_DWF_DO(QCC_DWF_Q5S2, qcc_dw5q2(r, pw, prm));
}

static inline void qcc_dwq_plane(const qcc_dwg *g, const int8_t *pad, int32_t pw, qcc_dwa *prm,
                                 const qcc_rqf *rq, int32_t lo, int32_t hi, int8_t *restrict y,
                                 int32_t S, int narrow)
{
    int32_t j;
    if (g->full > 0) {
        prm->yend = y + g->owe;
        prm->stop = y + g->stop;
        prm->yq = y;
        qcc_dwq_rows(pad, pw, prm, S, narrow);
    }
    if (g->full < g->oh) {
        int8_t *yl = y + g->ylast;
        const int8_t *rl = pad + g->rlast;
        prm->yend = prm->stop = yl + g->ow2;
        prm->yq = yl;
        qcc_dwq_rows(rl, pw, prm, S, narrow);
        for (j = g->ow2; j < g->ow; j++)
            qcc_dw5_one(rl + S * j, pw, prm, rq, lo, hi, narrow, yl + j);
    }
}

{% include "kernels/conv2d_dw5r2_dsp.c" %}

/* The plane of one output channel by the 2x2 form (qcc_dw22_takes; conv2d_dw22_dsp.c): the
 * row pairs in one call, an odd last row by the pair loop (prm: its requantization, start
 * value and row steps set, d->w its weights). d: ow, rskip and bounds set. */
static inline void qcc_dw22_plane(const qcc_dwg *g, const int8_t *pad, int32_t pw, qcc_dw22 *d,
                                  qcc_dwa *prm, int8_t *restrict y, int narrow, int32_t form)
{
    d->y = y, d->yend = y + g->ow, d->stop = y + (size_t)((g->oh & ~1) - 1) * g->ow;
    if (narrow)
        QCC_DWF_DO(QCC_DWF_D22N, qcc_dw22_n(pad, pw, d));
    else
        QCC_DWF_DO(QCC_DWF_D22W, qcc_dw22_w(pad, pw, d));
    if (g->oh & 1) {
        int8_t *yl = y + g->ylast;
        prm->yend = prm->stop = yl + g->ow;
        qcc_dwa_rows(form, pad + g->rlast, pw, &d->w, prm, yl);
    }
}

/* Whether qcc_dws_conv takes conv p (square 3x3 or 5x5 kernels, horizontal stride 1 or 2,
 * any vertical stride). */
static inline int qcc_dws_takes(const qcc_conv2d_p *p)
{
    return p->kh == p->kw && (p->kw == 3 || p->kw == 5) && (p->sw == 1 || p->sw == 2);
}

/* The whole conv (qcc_dws_takes(j->p)): per input channel the plane fill (its geometry
 * computed once per call), per output channel the fast requantization straight from its shift
 * (qcc_rqf_init's terms: sh = s - 32, c = (1 + 2 zp) << (s - 33)), the packed weights and
 * their sum, then the plane; the channels' parameters read through cursors. Channels whose
 * shift the fast requantization does not take are left to the caller's table kernel (not
 * called from here: the static stack bound stays that of the deeper of the two); returns
 * whether there were any. */
__attribute__((always_inline)) static inline int qcc_dws_conv_k(const qcc_dwd_job *j,
                                                                const int mode)
{   /* mode: 0 the pair forms, 1 the 5x5 quads, 2 the 3x3 2x2 form, 3 the 5x5 two-row form */
    const int quad = mode == 1;
    const qcc_conv2d_p *p = j->p;
    const int32_t KW = p->kw, S = p->sw, narrow = p->lo > -128 || p->hi < 127;
    const int32_t form = 4 * (KW == 5) + 2 * (S == 2) + narrow;
    const int32_t mg = p->m / p->group, plane = p->oh * p->ow, xplane = p->h * p->w;
    const int32_t zp = p->x_zp, taps = KW * KW, lo = p->lo, hi = p->hi, y_zp = p->y_zp;
    const int32_t pw = j->pw, xw = p->w, nch = p->c * mg, pstep = p->per_channel ? 1 : 0;
    const int32_t smax = y_zp >= -128 && y_zp <= 128 ? 53 : 45;
    const uint32_t zp1 = 1u + 2u * (uint32_t)y_zp;
    const int32_t *mp = j->mult, *sp = j->shift, *bp = j->bias;
    const int8_t *x = j->x, *wk = j->w;
    int8_t *const pad = j->pad, *yo = j->y;
    int32_t b, oc, k = 0, slow = 0;
    qcc_dwa prm;
    qcc_dwg g;
    qcc_dw3 q;
    qcc_dwf f;
    qcc_dw22 d;
    prm.lo = (uint8_t)lo * 0x01010101u, prm.hi = (uint8_t)hi * 0x01010101u;
    d.lo = prm.lo, d.hi = prm.hi, d.ow = p->ow, d.rskip = 2 * pw - p->ow;
    qcc_dws_geom(p, pw, S, quad ? 4 : 2, &g, &prm);
    qcc_dwd_fill_geom(p, j->ph, pw, &f);
    for (b = 0; b < p->n; b++, mp = j->mult, sp = j->shift, bp = j->bias, wk = j->w)
        for (oc = 0; oc < nch; oc++, yo += plane, wk += taps, mp += pstep, sp += pstep) {
            const int32_t s = *sp, b0 = bp ? *bp++ : 0;
            qcc_rqf rq;
            if (k-- == 0) {  /* the next input channel's plane */
                if (f.rows)
                    qcc_dwd_rows(x + f.soff, xw, pad + f.doff, pw, f.rows, f.n);
                x += xplane, k = mg - 1;
            }
            if (s < 33 || s > smax) {
                slow = 1;
                continue;
            }
            rq.m = prm.m = *mp, rq.sh = prm.sh = s - 32;
            rq.c = prm.c = (int32_t)(zp1 << (s - 33));
            if (mode == 2) {
                d.m = prm.m, d.c = prm.c, d.sh = prm.sh;
                d.init[0] = d.init[1] = d.init[2] = d.init[3] = prm.init =
                    b0 - zp * qcc_dw3_pack(wk, &d.w);
                qcc_dw22_plane(&g, pad, pw, &d, &prm, yo, narrow, form);
                continue;
            }
            if (mode == 3) {
                qcc_dw5r2_plane(p, &g, pad, pw, wk, b0, &prm, &rq, yo, S, narrow);
                continue;
            }
            if (KW == 3)
                prm.init = b0 - zp * qcc_dw3_pack(wk, &q);
            else
                prm.init = b0 - zp * qcc_dw5_pack(wk, &prm);
            if (quad)
                qcc_dwq_plane(&g, pad, pw, &prm, &rq, lo, hi, yo, S, narrow);
            else
                qcc_dwa_plane(&g, pad, pw, &q, &prm, &rq, lo, hi, yo, KW, S, narrow, form);
        }
    return slow;
}

/* The pair forms, the 5x5 quad form (qcc_dws_quad), the 3x3 2x2 form (qcc_dw22_takes) and the
 * 5x5 two-row form (qcc_dw5r2_takes):
 * one function each, so that each channel loop is compiled without the others' branches (the
 * quads cost the pair forms 12-20 instructions per channel in register moves when both shared
 * one loop). */
__attribute__((noinline, unused)) static int qcc_dws_conv(const qcc_dwd_job *j)
{
    return qcc_dws_conv_k(j, 0);
}

__attribute__((noinline, unused)) static int qcc_dws_convq(const qcc_dwd_job *j)
{
    return qcc_dws_conv_k(j, 1);
}

__attribute__((noinline, unused)) static int qcc_dws_conv22(const qcc_dwd_job *j)
{
    return qcc_dws_conv_k(j, 2);
}

__attribute__((noinline, unused)) static int qcc_dws_conv5r2(const qcc_dwd_job *j)
{
    return qcc_dws_conv_k(j, 3);
}

/* Whether conv p takes the 5x5 quad form (qcc_dws_takes(p) holds). */
static inline int qcc_dws_quad(const qcc_conv2d_p *p)
{
    return p->kw == 5 && qcc_dw5q_takes(p->ow, p->sw);
}

/* Whether the image holds the form conv p takes (qcc_dws_takes(p) holds; QCC_DW_FORMS): the
 * two-row form, the quad, or the 2x2 form and, for an odd last row, its pair form, or the pair form. */
static inline int qcc_dws_have(const qcc_conv2d_p *p)
{
    const int32_t narrow = p->lo > -128 || p->hi < 127;
    const int32_t pair = 1 << (4 * (p->kw == 5) + 2 * (p->sw == 2) + narrow);
    if (qcc_dw5r2_takes(p))
        return (QCC_DW_FORMS & (p->sw == 2 ? (narrow ? QCC_DWF_R2S2N : QCC_DWF_R2S2W)
                                           : (narrow ? QCC_DWF_R2S1N : QCC_DWF_R2S1W))) != 0;
    if (qcc_dws_quad(p))
        return (QCC_DW_FORMS & (p->sw == 2 ? QCC_DWF_Q5S2 : narrow ? QCC_DWF_Q5S1N : QCC_DWF_Q5S1W))
               != 0;
    if (qcc_dw22_takes(p))
        return (QCC_DW_FORMS & (narrow ? QCC_DWF_D22N : QCC_DWF_D22W)) != 0
               && ((p->oh & 1) == 0 || (QCC_DW_FORMS & pair) != 0);
    return (QCC_DW_FORMS & pair) != 0;
}
#endif
