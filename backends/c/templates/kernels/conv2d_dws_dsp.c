#ifdef QCC_ARM_GEMM4 /* DSP without Helium (qcc_sxtb16_ror8); M55 builds take conv2d_dw_mve.c */
/* Arm DSP depthwise forms with the weights in registers (3x3 and 5x5 kernels, strides 1 and
 * 2), over the padded int8 plane of qcc_conv2d_dwd (same layout: qcc_dwd_dims, the raw zero
 * point in the padding and folded into the start value init = bias - zp * sum(w)). A word
 * load of four inputs b0..b3 gives E = (b0, b2) and O = (b1, b3) (SXTB16, SXTB16 ror 8);
 * per kernel row:
 *   - 3 wide, stride 1, outputs j and j + 1 from one word at j:
 *       y_j += E.(w0, w2) + O.lo * w1,   y_j+1 += O.(w0, w2) + E.hi * w1;
 *   - 5 wide, stride 1, outputs j and j + 1 from the words at j and j + 4 (E', O'):
 *       y_j += E.(w0, w2) + O.(w1, w3) + E'.lo * w4,
 *       y_j+1 += O.(w0, w2) + E.hi * w1 + E'.lo * w3 + O'.lo * w4;
 *   - stride 2, one output from the word at 2j (and the byte at 2j + 4 for 5 wide):
 *       y_j += E.(w0, w2) + O.lo * w1  |  E.(w0, w2) + O.(w1, w3) + b4 * w4;
 * (SMLAD for the pairs, SMLABB / SMLATB / SMLABT for the single taps, every lane a real tap:
 * no zero weights, no table). The padded plane's width covers every word read (qcc_dwd_dims
 * rounds the output row up to four). Requantization fused (the fast SMMLA form). */
#define QCC_DWS_PAIR(a, b) ((uint32_t)(uint16_t)(a) | ((uint32_t)(uint16_t)(b) << 16))

/* Kernel row u's packed weights: wa = (w0, w2), wb = (w1, w3), wc = w4 (3 wide: wb = w1). */
typedef struct {
    int32_t wa[5], wb[5], wc[5];
} qcc_dws_w;

static inline void qcc_dws_pack(const int8_t *wk, int32_t kh, int32_t kw, qcc_dws_w *q)
{
    int32_t u;
    for (u = 0; u < kh; u++) {
        const int8_t *r = wk + u * kw;
        q->wa[u] = (int32_t)QCC_DWS_PAIR(r[0], r[2]);
        q->wb[u] = kw == 5 ? (int32_t)QCC_DWS_PAIR(r[1], r[3]) : r[1];
        q->wc[u] = kw == 5 ? r[4] : 0;
    }
}

/* A 3x3 kernel's packed weights: wa0..2 = (w0, w2) of rows 0..2, wb = (w1 of row 0, w1 of
 * row 1), wb2 = w1 of row 2 in its low half. */
typedef struct {
    int32_t wa0, wa1, wa2, wb, wb2;
} qcc_dw3;

/* Packs the nine weights at wk (two word loads and a byte, SXTB16 and halfword moves);
 * returns their sum. */
static inline int32_t qcc_dw3_pack(const int8_t *wk, qcc_dw3 *q)
{
    const uint32_t v0 = qcc_ld32(wk), v1 = qcc_ld32(wk + 4);
    const int32_t b8 = wk[8];
    const uint32_t e0 = __sxtb16(v0), o0 = qcc_sxtb16_ror8(v0);  /* (w0, w2), (w1, w3) */
    const uint32_t e1 = __sxtb16(v1), o1 = qcc_sxtb16_ror8(v1);  /* (w4, w6), (w5, w7) */
    q->wa0 = (int32_t)e0;
    q->wa1 = (int32_t)((o0 >> 16) | (o1 << 16));                    /* (w3, w5) */
    q->wa2 = (int32_t)((e1 >> 16) | ((uint32_t)b8 << 16));          /* (w6, w8) */
    q->wb = (int32_t)((o0 & 0xffffu) | (e1 << 16));                 /* (w1, w4) */
    q->wb2 = (int32_t)(o1 >> 16);                                   /* w7 */
    return __smlad((int32_t)e0, 0x00010001,
                   __smlad((int32_t)o0, 0x00010001,
                           __smlad((int32_t)e1, 0x00010001,
                                   __smlad((int32_t)o1, 0x00010001, b8))));
}

/* One kernel row's contribution, stride 1, to outputs j (*y0) and j + 1 (*y1) from row r. */
__attribute__((always_inline)) static inline void
qcc_dws_row_s1(const int8_t *r, int32_t wa, int32_t wb, int32_t wc, const int kw, int32_t *y0,
               int32_t *y1)
{
    const uint32_t v = qcc_ld32(r);
    const int32_t e = (int32_t)__sxtb16(v), o = (int32_t)qcc_sxtb16_ror8(v);
    int32_t a0 = __smlad(e, wa, *y0), a1 = __smlad(o, wa, *y1);
    if (kw == 3) {
        a0 = __smlabb(o, wb, a0);
        a1 = __smlatb(e, wb, a1);
    } else {
        const uint32_t v2 = qcc_ld32(r + 4);
        const int32_t e2 = (int32_t)__sxtb16(v2), o2 = (int32_t)qcc_sxtb16_ror8(v2);
        a0 = __smlad(o, wb, a0);
        a0 = __smlabb(e2, wc, a0);
        a1 = __smlatb(e, wb, a1);
        a1 = __smlabt(e2, wb, a1);
        a1 = __smlabb(o2, wc, a1);
    }
    *y0 = a0, *y1 = a1;
}

/* One kernel row's contribution, stride 2, to the output whose window starts at r. */
__attribute__((always_inline)) static inline int32_t
qcc_dws_row_s2(const int8_t *r, int32_t wa, int32_t wb, int32_t wc, const int kw, int32_t y)
{
    const uint32_t v = qcc_ld32(r);
    const int32_t e = (int32_t)__sxtb16(v), o = (int32_t)qcc_sxtb16_ror8(v);
    y = __smlad(e, wa, y);
    if (kw == 3)
        return __smlabb(o, wb, y);
    y = __smlad(o, wb, y);
    return y + r[4] * wc;
}

/* The plane of one output channel: kh = kw = KW (3 or 5), stride S (1 or 2); narrow: the
 * clamp compiled in or out. */
__attribute__((always_inline)) static inline void
qcc_dws_plane_k(const qcc_conv2d_p *p, const int8_t *pad, int32_t pw, const qcc_dws_w *q,
                int32_t init, const qcc_rqf *rq, int8_t *restrict y, const int KW, const int S,
                const int narrow)
{
    const int32_t ow = p->ow, oh = p->oh, rstep = S * pw, lo = p->lo, hi = p->hi;
    const int32_t m = rq->m, c = rq->c, sh = rq->sh;
    const int32_t wa0 = q->wa[0], wa1 = q->wa[1], wa2 = q->wa[2];
    const int32_t wb0 = q->wb[0], wb1 = q->wb[1], wb2 = q->wb[2];
    const int32_t wc0 = q->wc[0], wc1 = q->wc[1], wc2 = q->wc[2];
    int32_t i, j;
    for (i = 0; i < oh; i++) {
        const int8_t *r = pad + (size_t)i * rstep;
        int8_t *yr = y + (size_t)i * ow;
        if (S == 1) {
            for (j = 0; j < ow; j += 2) {
                const int8_t *rj = r + j;
                int32_t y0 = init, y1 = init;
                qcc_dws_row_s1(rj, wa0, wb0, wc0, KW, &y0, &y1);
                qcc_dws_row_s1(rj + pw, wa1, wb1, wc1, KW, &y0, &y1);
                qcc_dws_row_s1(rj + 2 * pw, wa2, wb2, wc2, KW, &y0, &y1);
                if (KW == 5) {
                    qcc_dws_row_s1(rj + 3 * pw, q->wa[3], q->wb[3], q->wc[3], KW, &y0, &y1);
                    qcc_dws_row_s1(rj + 4 * pw, q->wa[4], q->wb[4], q->wc[4], KW, &y0, &y1);
                }
                QCC_RQF_FAST(y0, m, c, sh, narrow, lo, hi, yr[j]);
                if (j + 1 < ow)
                    QCC_RQF_FAST(y1, m, c, sh, narrow, lo, hi, yr[j + 1]);
            }
        } else {
            for (j = 0; j < ow; j++) {
                const int8_t *rj = r + 2 * j;
                int32_t a = init;
                a = qcc_dws_row_s2(rj, wa0, wb0, wc0, KW, a);
                a = qcc_dws_row_s2(rj + pw, wa1, wb1, wc1, KW, a);
                a = qcc_dws_row_s2(rj + 2 * pw, wa2, wb2, wc2, KW, a);
                if (KW == 5) {
                    a = qcc_dws_row_s2(rj + 3 * pw, q->wa[3], q->wb[3], q->wc[3], KW, a);
                    a = qcc_dws_row_s2(rj + 4 * pw, q->wa[4], q->wb[4], q->wc[4], KW, a);
                }
                QCC_RQF_FAST(a, m, c, sh, narrow, lo, hi, yr[j]);
            }
        }
    }
}

/* 3x3 rows in assembly: the output pairs (j, j + 1) of one output row, weights in registers,
 * the loop state in qcc_dwa (read at fixed offsets; its first three words are loaded by one
 * LDM into the temporaries once the taps are done). Per pair, per kernel row u (rows at r,
 * r + pw, r + 2 pw):
 *   stride 1: one word at j (E, O): y_j += E.(w0, w2) + O.lo * w1, y_j+1 += O.(w0, w2) +
 *             E.hi * w1 (7 instructions);
 *   stride 2: the words at 2j (E, O) and 2j + 4 (T = SXTB16 ror 16: b4 in its top half):
 *             y_j += E.(w0, w2) + O.lo * w1, y_j+1 += O.hi * w1 + PKHTB(T, E).(w0, w2)
 *             (10-11 instructions);
 * wb holds w1 of rows 0 and 1 (SMLAxB / SMLAxT pick them), wb2 w1 of row 2. */
typedef struct {
    int32_t m, c, sh;   /*  0: the requantization (qcc_rqf, sh > 0) */
    int32_t init;       /* 12: bias - zp * sum(w) */
    uint32_t lo, hi;    /* 16: bounds (narrow form), repeated in each byte */
    int8_t *yend;       /* 24: the end of the current row's pairs */
    int8_t *stop;       /* 28: the end of the last row's pairs */
    int32_t rskip;      /* 32: input bytes from a row's last pair to the next row */
    int32_t back;       /* 36: output columns a row's pairs overrun (ow odd: 1) */
    int32_t ow;         /* 40: the output row length */
} qcc_dwa;
/* the offsets the assembly reads (a negative array size if the layout differs) */
typedef char qcc_dwa_layout[offsetof(qcc_dwa, init) == 12 && offsetof(qcc_dwa, lo) == 16
                            && offsetof(qcc_dwa, yend) == 24 && offsetof(qcc_dwa, rskip) == 32
                            && offsetof(qcc_dwa, ow) == 40 ? 1 : -1];

#define QCC_DWA_REQ(CLAMP)                                            \
    "ldm %[prm], { %[e], %[o], %[t] }\n\t"                            \
    "smmla %[a0], %[a0], %[e], %[o]\n\t"                              \
    "smmla %[a1], %[a1], %[e], %[o]\n\t"                              \
    "asr %[a0], %[a0], %[t]\n\t"                                      \
    "asr %[a1], %[a1], %[t]\n\t"                                      \
    "ssat %[a0], #8, %[a0]\n\t"                                       \
    "ssat %[a1], #8, %[a1]\n\t"                                       \
    "bfi %[a0], %[a1], #8, #8\n\t"                                    \
    CLAMP                                                             \
    "strh %[a0], [%[y]], #2\n\t"                                      \
    "ldr %[t], [%[prm], #24]\n\t"                                     \
    "cmp %[y], %[t]\n\t"                                              \
    "bne 1b\n\t"                                                      \
    "ldrd %[e], %[o], [%[prm], #28]\n\t"                              \
    "cmp %[y], %[e]\n\t"                                              \
    "beq 2f\n\t"                                                      \
    "add %[r], %[r], %[o]\n\t"                                        \
    "ldrd %[e], %[o], [%[prm], #36]\n\t"                              \
    "subs %[y], %[y], %[e]\n\t"                                       \
    "add %[t], %[t], %[o]\n\t"                                        \
    "str %[t], [%[prm], #24]\n\t"                                     \
    "b 1b\n\t"                                                        \
    "2:\n\t"

/* the two packed outputs (bytes 0 and 1 of a0) clamped to the bounds repeated in each byte
 * (SSUB8 sets the GE flags per byte, SEL picks by them) */
#define QCC_DWA_CLAMP                                                 \
    "ldrd %[e], %[o], [%[prm], #16]\n\t"                              \
    "ssub8 %[t], %[a0], %[e]\n\t"                                     \
    "sel %[a0], %[a0], %[e]\n\t"                                      \
    "ssub8 %[t], %[o], %[a0]\n\t"                                     \
    "sel %[a0], %[a0], %[o]\n\t"

#define QCC_DWA_S1(CLAMP)                                                                    \
    "1:\n\t"                                                                                 \
    "ldr %[a0], [%[prm], #12]\n\t"                                                           \
    "mov %[a1], %[a0]\n\t"                                                                   \
    "ldr %[o], [%[r], %[pw]]\n\t"                                                            \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa1], %[a0]\n\t"                                                   \
    "smlabt %[a0], %[o], %[wb], %[a0]\n\t"                                                   \
    "smlad %[a1], %[o], %[wa1], %[a1]\n\t"                                                   \
    "smlatt %[a1], %[e], %[wb], %[a1]\n\t"                                                   \
    "ldr %[o], [%[r], %[pw], lsl #1]\n\t"                                                    \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa2], %[a0]\n\t"                                                   \
    "smlabb %[a0], %[o], %[wb2], %[a0]\n\t"                                                  \
    "smlad %[a1], %[o], %[wa2], %[a1]\n\t"                                                   \
    "smlatb %[a1], %[e], %[wb2], %[a1]\n\t"                                                  \
    "ldr %[o], [%[r]], #2\n\t"                                                               \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa0], %[a0]\n\t"                                                   \
    "smlabb %[a0], %[o], %[wb], %[a0]\n\t"                                                   \
    "smlad %[a1], %[o], %[wa0], %[a1]\n\t"                                                   \
    "smlatb %[a1], %[e], %[wb], %[a1]\n\t"                                                   \
    QCC_DWA_REQ(CLAMP)

#define QCC_DWA_S2(CLAMP)                                                                    \
    "1:\n\t"                                                                                 \
    "ldr %[a0], [%[prm], #12]\n\t"                                                           \
    "mov %[a1], %[a0]\n\t"                                                                   \
    "add %[t], %[r], %[pw]\n\t"                                                              \
    "ldr %[t], [%[t], #4]\n\t"                                                               \
    "sxtb16 %[t], %[t], ror #16\n\t"                                                         \
    "ldr %[o], [%[r], %[pw]]\n\t"                                                            \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa1], %[a0]\n\t"                                                   \
    "smlabt %[a0], %[o], %[wb], %[a0]\n\t"                                                   \
    "smlatt %[a1], %[o], %[wb], %[a1]\n\t"                                                   \
    "pkhtb %[t], %[t], %[e], asr #16\n\t"                                                    \
    "smlad %[a1], %[t], %[wa1], %[a1]\n\t"                                                   \
    "add %[t], %[r], %[pw], lsl #1\n\t"                                                      \
    "ldr %[t], [%[t], #4]\n\t"                                                               \
    "sxtb16 %[t], %[t], ror #16\n\t"                                                         \
    "ldr %[o], [%[r], %[pw], lsl #1]\n\t"                                                    \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa2], %[a0]\n\t"                                                   \
    "smlabb %[a0], %[o], %[wb2], %[a0]\n\t"                                                  \
    "smlatb %[a1], %[o], %[wb2], %[a1]\n\t"                                                  \
    "pkhtb %[t], %[t], %[e], asr #16\n\t"                                                    \
    "smlad %[a1], %[t], %[wa2], %[a1]\n\t"                                                   \
    "ldr %[t], [%[r], #4]\n\t"                                                               \
    "sxtb16 %[t], %[t], ror #16\n\t"                                                         \
    "ldr %[o], [%[r]], #4\n\t"                                                               \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa0], %[a0]\n\t"                                                   \
    "smlabb %[a0], %[o], %[wb], %[a0]\n\t"                                                   \
    "smlatb %[a1], %[o], %[wb], %[a1]\n\t"                                                   \
    "pkhtb %[t], %[t], %[e], asr #16\n\t"                                                    \
    "smlad %[a1], %[t], %[wa0], %[a1]\n\t"                                                   \
    QCC_DWA_REQ(CLAMP)

#define QCC_DWA_OPERANDS                                                                     \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [e] "=&r"(e), [o] "=&r"(o), [t] "=&r"(t),            \
      [r] "+r"(r), [y] "+r"(y)                                                               \
    : [pw] "r"(pw), [wa0] "r"(wa0), [wa1] "r"(wa1), [wa2] "r"(wa2), [wb] "r"(wb),           \
      [wb2] "r"(wb2), [prm] "r"(prm)                                                         \
    : "cc", "memory"

/* The pairs of one output row (y < prm->yend): S the stride, narrow the clamp. */
__attribute__((always_inline)) static inline void
qcc_dwa_row(const int8_t *r, int32_t pw, const qcc_dw3 *q, const qcc_dwa *prm, int8_t *y,
            const int S, const int narrow)
{
    register int32_t e __asm__("r8");
    register int32_t o __asm__("r9");
    register int32_t t __asm__("r10");
    const int32_t wa0 = q->wa0, wa1 = q->wa1, wa2 = q->wa2, wb = q->wb, wb2 = q->wb2;
    int32_t a0, a1;
    if (S == 1 && narrow)
        __asm__ volatile(QCC_DWA_S1(QCC_DWA_CLAMP) QCC_DWA_OPERANDS);
    else if (S == 1)
        __asm__ volatile(QCC_DWA_S1("") QCC_DWA_OPERANDS);
    else if (narrow)
        __asm__ volatile(QCC_DWA_S2(QCC_DWA_CLAMP) QCC_DWA_OPERANDS);
    else
        __asm__ volatile(QCC_DWA_S2("") QCC_DWA_OPERANDS);
}

/* One 3x3 output whose window starts at r (a word per window row: its fourth byte unused). */
__attribute__((always_inline)) static inline void
qcc_dwa_one(const int8_t *r, int32_t pw, const qcc_dw3 *q, const qcc_rqf *rq, int32_t init,
            int32_t lo, int32_t hi, const int narrow, int8_t *out)
{
    const uint32_t v0 = qcc_ld32(r), v1 = qcc_ld32(r + pw), v2 = qcc_ld32(r + 2 * pw);
    int32_t a = __smlad((int32_t)__sxtb16(v0), q->wa0, init);
    a = __smlabb((int32_t)qcc_sxtb16_ror8(v0), q->wb, a);
    a = __smlad((int32_t)__sxtb16(v1), q->wa1, a);
    a = __smlabt((int32_t)qcc_sxtb16_ror8(v1), q->wb, a);
    a = __smlad((int32_t)__sxtb16(v2), q->wa2, a);
    a = __smlabb((int32_t)qcc_sxtb16_ror8(v2), q->wb2, a);
    QCC_RQF_FAST(a, rq->m, rq->c, rq->sh, narrow, lo, hi, *out);
}

/* The plane of one output channel, 3x3, stride S, in at most two assembly calls: the rows
 * before the last run ceil(ow / 2) pairs each and step from row to row inside the loop (an
 * odd row's extra output lands on the next row's first, which that row then writes; its
 * input columns lie inside the padded row, qcc_dwd_dims); the last row runs floor(ow / 2)
 * pairs (nothing is written past the plane) and its odd last output is computed in C. */
__attribute__((always_inline)) static inline void
qcc_dwa_plane(const qcc_conv2d_p *p, const int8_t *pad, int32_t pw, const qcc_dw3 *q,
              int32_t init, const qcc_rqf *rq, int8_t *restrict y, const int S, const int narrow)
{
    const int32_t ow = p->ow, oh = p->oh, ow2 = ow & ~1, owe = (ow + 1) & ~1;
    const int32_t full = ow == ow2 ? oh : oh - 1;  /* rows whose pairs the first call runs */
    const int8_t *r = pad + (size_t)(oh - 1) * S * pw;
    int8_t *yr = y + (size_t)(oh - 1) * ow;
    qcc_dwa prm;
    int32_t i;
    prm.m = rq->m, prm.c = rq->c, prm.sh = rq->sh, prm.init = init;
    prm.lo = (uint8_t)p->lo * 0x01010101u, prm.hi = (uint8_t)p->hi * 0x01010101u;
    prm.rskip = S * (pw - owe), prm.back = owe - ow, prm.ow = ow;
    if (ow2 == 0) {  /* one output per row */
        for (i = 0; i < oh; i++)
            qcc_dwa_one(pad + (size_t)i * S * pw, pw, q, rq, init, p->lo, p->hi, narrow, y + i);
        return;
    }
    if (full > 0) {
        prm.yend = y + owe;
        prm.stop = y + (size_t)(full - 1) * ow + owe;
        qcc_dwa_row(pad, pw, q, &prm, y, S, narrow);
    }
    if (full < oh) {  /* the last row of an odd width */
        prm.yend = prm.stop = yr + ow2;
        qcc_dwa_row(r, pw, q, &prm, yr, S, narrow);
        qcc_dwa_one(r + S * ow2, pw, q, rq, init, p->lo, p->hi, narrow, yr + ow2);
    }
}

/* sum(wk[0, n)) by words (SXTB16 and SMLAD with (1, 1)). */
static inline int32_t qcc_dws_wsum(const int8_t *wk, int32_t n)
{
    int32_t t, s = 0;
    for (t = 0; t + 4 <= n; t += 4) {
        const uint32_t v = qcc_ld32(wk + t);
        s = __smlad((int32_t)__sxtb16(v), 0x00010001, __smlad((int32_t)qcc_sxtb16_ror8(v), 0x00010001, s));
    }
    for (; t < n; t++)
        s += wk[t];
    return s;
}

/* Every channel of the conv (one form per kernel size, stride and clamp, instantiated below):
 * per input channel the plane fill, per output channel the requantization constants, the
 * packed weights and their sum, then the plane; a channel whose shift the fast
 * requantization does not take runs the table kernel (qcc_dwd_chan). */
__attribute__((always_inline)) static inline void
qcc_dws_chans(const qcc_dwd_job *j, const int KW, const int S, const int narrow)
{
    const qcc_conv2d_p *p = j->p;
    const int32_t mg = p->m / p->group, plane = p->oh * p->ow, xplane = p->h * p->w;
    const int32_t zp = p->x_zp, taps = KW * KW;
    const int8_t *x = j->x;
    int8_t *yo = j->y;
    int32_t b, ci, k;
    for (b = 0; b < p->n; b++)
        for (ci = 0; ci < p->c; ci++, x += xplane) {
            qcc_dwd_fill(p, x, j->ph, j->pw, j->pad);
            for (k = 0; k < mg; k++, yo += plane) {
                const int32_t oc = ci * mg + k, ch = p->per_channel ? oc : 0;
                const int8_t *wk = j->w + (size_t)oc * taps;
                const int32_t b0 = j->bias ? j->bias[oc] : 0;
                qcc_rqf rq;
                qcc_rqf_init(&rq, j->mult[ch], j->shift[ch], p->y_zp);
                if (rq.sh == 0) {
                    qcc_dwd_chan(j, oc, &rq, yo);
                } else if (KW == 3) {
                    qcc_dw3 q;
                    const int32_t sum = qcc_dw3_pack(wk, &q);
                    qcc_dwa_plane(p, j->pad, j->pw, &q, b0 - zp * sum, &rq, yo, S, narrow);
                } else {
                    qcc_dws_w q;
                    const int32_t sum = qcc_dws_wsum(wk, taps);
                    qcc_dws_pack(wk, KW, KW, &q);
                    qcc_dws_plane_k(p, j->pad, j->pw, &q, b0 - zp * sum, &rq, yo, KW, S, narrow);
                }
            }
        }
}

/* The forms out of line (one function each: their register allocation stays their own). */
#define QCC_DWS_FORM(name, KW, S)                                                              \
    __attribute__((noinline, unused)) static void name(const qcc_dwd_job *j, int narrow)       \
    {                                                                                          \
        if (narrow)                                                                            \
            qcc_dws_chans(j, KW, S, 1);                                                        \
        else                                                                                   \
            qcc_dws_chans(j, KW, S, 0);                                                        \
    }
QCC_DWS_FORM(qcc_dws_3s1, 3, 1)
QCC_DWS_FORM(qcc_dws_3s2, 3, 2)
QCC_DWS_FORM(qcc_dws_5s1, 5, 1)
QCC_DWS_FORM(qcc_dws_5s2, 5, 2)

/* Whether the forms above take conv p (square 3x3 or 5x5 kernels, equal strides 1 or 2). */
static inline int qcc_dws_takes(const qcc_conv2d_p *p)
{
    return p->kh == p->kw && (p->kw == 3 || p->kw == 5) && p->sh == p->sw
           && (p->sw == 1 || p->sw == 2);
}

/* The whole conv by the forms (qcc_dws_takes(j->p)). */
static void qcc_dws_conv(const qcc_dwd_job *j)
{
    const qcc_conv2d_p *p = j->p;
    const int narrow = p->lo > -128 || p->hi < 127;
    if (p->kw == 3 && p->sw == 1)
        qcc_dws_3s1(j, narrow);
    else if (p->kw == 3)
        qcc_dws_3s2(j, narrow);
    else if (p->sw == 1)
        qcc_dws_5s1(j, narrow);
    else
        qcc_dws_5s2(j, narrow);
}
#endif
