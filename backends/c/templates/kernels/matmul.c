{% include "kernels/matmul_dsp.c" %}

/* acc[j] += av * (b[j] - b_zp) over one row of b (int8 or uint8). */
static inline void qcc_matmul_axpy(const qcc_matmul_p *p, int32_t av, const void *br, int32_t *acc)
{
    const int32_t n = p->n, zp = p->b_zp;
    int32_t j;
    if (p->b_dt == QCC_U8) {
        const uint8_t *r = (const uint8_t *)br;
        for (j = 0; j < n; j++)
            acc[j] += av * ((int32_t)r[j] - zp);
    } else {
        const int8_t *r = (const int8_t *)br;
        for (j = 0; j < n; j++)
            acc[j] += av * ((int32_t)r[j] - zp);
    }
}

/* Centered, transposed copy of one batch of b: bt[j][k] = b[k][j] - b_zp (int16). */
static inline void qcc_matmul_pack_b(const qcc_matmul_p *p, const uint8_t *b, int16_t *bt)
{
    int32_t k, j;
    for (k = 0; k < p->k; k++)
        for (j = 0; j < p->n; j++) {
            const int32_t v = p->b_dt == QCC_U8 ? (int32_t)b[(size_t)k * p->n + j]
                                                : (int32_t)((const int8_t *)b)[(size_t)k * p->n + j];
            bt[(size_t)j * p->k + k] = (int16_t)(v - p->b_zp);
        }
}

/* Dot products of int16 rows: Helium VMLADAVA over eight lanes (a VCTP-predicated tail), or
 * one SMLAD per two elements (unaligned word loads); the portable loop otherwise. */
static inline int32_t qcc_dot_i16(const int16_t *a, const int16_t *b, int32_t k)
{
    int32_t acc = 0, t = 0;
#if defined(QCC_ARM_MVE)
    for (; t + 8 <= k; t += 8)
        acc = vmladavaq_s16(acc, vldrhq_s16(a + t), vldrhq_s16(b + t));
    if (t < k) {
        const mve_pred16_t pr = vctp16q((uint32_t)(k - t));
        acc = vmladavaq_p_s16(acc, vldrhq_z_s16(a + t, pr), vldrhq_z_s16(b + t, pr), pr);
    }
    return acc;
#elif defined(QCC_ARM_DSP)
    for (; t + 2 <= k; t += 2)
        acc = __smlad((int32_t)qcc_ld32(a + t), (int32_t)qcc_ld32(b + t), acc);
#endif
    for (; t < k; t++)
        acc += (int32_t)a[t] * b[t];
    return acc;
}

/* Four dot products of a with the rows b, b + k, b + 2k, b + 3k (a loaded once). */
static inline void qcc_dot4_i16(const int16_t *a, const int16_t *b, int32_t k, int32_t acc[4])
{
    const int16_t *b1 = b + k, *b2 = b + 2 * (size_t)k, *b3 = b + 3 * (size_t)k;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, t = 0;
#if defined(QCC_ARM_MVE)
    for (; t + 8 <= k; t += 8) {
        const int16x8_t av = vldrhq_s16(a + t);
        a0 = vmladavaq_s16(a0, av, vldrhq_s16(b + t));
        a1 = vmladavaq_s16(a1, av, vldrhq_s16(b1 + t));
        a2 = vmladavaq_s16(a2, av, vldrhq_s16(b2 + t));
        a3 = vmladavaq_s16(a3, av, vldrhq_s16(b3 + t));
    }
    if (t < k) {
        const mve_pred16_t pr = vctp16q((uint32_t)(k - t));
        const int16x8_t av = vldrhq_z_s16(a + t, pr);
        a0 = vmladavaq_p_s16(a0, av, vldrhq_z_s16(b + t, pr), pr);
        a1 = vmladavaq_p_s16(a1, av, vldrhq_z_s16(b1 + t, pr), pr);
        a2 = vmladavaq_p_s16(a2, av, vldrhq_z_s16(b2 + t, pr), pr);
        a3 = vmladavaq_p_s16(a3, av, vldrhq_z_s16(b3 + t, pr), pr);
        t = k;
    }
#elif defined(QCC_ARM_DSP)
    for (; t + 2 <= k; t += 2) {
        const int32_t av = (int32_t)qcc_ld32(a + t);
        a0 = __smlad(av, (int32_t)qcc_ld32(b + t), a0);
        a1 = __smlad(av, (int32_t)qcc_ld32(b1 + t), a1);
        a2 = __smlad(av, (int32_t)qcc_ld32(b2 + t), a2);
        a3 = __smlad(av, (int32_t)qcc_ld32(b3 + t), a3);
    }
#endif
    for (; t < k; t++) {
        const int32_t av = a[t];
        a0 += av * b[t];
        a1 += av * b1[t];
        a2 += av * b2[t];
        a3 += av * b3[t];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline void qcc_matmul_out(const qcc_matmul_p *p, const int32_t *mult, const int32_t *shift,
                                  void *y, size_t at, int32_t acc)
{
    if (mult == NULL)
        ((int32_t *)y)[at] = acc;
    else
        qcc_store(y, at, p->y_dt, qcc_requant32(acc, mult[0], shift[0], p->y_zp, p->lo, p->hi));
}

#ifdef QCC_SIMD  /* host SIMD variants: matmul_simd.c */
static inline int qcc_matmul_simd(const qcc_matmul_p *p, const void *a, const void *b,
                                  const int32_t *a_off, const int32_t *b_off, const int32_t *mult,
                                  const int32_t *shift, void *y);
#endif

/* scratch: p->packed ? (K + N*K) int16 (a row, b transposed) : N int32 accumulators. */
static inline int qcc_matmul(const qcc_matmul_p *p, const void *a, const void *b, const int32_t *a_off,
               const int32_t *b_off, const int32_t *mult, const int32_t *shift, void *y,
               void *scratch)
{
    const int32_t n = p->n;
    int32_t t, i, k, j;
#ifdef QCC_ARM_GEMM4
    if (qcc_matmul_dsp(p, a, b, a_off, b_off, mult, shift, y, scratch))
        return QCC_OK;
#endif
#ifdef QCC_SIMD
    if (qcc_matmul_simd(p, a, b, a_off, b_off, mult, shift, y))
        return QCC_OK;
#endif
    for (t = 0; t < p->batch; t++) {
        const uint8_t *bt = (const uint8_t *)b + (size_t)b_off[t];
        int16_t *ac = (int16_t *)scratch, *bp = ac + p->k;
        if (p->packed && (t == 0 || b_off[t] != b_off[t - 1]))
            qcc_matmul_pack_b(p, bt, bp);
        for (i = 0; i < p->m; i++) {
            const size_t row = ((size_t)t * p->m + i) * n;
            const size_t arow = (size_t)a_off[t] + (size_t)i * p->k;
            if (p->packed) {
                for (k = 0; k < p->k; k++)
                    ac[k] = (int16_t)(qcc_load(a, arow + (size_t)k, p->a_dt) - p->a_zp);
                for (j = 0; j < n - n % 4; j += 4) {  /* explicit bounds (see qcc_linear) */
                    int32_t a4[4], u;
                    qcc_dot4_i16(ac, bp + (size_t)j * p->k, p->k, a4);
                    for (u = 0; u < 4; u++)
                        qcc_matmul_out(p, mult, shift, y, row + (size_t)(j + u), a4[u]);
                }
                for (j = n - n % 4; j < n; j++)
                    qcc_matmul_out(p, mult, shift, y, row + (size_t)j,
                                   qcc_dot_i16(ac, bp + (size_t)j * p->k, p->k));
                continue;
            } else {
                int32_t *acc = (int32_t *)scratch;
                for (j = 0; j < n; j++)
                    acc[j] = 0;
                for (k = 0; k < p->k; k++) {
                    const int32_t av = (int32_t)qcc_load(a, arow + (size_t)k, p->a_dt) - p->a_zp;
                    if (av != 0)
                        qcc_matmul_axpy(p, av, bt + (size_t)k * n, acc);
                }
                for (j = 0; j < n; j++)
                    qcc_matmul_out(p, mult, shift, y, row + (size_t)j, acc[j]);
            }
        }
    }
    return QCC_OK;
}

/* acc_bits = 64 (docs/arithmetic.md 5.1): int64 dot products, no scratch, always requantized. */
static inline int qcc_matmul64(const qcc_matmul_p *p, const void *a, const void *b,
                               const int32_t *a_off, const int32_t *b_off, const int32_t *mult,
                               const int32_t *shift, void *y, void *scratch)
{
    int32_t t, i, k, j;
    (void)scratch;
    for (t = 0; t < p->batch; t++)
        for (i = 0; i < p->m; i++)
            for (j = 0; j < p->n; j++) {
                const size_t arow = (size_t)a_off[t] + (size_t)i * p->k;
                int64_t acc = 0;
                for (k = 0; k < p->k; k++)
                    acc += (int64_t)(qcc_load(a, arow + (size_t)k, p->a_dt) - p->a_zp)
                           * (qcc_load(b, (size_t)b_off[t] + (size_t)k * p->n + (size_t)j, p->b_dt)
                              - p->b_zp);
                qcc_store(y, ((size_t)t * p->m + i) * p->n + (size_t)j, p->y_dt,
                          qcc_requant(acc, mult[0], shift[0], p->y_zp, p->lo, p->hi));
            }
    return QCC_OK;
}
