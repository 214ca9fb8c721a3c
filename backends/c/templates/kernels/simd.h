/* Host SIMD variants of the int8 dot-product kernels (docs/target_c.md "ISA variants"),
 * chosen only by the compiler's own predefined macros (the user's -march), never a qcc flag;
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
    for (t = 0; t < n; t += QCC_SIMD_CH) {
        QCC_SIMD_LANE(0, s0);
        QCC_SIMD_LANE(1, s1);
        QCC_SIMD_LANE(2, s2);
        QCC_SIMD_LANE(3, s3);
        QCC_SIMD_LANE(4, s4);
        QCC_SIMD_LANE(5, s5);
        QCC_SIMD_LANE(6, s6);
        QCC_SIMD_LANE(7, s7);
    }
#undef QCC_SIMD_LANE
    return qcc_simd_hsum8(s0, s1, s2, s3, s4, s5, s6, s7);
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

#if !defined(QCC_PORTABLE) && !defined(QCC_SIMD) && defined(__SSE2__)
/* SSE2 only (every x86-64 compiler's default, no -march): the AVX2 path at half width.
 * Bytes widened to int16 by unpacking against themselves and an arithmetic shift, centred
 * (x - zp), PMADDWD with the widened weights: exact as VPMADDWD. A qcc_v8 is two __m128i of
 * 4 int32 lanes; the 64-bit requantization and the per-group sums run per lane in scalar C
 * (SSE2 has no signed 32x32 -> 64 multiply nor 64-bit compares), once per output. */
#include <emmintrin.h>
#define QCC_SIMD 1
#define QCC_SIMD_SSE2 1
#define QCC_SIMD_CH 16
#define QCC_SIMD_FLIP 0x00
typedef struct {
    __m128i lo, hi;
} qcc_v8;

/* The 8 low (h = 0) or high (h = 1) bytes of v sign-extended to int16. */
static inline __m128i qcc_simd_s8to16(__m128i v, int h)
{
    return _mm_srai_epi16(h ? _mm_unpackhi_epi8(v, v) : _mm_unpacklo_epi8(v, v), 8);
}

static inline __m128i qcc_simd_mac(__m128i acc, const uint8_t *a, const int8_t *w, __m128i flip,
                                   __m128i zp16)
{
    const __m128i xb = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)a), flip);
    const __m128i wb = _mm_loadu_si128((const __m128i *)(const void *)w);
    acc = _mm_add_epi32(acc, _mm_madd_epi16(_mm_sub_epi16(qcc_simd_s8to16(xb, 0), zp16), qcc_simd_s8to16(wb, 0)));
    return _mm_add_epi32(acc, _mm_madd_epi16(_mm_sub_epi16(qcc_simd_s8to16(xb, 1), zp16), qcc_simd_s8to16(wb, 1)));
}

/* Lane j of the result = the sum of the 4 lanes of s_j (wrapping): a 4 x 4 transposition. */
static inline __m128i qcc_simd_hsum4(__m128i s0, __m128i s1, __m128i s2, __m128i s3)
{
    const __m128i a = _mm_add_epi32(_mm_unpacklo_epi32(s0, s1), _mm_unpackhi_epi32(s0, s1));
    const __m128i b = _mm_add_epi32(_mm_unpacklo_epi32(s2, s3), _mm_unpackhi_epi32(s2, s3));
    return _mm_add_epi32(_mm_unpacklo_epi64(a, b), _mm_unpackhi_epi64(a, b));
}

/* As the AVX2 qcc_simd_dot8: lane j = sum over t < n of ((a_j[t] ^ flip) - zp) * w_j[t]. */
static inline qcc_v8 qcc_simd_dot8(const uint8_t *const *a, const uint8_t *a0, const int8_t *const *w,
                                   const int8_t *w0, int32_t n, uint8_t flip, int32_t zp)
{
    const __m128i zp16 = _mm_set1_epi16((int16_t)zp), fv = _mm_set1_epi8((char)flip);
    __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    qcc_v8 r;
    int32_t t;
#define QCC_SIMD_LANE(j, s) s = qcc_simd_mac(s, (a ? a[j] : a0) + t, (w ? w[j] : w0) + t, fv, zp16)
    for (t = 0; t < n; t += QCC_SIMD_CH) {
        QCC_SIMD_LANE(0, s0);
        QCC_SIMD_LANE(1, s1);
        QCC_SIMD_LANE(2, s2);
        QCC_SIMD_LANE(3, s3);
        QCC_SIMD_LANE(4, s4);
        QCC_SIMD_LANE(5, s5);
        QCC_SIMD_LANE(6, s6);
        QCC_SIMD_LANE(7, s7);
    }
#undef QCC_SIMD_LANE
    r.lo = qcc_simd_hsum4(s0, s1, s2, s3);
    r.hi = qcc_simd_hsum4(s4, s5, s6, s7);
    return r;
}

static inline qcc_v8 qcc_v8_load(const int32_t *p)
{
    qcc_v8 r;
    r.lo = _mm_loadu_si128((const __m128i *)(const void *)p);
    r.hi = _mm_loadu_si128((const __m128i *)(const void *)(p + 4));
    return r;
}

static inline void qcc_v8_store(int32_t *p, qcc_v8 v)
{
    _mm_storeu_si128((__m128i *)(void *)p, v.lo);
    _mm_storeu_si128((__m128i *)(void *)(p + 4), v.hi);
}

static inline qcc_v8 qcc_v8_add(qcc_v8 a, qcc_v8 b)
{
    a.lo = _mm_add_epi32(a.lo, b.lo);
    a.hi = _mm_add_epi32(a.hi, b.hi);
    return a;
}

static inline qcc_v8 qcc_v8_sub(qcc_v8 a, qcc_v8 b)
{
    a.lo = _mm_sub_epi32(a.lo, b.lo);
    a.hi = _mm_sub_epi32(a.hi, b.hi);
    return a;
}

static inline qcc_v8 qcc_v8_set1(int32_t v)
{
    qcc_v8 r;
    r.lo = r.hi = _mm_set1_epi32(v);
    return r;
}

/* qcc_requant per lane (scalar: once per output, after the whole reduction). */
static inline qcc_v8 qcc_v8_requant(qcc_v8 acc, qcc_v8 m, qcc_v8 s, int32_t zp, int32_t lo, int32_t hi)
{
    int32_t a[8], mm[8], ss[8], i;
    qcc_v8_store(a, acc);
    qcc_v8_store(mm, m);
    qcc_v8_store(ss, s);
    for (i = 0; i < 8; i++)
        a[i] = qcc_requant(a[i], mm[i], ss[i], zp, lo, hi);
    return qcc_v8_load(a);
}

/* 8 int64 lanes (per-group weights), per lane in scalar C, wrapping as the AVX2 lanes do. */
typedef struct {
    int64_t v[8];
} qcc_v8w;

static inline qcc_v8w qcc_v8w_madd(qcc_v8w acc, qcc_v8 v, qcc_v8 g)
{
    int32_t a[8], b[8], i;
    qcc_v8_store(a, v);
    qcc_v8_store(b, g);
    for (i = 0; i < 8; i++)
        acc.v[i] = (int64_t)((uint64_t)acc.v[i] + (uint64_t)((int64_t)a[i] * b[i]));
    return acc;
}

static inline qcc_v8 qcc_v8w_round(qcc_v8w acc, int32_t s)
{
    int32_t r[8], i;
    for (i = 0; i < 8; i++)
        r[i] = (int32_t)(uint32_t)(uint64_t)qcc_rshift_round(acc.v[i], s);
    return qcc_v8_load(r);
}

static inline qcc_v8w qcc_v8w_init(qcc_v8 b, int32_t s)
{
    int32_t a[8], i;
    qcc_v8w r;
    qcc_v8_store(a, b);
    for (i = 0; i < 8; i++)
        r.v[i] = (int64_t)((uint64_t)(int64_t)a[i] << s);
    return r;
}

/* The first nv (1..8) lanes, each in [-128, 127], as int8. */
static inline void qcc_v8_store_i8(int8_t *y, qcc_v8 v, int32_t nv)
{
    const __m128i h = _mm_packs_epi32(v.lo, v.hi);
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


#if !defined(QCC_PORTABLE) && !defined(QCC_SIMD) && defined(__aarch64__) && defined(__ARM_NEON) \
    && defined(__ARM_FEATURE_DOTPROD)
/* AArch64 NEON with the dot product extension (Armv8.2-A+dotprod: Cortex-A55/A76 and later,
 * Apple, Neoverse): SDOT, 16 s8 x s8 products into 4 int32 lanes. The activation operand is x
 * (int8) or x - 128 (uint8), and sum w*(x - zp) = sum w*v - (zp + off)*sum w modulo 2^32, as
 * for VNNI. A qcc_v8 is two int32x4 vectors. */
#include <arm_neon.h>
#define QCC_SIMD 1
#define QCC_SIMD_NEON 1
#define QCC_SIMD_CORR 1
#define QCC_SIMD_CH 16
#define QCC_SIMD_FLIP 0x00
typedef int32x4x2_t qcc_v8;

/* Lane j = sum over steps t < n (n a multiple of 16) of (a_j[t] ^ flip) * w_j[t], a_j / w_j as
 * for x86; zp unused (the caller corrects). */
static inline qcc_v8 qcc_simd_dot8(const uint8_t *const *a, const uint8_t *a0, const int8_t *const *w,
                                   const int8_t *w0, int32_t n, uint8_t flip, int32_t zp)
{
    const uint8x16_t fv = vdupq_n_u8(flip);
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    qcc_v8 r;
    int32_t t;
    (void)zp;
#define QCC_SIMD_LANE(j, s) s = vdotq_s32(s, vreinterpretq_s8_u8(veorq_u8(vld1q_u8((a ? a[j] : a0) + t), fv)), \
                                          vld1q_s8((w ? w[j] : w0) + t))
    for (t = 0; t < n; t += QCC_SIMD_CH) {
        QCC_SIMD_LANE(0, s0);
        QCC_SIMD_LANE(1, s1);
        QCC_SIMD_LANE(2, s2);
        QCC_SIMD_LANE(3, s3);
        QCC_SIMD_LANE(4, s4);
        QCC_SIMD_LANE(5, s5);
        QCC_SIMD_LANE(6, s6);
        QCC_SIMD_LANE(7, s7);
    }
#undef QCC_SIMD_LANE
    r.val[0] = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
    r.val[1] = vpaddq_s32(vpaddq_s32(s4, s5), vpaddq_s32(s6, s7));
    return r;
}

static inline qcc_v8 qcc_v8_load(const int32_t *p)
{
    qcc_v8 r;
    r.val[0] = vld1q_s32(p);
    r.val[1] = vld1q_s32(p + 4);
    return r;
}

static inline qcc_v8 qcc_v8_add(qcc_v8 a, qcc_v8 b)
{
    a.val[0] = vaddq_s32(a.val[0], b.val[0]);
    a.val[1] = vaddq_s32(a.val[1], b.val[1]);
    return a;
}

static inline qcc_v8 qcc_v8_sub(qcc_v8 a, qcc_v8 b)
{
    a.val[0] = vsubq_s32(a.val[0], b.val[0]);
    a.val[1] = vsubq_s32(a.val[1], b.val[1]);
    return a;
}

static inline qcc_v8 qcc_v8_set1(int32_t v)
{
    qcc_v8 r;
    r.val[0] = r.val[1] = vdupq_n_s32(v);
    return r;
}

static inline void qcc_v8_store(int32_t *p, qcc_v8 v)
{
    vst1q_s32(p, v.val[0]);
    vst1q_s32(p + 4, v.val[1]);
}

/* 8 int64 lanes (per-group weights, in 64 bits). */
typedef struct {
    int64x2_t v[4];
} qcc_v8w;

static inline qcc_v8w qcc_v8w_madd(qcc_v8w acc, qcc_v8 x, qcc_v8 g)
{
    acc.v[0] = vmlal_s32(acc.v[0], vget_low_s32(x.val[0]), vget_low_s32(g.val[0]));
    acc.v[1] = vmlal_high_s32(acc.v[1], x.val[0], g.val[0]);
    acc.v[2] = vmlal_s32(acc.v[2], vget_low_s32(x.val[1]), vget_low_s32(g.val[1]));
    acc.v[3] = vmlal_high_s32(acc.v[3], x.val[1], g.val[1]);
    return acc;
}

/* floor((x + 2^(s-1)) / 2^s) per lane (SRSHL), truncated to int32. */
static inline qcc_v8 qcc_v8w_round(qcc_v8w acc, int32_t s)
{
    const int64x2_t ns = vdupq_n_s64(-s);
    qcc_v8 r;
    r.val[0] = vcombine_s32(vmovn_s64(vrshlq_s64(acc.v[0], ns)), vmovn_s64(vrshlq_s64(acc.v[1], ns)));
    r.val[1] = vcombine_s32(vmovn_s64(vrshlq_s64(acc.v[2], ns)), vmovn_s64(vrshlq_s64(acc.v[3], ns)));
    return r;
}

static inline qcc_v8w qcc_v8w_init(qcc_v8 b, int32_t s)
{
    const int64x2_t sh = vdupq_n_s64(s);
    qcc_v8w r;
    r.v[0] = vshlq_s64(vmovl_s32(vget_low_s32(b.val[0])), sh);
    r.v[1] = vshlq_s64(vmovl_high_s32(b.val[0]), sh);
    r.v[2] = vshlq_s64(vmovl_s32(vget_low_s32(b.val[1])), sh);
    r.v[3] = vshlq_s64(vmovl_high_s32(b.val[1]), sh);
    return r;
}

/* Four lanes of qcc_requant: SMULL, then SRSHL by -s (the rounding right shift, computed
 * without intermediate overflow, ties toward +inf), + zp, a saturating narrow (order
 * preserving, so clamping after it equals clamping the int64), the clamp. */
static inline int32x4_t qcc_simd_requant4(int32x4_t acc, int32x4_t m, int32x4_t s, int64x2_t zp,
                                          int32x4_t lo, int32x4_t hi)
{
    const int64x2_t ns0 = vnegq_s64(vmovl_s32(vget_low_s32(s))), ns1 = vnegq_s64(vmovl_high_s32(s));
    const int64x2_t r0 = vaddq_s64(vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(m)), ns0), zp);
    const int64x2_t r1 = vaddq_s64(vrshlq_s64(vmull_high_s32(acc, m), ns1), zp);
    return vminq_s32(vmaxq_s32(vcombine_s32(vqmovn_s64(r0), vqmovn_s64(r1)), lo), hi);
}

static inline qcc_v8 qcc_v8_requant(qcc_v8 acc, qcc_v8 m, qcc_v8 s, int32_t zp, int32_t lo, int32_t hi)
{
    const int64x2_t z = vdupq_n_s64(zp);
    const int32x4_t l = vdupq_n_s32(lo), h = vdupq_n_s32(hi);
    acc.val[0] = qcc_simd_requant4(acc.val[0], m.val[0], s.val[0], z, l, h);
    acc.val[1] = qcc_simd_requant4(acc.val[1], m.val[1], s.val[1], z, l, h);
    return acc;
}

/* The first nv (1..8) lanes, each in [-128, 127], as int8. */
static inline void qcc_v8_store_i8(int8_t *y, qcc_v8 v, int32_t nv)
{
    const int8x8_t b = vqmovn_s16(vcombine_s16(vqmovn_s32(v.val[0]), vqmovn_s32(v.val[1])));
    if (nv == 8)
        vst1_s8(y, b);
    else {
        int8_t t[8];
        vst1_s8(t, b);
        memcpy(y, t, (size_t)nv);
    }
}

#endif

#if defined(QCC_SIMD_SSE2) || defined(QCC_SIMD_NEON)
/* Sum of n int8 weights, once per weight row and call (NEON: the sdot correction; gcc
 * vectorizes the loop; SSE2 does not use byte dot products). */
static inline int32_t qcc_simd_wsum(const int8_t *w, int32_t n)
{
    int32_t s = 0, t;
    for (t = 0; t < n; t++)
        s += w[t];
    return s;
}
#endif

#ifdef QCC_SIMD
/* Weights k0 .. k0 + n of a row stored at `bits` (k0 a multiple of 8 / bits) as int8. */
static inline void qcc_simd_unpack(const int8_t *row, int32_t bits, int32_t k0, int32_t n, int8_t *dst)
{
    const uint8_t *b = (const uint8_t *)row + k0 / (8 / bits);
    int32_t t;
    if (bits == 8)
        memcpy(dst, row + k0, (size_t)n);
    else if (bits == 4) {
        for (t = 0; t < n / 2; t++) {
            const int32_t v = b[t];
            dst[2 * t] = (int8_t)(((v & 15) ^ 8) - 8);
            dst[2 * t + 1] = (int8_t)(((v >> 4) ^ 8) - 8);
        }
        for (t = n - n % 2; t < n; t++)
            dst[t] = (int8_t)qcc_wget(row, k0 + t, bits);
    } else {
        for (t = 0; t < n / 4; t++) {
            const int32_t v = b[t];
            dst[4 * t] = (int8_t)(((v & 3) ^ 2) - 2);
            dst[4 * t + 1] = (int8_t)((((v >> 2) & 3) ^ 2) - 2);
            dst[4 * t + 2] = (int8_t)((((v >> 4) & 3) ^ 2) - 2);
            dst[4 * t + 3] = (int8_t)(((v >> 6) ^ 2) - 2);
        }
        for (t = n - n % 4; t < n; t++)
            dst[t] = (int8_t)qcc_wget(row, k0 + t, bits);
    }
}

/* The operand byte of an activation: VNNI u8 = x + 128 for int8 x (uint8 x as is); AVX2 and
 * NEON s8 = x for int8 x, x - 128 for uint8 x. `off` is what the operand adds to x. */
static inline uint8_t qcc_simd_flip(int32_t x_dt)
{
    return (uint8_t)(x_dt == QCC_U8 ? QCC_SIMD_FLIP ^ 0x80 : QCC_SIMD_FLIP);
}

static inline int32_t qcc_simd_off(int32_t x_dt)
{
    return (x_dt == QCC_U8 ? 0 : 128) - (QCC_SIMD_FLIP ? 0 : 128);
}
#endif
