/* Host SIMD variant for x86-64 without AVX2 (docs/target_c.md "ISA variants"): after simd.h,
 * which takes AVX2 / VNNI builds first; the shared helpers follow in simd_common.h. */
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
    QCC_SIMD_DOT8_LOOP(n, QCC_SIMD_LANE)
#undef QCC_SIMD_LANE
    r.lo = qcc_simd_hsum4(s0, s1, s2, s3);
    r.hi = qcc_simd_hsum4(s4, s5, s6, s7);
    return r;
}

/* The interleaved step (linear_simd_il.c), as the AVX2 one: int16 pairs, two pmaddwd. */
#define QCC_SIMD_IL 2
typedef int16_t qcc_il_w;
typedef int16_t qcc_il_x;

static inline qcc_v8 qcc_simd_il_mac(qcc_v8 acc, const qcc_il_x *x, const qcc_il_w *w)
{
    int32_t xv;
    __m128i xb;
    memcpy(&xv, x, 4);
    xb = _mm_set1_epi32(xv);
    acc.lo = _mm_add_epi32(acc.lo, _mm_madd_epi16(xb, _mm_loadu_si128((const __m128i *)(const void *)w)));
    acc.hi = _mm_add_epi32(acc.hi, _mm_madd_epi16(xb, _mm_loadu_si128((const __m128i *)(const void *)(w + 8))));
    return acc;
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
