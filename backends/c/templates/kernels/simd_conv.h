/* Host SIMD primitives of the convolution kernels (conv2d_dw_simd.c, conv2d_pw_simd.c; docs/
 * target_c.md "ISA variants"), on the qcc_v8 lanes of simd.h: int16 pair and byte quad
 * multiply-accumulates, centred rows, pair rows and the depthwise band transposition. */
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
/* The 8 x 8 int16 block at column c of 8 rows (row stride rs), transposed into tc + 8c
 * (SSE2 unpacks; shared by the AVX2 and SSE2 qcc_simd_pairs8). */
static inline void qcc_simd_t8x8(const int16_t *rows, int32_t rs, int32_t c, int16_t *tc)
{
#define QCC_LD(l) _mm_loadu_si128((const __m128i *)(const void *)(rows + (size_t)(l) * rs + c))
    const __m128i b0 = _mm_unpacklo_epi16(QCC_LD(0), QCC_LD(1)), b1 = _mm_unpackhi_epi16(QCC_LD(0), QCC_LD(1));
    const __m128i b2 = _mm_unpacklo_epi16(QCC_LD(2), QCC_LD(3)), b3 = _mm_unpackhi_epi16(QCC_LD(2), QCC_LD(3));
    const __m128i b4 = _mm_unpacklo_epi16(QCC_LD(4), QCC_LD(5)), b5 = _mm_unpackhi_epi16(QCC_LD(4), QCC_LD(5));
    const __m128i b6 = _mm_unpacklo_epi16(QCC_LD(6), QCC_LD(7)), b7 = _mm_unpackhi_epi16(QCC_LD(6), QCC_LD(7));
#undef QCC_LD
    const __m128i c0 = _mm_unpacklo_epi32(b0, b2), c1 = _mm_unpackhi_epi32(b0, b2);
    const __m128i c2 = _mm_unpacklo_epi32(b1, b3), c3 = _mm_unpackhi_epi32(b1, b3);
    const __m128i c4 = _mm_unpacklo_epi32(b4, b6), c5 = _mm_unpackhi_epi32(b4, b6);
    const __m128i c6 = _mm_unpacklo_epi32(b5, b7), c7 = _mm_unpackhi_epi32(b5, b7);
    __m128i *t = (__m128i *)(void *)(tc + (size_t)c * 8);
    _mm_storeu_si128(t, _mm_unpacklo_epi64(c0, c4));
    _mm_storeu_si128(t + 1, _mm_unpackhi_epi64(c0, c4));
    _mm_storeu_si128(t + 2, _mm_unpacklo_epi64(c1, c5));
    _mm_storeu_si128(t + 3, _mm_unpackhi_epi64(c1, c5));
    _mm_storeu_si128(t + 4, _mm_unpacklo_epi64(c2, c6));
    _mm_storeu_si128(t + 5, _mm_unpackhi_epi64(c2, c6));
    _mm_storeu_si128(t + 6, _mm_unpacklo_epi64(c3, c7));
    _mm_storeu_si128(t + 7, _mm_unpackhi_epi64(c3, c7));
}
#endif

#ifdef QCC_SIMD_X86
/* acc + per lane j: xp16[2j]*wp16[2j] + xp16[2j+1]*wp16[2j+1] (VPMADDWD: each lane holds an int16
 * pair; the pair's sum of products is exact in int32 when |products| <= 128*255). */
static inline qcc_v8 qcc_v8_madd16(qcc_v8 acc, const int32_t *xp, const int32_t *wp)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)xp),
                                                   _mm256_loadu_si256((const __m256i *)(const void *)wp)));
}

#ifdef QCC_SIMD_VNNI
#define QCC_SIMD_QUAD 1  /* qcc_v8_dot4b: four byte products per lane and instruction */
/* acc + per lane j: sum over t < 4 of the operand bytes xq8[4j + t] (u8) * wquad8[t] (s8)
 * (VPDPBUSD against the broadcast quad; no saturation). */
static inline qcc_v8 qcc_v8_dot4b(qcc_v8 acc, const int32_t *xq, int32_t wquad)
{
    const __m256i u = _mm256_loadu_si256((const __m256i *)(const void *)xq), wv = _mm256_set1_epi32(wquad);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(acc, u, wv);
#else
    return _mm256_dpbusd_avx_epi32(acc, u, wv);
#endif
}
#endif

/* acc + per lane j: xp16[2j] * w0 + xp16[2j+1] * w1, wpair = (w0, w1) as int16 (VPMADDWD
 * against the broadcast pair). */
static inline qcc_v8 qcc_v8_madd16b(qcc_v8 acc, const int32_t *xp, int32_t wpair)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(const void *)xp),
                                                   _mm256_set1_epi32(wpair)));
}

/* dst[q] = the int16 pair (x0[q] - zp, x1[q] - zp) for q < n (x1 NULL: 0 for the second). */
static inline void qcc_simd_pairrow(const int8_t *x0, const int8_t *x1, int32_t n, int32_t zp, int32_t *dst)
{
    const __m128i z = _mm_set1_epi16((int16_t)zp);
    int32_t q;
    for (q = 0; q + 8 <= n; q += 8) {
        const __m128i a = _mm_sub_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(x0 + q))), z);
        const __m128i b = x1 ? _mm_sub_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(x1 + q))), z)
                             : _mm_setzero_si128();
        _mm_storeu_si128((__m128i *)(void *)(dst + q), _mm_unpacklo_epi16(a, b));
        _mm_storeu_si128((__m128i *)(void *)(dst + q + 4), _mm_unpackhi_epi16(a, b));
    }
    for (; q < n; q++)
        dst[q] = (int32_t)((uint32_t)(uint16_t)(int16_t)(x0[q] - zp)
                           | (uint32_t)(uint16_t)(int16_t)(x1 ? x1[q] - zp : 0) << 16);
}

/* dst[t] = x[t] - zp for t < n (int8 to int16, 8 at a time). */
static inline void qcc_simd_centre16(const int8_t *x, int32_t n, int32_t zp, int16_t *dst)
{
    const __m128i z = _mm_set1_epi16((int16_t)zp);
    int32_t t;
    for (t = 0; t + 8 <= n; t += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + t),
                         _mm_sub_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)(x + t))), z));
    for (; t < n; t++)
        dst[t] = (int16_t)(x[t] - zp);
}

/* dst[c * 8 + l] = the int16 pair (rows[l * rs + c], rows[l * rs + c + 1]) for c < n: eight rows
 * (readable to column n rounded up to 8, plus 8) transposed 8 x 8 at a time into tc
 * (n + 8 columns of 8 lanes), then each column paired with the next. */
static inline void qcc_simd_pairs8(const int16_t *rows, int32_t rs, int32_t n, int16_t *tc, int32_t *dst)
{
    const __m256i ilv = _mm256_setr_epi8(0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
                                         0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15);
    int32_t c;
    for (c = 0; c <= n; c += 8) {
        qcc_simd_t8x8(rows, rs, c, tc);
    }
    for (c = 0; c < n; c++) {  /* [col c | col c + 1] -> lanes 0-3 | 4-7 of the pairs */
        const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(tc + (size_t)c * 8));
        _mm256_storeu_si256((__m256i *)(void *)(dst + (size_t)c * 8),
                            _mm256_shuffle_epi8(_mm256_permute4x64_epi64(v, 0xD8), ilv));
    }
}
#endif

#ifdef QCC_SIMD_SSE2
/* acc + per lane j: the int16 pair products xp16[2j]*wp16[2j] + xp16[2j+1]*wp16[2j+1] (PMADDWD,
 * exact as VPMADDWD). */
static inline qcc_v8 qcc_v8_madd16(qcc_v8 acc, const int32_t *xp, const int32_t *wp)
{
    acc.lo = _mm_add_epi32(acc.lo, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(const void *)xp),
                                                  _mm_loadu_si128((const __m128i *)(const void *)wp)));
    acc.hi = _mm_add_epi32(acc.hi, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(const void *)(xp + 4)),
                                                  _mm_loadu_si128((const __m128i *)(const void *)(wp + 4))));
    return acc;
}

/* acc + per lane j: xp16[2j] * w0 + xp16[2j+1] * w1, wpair = (w0, w1) as int16. */
static inline qcc_v8 qcc_v8_madd16b(qcc_v8 acc, const int32_t *xp, int32_t wpair)
{
    const __m128i wv = _mm_set1_epi32(wpair);
    acc.lo = _mm_add_epi32(acc.lo, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(const void *)xp), wv));
    acc.hi = _mm_add_epi32(acc.hi, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(const void *)(xp + 4)), wv));
    return acc;
}

/* The 8 int8 at x, sign-extended to int16, minus z. */
static inline __m128i qcc_simd_ld8c(const int8_t *x, __m128i z)
{
    const __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)x);
    return _mm_sub_epi16(_mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8), z);
}

/* dst[q] = the int16 pair (x0[q] - zp, x1[q] - zp) for q < n (x1 NULL: 0 for the second). */
static inline void qcc_simd_pairrow(const int8_t *x0, const int8_t *x1, int32_t n, int32_t zp, int32_t *dst)
{
    const __m128i z = _mm_set1_epi16((int16_t)zp);
    int32_t q;
    for (q = 0; q + 8 <= n; q += 8) {
        const __m128i a = qcc_simd_ld8c(x0 + q, z);
        const __m128i b = x1 ? qcc_simd_ld8c(x1 + q, z) : _mm_setzero_si128();
        _mm_storeu_si128((__m128i *)(void *)(dst + q), _mm_unpacklo_epi16(a, b));
        _mm_storeu_si128((__m128i *)(void *)(dst + q + 4), _mm_unpackhi_epi16(a, b));
    }
    for (; q < n; q++)
        dst[q] = (int32_t)((uint32_t)(uint16_t)(int16_t)(x0[q] - zp)
                           | (uint32_t)(uint16_t)(int16_t)(x1 ? x1[q] - zp : 0) << 16);
}

/* dst[t] = x[t] - zp for t < n (int8 to int16, 8 at a time). */
static inline void qcc_simd_centre16(const int8_t *x, int32_t n, int32_t zp, int16_t *dst)
{
    const __m128i z = _mm_set1_epi16((int16_t)zp);
    int32_t t;
    for (t = 0; t + 8 <= n; t += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + t), qcc_simd_ld8c(x + t, z));
    for (; t < n; t++)
        dst[t] = (int16_t)(x[t] - zp);
}

/* dst[c * 8 + l] = the int16 pair (rows[l * rs + c], rows[l * rs + c + 1]) for c < n: the
 * AVX2 path's 8 x 8 transposition into tc, then column c interleaved with column c + 1. */
static inline void qcc_simd_pairs8(const int16_t *rows, int32_t rs, int32_t n, int16_t *tc, int32_t *dst)
{
    int32_t c;
    for (c = 0; c <= n; c += 8) {
        qcc_simd_t8x8(rows, rs, c, tc);
    }
    for (c = 0; c < n; c++) {
        const __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(tc + (size_t)c * 8));
        const __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(tc + (size_t)(c + 1) * 8));
        _mm_storeu_si128((__m128i *)(void *)(dst + (size_t)c * 8), _mm_unpacklo_epi16(v0, v1));
        _mm_storeu_si128((__m128i *)(void *)(dst + (size_t)c * 8 + 4), _mm_unpackhi_epi16(v0, v1));
    }
}
#endif

#ifdef QCC_SIMD_NEON
/* acc + per lane j: the int16 pair products xp16[2j]*wp16[2j] + xp16[2j+1]*wp16[2j+1] (LD2
 * splits the pairs, SMLAL / SMLAL2 widen; exact as VPMADDWD). */
static inline qcc_v8 qcc_v8_madd16(qcc_v8 acc, const int32_t *xp, const int32_t *wp)
{
    const int16x8x2_t xx = vld2q_s16((const int16_t *)(const void *)xp);
    const int16x8x2_t ww = vld2q_s16((const int16_t *)(const void *)wp);
    acc.val[0] = vmlal_s16(vmlal_s16(acc.val[0], vget_low_s16(xx.val[0]), vget_low_s16(ww.val[0])),
                           vget_low_s16(xx.val[1]), vget_low_s16(ww.val[1]));
    acc.val[1] = vmlal_high_s16(vmlal_high_s16(acc.val[1], xx.val[0], ww.val[0]), xx.val[1], ww.val[1]);
    return acc;
}

#define QCC_SIMD_QUAD 1
/* acc + per lane j: sum over t < 4 of the operand bytes xq8[4j + t] (s8) * wquad8[t] (s8) (SDOT). */
static inline qcc_v8 qcc_v8_dot4b(qcc_v8 acc, const int32_t *xq, int32_t wquad)
{
    const int8x16_t wv = vreinterpretq_s8_s32(vdupq_n_s32(wquad));
    acc.val[0] = vdotq_s32(acc.val[0], vreinterpretq_s8_s32(vld1q_s32(xq)), wv);
    acc.val[1] = vdotq_s32(acc.val[1], vreinterpretq_s8_s32(vld1q_s32(xq + 4)), wv);
    return acc;
}

/* acc + per lane j: xp16[2j] * w0 + xp16[2j+1] * w1, wpair = (w0, w1) as int16 (LD2 +
 * SMLAL by scalar). */
static inline qcc_v8 qcc_v8_madd16b(qcc_v8 acc, const int32_t *xp, int32_t wpair)
{
    const int16x8x2_t xx = vld2q_s16((const int16_t *)(const void *)xp);
    const int16_t w0 = (int16_t)(uint16_t)((uint32_t)wpair & 0xffff), w1 = (int16_t)(uint16_t)((uint32_t)wpair >> 16);
    acc.val[0] = vmlal_n_s16(vmlal_n_s16(acc.val[0], vget_low_s16(xx.val[0]), w0), vget_low_s16(xx.val[1]), w1);
    acc.val[1] = vmlal_high_n_s16(vmlal_high_n_s16(acc.val[1], xx.val[0], w0), xx.val[1], w1);
    return acc;
}

/* dst[q] = the int16 pair (x0[q] - zp, x1[q] - zp) for q < n (x1 NULL: 0 for the second). */
static inline void qcc_simd_pairrow(const int8_t *x0, const int8_t *x1, int32_t n, int32_t zp, int32_t *dst)
{
    const int16x8_t z = vdupq_n_s16((int16_t)zp);
    int32_t q;
    for (q = 0; q + 8 <= n; q += 8) {
        const int16x8_t a = vsubq_s16(vmovl_s8(vld1_s8(x0 + q)), z);
        const int16x8_t b = x1 ? vsubq_s16(vmovl_s8(vld1_s8(x1 + q)), z) : vdupq_n_s16(0);
        const int16x8x2_t zz = vzipq_s16(a, b);
        vst1q_s16((int16_t *)(void *)(dst + q), zz.val[0]);
        vst1q_s16((int16_t *)(void *)(dst + q + 4), zz.val[1]);
    }
    for (; q < n; q++)
        dst[q] = (int32_t)((uint32_t)(uint16_t)(int16_t)(x0[q] - zp)
                           | (uint32_t)(uint16_t)(int16_t)(x1 ? x1[q] - zp : 0) << 16);
}

/* dst[t] = x[t] - zp for t < n (int8 to int16, 8 at a time). */
static inline void qcc_simd_centre16(const int8_t *x, int32_t n, int32_t zp, int16_t *dst)
{
    const int16x8_t z = vdupq_n_s16((int16_t)zp);
    int32_t t;
    for (t = 0; t + 8 <= n; t += 8)
        vst1q_s16(dst + t, vsubq_s16(vmovl_s8(vld1_s8(x + t)), z));
    for (; t < n; t++)
        dst[t] = (int16_t)(x[t] - zp);
}

/* dst[c * 8 + l] = the int16 pair (rows[l * rs + c], rows[l * rs + c + 1]) for c < n (tc unused). */
static inline void qcc_simd_pairs8(const int16_t *rows, int32_t rs, int32_t n, int16_t *tc, int32_t *dst)
{
    int32_t c, l;
    (void)tc;
    for (c = 0; c < n; c++)
        for (l = 0; l < 8; l++)
            dst[(size_t)c * 8 + l] = (int32_t)((uint32_t)(uint16_t)rows[(size_t)l * rs + c]
                                               | (uint32_t)(uint16_t)rows[(size_t)l * rs + c + 1] << 16);
}
#endif

#ifdef QCC_SIMD
#ifdef __GNUC__
#define QCC_SIMD_INLINE __attribute__((always_inline)) static inline
#else
#define QCC_SIMD_INLINE static inline
#endif
/* The 4 x 16 register tile of the host GEMMs (conv2d_pw_simd.c, conv2d_pwt_simd.c,
 * matmul_simd.c), one function NAME per multiply-accumulate MAC(acc, 8 tuples, broadcast
 * tuple) (qcc_v8_dot4b, qcc_v8_madd16b): acc[i * as + q] = b4[i] + sum over k < cr of
 * MAC(tuple k of position q, wq[k * 4 + i]) for i < 4 and q < qv (a multiple of 16); tuple k of
 * position q at xp[k * qs + q], or with an offset table at xp[off[k] + q]. Eight accumulators
 * stay in registers; always inlined, so each caller's loop is specialised (off NULL or not). */
#define QCC_SIMD_TILE4X16(NAME, MAC)                                                            \
    QCC_SIMD_INLINE void NAME(const int32_t *xp, const int32_t *off, int32_t qs, int32_t cr,     \
                              int32_t qv, const int32_t *wq, const int32_t *b4, int32_t *acc,    \
                              int32_t as)                                                        \
    {                                                                                            \
        int32_t q, k;                                                                            \
        for (q = 0; q < qv; q += 16) {                                                           \
            qcc_v8 a0 = qcc_v8_set1(b4[0]), a1 = a0, c0 = qcc_v8_set1(b4[1]), c1 = c0;           \
            qcc_v8 d0 = qcc_v8_set1(b4[2]), d1 = d0, e0 = qcc_v8_set1(b4[3]), e1 = e0;           \
            for (k = 0; k < cr; k++) {                                                           \
                const int32_t *xk = xp + (off ? (size_t)off[k] : (size_t)k * qs) + q;            \
                const int32_t *wk = wq + (size_t)k * 4;                                          \
                a0 = MAC(a0, xk, wk[0]);                                                         \
                a1 = MAC(a1, xk + 8, wk[0]);                                                     \
                c0 = MAC(c0, xk, wk[1]);                                                         \
                c1 = MAC(c1, xk + 8, wk[1]);                                                     \
                d0 = MAC(d0, xk, wk[2]);                                                         \
                d1 = MAC(d1, xk + 8, wk[2]);                                                     \
                e0 = MAC(e0, xk, wk[3]);                                                         \
                e1 = MAC(e1, xk + 8, wk[3]);                                                     \
            }                                                                                    \
            qcc_v8_store(acc + q, a0);                                                           \
            qcc_v8_store(acc + q + 8, a1);                                                       \
            qcc_v8_store(acc + (size_t)as + q, c0);                                              \
            qcc_v8_store(acc + (size_t)as + q + 8, c1);                                          \
            qcc_v8_store(acc + 2 * (size_t)as + q, d0);                                          \
            qcc_v8_store(acc + 2 * (size_t)as + q + 8, d1);                                      \
            qcc_v8_store(acc + 3 * (size_t)as + q, e0);                                          \
            qcc_v8_store(acc + 3 * (size_t)as + q + 8, e1);                                      \
        }                                                                                        \
    }
#endif
