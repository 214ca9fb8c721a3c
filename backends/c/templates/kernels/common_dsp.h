/* Arm DSP (Cortex-M4/M7/M33 class: __ARM_FEATURE_DSP without Helium) GEMM block shared by the
 * linear and the im2col / pointwise conv kernels: one output channel times four columns
 * (output positions / rows of x) in four register accumulators, so that each SXTB16-widened
 * weight word feeds eight SMLADs.
 *   - Quad-packed columns: four K-long centred int16 columns A, B, C, D are stored
 *     interleaved by chunks of four, chunk i holding (A[4i], A[4i+2], A[4i+1], A[4i+3],
 *     B[4i], B[4i+2], ..., D[4i+3]): one LDM of four words fetches what two columns need of
 *     a chunk, in the (even, odd) order SXTB16 / SXTB16 ROR 8 make of four int8 weights (the
 *     weights stay in ONNX order). The last, partial chunk (K % 4 elements) follows the same
 *     layout.
 *   - Inner loop: 13 instructions per 16 multiply-accumulates (LDR, 2 SXTB16, 2 LDM, 8 SMLAD),
 *     four chunks per iteration with SUBS/BNE: 54 per 64 (the 2x2 block of two channels x two
 *     columns it replaces took 18 per 16: two weight words widened per chunk, not one).
 *   - Requantization fused per output (qcc_rqf: one SMULL, add, shift, SSAT), the channel's
 *     parameters loaded once for all its column quads.
 * Same integers as the portable loops: the products and sums are those of qcc_dot_w. */
#if defined(QCC_ARM_DSP) && !defined(QCC_ARM_MVE)
#define QCC_ARM_GEMM4 1

/* Offset of element t of the first column of a quad block (column c: + 4 * c). */
static inline int32_t qcc_quad_at(int32_t t)
{
    return ((t & ~3) << 2) | ((t & 1) << 1) | ((t >> 1) & 1);
}

/* int16 length of one quad block of four K-long columns. */
static inline int32_t qcc_quad_len(int32_t k)
{
    return 4 * ((k + 3) & ~3);
}

static inline uint32_t qcc_sxtb16_ror8(uint32_t v)  /* bytes 1 and 3, sign-extended */
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

/* (a.lo + sxt(v.b1), a.hi + sxt(v.b3)): SXTAB16 of the odd bytes */
static inline uint32_t qcc_sxtab16_ror8(uint32_t a, uint32_t v)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
}

/* A chunk's slot d[0..3] (word-aligned, as in every quad block) from the word v of four int8
 * inputs: (b0, b2) - zp and (b1, b3) - zp, widened and centred at once by SXTAB16 against
 * nzp = -zp in each half (halfword arithmetic: the integers of SSUB16 after SXTB16), one STRD. */
static inline void qcc_put_centred(int16_t *d, uint32_t v, uint32_t nzp)
{
    uint32_t eo[2];
    eo[0] = (uint32_t)__sxtab16(nzp, v), eo[1] = qcc_sxtab16_ror8(nzp, v);
    memcpy(__builtin_assume_aligned(d, 4), eo, sizeof eo);
}

/* The K < 4 products of qcc_gemm1x4 (w, cp at the row's and the block's start). */
__attribute__((noinline, unused)) static void qcc_gemm1x4_tail(const int8_t *w, const int16_t *cp,
                                                              int32_t k, int32_t acc[4])
{
    int32_t c, t;
    for (t = 0; t < k; t++)
        for (c = 0; c < 4; c++)
            acc[c] += (int32_t)w[t] * cp[qcc_quad_at(t) + 4 * c];
}

/* The four K elements of the weight word in wq against four columns: two LDMs of two
 * columns each, eight SMLADs. */
#define QCC_GEMM4_MACS                                   \
    "sxtb16 %[ws], %[wq]\n\t"                            \
    "sxtb16 %[wq], %[wq], ror #8\n\t"                    \
    "ldm %[cp]!, { %[c0], %[c1], %[c2], %[c3] }\n\t"       \
    "smlad %[a0], %[ws], %[c0], %[a0]\n\t"               \
    "smlad %[a0], %[wq], %[c1], %[a0]\n\t"               \
    "smlad %[a1], %[ws], %[c2], %[a1]\n\t"               \
    "smlad %[a1], %[wq], %[c3], %[a1]\n\t"               \
    "ldm %[cp]!, { %[c0], %[c1], %[c2], %[c3] }\n\t"       \
    "smlad %[a2], %[ws], %[c0], %[a2]\n\t"               \
    "smlad %[a2], %[wq], %[c1], %[a2]\n\t"               \
    "smlad %[a3], %[ws], %[c2], %[a3]\n\t"               \
    "smlad %[a3], %[wq], %[c3], %[a3]\n\t"

/* One chunk of four K elements: the next weight word, then QCC_GEMM4_MACS. */
#define QCC_GEMM4_CHUNK                                  \
    "ldr %[wq], [%[w]], #4\n\t"                          \
    QCC_GEMM4_MACS

/* (*a0, *a1, *a2, *a3) += (w . A, w . B, w . C, w . D) over K (w an int8 row, cp a quad
 * block); tail: K % 4 != 0, a constant at each call (the partial chunk's call compiled in or
 * out). The accumulators are scalars, so that gcc keeps them in registers after inlining (an
 * array indexed in a loop went through the stack). The LDM targets are fixed ascending
 * registers (r8-r11: an LDM fills its list in register order). */
__attribute__((always_inline)) static inline void
qcc_gemm1x4_s(const int8_t *w, const int16_t *cp, int32_t k, int32_t *s0, int32_t *s1,
              int32_t *s2, int32_t *s3, const int tail)
{
    int32_t a0 = *s0, a1 = *s1, a2 = *s2, a3 = *s3;
    int32_t n = k >> 2;
    if (n > 0) {
        register int32_t c0 __asm__("r8");
        register int32_t c1 __asm__("r9");
        register int32_t c2 __asm__("r10");
        register int32_t c3 __asm__("r11");
        int32_t wq, ws;
        /* n % 4 chunks first (one, then two), then four per iteration; LSRS sets Z for the
         * loop count left, which neither the chunks nor the branches change */
        __asm__ volatile(
            "lsrs %[n], %[n], #1\n\t"
            "bcc 4f\n\t"
            QCC_GEMM4_CHUNK
            "4:\n\t"
            "lsrs %[n], %[n], #1\n\t"
            "bcc 5f\n\t"
            QCC_GEMM4_CHUNK
            QCC_GEMM4_CHUNK
            "5:\n\t"
            "beq 3f\n"
            "2:\n\t"
            QCC_GEMM4_CHUNK
            QCC_GEMM4_CHUNK
            QCC_GEMM4_CHUNK
            QCC_GEMM4_CHUNK
            "subs %[n], %[n], #1\n\t"
            "bne 2b\n"
            "3:\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w),
              [cp] "+r"(cp), [n] "+r"(n), [wq] "=&r"(wq), [ws] "=&r"(ws), [c0] "=&r"(c0),
              [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3)
            :
            : "cc", "memory");
    }
    if (tail && (k & 3) && k >= 4) {
        /* the partial chunk inline: the word ending at the row's end, shifted right so that
         * its tail bytes come first and zeros fill the rest (in bounds; the zero weights meet
         * the unused slots of the chunk, whatever they hold) */
        const int32_t wa = (int32_t)(qcc_ld32(w + (k & 3) - 4) >> (8 * (4 - (k & 3))));
        const int32_t we = __sxtb16(wa), wo = (int32_t)qcc_sxtb16_ror8((uint32_t)wa);
        a0 = __smlad(we, (int32_t)qcc_ld32(cp), __smlad(wo, (int32_t)qcc_ld32(cp + 2), a0));
        a1 = __smlad(we, (int32_t)qcc_ld32(cp + 4), __smlad(wo, (int32_t)qcc_ld32(cp + 6), a1));
        a2 = __smlad(we, (int32_t)qcc_ld32(cp + 8), __smlad(wo, (int32_t)qcc_ld32(cp + 10), a2));
        a3 = __smlad(we, (int32_t)qcc_ld32(cp + 12), __smlad(wo, (int32_t)qcc_ld32(cp + 14), a3));
    } else if (tail && (k & 3)) {  /* K < 4 */
        int32_t acc[4];
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
        qcc_gemm1x4_tail(w, cp, k, acc);
        a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    }
    *s0 = a0, *s1 = a1, *s2 = a2, *s3 = a3;
}

static inline void qcc_gemm1x4(const int8_t *w, const int16_t *cp, int32_t k, int32_t acc[4])
{
    qcc_gemm1x4_s(w, cp, k, &acc[0], &acc[1], &acc[2], &acc[3], 1);
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

/* hi32(a * m) + c in one SMMLA ((c * 2^32 + a * m) >> 32: the same integer as the int64
 * product's high word plus c; gcc makes SMULL and an add of the C form). */
static inline int32_t qcc_smmla(int32_t a, int32_t m, int32_t c)
{
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(m), "r"(c));
    return r;
}

/* The fast form only (q->sh > 0): the int8 result, clamped to [lo, hi] when narrow. */
#define QCC_RQF_FAST(acc, m, c, sh, narrow, lo, hi, out)                                   \
    do {                                                                                     \
        int32_t r_ = __ssat(qcc_smmla((acc), (m), (c)) >> (sh), 8);                          \
        if (narrow)                                                                          \
            r_ = r_ < (lo) ? (lo) : (r_ > (hi) ? (hi) : r_);                                 \
        (out) = (int8_t)r_;                                                                  \
    } while (0)

/* The same for an int16 output. */
#define QCC_RQF_FAST16(acc, m, c, sh, narrow, lo, hi, out)                                 \
    do {                                                                                     \
        int32_t r_ = __ssat(qcc_smmla((acc), (m), (c)) >> (sh), 16);                         \
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
    r = __ssat(qcc_smmla(acc, q->m, q->c) >> q->sh, 8);
    if (narrow)
        r = r < lo ? lo : (r > hi ? hi : r);
    return r;
}
#endif
