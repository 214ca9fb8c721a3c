/* Helpers shared by the host SIMD variants (simd.h, simd_sse2.h, simd_neon.h). */
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
