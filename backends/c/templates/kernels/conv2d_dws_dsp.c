#ifdef QCC_ARM_GEMM4 /* DSP without Helium (qcc_sxtb16_ror8); M55 builds take conv2d_dw_mve.c */
/* Arm DSP depthwise forms for 3x3 and 5x5 kernels with equal strides 1 or 2, over the padded
 * int8 plane of qcc_conv2d_dwd (conv2d_dw_dsp.c; same layout: qcc_dwd_dims, the raw zero
 * point in the padding and folded into the start value init = bias - zp * sum(w)). A word
 * load of four inputs b0..b3 gives E = (b0, b2) and O = (b1, b3) (SXTB16, SXTB16 ror 8); two
 * outputs j, j + 1 per pass, every SMLAD lane a real tap (no zero weights, no table), the
 * single taps by SMLABB / SMLATB / SMLABT. Whole planes in assembly, the requantization fused
 * (the fast SMMLA form: shifts >= 33; other channels take the table kernel). Part one: the
 * 3x3 rows and the loop state; part two (conv2d_dws5_dsp.c): the 5x5 rows and the drivers. */
#define QCC_DWS_PAIR(a, b) ((uint32_t)(uint16_t)(a) | ((uint32_t)(uint16_t)(b) << 16))

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

/* 3x3 rows in assembly: the output pairs (j, j + 1) of one output row, weights in registers,
 * the loop state in qcc_dwa (read at fixed offsets; its first three words are loaded by one
 * LDM into the temporaries once the taps are done). Per pair, per kernel row u (rows at r,
 * r + pw, r + 2 pw):
 *   stride 1: one word at j (E, O): y_j += E.(w0, w2) + O.lo * w1, y_j+1 += O.(w0, w2) +
 *             E.hi * w1 (7 instructions);
 *   stride 2: the word at 2j (E, O) and the byte b4 (LDRSB): y_j += E.(w0, w2) + O.lo * w1,
 *             y_j+1 += E.hi * w0 + O.hi * w1 + b4 * w2 (9-10 instructions);
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
    int32_t w5[13];     /* 44: 5x5 weights: (w0, w2), (w1, w3) per row, then w4 of rows 0-1,
                         * 2-3 and 4 (qcc_dw5_pack) */
    int8_t *yq;         /* 96: the 5x5 quad form's output pointer (conv2d_dwq_dsp.c) */
    int32_t rew;        /* 100: the quad form's step back after five kernel rows, 5 pw - 4 */
} qcc_dwa;
/* the offsets the assembly reads (a negative array size if the layout differs) */
typedef char qcc_dwa_layout[offsetof(qcc_dwa, init) == 12 && offsetof(qcc_dwa, lo) == 16
                            && offsetof(qcc_dwa, yend) == 24 && offsetof(qcc_dwa, rskip) == 32
                            && offsetof(qcc_dwa, ow) == 40 && offsetof(qcc_dwa, w5) == 44
                            && offsetof(qcc_dwa, yq) == 96 && offsetof(qcc_dwa, rew) == 100
                            ? 1 : -1];

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
    "ldrsb %[t], [%[t], #4]\n\t"                                                             \
    "ldr %[o], [%[r], %[pw]]\n\t"                                                            \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa1], %[a0]\n\t"                                                   \
    "smlabt %[a0], %[o], %[wb], %[a0]\n\t"                                                   \
    "smlatt %[a1], %[o], %[wb], %[a1]\n\t"                                                   \
    "smlatb %[a1], %[e], %[wa1], %[a1]\n\t"                                                  \
    "smlabt %[a1], %[t], %[wa1], %[a1]\n\t"                                                  \
    "add %[t], %[r], %[pw], lsl #1\n\t"                                                      \
    "ldrsb %[t], [%[t], #4]\n\t"                                                             \
    "ldr %[o], [%[r], %[pw], lsl #1]\n\t"                                                    \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa2], %[a0]\n\t"                                                   \
    "smlabb %[a0], %[o], %[wb2], %[a0]\n\t"                                                  \
    "smlatb %[a1], %[o], %[wb2], %[a1]\n\t"                                                  \
    "smlatb %[a1], %[e], %[wa2], %[a1]\n\t"                                                  \
    "smlabt %[a1], %[t], %[wa2], %[a1]\n\t"                                                  \
    "ldrsb %[t], [%[r], #4]\n\t"                                                             \
    "ldr %[o], [%[r]], #4\n\t"                                                               \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa0], %[a0]\n\t"                                                   \
    "smlabb %[a0], %[o], %[wb], %[a0]\n\t"                                                   \
    "smlatb %[a1], %[o], %[wb], %[a1]\n\t"                                                   \
    "smlatb %[a1], %[e], %[wa0], %[a1]\n\t"                                                  \
    "smlabt %[a1], %[t], %[wa0], %[a1]\n\t"                                                  \
    QCC_DWA_REQ(CLAMP)

#define QCC_DWA_OPERANDS                                                                     \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [e] "=&r"(e), [o] "=&r"(o), [t] "=&r"(t),            \
      [r] "+r"(r), [y] "+r"(y)                                                               \
    : [pw] "r"(pw), [wa0] "r"(wa0), [wa1] "r"(wa1), [wa2] "r"(wa2), [wb] "r"(wb),           \
      [wb2] "r"(wb2), [prm] "r"(prm)                                                         \
    : "cc", "memory"

/* The pairs of the rows prm describes, 3x3: S the stride, narrow the clamp. */
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
#endif
