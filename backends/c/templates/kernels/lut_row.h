/* The byte-table row lookup shared by qcc_lut and concat's int8 parts (y[i] = t[x[i] ^ flip]):
 * the AVX-512 VBMI form, the Arm DSP form (four lookups per word) and the scalar loop.
 * Rendered right after common.h, whose macros (QCC_ARM_DSP, qcc_ld32) it uses. */
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

#if defined(QCC_ARM_DSP) && !defined(QCC_LUT_ROW_MIN)
/* Arm: four lookups per word (one unaligned LDR of four x, per byte one SXTB / UXTB with
 * rotation or a shift and one LDRB, ORR with shift into one STR: about 3.5 instructions per
 * element against 6-7 for the byte loop). An int8 x (flip 0x80) indexes the table's middle,
 * t + 128, by its signed value: t[x ^ 0x80] = (t + 128)[(int8_t)x]. Two words per pass (the
 * loop's compare and branch once per eight). In place is safe: each word is read before it is
 * written. Returns the elements done (a multiple of four). */
#define QCC_LUT4S(tm, v) ((uint32_t)(tm)[(int8_t)(v)] | (uint32_t)(tm)[(int8_t)((v) >> 8)] << 8 \
                         | (uint32_t)(tm)[(int8_t)((v) >> 16)] << 16 \
                         | (uint32_t)(tm)[(int32_t)(v) >> 24] << 24)
#define QCC_LUT4U(t, v) ((uint32_t)(t)[(uint8_t)(v)] | (uint32_t)(t)[(uint8_t)((v) >> 8)] << 8 \
                         | (uint32_t)(t)[(uint8_t)((v) >> 16)] << 16 | (uint32_t)(t)[(v) >> 24] << 24)
static inline int32_t qcc_lut_row_dsp(const uint8_t *x, const uint8_t *t, uint8_t *y, int32_t n,
                                      uint8_t flip)
{
    const int32_t n4 = n & ~3, n8 = n & ~7;
    int32_t i;
/* two words per pass (both read before either is written), then single words */
#define QCC_LUT_WORDS(LUT4, T)                                                                 \
    for (i = 0; i < n8; i += 8) {                                                              \
        const uint32_t v0 = qcc_ld32(x + i), v1 = qcc_ld32(x + i + 4);                         \
        const uint32_t r0 = LUT4(T, v0), r1 = LUT4(T, v1);                                     \
        memcpy(y + i, &r0, sizeof r0);                                                         \
        memcpy(y + i + 4, &r1, sizeof r1);                                                     \
    }                                                                                          \
    for (; i < n4; i += 4) {                                                                   \
        const uint32_t v = qcc_ld32(x + i), r = LUT4(T, v);                                    \
        memcpy(y + i, &r, sizeof r);                                                           \
    }
    if (flip) {
        const uint8_t *tm = t + 128;
        QCC_LUT_WORDS(QCC_LUT4S, tm)
    } else {
        QCC_LUT_WORDS(QCC_LUT4U, t)
    }
#undef QCC_LUT_WORDS
    return n4;
}
#endif

/* y[i] = t[x[i] ^ flip] over a row (qcc_lut, and the int8 parts of qcc_concat_part). */
static inline void qcc_lut_row(const uint8_t *x, const uint8_t *t, uint8_t *y, int32_t n,
                               uint8_t flip)
{
    int32_t i = 0;
#ifdef QCC_LUT_ROW_MIN
    if (n >= QCC_LUT_ROW_MIN) {
        qcc_lut_row_vbmi(x, t, y, n, flip);
        return;
    }
#elif defined(QCC_ARM_DSP)
    i = qcc_lut_row_dsp(x, t, y, n, flip);
#endif
    for (; i < n; i++)
        y[i] = t[(uint8_t)(x[i] ^ flip)];
}
