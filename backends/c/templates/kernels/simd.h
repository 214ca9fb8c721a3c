/* Host SIMD variants of the int8 dot-product kernels (docs/target_c.md "ISA variants"),
 * one header per instruction set, included in this order: simd.h (AVX2, VNNI), simd_sse2.h
 * (x86-64 without AVX2), simd_neon.h (AArch64 dot product), then simd_common.h (shared
 * helpers); the first whose macros hold defines QCC_SIMD. Chosen only by the compiler's own
 * predefined macros (the user's -march), never a qcc flag;
 * -DQCC_PORTABLE forces the portable C99 reference. Each computes the same integers as the
 * portable path, bit for bit:
 *   __AVX512VNNI__ + __AVX512VL__, or __AVXVNNI__: VPDPBUSD, 32 u8 x s8 products per
 *       instruction into 8 int32 lanes (no intermediate saturation). The activation is
 *       carried as u = x + 128 (int8 x; uint8 x as is), and sum w*(x - zp) is computed as
 *       sum w*u - (zp + off)*sum w, wrapping modulo 2^32: the true sum fits int32
 *       (check-headroom), so the wrapped one equals it.
 *   __AVX2__ (no VNNI): bytes widened to int16 and centred (x - zp), VPMADDWD with the
 *       sign-extended weights: |w*(x - zp)| <= 128*255, a pair sums below 2^17, exact.
 *   AArch64 __ARM_NEON + __ARM_FEATURE_DOTPROD: SDOT (s8 x s8), the same correction.
 * A "dot8" computes 8 dot products at once, each in its own vector accumulator, summed
 * across lanes only at the end; requantization runs on 8 lanes in 64-bit arithmetic. */

/* The loop of every variant's qcc_simd_dot8 (here, since simd.h is included first): steps t
 * over n (a multiple of QCC_SIMD_CH), dot product j accumulating in its own vector sj through
 * the variant's LANE(j, sj). */
#define QCC_SIMD_DOT8_LOOP(n, LANE)                                                            \
    for (t = 0; t < (n); t += QCC_SIMD_CH) {                                                    \
        LANE(0, s0);                                                                           \
        LANE(1, s1);                                                                           \
        LANE(2, s2);                                                                           \
        LANE(3, s3);                                                                           \
        LANE(4, s4);                                                                           \
        LANE(5, s5);                                                                           \
        LANE(6, s6);                                                                           \
        LANE(7, s7);                                                                           \
    }

#if !defined(QCC_PORTABLE) && defined(__AVX2__)
#include <immintrin.h>
#define QCC_SIMD 1
#define QCC_SIMD_X86 1
#if (defined(__AVX512VNNI__) && defined(__AVX512VL__)) || defined(__AVXVNNI__)
#define QCC_SIMD_VNNI 1
#define QCC_SIMD_CORR 1     /* byte dot products: the zero point as a correction */
#define QCC_SIMD_CH 32      /* activation bytes per vector step */
#define QCC_SIMD_FLIP 0x80  /* int8 byte -> u8 operand (x + 128) */
#else
#define QCC_SIMD_CH 16
#define QCC_SIMD_FLIP 0x00  /* int8 bytes widened as they are */
#endif
typedef __m256i qcc_v8;     /* 8 int32 lanes */

/* acc + the products of one step: a = activation bytes, xor flip = the operand domain (u8 for
 * VNNI, s8 for AVX2, where zp16 centres them), w = int8 weights. */
static inline __m256i qcc_simd_mac(__m256i acc, const uint8_t *a, const int8_t *w, __m256i flip,
                                   __m256i zp16)
{
#ifdef QCC_SIMD_VNNI
    const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)a), flip);
    const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)w);
    (void)zp16;
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(acc, u, wv);
#else
    return _mm256_dpbusd_avx_epi32(acc, u, wv);
#endif
#else
    const __m128i xb = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)a),
                                     _mm256_castsi256_si128(flip));
    const __m256i x16 = _mm256_sub_epi16(_mm256_cvtepi8_epi16(xb), zp16);
    const __m256i w16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(x16, w16));
#endif
}

/* Lane j of the result = the sum of the 8 lanes of s_j (wrapping). */
static inline qcc_v8 qcc_simd_hsum8(__m256i s0, __m256i s1, __m256i s2, __m256i s3, __m256i s4,
                                    __m256i s5, __m256i s6, __m256i s7)
{
    const __m256i h0 = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
    const __m256i h1 = _mm256_hadd_epi32(_mm256_hadd_epi32(s4, s5), _mm256_hadd_epi32(s6, s7));
    return _mm256_add_epi32(_mm256_permute2x128_si256(h0, h1, 0x20),
                            _mm256_permute2x128_si256(h0, h1, 0x31));
}

/* Lane j = sum over steps t < n (n a multiple of QCC_SIMD_CH) of (a_j[t] ^ flip) * w_j[t]
 * (AVX2: minus zp first); a_j / w_j:
 * a[j] or, when the pointer array is NULL, the one shared a0 / w0 (loaded once per step). */
static inline qcc_v8 qcc_simd_dot8(const uint8_t *const *a, const uint8_t *a0, const int8_t *const *w,
                                   const int8_t *w0, int32_t n, uint8_t flip, int32_t zp)
{
    const __m256i zp16 = _mm256_set1_epi16((int16_t)zp), fv = _mm256_set1_epi8((char)flip);
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    int32_t t;
#define QCC_SIMD_LANE(j, s) s = qcc_simd_mac(s, (a ? a[j] : a0) + t, (w ? w[j] : w0) + t, fv, zp16)
    QCC_SIMD_DOT8_LOOP(n, QCC_SIMD_LANE)
#undef QCC_SIMD_LANE
    return qcc_simd_hsum8(s0, s1, s2, s3, s4, s5, s6, s7);
}

/* The interleaved step (linear_simd_il.c): 8 output features in the 8 lanes, lane i holding
 * QCC_SIMD_IL consecutive weights of feature i, against the same QCC_SIMD_IL activations
 * broadcast to every lane. VNNI: byte quads (u8 activations x s8 weights, vpdpbusd); AVX2:
 * int16 pairs (centred activations x weights, vpmaddwd: |products| <= 255 * 128, exact). */
#ifdef QCC_SIMD_VNNI
#define QCC_SIMD_IL 4
typedef int8_t qcc_il_w;
typedef uint8_t qcc_il_x;
#else
#define QCC_SIMD_IL 2
typedef int16_t qcc_il_w;
typedef int16_t qcc_il_x;
#endif

static inline qcc_v8 qcc_simd_il_mac(qcc_v8 acc, const qcc_il_x *x, const qcc_il_w *w)
{
    int32_t xv;
    __m256i xb, wv;
    memcpy(&xv, x, 4);
    xb = _mm256_set1_epi32(xv);
    wv = _mm256_loadu_si256((const __m256i *)(const void *)w);
#ifdef QCC_SIMD_VNNI
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(acc, xb, wv);
#else
    return _mm256_dpbusd_avx_epi32(acc, xb, wv);
#endif
#else
    return _mm256_add_epi32(acc, _mm256_madd_epi16(xb, wv));
#endif
}

static inline qcc_v8 qcc_v8_load(const int32_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

static inline qcc_v8 qcc_v8_add(qcc_v8 a, qcc_v8 b) { return _mm256_add_epi32(a, b); }

static inline qcc_v8 qcc_v8_sub(qcc_v8 a, qcc_v8 b) { return _mm256_sub_epi32(a, b); }

static inline void qcc_v8_store(int32_t *p, qcc_v8 v)
{
    _mm256_storeu_si256((__m256i *)(void *)p, v);
}

/* floor((p + 2^(s-1)) / 2^s) per int64 lane, |p| <= 2^62, s in [1, 62]: p + 2^(s-1) + 2^62 is
 * in [0, 2^63), so a logical shift floors it, and 2^62 / 2^s is exact to take back. */
static inline __m256i qcc_simd_rshift64(__m256i p, __m256i s)
{
    const __m256i one = _mm256_set1_epi64x(1), c62 = _mm256_set1_epi64x(62);
    const __m256i rnd = _mm256_sllv_epi64(one, _mm256_sub_epi64(s, one));
    const __m256i v = _mm256_add_epi64(_mm256_add_epi64(p, rnd), _mm256_slli_epi64(one, 62));
    return _mm256_sub_epi64(_mm256_srlv_epi64(v, s), _mm256_sllv_epi64(one, _mm256_sub_epi64(c62, s)));
}

static inline __m256i qcc_simd_clamp64(__m256i v, __m256i lo, __m256i hi)
{
    v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
    return _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
}

/* qcc_requant(acc_j, m_j, s_j, zp, lo, hi) on 8 lanes (m_j in [0, 2^31), s_j in [1, 62]). */
static inline qcc_v8 qcc_v8_requant(qcc_v8 acc, qcc_v8 m, qcc_v8 s, int32_t zp, int32_t lo, int32_t hi)
{
    const __m256i lo64 = _mm256_set1_epi64x(lo), hi64 = _mm256_set1_epi64x(hi);
    const __m256i zp64 = _mm256_set1_epi64x(zp), low = _mm256_set1_epi64x(0xffffffff);
    __m256i pe = _mm256_mul_epi32(acc, m);  /* even lanes, signed 32x32 -> 64 */
    __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(m, 32));
    pe = qcc_simd_rshift64(pe, _mm256_and_si256(s, low));
    po = qcc_simd_rshift64(po, _mm256_srli_epi64(s, 32));
    pe = qcc_simd_clamp64(_mm256_add_epi64(pe, zp64), lo64, hi64);
    po = qcc_simd_clamp64(_mm256_add_epi64(po, zp64), lo64, hi64);
    return _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}

static inline qcc_v8 qcc_v8_set1(int32_t v) { return _mm256_set1_epi32(v); }

/* 8 int64 lanes (per-group weights: step 2 of docs/integer_ops.md in 64 bits), kept as the
 * even lanes (0, 2, 4, 6) and the odd lanes (1, 3, 5, 7) of a qcc_v8. */
typedef struct {
    __m256i e, o;
} qcc_v8w;

/* acc + v * g per lane (signed 32x32 -> 64 products, exact). */
static inline qcc_v8w qcc_v8w_madd(qcc_v8w acc, qcc_v8 v, qcc_v8 g)
{
    acc.e = _mm256_add_epi64(acc.e, _mm256_mul_epi32(v, g));
    acc.o = _mm256_add_epi64(acc.o, _mm256_mul_epi32(_mm256_srli_epi64(v, 32), _mm256_srli_epi64(g, 32)));
    return acc;
}

/* floor((x + 2^(s-1)) / 2^s) of every int64 lane (s in [1, 62]), the arithmetic shift made
 * of logical ones around the sign (exact for every int64), truncated to int32 lanes. */
static inline __m256i qcc_simd_rsr64(__m256i x, int32_t s)
{
    __m256i neg;
    x = _mm256_add_epi64(x, _mm256_set1_epi64x((int64_t)1 << (s - 1)));
    neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), x);
    return _mm256_xor_si256(_mm256_srli_epi64(_mm256_xor_si256(x, neg), s), neg);
}

static inline qcc_v8 qcc_v8w_round(qcc_v8w acc, int32_t s)
{
    return _mm256_blend_epi32(qcc_simd_rsr64(acc.e, s), _mm256_slli_epi64(qcc_simd_rsr64(acc.o, s), 32),
                              0xAA);
}

/* (int64)b << s per lane. */
static inline qcc_v8w qcc_v8w_init(qcc_v8 b, int32_t s)
{
    const __m256i one = _mm256_set1_epi64x(1);  /* VPMULDQ by 1 sign-extends a lane */
    qcc_v8w r;
    r.e = _mm256_slli_epi64(_mm256_mul_epi32(b, one), s);
    r.o = _mm256_slli_epi64(_mm256_mul_epi32(_mm256_srli_epi64(b, 32), one), s);
    return r;
}

/* The first nv (1..8) lanes, each in [-128, 127], as int8. */
static inline void qcc_v8_store_i8(int8_t *y, qcc_v8 v, int32_t nv)
{
    const __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    const __m128i b = _mm_packs_epi16(h, h);
    if (nv == 8)
        _mm_storel_epi64((__m128i *)(void *)y, b);
    else {
        int8_t t[16];
        _mm_storeu_si128((__m128i *)(void *)t, b);
        memcpy(y, t, (size_t)nv);
    }
}
#endif

#ifdef QCC_SIMD_X86
/* Sum of n int8 weights (once per weight row and call): VPSADBW sums the bytes w + 128. */
static inline int32_t qcc_simd_wsum(const int8_t *w, int32_t n)
{
    const int32_t nv = n - n % 32;
    const __m256i f = _mm256_set1_epi8((char)0x80);
    __m256i acc = _mm256_setzero_si256();
    int64_t s;
    int32_t t;
    for (t = 0; t < nv; t += 32)
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_xor_si256(
                  _mm256_loadu_si256((const __m256i *)(const void *)(w + t)), f), _mm256_setzero_si256()));
    s = _mm256_extract_epi64(acc, 0) + _mm256_extract_epi64(acc, 1) + _mm256_extract_epi64(acc, 2)
        + _mm256_extract_epi64(acc, 3) - 128 * (int64_t)nv;
    for (; t < n; t++)
        s += w[t];
    return (int32_t)s;
}
#endif
