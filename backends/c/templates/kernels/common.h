/* Integer arithmetic shared by every kernel (docs/arithmetic.md). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The requantization relies on >> of a negative int64 being an arithmetic
 * (flooring) shift, as on gcc, clang, armcc and IAR; refuse other compilers. */
typedef char qcc_arithmetic_shift_check[((-8 >> 1) == -4) ? 1 : -1];

/* (x + 2^(s-1)) >> s: round to nearest, ties toward +inf; s in [1, 62]. */
static inline int64_t qcc_rshift_round(int64_t x, int32_t s)
{
    return (x + ((int64_t)1 << (s - 1))) >> s;
}

static inline int32_t qcc_clamp(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

/* clamp(rshift_round(acc * m, s) + zp, lo, hi), all in int64. */
static inline int32_t qcc_requant(int64_t acc, int32_t m, int32_t s, int32_t zp,
                                  int32_t lo, int32_t hi)
{
    return qcc_clamp(qcc_rshift_round(acc * m, s) + zp, lo, hi);
}

/* The bit length of m, 1 <= m < 2^31. */
static inline int32_t qcc_bitlen31(int32_t m)
{
#ifdef __GNUC__
    return 32 - __builtin_clz((uint32_t)m);
#else
    int32_t b = 0;
    uint32_t v = (uint32_t)m;
    if (v >> 16) { b += 16; v >>= 16; }
    if (v >> 8) { b += 8; v >>= 8; }
    if (v >> 4) { b += 4; v >>= 4; }
    if (v >> 2) { b += 2; v >>= 2; }
    return b + (v >= 2 ? 2 : (int32_t)v);
#endif
}

#if !defined(QCC_PORTABLE) && defined(__SSE2__) && !defined(__AVX2__)
#include <emmintrin.h>
/* The loop of qcc_requant_i8_u64 below on x86 (SSE2, every x86-64 build), 8 outputs per step
 * (the scalar loop takes the rest; returns how many were done): the clamp to [lo32, hi32]
 * by compare and select (SSE2 has no PMINSD), PMULUDQ on the even and the odd lanes, the
 * logical 64-bit shift, the result (< 2^20 + base) packed to int16 with saturation and
 * clamped there to [lo, hi] (within int8, so saturating first changes nothing), then bytes. */
static inline int32_t qcc_requant_i8_u64_sse2(const int32_t *acc, int32_t n, int32_t lo32, int32_t hi32,
                                              uint32_t um, uint64_t cr, int32_t s, int32_t base,
                                              int32_t lo, int32_t hi, int8_t *y)
{
    const __m128i vlo = _mm_set1_epi32(lo32), vhi = _mm_set1_epi32(hi32), vm = _mm_set1_epi32((int32_t)um);
    const __m128i vcr = _mm_set1_epi64x((int64_t)cr), vs = _mm_cvtsi32_si128(s), vb = _mm_set1_epi32(base);
    const __m128i lo16 = _mm_set1_epi16((int16_t)lo), hi16 = _mm_set1_epi16((int16_t)hi);
    __m128i r[2];
    int32_t q, h;
    for (q = 0; q + 8 <= n; q += 8) {
        for (h = 0; h < 2; h++) {
            __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(acc + q + 4 * h)), t, e, o;
            t = _mm_cmpgt_epi32(vlo, a);
            a = _mm_or_si128(_mm_and_si128(t, vlo), _mm_andnot_si128(t, a));
            t = _mm_cmpgt_epi32(a, vhi);
            a = _mm_or_si128(_mm_and_si128(t, vhi), _mm_andnot_si128(t, a));
            a = _mm_sub_epi32(a, vlo);  /* d >= 0 */
            e = _mm_srl_epi64(_mm_add_epi64(_mm_mul_epu32(a, vm), vcr), vs);
            o = _mm_srl_epi64(_mm_add_epi64(_mm_mul_epu32(_mm_srli_epi64(a, 32), vm), vcr), vs);
            r[h] = _mm_add_epi32(_mm_or_si128(e, _mm_slli_epi64(o, 32)), vb);  /* e, o < 2^20 */
        }
        r[0] = _mm_min_epi16(_mm_max_epi16(_mm_packs_epi32(r[0], r[1]), lo16), hi16);
        _mm_storel_epi64((__m128i *)(void *)(y + q), _mm_packs_epi16(r[0], r[0]));
    }
    return q;
}
#endif

#if !defined(QCC_PORTABLE) && defined(__AVX2__)
#include <immintrin.h>
/* The same loop on AVX2 builds (AVX-512 ones: qcc_requant_i8_s64_avx512): the SSE2 form above on 256-bit registers, with
 * VPMINSD / VPMAXSD for the clamp. gcc's own vectorization of the scalar loop there (64-bit
 * VPMULLQ lanes with AVX-512) measured 8 % slower over a whole keyword-spotting CNN
 * (ds_cnn_kws, -march=native, 112 -> 103 us, 2026-12-06). */
static inline int32_t qcc_requant_i8_u64_avx2(const int32_t *acc, int32_t n, int32_t lo32, int32_t hi32,
                                              uint32_t um, uint64_t cr, int32_t s, int32_t base,
                                              int32_t lo, int32_t hi, int8_t *y)
{
    const __m256i vlo = _mm256_set1_epi32(lo32), vhi = _mm256_set1_epi32(hi32), vm = _mm256_set1_epi32((int32_t)um);
    const __m256i vcr = _mm256_set1_epi64x((int64_t)cr), vb = _mm256_set1_epi32(base);
    const __m128i vs = _mm_cvtsi32_si128(s), lo16 = _mm_set1_epi16((int16_t)lo), hi16 = _mm_set1_epi16((int16_t)hi);
    int32_t q;
    for (q = 0; q + 8 <= n; q += 8) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(acc + q)), e, o;
        __m128i r16;
        a = _mm256_sub_epi32(_mm256_min_epi32(_mm256_max_epi32(a, vlo), vhi), vlo);  /* d >= 0 */
        e = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(a, vm), vcr), vs);
        o = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), vm), vcr), vs);
        a = _mm256_add_epi32(_mm256_or_si256(e, _mm256_slli_epi64(o, 32)), vb);  /* e, o < 2^20 */
        r16 = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        r16 = _mm_min_epi16(_mm_max_epi16(r16, lo16), hi16);
        _mm_storel_epi64((__m128i *)(void *)(y + q), _mm_packs_epi16(r16, r16));
    }
    return q;
}
#endif


#if !defined(QCC_PORTABLE) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
/* qcc_requant of a whole row on AVX-512 without per-call set-up (2026-12-06, round "Small
 * planes"): AVX-512 has the signed 32x32->64 product (VPMULDQ), the arithmetic 64-bit shift
 * (VPSRAQ) and 64-bit min / max, so acc*m + 2^(s-1) (|.| < 2^62 + 2^61: exact), >> s, + zp and
 * the clamp run in int64 lanes exactly as qcc_requant does, for every m and 1 <= s <= 62 (the
 * IR's range). The unsigned form below needs acc bounds from three int64 divisions per call,
 * which on the 16-output planes of small CNNs cost more than the outputs. Even and odd lanes,
 * interleaved back by a blend; the last n % 16 outputs by masked loads and stores. For
 * s >= 32 (most conv layers) only the high int32 half of each sum is kept and the rest of the
 * shift, + zp and the clamp run in int32 lanes (fewer, and faster, instructions). */
static inline void qcc_requant_i8_s64_avx512(const int32_t *acc, int32_t n, int32_t m, int32_t s,
                                             int32_t zp, int32_t lo, int32_t hi, int8_t *y)
{
    const __m512i vm = _mm512_set1_epi64((int64_t)m), vr = _mm512_set1_epi64((int64_t)1 << (s - 1));
    const __m512i vz = _mm512_set1_epi64(zp), vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
    const __m128i vs = _mm_cvtsi32_si128(s);
    int32_t q;
    if (s >= 32) {  /* floor(x / 2^s) = floor(floor(x / 2^32) / 2^(s-32)): the high halves, int32 */
        const __m128i vs32 = _mm_cvtsi32_si128(s - 32);
        const __m512i z32 = _mm512_set1_epi32(zp), lo32 = _mm512_set1_epi32(lo), hi32 = _mm512_set1_epi32(hi);
        for (q = 0; q < n; q += 16) {
            const __mmask16 k = n - q >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - q)) - 1);
            const __m512i a = _mm512_maskz_loadu_epi32(k, (const void *)(acc + q));
            const __m512i e = _mm512_add_epi64(_mm512_mul_epi32(a, vm), vr);
            const __m512i o = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), vm), vr);
            /* |x| < 2^62 + 2^61: |x >> 32| < 2^31 - 2^29, + zp fits int32 */
            __m512i r = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e, 32), o);
            r = _mm512_add_epi32(_mm512_sra_epi32(r, vs32), z32);
            r = _mm512_min_epi32(_mm512_max_epi32(r, lo32), hi32);
            _mm_mask_storeu_epi8((void *)(y + q), k, _mm512_cvtepi32_epi8(r));
        }
        return;
    }
    for (q = 0; q < n; q += 16) {
        const __mmask16 k = n - q >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - q)) - 1);
        const __m512i a = _mm512_maskz_loadu_epi32(k, (const void *)(acc + q));
        __m512i e = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, vm), vr), vs);
        __m512i o = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), vm), vr), vs);
        e = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(e, vz), vlo), vhi);
        o = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(o, vz), vlo), vhi);
        _mm_mask_storeu_epi8((void *)(y + q), k,
                             _mm512_cvtepi32_epi8(_mm512_mask_blend_epi32(0xAAAA, e, _mm512_slli_epi64(o, 32))));
    }
}
#endif

/* One plane of int8 outputs of qcc_requant(acc, m, s, zp, lo, hi), bit-exact, with unsigned
 * 32x32->64 products and logical shifts that gcc vectorizes (SSE2 pmuludq/psrlq: there is no
 * signed 64-bit multiply or arithmetic shift). acc is clamped to [alo, ahi], outside of which
 * the output saturates anyway; then acc*m + 2^(s-1) = d*m + C with d = acc - alo >= 0 and
 * C = alo*m + 2^(s-1) = cq*2^s + cr, 0 <= cr < 2^s, so the rounded shift is
 * cq + ((d*m + cr) >> s), all unsigned. Returns 0 (nothing written) unless m > 0,
 * 1 <= s <= 43 and (ahi - alo)*m + cr < 2^(s+20) (the unsigned part fits 20 bits). */
static inline int qcc_requant_i8_u64(const int32_t *restrict acc, int32_t n, int32_t m, int32_t s,
                                     int32_t zp, int32_t lo, int32_t hi, int8_t *restrict y)
{
    int64_t one, alo, ahi, c, cq, hn, ln;
    uint64_t cr;
    int32_t q, lo32, hi32, base, b;
    uint32_t um;
#if !defined(QCC_PORTABLE) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    if (s >= 1 && s <= 62 && lo <= hi) {
        qcc_requant_i8_s64_avx512(acc, n, m, s, zp, lo, hi, y);
        return 1;
    }
#endif
    if (m <= 0 || s < 1 || s > 43 || lo > hi)
        return 0;
    one = (int64_t)1 << s;
    b = qcc_bitlen31(m);  /* 2^(b-1) <= m < 2^b */
    hn = (int64_t)(hi - zp) * one;
    ln = (int64_t)(lo - zp - 1) * one;
    /* ahi >= ceil(hn / m) (acc >= ahi: output >= hi) and alo <= floor(ln / m) (acc <= alo:
     * output < lo) by shifts instead of divisions (dividing by 2^(b-1) or 2^b, whichever
     * errs outwards; three int64 divisions per call cost more than a 125-position plane's
     * requantization); looser bounds clamp less, the range check below still holds them */
    ahi = -((-hn) >> (hn >= 0 ? b - 1 : b));
    alo = ln >> (ln <= 0 ? b - 1 : b);
    alo = alo < INT32_MIN ? INT32_MIN : alo;
    ahi = ahi > INT32_MAX ? INT32_MAX : ahi;
    if (ahi < alo)
        return 0;
    c = alo * m + one / 2;
    cq = c >> s;  /* floor(c / 2^s): >> is arithmetic (checked at compile time) */
    cr = (uint64_t)(c - cq * one);
    if ((uint64_t)(ahi - alo) * (uint64_t)m + cr >= ((uint64_t)1 << (s + 20))
        || cq + zp < -(1 << 28) || cq + zp > (1 << 28))
        return 0;
    lo32 = (int32_t)alo, hi32 = (int32_t)ahi, base = (int32_t)(cq + zp), um = (uint32_t)m;
    q = 0;
#if !defined(QCC_PORTABLE) && defined(__SSE2__) && !defined(__AVX2__)
    q = qcc_requant_i8_u64_sse2(acc, n, lo32, hi32, um, cr, s, base, lo, hi, y);
#endif
#if !defined(QCC_PORTABLE) && defined(__AVX2__)
    q += qcc_requant_i8_u64_avx2(acc + q, n - q, lo32, hi32, um, cr, s, base, lo, hi, y + q);
#endif
    for (; q < n; q++) {
        int32_t a = acc[q], r;
        uint32_t d;
        a = a < lo32 ? lo32 : a;
        a = a > hi32 ? hi32 : a;
        d = (uint32_t)a - (uint32_t)lo32;
        r = (int32_t)(uint32_t)(((uint64_t)d * um + cr) >> s) + base;
        r = r < lo ? lo : r;
        y[q] = (int8_t)(r > hi ? hi : r);
    }
    return 1;
}

/* Element types of the dtype-generic kernels. */
enum { QCC_I8 = 0, QCC_U8 = 1, QCC_I16 = 2, QCC_I32 = 3, QCC_I64 = 4 };

static inline int64_t qcc_load(const void *p, size_t i, int32_t dt)
{
    switch (dt) {
    case QCC_I8: return ((const int8_t *)p)[i];
    case QCC_U8: return ((const uint8_t *)p)[i];
    case QCC_I16: return ((const int16_t *)p)[i];
    case QCC_I32: return ((const int32_t *)p)[i];
    default: return ((const int64_t *)p)[i];
    }
}

static inline void qcc_store(void *p, size_t i, int32_t dt, int32_t v)
{
    switch (dt) {
    case QCC_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case QCC_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case QCC_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    default: ((int32_t *)p)[i] = v; break;
    }
}

#define QCC_OK 0
#define QCC_ERR_INDEX 1 /* a run-time index (e.g. a token id) is out of range */

/* Weight t of one row of a constant weight matrix stored at `bits` per value: 8 = plain
 * int8; 4 / 2 = packed int4 / int2, little-endian fields within each byte (two / four
 * values per byte, each row starting on a byte), sign-extended without shifts of negatives. */
static inline int32_t qcc_wget(const int8_t *row, int32_t t, int32_t bits)
{
    if (bits == 8)
        return row[t];
    {
        const int32_t per = 8 / bits, sh = (t % per) * bits;
        const int32_t v = ((int32_t)((const uint8_t *)row)[t / per] >> sh) & ((1 << bits) - 1);
        return v - ((v >> (bits - 1)) << bits);
    }
}

/* sum over t < len of w[k0 + t] * c[t]: int8 (or packed) weights times int16 activations,
 * a reduction the compiler turns into 16-bit multiply-accumulate pairs (pmaddwd / SMLAD). */
static inline int32_t qcc_dot_w(const int8_t *row, int32_t bits, int32_t k0, const int16_t *c,
                                int32_t len)
{
    int32_t acc = 0, t;
    if (bits == 8) {
        const int8_t *w = row + k0;
        for (t = 0; t < len; t++)
            acc += (int32_t)w[t] * c[t];
        return acc;
    }
    if (k0 % (8 / bits) == 0) {  /* whole bytes: every field of a byte at once */
        const uint8_t *b = (const uint8_t *)row + k0 / (8 / bits);
        if (bits == 4) {
            const int32_t n2 = len / 2;
            for (t = 0; t < n2; t++) {  /* ((f ^ 8) - 8): the signed value of a 4-bit field */
                const int32_t v = b[t];
                acc += (((v & 15) ^ 8) - 8) * c[2 * t] + (((v >> 4) ^ 8) - 8) * c[2 * t + 1];
            }
            if (len % 2)
                acc += (((b[n2] & 15) ^ 8) - 8) * c[len - 1];
            return acc;
        }
        if (bits == 2) {
            const int32_t n4 = len / 4;
            for (t = 0; t < n4; t++) {
                const int32_t v = b[t];
                acc += (((v & 3) ^ 2) - 2) * c[4 * t] + ((((v >> 2) & 3) ^ 2) - 2) * c[4 * t + 1]
                       + ((((v >> 4) & 3) ^ 2) - 2) * c[4 * t + 2] + (((v >> 6) ^ 2) - 2) * c[4 * t + 3];
            }
            for (t = 4 * n4; t < len; t++)
                acc += qcc_wget(row, k0 + t, bits) * c[t];
            return acc;
        }
    }
    for (t = 0; t < len; t++)
        acc += qcc_wget(row, k0 + t, bits) * c[t];
    return acc;
}

/* ISA variants are chosen by the compiler's own predefined macros (the user's -mcpu/-march),
 * never by a qcc flag; each computes the same integers as the portable C99 path below it.
 * Arm DSP extension (Cortex-M4/M7/M33/M55, ACLE): SXTB16 widens two int8 weights to a pair of
 * int16, SMLAD adds two int16 products to an int32 accumulator in one instruction. */
#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && !defined(QCC_PORTABLE)
#include <arm_acle.h>
#define QCC_ARM_DSP 1
/* Kernels kept out of line on Arm (in place of "static inline"): inlined into one
 * qcc_conv2d, gcc 12 ran out of registers and spilled the loop counters of the SMLAD loops
 * (4-6 more instructions per 16 MACs). */
#if defined(__GNUC__)
#define QCC_ARM_OUTLINE static __attribute__((noinline, unused))
#endif
static inline uint32_t qcc_ld32(const void *p)  /* unaligned word load (LDR on Armv7E-M) */
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One int8 row times four int16 values c01 = (c0, c1), c23 = (c2, c3), as two SMLADs:
 * SXTB16 of the weight word gives (w0, w2), of the word rotated by 8 (w1, w3). */
static inline int32_t qcc_smlad4(uint32_t wq, int32_t c02, int32_t c13, int32_t acc)
{
    int32_t w13;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(w13) : "r"(wq));  /* gcc does not fold the ror */
    acc = __smlad(__sxtb16((int32_t)wq), c02, acc);
    return __smlad(w13, c13, acc);
}

#endif
#ifndef QCC_ARM_OUTLINE
#define QCC_ARM_OUTLINE static inline
#endif

/* Prepares an int16 column for qcc_dot4_w8 / qcc_dot_w8c (plain int8 weights): with the DSP
 * extension, elements 1 and 2 of every whole group of four swap places, so that one word
 * load gives (c0, c2) and the next (c1, c3), the pairs SXTB16 makes of the weights; a no-op
 * in the portable build. Columns for qcc_dot_w (packed or per-group weights) stay in order. */
static inline void qcc_col_prep(int16_t *c, int32_t len)
{
#if defined(QCC_ARM_DSP) && !defined(QCC_ARM_MVE)
    const int32_t len4 = len - len % 4;
    int32_t t;
    for (t = 0; t < len4; t += 4) {
        const int16_t c1 = c[t + 1];
        c[t + 1] = c[t + 2];
        c[t + 2] = c1;
    }
#else
    (void)c;
    (void)len;
#endif
}

/* sum over t < len of w[t] * c[t], plain int8 weights, c prepared by qcc_col_prep. */
static inline int32_t qcc_dot_w8c(const int8_t *w, const int16_t *c, int32_t len)
{
    int32_t acc = 0, t = 0;
#if defined(QCC_ARM_MVE)
    return qcc_mve_dot_w8(w, c, len);
#elif defined(QCC_ARM_DSP)
    const int32_t len4 = len - len % 4;
    for (; t < len4; t += 4)
        acc = qcc_smlad4(qcc_ld32(w + t), (int32_t)qcc_ld32(c + t), (int32_t)qcc_ld32(c + t + 2), acc);
#endif
    for (; t < len; t++)
        acc += (int32_t)w[t] * c[t];
    return acc;
}

/* qcc_requant of an int32 accumulator. With the DSP extension and s >= 32 (the usual case:
 * multipliers are normalized to [2^30, 2^31)), floor((acc*m + 2^(s-1)) / 2^s) is the high
 * word of the 64-bit sum (one SMLAL) shifted right by s - 32: the same integer. */
static inline int32_t qcc_requant32(int32_t acc, int32_t m, int32_t s, int32_t zp, int32_t lo,
                                    int32_t hi)
{
#ifdef QCC_ARM_DSP
    if (s >= 33) {  /* 2^(s-1) is a multiple of 2^32: one SMULL (see qcc_rq) */
        const int32_t r = ((((int32_t)(((int64_t)acc * m) >> 32)) + ((int32_t)1 << (s - 33))) >> (s - 32))
                          + zp;  /* |acc*m| < 2^62: |r - zp| < 2^30 */
        return r < lo ? lo : (r > hi ? hi : r);
    }
    if (s == 32) {
        const int32_t r = (int32_t)(((int64_t)acc * m + ((int64_t)1 << 31)) >> 32) + zp;
        return r < lo ? lo : (r > hi ? hi : r);
    }
#endif
    return qcc_requant(acc, m, s, zp, lo, hi);
}

#ifdef QCC_ARM_DSP
/* qcc_requant32 with one channel's parameters prepared once (the DSP kernels' fused
 * epilogues). For s >= 33 the rounding term 2^(s-1) is a multiple of 2^32, so
 * floor((acc*m + 2^(s-1)) / 2^s) = (hi32(acc*m) + 2^(s-33)) >> (s-32): one SMULL, an add and
 * a shift; then SSAT to int8 and the activation bounds only when narrower. Other shifts take
 * qcc_requant32. */
typedef struct {  /* one channel: sh < 0 takes qcc_requant32 */
    int32_t m, s, rnd, sh;
} qcc_rq;
typedef struct {  /* the output's zero point and bounds (within int8), narrow: tighter */
    int32_t zp, lo, hi, narrow;
} qcc_rqo;

static inline void qcc_rqo_init(qcc_rqo *o, int32_t zp, int32_t lo, int32_t hi)
{
    o->zp = zp, o->lo = lo, o->hi = hi;
    o->narrow = lo > -128 || hi < 127;
}

static inline void qcc_rq_init(qcc_rq *q, int32_t m, int32_t s, const qcc_rqo *o)
{
    const int fast = s >= 33 && o->lo >= -128 && o->hi <= 127;
    q->m = m, q->s = s;
    q->rnd = fast ? (int32_t)1 << (s - 33) : 0;
    q->sh = fast ? s - 32 : -1;
}

static inline int32_t qcc_rq_i8(int32_t acc, const qcc_rq *q, const qcc_rqo *o)
{
    int32_t r;
    if (q->sh < 0)
        return qcc_requant32(acc, q->m, q->s, o->zp, o->lo, o->hi);
    r = __ssat((((int32_t)(((int64_t)acc * q->m) >> 32) + q->rnd) >> q->sh) + o->zp, 8);
    if (o->narrow)
        r = r < o->lo ? o->lo : (r > o->hi ? o->hi : r);
    return r;
}
#endif

/* One plane of int8 outputs of qcc_requant32 (the DSP build's epilogue). */
static inline void qcc_requant_i8_row(const int32_t *restrict acc, int32_t n, int32_t m, int32_t s,
                                      int32_t zp, int32_t lo, int32_t hi, int8_t *restrict y)
{
    int32_t q;
#ifdef QCC_ARM_DSP
    if (s >= 32) {
        const int64_t rnd = (int64_t)1 << (s - 1);
        const int32_t sh = s - 32;
        for (q = 0; q < n; q++) {
            const int32_t r = ((int32_t)(((int64_t)acc[q] * m + rnd) >> 32) >> sh) + zp;
            y[q] = (int8_t)(r < lo ? lo : (r > hi ? hi : r));
        }
        return;
    }
#endif
    for (q = 0; q < n; q++)
        y[q] = (int8_t)qcc_requant(acc[q], m, s, zp, lo, hi);
}

/* Four rows at once, int8 weights (rows `stride` bytes apart) times one int16 column prepared
 * by qcc_col_prep: each column element is loaded once for four multiply-accumulates. */
static inline void qcc_dot4_w8(const int8_t *w, size_t stride, const int16_t *c, int32_t len,
                               int32_t acc[4])
{
    const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, t = 0;
#if defined(QCC_ARM_MVE)
    qcc_mve_dot4_w8(w, stride, c, len, acc);
    return;
#elif defined(QCC_ARM_DSP)
    /* A column from qcc_col_prep: (c0, c2), (c1, c3). One block of 22 instructions per four
     * elements of four rows, in assembly because gcc 12 spills the pointers of the C form
     * (27 instructions); unaligned word loads are fine on Armv7E-M / Armv8-M. */
    const int16_t *cp = c;
    int32_t n4 = len / 4;
    for (t = 4 * n4; n4 > 0; n4--) {
        uint32_t c02, c13, wq, ws;
        __asm__("ldr %[c02], [%[cp]], #4\n\t"
                "ldr %[c13], [%[cp]], #4\n\t"
                "ldr %[wq], [%[w0]], #4\n\t"
                "sxtb16 %[ws], %[wq]\n\t"
                "smlad %[a0], %[ws], %[c02], %[a0]\n\t"
                "sxtb16 %[wq], %[wq], ror #8\n\t"
                "smlad %[a0], %[wq], %[c13], %[a0]\n\t"
                "ldr %[wq], [%[w1]], #4\n\t"
                "sxtb16 %[ws], %[wq]\n\t"
                "smlad %[a1], %[ws], %[c02], %[a1]\n\t"
                "sxtb16 %[wq], %[wq], ror #8\n\t"
                "smlad %[a1], %[wq], %[c13], %[a1]\n\t"
                "ldr %[wq], [%[w2]], #4\n\t"
                "sxtb16 %[ws], %[wq]\n\t"
                "smlad %[a2], %[ws], %[c02], %[a2]\n\t"
                "sxtb16 %[wq], %[wq], ror #8\n\t"
                "smlad %[a2], %[wq], %[c13], %[a2]\n\t"
                "ldr %[wq], [%[w3]], #4\n\t"
                "sxtb16 %[ws], %[wq]\n\t"
                "smlad %[a3], %[ws], %[c02], %[a3]\n\t"
                "sxtb16 %[wq], %[wq], ror #8\n\t"
                "smlad %[a3], %[wq], %[c13], %[a3]"
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w0] "+r"(w0),
                  [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [cp] "+r"(cp), [c02] "=&r"(c02),
                  [c13] "=&r"(c13), [wq] "=&r"(wq), [ws] "=&r"(ws)
                :
                : "memory");
    }
    w0 -= t, w1 -= t, w2 -= t, w3 -= t;  /* the tail below indexes from the row starts */
#endif
    for (; t < len; t++) {
        const int32_t cv = c[t];
        a0 += (int32_t)w0[t] * cv;
        a1 += (int32_t)w1[t] * cv;
        a2 += (int32_t)w2[t] * cv;
        a3 += (int32_t)w3[t] * cv;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* Host builds (x86-64, AArch64; not the MCUs, whose flash pays for each copy): row functions
 * marked QCC_ROW_INLINE are inlined into one loop per type pair (and softmax variant) with
 * constant codes (qcc_isoftmax, qcc_igelu, qcc_ilayernorm, the generic qcc_binary rows), so
 * each qcc_load / qcc_store switch folds to one typed access, the loops vectorize and fewer
 * values stay live; the same code, so the same integers. -DQCC_PORTABLE keeps the one
 * generic loop. */
#if defined(__GNUC__) && !defined(QCC_PORTABLE) && !defined(QCC_ARM_DSP) \
    && (defined(__x86_64__) || defined(__aarch64__))
#define QCC_ROW_INLINE __attribute__((always_inline)) static inline
#define QCC_TYPED_ROWS 1
#else
#define QCC_ROW_INLINE static inline
#endif

