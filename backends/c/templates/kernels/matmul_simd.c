#ifdef QCC_SIMD
/* qcc_matmul on the host SIMD variants (docs/target_c.md "ISA variants"): per batch, b is laid
 * out once as int16 pairs of the reduction, k-major with the columns in the lanes (bp[kt * np + j]
 * = (b[2kt, j] - b_zp, b[2kt + 1, j] - b_zp), zero past n and past k), and each block of four
 * rows of a as the same pairs centred on a_zp; the GEMMs' 4 x 16 register tile (simd_conv.h)
 * then accumulates four rows x 16 columns with one VPMADDWD (PMADDWD, NEON SMLAL) per pair.
 * Exact: the centred values lie in [-255, 255], so each int16 product and each pair's sum fits
 * int32, and the int32 sums wrap as the portable loop's do. The int8 rows are requantized by
 * qcc_requant_i8_u64 (any other output type element by element). Taken for int8 / uint8
 * operands with n <= QCC_MMS_N and the pairs of b within QCC_MMS_BUF; 0: not taken. Scratch:
 * none from the arena (host builds only: 64 KiB of b pairs, 16 KiB of a pairs and 4 KiB of
 * accumulators on the stack). */
#define QCC_MMS_BUF 16384  /* int32 pairs of one batch of b */
#define QCC_MMS_N 256      /* columns at most */
#define QCC_MMS_K 2048     /* reduction at most */

QCC_SIMD_TILE4X16(qcc_mms_tile, qcc_v8_madd16b)

/* r[j] = t[j] - zp for j < n (int8 or uint8 t; centred values fit int16), then one zero. */
static inline void qcc_mms_row(const void *t, int32_t n, int32_t dt, int32_t zp, int16_t *r)
{
    int32_t j;
    if (dt == QCC_U8) {
        const uint8_t *u = (const uint8_t *)t;
        for (j = 0; j < n; j++)
            r[j] = (int16_t)((int32_t)u[j] - zp);
    } else {
        const int8_t *v = (const int8_t *)t;
        for (j = 0; j < n; j++)
            r[j] = (int16_t)((int32_t)v[j] - zp);
    }
    r[n] = 0;
}

static inline int32_t qcc_mms_pair(int16_t lo, int16_t hi)
{
    return (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16);
}

/* bp[kt * np + j] of one batch of b (see above). */
static inline void qcc_mms_pack_b(const qcc_matmul_p *p, const uint8_t *b, int32_t np, int32_t *bp)
{
    const int32_t n = p->n, k = p->k;
    int16_t r0[QCC_MMS_N + 1], r1[QCC_MMS_N + 1];
    int32_t kt, j;
    for (kt = 0; 2 * kt < k; kt++) {
        int32_t *d = bp + (size_t)kt * np;
        qcc_mms_row(b + (size_t)2 * kt * n, n, p->b_dt, p->b_zp, r0);
        if (2 * kt + 1 < k)
            qcc_mms_row(b + ((size_t)2 * kt + 1) * n, n, p->b_dt, p->b_zp, r1);
        else
            memset(r1, 0, sizeof r1);
        for (j = 0; j < n; j++)
            d[j] = qcc_mms_pair(r0[j], r1[j]);
        for (; j < np; j++)
            d[j] = 0;
    }
}

/* The pairs of rows i .. i + 3 of a (zero past m): ap[kt * 4 + r]. */
static inline void qcc_mms_pack_a(const qcc_matmul_p *p, const uint8_t *a, int32_t i, int32_t *ap)
{
    const int32_t k = p->k, kp = (k + 1) / 2;
    int16_t row[QCC_MMS_K + 2];
    int32_t kt, r;
    for (r = 0; r < 4; r++) {
        if (i + r < p->m)
            qcc_mms_row(a + (size_t)r * k, k, p->a_dt, p->a_zp, row);
        else
            memset(row, 0, (size_t)(k + 1) * sizeof(int16_t));
        for (kt = 0; kt < kp; kt++)
            ap[kt * 4 + r] = qcc_mms_pair(row[2 * kt], row[2 * kt + 1]);
    }
}

/* Row `row` of y (n values) from its int32 accumulators. */
static inline void qcc_mms_out(const qcc_matmul_p *p, const int32_t *acc, const int32_t *mult,
                               const int32_t *shift, void *y, size_t row)
{
    int32_t j;
    if (mult == NULL) {
        memcpy((int32_t *)y + row, acc, (size_t)p->n * sizeof(int32_t));
        return;
    }
    if (p->y_dt == QCC_I8 && qcc_requant_i8_u64(acc, p->n, mult[0], shift[0], p->y_zp, p->lo, p->hi, (int8_t *)y + row))
        return;
    for (j = 0; j < p->n; j++)
        qcc_store(y, row + (size_t)j, p->y_dt, qcc_requant32(acc[j], mult[0], shift[0], p->y_zp, p->lo, p->hi));
}

static inline int qcc_matmul_simd(const qcc_matmul_p *p, const void *a, const void *b,
                                  const int32_t *a_off, const int32_t *b_off, const int32_t *mult,
                                  const int32_t *shift, void *y)
{
    const int32_t np = (p->n + 15) / 16 * 16, kp = (p->k + 1) / 2;
    int32_t bp[QCC_MMS_BUF], ap[2 * QCC_MMS_K], acc[4][QCC_MMS_N], zero4[4] = {0, 0, 0, 0};
    int32_t t, i, r;
    if ((p->a_dt != QCC_I8 && p->a_dt != QCC_U8) || (p->b_dt != QCC_I8 && p->b_dt != QCC_U8)
        || np > QCC_MMS_N || p->k > QCC_MMS_K || (size_t)kp * np > QCC_MMS_BUF || p->n < 1 || p->k < 1)
        return 0;
    for (t = 0; t < p->batch; t++) {
        if (t == 0 || b_off[t] != b_off[t - 1])
            qcc_mms_pack_b(p, (const uint8_t *)b + (size_t)b_off[t], np, bp);
        for (i = 0; i < p->m; i += 4) {
            qcc_mms_pack_a(p, (const uint8_t *)a + (size_t)a_off[t] + (size_t)i * p->k, i, ap);
            qcc_mms_tile(bp, NULL, np, kp, np, ap, zero4, acc[0], QCC_MMS_N);
            for (r = 0; r < 4 && i + r < p->m; r++)
                qcc_mms_out(p, acc[r], mult, shift, y, ((size_t)t * p->m + i + r) * p->n);
        }
    }
    return 1;
}
#endif
