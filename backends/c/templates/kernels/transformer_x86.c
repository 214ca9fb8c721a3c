#if !defined(QCC_PORTABLE) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
/* igelu on AVX-512 (2026-12-06, round "Transformer rows on AVX-512"): the same integers as the
 * portable int64 loop, 16 elements per step in int32 lanes where a bound checked once per call
 * proves every intermediate fits (the bound of qcc_igelu_dsp): xi = clamp(x - zp, -q_l, x_max),
 * t = max(q_l - |xi|, 0), g = (xi > 0 ? 2 c1 - t^2 : t^2) >> f (xi = 0: the product is 0 either
 * way), the product xi * g (|.| < 2^31 by the bound) into a block of int32, then
 * qcc_requant_i8_s64_avx512 (every m, 1 <= s <= 62). int8 / int16 in, int8 out; returns 0
 * (nothing written) when a bound fails, and the caller runs the portable loop. */
#define QCC_IGELU_X86_BLOCK 256
static inline int qcc_igelu_avx512(const qcc_igelu_p *p, const void *x, void *y)
{
    const int64_t big = (int64_t)1 << 31, ql = p->q_l, c1 = p->c1, zp = p->x_zp;
    const int x16 = p->x_dt == QCC_I16;
    int32_t acc[QCC_IGELU_X86_BLOCK], i0, q;
    int64_t xa, ga;
    if ((p->x_dt != QCC_I8 && !x16) || p->y_dt != QCC_I8 || p->s < 1 || p->s > 62)
        return 0;
    if (ql < 0 || ql > 46340 || c1 < 0 || 2 * c1 >= big || p->f_shift < 0 || p->f_shift > 31
        || zp < -(1 << 20) || zp > (1 << 20) || p->x_max < -ql || p->lo > p->hi || p->lo < -128
        || p->hi > 127 || p->y_zp < -(1 << 29) || p->y_zp > (1 << 29))
        return 0;
    /* |xi| <= max(q_l, |x_max|); |g| <= max(2 c1, q_l^2) >> f, + 1 for the floor of negatives */
    xa = p->x_max < 0 ? -(int64_t)p->x_max : p->x_max;
    xa = xa > ql ? xa : ql;
    ga = ((2 * c1 > ql * ql ? 2 * c1 : ql * ql) >> p->f_shift) + 1;
    if (xa * ga >= big || 2 * c1 - ql * ql <= -big)
        return 0;
    {
        const __m512i vzp = _mm512_set1_epi32(p->x_zp), vnql = _mm512_set1_epi32(-p->q_l);
        const __m512i vql = _mm512_set1_epi32(p->q_l), vxmax = _mm512_set1_epi32(p->x_max);
        const __m512i vc2 = _mm512_set1_epi32(2 * p->c1), zero = _mm512_setzero_si512();
        const __m128i vf = _mm_cvtsi32_si128(p->f_shift);
        const int32_t n = p->count;
        for (i0 = 0; i0 < n; i0 += QCC_IGELU_X86_BLOCK) {
            const int32_t nb = n - i0 < QCC_IGELU_X86_BLOCK ? n - i0 : QCC_IGELU_X86_BLOCK;
            for (q = 0; q < nb; q += 16) {
                const __mmask16 k = nb - q >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nb - q)) - 1);
                __m512i xi, t, g;
                if (x16)
                    xi = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(k, (const int16_t *)x + i0 + q));
                else
                    xi = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, (const int8_t *)x + i0 + q));
                xi = _mm512_min_epi32(_mm512_max_epi32(_mm512_sub_epi32(xi, vzp), vnql), vxmax);
                t = _mm512_max_epi32(_mm512_sub_epi32(vql, _mm512_abs_epi32(xi)), zero);
                t = _mm512_mullo_epi32(t, t);
                g = _mm512_mask_sub_epi32(t, _mm512_cmpgt_epi32_mask(xi, zero), vc2, t);
                g = _mm512_sra_epi32(g, vf);
                _mm512_storeu_si512((void *)(acc + q), _mm512_mullo_epi32(xi, g));
            }
            qcc_requant_i8_s64_avx512(acc, nb, p->m, p->s, p->y_zp, p->lo, p->hi, (int8_t *)y + i0);
        }
    }
    return 1;
}
#endif
