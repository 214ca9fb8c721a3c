/* Arm DSP (Cortex-M4/M7/M33 class: __ARM_FEATURE_DSP without Helium) GEMM block shared by the
 * linear and the im2col / pointwise conv kernels: two output channels times two columns in
 * four register accumulators (CMSIS-NN's register blocking), so that each int16 column word
 * feeds two SMLADs and each SXTB16-widened weight word two more.
 *   - Pair-packed columns: two K-long centred int16 columns A and B are stored interleaved by
 *     chunks of four, chunk i holding (A[4i], A[4i+2], A[4i+1], A[4i+3], B[4i], B[4i+2],
 *     B[4i+1], B[4i+3]): two LDRDs fetch the four words one chunk of both columns needs, in
 *     the (even, odd) order SXTB16 / SXTB16 ROR 8 make of four int8 weights (no reordering
 *     of the weights). The last, partial chunk (K % 4 elements) follows the same layout.
 *   - Inner loop: 18 instructions per 16 multiply-accumulates (2 LDRD, 2 LDR, 4 SXTB16,
 *     8 SMLAD, SUBS/BNE), against 22 for one channel block of four rows times one column.
 *   - Requantization fused per output (qcc_rqf: one SMULL, add, shift, SSAT).
 * Same integers as the portable loops: the products and sums are those of qcc_dot_w. */
#if defined(QCC_ARM_DSP) && !defined(QCC_ARM_MVE)
#define QCC_ARM_GEMM2 1

/* Offset of element t of the first column of a pair block (the second: + 4). */
static inline int32_t qcc_pair_at(int32_t t)
{
    return ((t & ~3) << 1) | ((t & 1) << 1) | ((t >> 1) & 1);
}

/* int16 length of one pair block of two K-long columns. */
static inline int32_t qcc_pair_len(int32_t k)
{
    return 2 * ((k + 3) & ~3);
}

static inline uint32_t qcc_sxtb16_ror8(uint32_t v)  /* bytes 1 and 3, sign-extended */
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

/* The partial chunk of qcc_gemm2x2 (K % 4 elements; w0, w1, cp at the chunk). */
__attribute__((noinline, unused)) static void qcc_gemm2x2_tail(const int8_t *w0, const int8_t *w1,
                                                              const int16_t *cp, int32_t k, int32_t acc[4])
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3], t;
    if ((k & 3) && k >= 4) {
        /* the partial chunk (w0, w1, cp already advanced): the word ending at each row's end,
         * shifted right so that its tail bytes come first and zeros fill the rest (in bounds;
         * the zero weights meet the unused slots of the chunk, whatever they hold) */
        const int32_t sh = 8 * (4 - (k & 3));
        const int32_t wa = (int32_t)(qcc_ld32(w0 + (k & 3) - 4) >> sh);
        const int32_t wb = (int32_t)(qcc_ld32(w1 + (k & 3) - 4) >> sh);
        const int32_t ca = (int32_t)qcc_ld32(cp), cb = (int32_t)qcc_ld32(cp + 2);
        const int32_t cc = (int32_t)qcc_ld32(cp + 4), cd = (int32_t)qcc_ld32(cp + 6);
        const int32_t wae = __sxtb16(wa), wao = (int32_t)qcc_sxtb16_ror8((uint32_t)wa);
        const int32_t wbe = __sxtb16(wb), wbo = (int32_t)qcc_sxtb16_ror8((uint32_t)wb);
        a00 = __smlad(wae, ca, __smlad(wao, cb, a00));
        a01 = __smlad(wae, cc, __smlad(wao, cd, a01));
        a10 = __smlad(wbe, ca, __smlad(wbo, cb, a10));
        a11 = __smlad(wbe, cc, __smlad(wbo, cd, a11));
    } else {
        for (t = 0; t < (k & 3); t++) {  /* K < 4 */
            const int32_t at = qcc_pair_at(t), ca = cp[at], cb = cp[at + 4];
            a00 += (int32_t)w0[t] * ca;
            a01 += (int32_t)w0[t] * cb;
            a10 += (int32_t)w1[t] * ca;
            a11 += (int32_t)w1[t] * cb;
        }
    }
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
}

/* acc[0..3] += (w0 . A, w0 . B, w1 . A, w1 . B) over K (w0, w1 int8 rows, cp a pair block);
 * tail: K % 4 != 0, a constant at each call (the partial chunk's call compiled in or out: its
 * mere presence made gcc keep acc in memory in the K % 4 == 0 loops). */
__attribute__((always_inline)) static inline void
qcc_gemm2x2_t(const int8_t *w0, const int8_t *w1, const int16_t *cp, int32_t k, int32_t acc[4],
              const int tail)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t n4 = k >> 2;
    if (n4 > 0) {
        int32_t ca, cb, cc, cd, wq, ws;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[ca], %[cb], [%[cp]], #8\n\t"
            "ldrd %[cc], %[cd], [%[cp]], #8\n\t"
            "ldr %[wq], [%[w0]], #4\n\t"
            "sxtb16 %[ws], %[wq]\n\t"
            "sxtb16 %[wq], %[wq], ror #8\n\t"
            "smlad %[a00], %[ws], %[ca], %[a00]\n\t"
            "smlad %[a00], %[wq], %[cb], %[a00]\n\t"
            "smlad %[a01], %[ws], %[cc], %[a01]\n\t"
            "smlad %[a01], %[wq], %[cd], %[a01]\n\t"
            "ldr %[wq], [%[w1]], #4\n\t"
            "sxtb16 %[ws], %[wq]\n\t"
            "sxtb16 %[wq], %[wq], ror #8\n\t"
            "smlad %[a10], %[ws], %[ca], %[a10]\n\t"
            "smlad %[a10], %[wq], %[cb], %[a10]\n\t"
            "smlad %[a11], %[ws], %[cc], %[a11]\n\t"
            "smlad %[a11], %[wq], %[cd], %[a11]\n\t"
            "subs %[n4], %[n4], #1\n\t"
            "bne 1b"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),
              [w0] "+r"(w0), [w1] "+r"(w1), [cp] "+r"(cp), [n4] "+r"(n4), [ca] "=&r"(ca),
              [cb] "=&r"(cb), [cc] "=&r"(cc), [cd] "=&r"(cd), [wq] "=&r"(wq), [ws] "=&r"(ws)
            :
            : "cc", "memory");
    }
    acc[0] = a00, acc[1] = a01, acc[2] = a10, acc[3] = a11;
    if (tail && (k & 3))
        qcc_gemm2x2_tail(w0, w1, cp, k, acc);
}

static inline void qcc_gemm2x2(const int8_t *w0, const int8_t *w1, const int16_t *cp, int32_t k,
                               int32_t acc[4])
{
    qcc_gemm2x2_t(w0, w1, cp, k, acc, 1);
}

#endif

#ifdef QCC_ARM_DSP /* also with Helium: the depthwise and GEMM epilogues */
/* One output channel's requantization to int8, prepared once: for shifts s >= 33 with the
 * output zero point folded into the rounding term, floor((acc*m + 2^(s-1)) / 2^s) + zp =
 * (hi32(acc*m) + 2^(s-33) + zp*2^(s-32)) >> (s-32) (the added term is a multiple of 2^32 in
 * the 64-bit sum, and |hi32| < 2^30, |c| < 2^29: no overflow); sh == 0 (other shifts) takes
 * qcc_requant32. */
typedef struct {
    int32_t m, c, sh, s;
} qcc_rqf;

static inline void qcc_rqf_init(qcc_rqf *q, int32_t m, int32_t s, int32_t zp)
{
    /* |c| < 2^29: s - 32 <= 21 for int8 zero points (|zp| <= 128), <= 13 for int16 ones */
    const int ok = s >= 33 && (zp >= -128 && zp <= 128 ? s <= 53 : s <= 45);
    q->m = m, q->s = s;
    q->sh = ok ? s - 32 : 0;
    q->c = ok ? ((int32_t)1 << (s - 33)) + zp * ((int32_t)1 << (s - 32)) : 0;
}

/* The fast form only (q->sh > 0): the int8 result, clamped to [lo, hi] when narrow. */
#define QCC_RQF_FAST(acc, m, c, sh, narrow, lo, hi, out)                                   \
    do {                                                                                     \
        int32_t r_ = __ssat(((int32_t)(((int64_t)(acc) * (m)) >> 32) + (c)) >> (sh), 8);    \
        if (narrow)                                                                          \
            r_ = r_ < (lo) ? (lo) : (r_ > (hi) ? (hi) : r_);                                 \
        (out) = (int8_t)r_;                                                                  \
    } while (0)

/* The same for an int16 output. */
#define QCC_RQF_FAST16(acc, m, c, sh, narrow, lo, hi, out)                                 \
    do {                                                                                     \
        int32_t r_ = __ssat(((int32_t)(((int64_t)(acc) * (m)) >> 32) + (c)) >> (sh), 16);   \
        if (narrow)                                                                          \
            r_ = r_ < (lo) ? (lo) : (r_ > (hi) ? (hi) : r_);                                 \
        (out) = (int16_t)r_;                                                                 \
    } while (0)

/* int8 result of one accumulator: lo, hi the activation bounds (within int8). */
static inline int32_t qcc_rqf_i8(int32_t acc, const qcc_rqf *q, int32_t zp, int32_t lo, int32_t hi,
                                 int narrow)
{
    int32_t r;
    if (q->sh == 0)
        return qcc_requant32(acc, q->m, q->s, zp, lo, hi);
    r = __ssat(((int32_t)(((int64_t)acc * q->m) >> 32) + q->c) >> q->sh, 8);
    if (narrow)
        r = r < lo ? lo : (r > hi ? hi : r);
    return r;
}
#endif
