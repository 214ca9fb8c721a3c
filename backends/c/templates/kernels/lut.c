#if !defined(QCC_PORTABLE) && defined(__AVX512VBMI__) && defined(__AVX512BW__)
#include <immintrin.h>
/* 64 lookups per step: VPERMI2B picks from 128 table bytes by the low 7 bits of each index,
 * once in each half of the table, and the index's top bit selects the half; the tail is
 * a masked step.  The same bytes as the scalar loop. */
static inline void qcc_lut_row_vbmi(const uint8_t *x, const uint8_t *t, uint8_t *y, int32_t n,
                                    uint8_t flip)
{
    const __m512i t0 = _mm512_loadu_si512((const void *)t);
    const __m512i t1 = _mm512_loadu_si512((const void *)(t + 64));
    const __m512i t2 = _mm512_loadu_si512((const void *)(t + 128));
    const __m512i t3 = _mm512_loadu_si512((const void *)(t + 192));
    const __m512i vf = _mm512_set1_epi8((char)flip);
    int32_t i = 0;
    for (;;) {
        const int32_t left = n - i;
        const __mmask64 k = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
        __m512i u, lo, hi;
        if (left <= 0)
            break;
        u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, (const void *)(x + i)), vf);
        lo = _mm512_permutex2var_epi8(t0, u, t1);
        hi = _mm512_permutex2var_epi8(t2, u, t3);
        _mm512_mask_storeu_epi8((void *)(y + i), k,
                                _mm512_mask_blend_epi8(_mm512_movepi8_mask(u), lo, hi));
        i += 64;
    }
}
#define QCC_LUT_ROW_MIN 16  /* rows at least this long take the vector loop */
#endif

static inline void qcc_lut_row(const uint8_t *x, const uint8_t *t, uint8_t *y, int32_t n,
                               uint8_t flip)
{
    int32_t i;
#ifdef QCC_LUT_ROW_MIN
    if (n >= QCC_LUT_ROW_MIN) {
        qcc_lut_row_vbmi(x, t, y, n, flip);
        return;
    }
#endif
    for (i = 0; i < n; i++)
        y[i] = t[(uint8_t)(x[i] ^ flip)];
}

static inline int qcc_lut(const qcc_lut_p *p, const uint8_t *x, const uint8_t *table, uint8_t *y)
{
    const uint8_t flip = p->x_unsigned ? 0u : 0x80u; /* int8 x - (-128) == x ^ 0x80 as a byte */
    /* in locals: a byte store may alias *p (see qcc_concat_part) */
    const int32_t n = p->count, chans = p->channels, inner = p->inner;
    int32_t i, c;
    if (chans <= 1) {
        qcc_lut_row(x, table, y, n, flip);
        return QCC_OK;
    }
    if (inner == 1) {  /* channels last: each element its own row */
        for (i = 0; i < n; i += chans)
            for (c = 0; c < chans; c++)
                y[i + c] = table[256 * c + (uint8_t)(x[i + c] ^ flip)];
        return QCC_OK;
    }
    for (i = 0; i < n; i += chans * inner)
        for (c = 0; c < chans; c++)
            qcc_lut_row(x + i + c * inner, table + 256 * c, y + i + c * inner, inner, flip);
    return QCC_OK;
}
