#ifdef QCC_ARM_GEMM4
/* Arm DSP activation x activation matmul (Cortex-M4/M7/M33 class) on the linear layers' 1x4
 * GEMM (qcc_gemm1x4_s, kernels/common_dsp.h): each batch of b is transposed once into int8 rows
 * (b^T[j] = the raw column j, a uint8 b flipped to int8 by ^ 0x80, its zero point by - 128),
 * which play the weight rows; four rows of a at a time, centred, are quad-packed as int16
 * columns. Then y[i][j] = gemm(b^T[j], a_i - za) - zb' * sum_k (a_ik - za): the same integer
 * as the portable dot products (the wrapping 32-bit sums equal it modulo 2^32, and it fits
 * int32 by the headroom check). Scratch: one quad block (8 roundup(K, 4) bytes, word aligned
 * for LDM) and N*K bytes of b^T, inside the packed path's 2 (K + N K) bytes; otherwise (N < 8 or
 * so) and for other dtypes, 0 and the portable path. */
/* Rows i .. i + rows - 1 of a (rows <= 4; the others zero), centred, into one quad block: a
 * word of four bytes gives by SXTB16 / UXTB16 (and ROR 8) the (even, odd) pairs of the block's
 * chunk order, centred two at a time by SSUB16 (|a - za| <= 255); rs: the rows' sums. */
static __attribute__((noinline, unused)) void
qcc_matmul_dsp_quad(const qcc_matmul_p *p, const void *ar, int32_t rows, int16_t *quad, int32_t *rs)
{
    const int32_t k = p->k, za = p->a_zp, k4 = k & ~3, u8 = p->a_dt == QCC_U8;
    const int32_t zz = (int32_t)(((uint32_t)za & 65535) | ((uint32_t)za << 16));
    int32_t r, t;
    for (r = 0; r < 4; r++) {
        const uint8_t *row = (const uint8_t *)ar + (size_t)r * k;
        int16_t *col = quad + 4 * r;
        int32_t s = 0;
        if (r >= rows) {
            for (t = 0; t < k4; t += 4)
                qcc_st32(col + 4 * t, 0), qcc_st32(col + 4 * t + 2, 0);
            for (; t < k; t++)
                col[qcc_quad_at(t)] = 0;
            rs[r] = 0;
            continue;
        }
        for (t = 0; t < k4; t += 4) {
            const uint32_t w = qcc_ld32(row + t), wr = (w >> 8) | (w << 24);
            const int32_t e = __ssub16(u8 ? (int32_t)__uxtb16(w) : (int32_t)__sxtb16(w), zz);
            const int32_t o = __ssub16(u8 ? (int32_t)__uxtb16(wr) : (int32_t)__sxtb16(wr), zz);
            qcc_st32(col + 4 * t, (uint32_t)e);
            qcc_st32(col + 4 * t + 2, (uint32_t)o);
            s = __smlad(e, 0x00010001, __smlad(o, 0x00010001, s));
        }
        for (; t < k; t++) {
            const int32_t v = (u8 ? (int32_t)row[t] : (int32_t)(int8_t)row[t]) - za;
            col[qcc_quad_at(t)] = (int16_t)v;
            s += v;
        }
        rs[r] = s;
    }
}

/* b^T of one batch: four rows of b at a time, their bytes of column j gathered into one word. */
static __attribute__((noinline, unused)) void
qcc_matmul_dsp_pack_b(const qcc_matmul_p *p, const void *b, int8_t *bt)
{
    const int32_t k = p->k, n = p->n, k4 = k & ~3;
    const uint32_t flip = p->b_dt == QCC_U8 ? 0x80808080u : 0;
    int32_t t, j;
    for (t = 0; t < k4; t += 4) {
        const uint8_t *r0 = (const uint8_t *)b + (size_t)t * n, *r1 = r0 + n, *r2 = r1 + n;
        const uint8_t *r3 = r2 + n;
        int8_t *o = bt + t;
        for (j = 0; j < n; j++, o += k)
            qcc_st32(o, ((uint32_t)r0[j] | ((uint32_t)r1[j] << 8) | ((uint32_t)r2[j] << 16)
                         | ((uint32_t)r3[j] << 24)) ^ flip);
    }
    for (; t < k; t++) {
        const uint8_t *row = (const uint8_t *)b + (size_t)t * n;
        for (j = 0; j < n; j++)
            bt[(size_t)j * k + t] = (int8_t)(row[j] ^ (flip & 255));
    }
}

/* One quad of rows (rows <= 4 of them valid) times every column: int32 accumulators (i32), the
 * SMMLA requantization into int8 (the usual case: fast), or qcc_rqf_store / qcc_requant32. */
__attribute__((always_inline)) static inline void
qcc_matmul_dsp_cols_body(const qcc_matmul_p *p, const int8_t *bt, const int16_t *quad,
                         const int32_t *zr, int32_t rows, const qcc_rqf *q, void *y, size_t row0,
                         int form)
{
    const int32_t k = p->k, n = p->n, zp = p->y_zp, lo = p->lo, hi = p->hi;
    const int32_t z0 = zr[0], z1 = zr[1], z2 = zr[2], z3 = zr[3];
    int32_t j;
    for (j = 0; j < n; j++) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        const size_t at = row0 + (size_t)j;
        qcc_gemm1x4_s(bt + (size_t)j * k, quad, k, &a0, &a1, &a2, &a3, 1);
        a0 = (int32_t)((uint32_t)a0 - (uint32_t)z0), a1 = (int32_t)((uint32_t)a1 - (uint32_t)z1);
        a2 = (int32_t)((uint32_t)a2 - (uint32_t)z2), a3 = (int32_t)((uint32_t)a3 - (uint32_t)z3);
        if (form == 3 && rows == 4) {  /* int8, the SMMLA form, clamped to the bounds */
            int8_t *yo = (int8_t *)y + at;
            const int32_t m = q->m, c = q->c, sh = q->sh;
            QCC_RQF_FAST(a0, m, c, sh, 1, lo, hi, yo[0]);
            QCC_RQF_FAST(a1, m, c, sh, 1, lo, hi, yo[n]);
            QCC_RQF_FAST(a2, m, c, sh, 1, lo, hi, yo[2 * n]);
            QCC_RQF_FAST(a3, m, c, sh, 1, lo, hi, yo[3 * n]);
        } else if (form == 1 && rows == 4) {  /* int32 accumulators */
            int32_t *yo = (int32_t *)y + at;
            yo[0] = a0, yo[n] = a1, yo[2 * n] = a2, yo[3 * n] = a3;
        } else {
            const int32_t v[4] = {a0, a1, a2, a3};
            int32_t r;
            for (r = 0; r < rows; r++) {
                const size_t o = at + (size_t)r * n;
                if (form == 1)
                    ((int32_t *)y)[o] = v[r];
                else if (p->y_dt == QCC_I8 || p->y_dt == QCC_I16)
                    qcc_rqf_store(y, (int32_t)o, p->y_dt, v[r], q, zp, lo, hi);
                else
                    qcc_store(y, o, p->y_dt, qcc_requant32(v[r], q->m, q->s, zp, lo, hi));
            }
        }
    }
}

#define QCC_MATMUL_COLS(name, form)                                                             \
    static __attribute__((noinline, unused)) void name(const qcc_matmul_p *p, const int8_t *bt,   \
                                                       const int16_t *quad, const int32_t *zr,    \
                                                       int32_t rows, const qcc_rqf *q, void *y,   \
                                                       size_t row0)                               \
    {                                                                                           \
        qcc_matmul_dsp_cols_body(p, bt, quad, zr, rows, q, y, row0, form);                      \
    }
QCC_MATMUL_COLS(qcc_matmul_dsp_cols8, 3)
QCC_MATMUL_COLS(qcc_matmul_dsp_cols32, 1)
QCC_MATMUL_COLS(qcc_matmul_dsp_cols, 2)

static inline int qcc_matmul_dsp(const qcc_matmul_p *p, const void *a, const void *b,
                                 const int32_t *a_off, const int32_t *b_off, const int32_t *mult,
                                 const int32_t *shift, void *y, void *scratch)
{
    const int64_t need = 2 * (int64_t)qcc_quad_len(p->k) + (int64_t)p->n * p->k;
    const int32_t zb = p->b_dt == QCC_U8 ? p->b_zp - 128 : p->b_zp;
    const size_t ea = p->a_dt == QCC_U8 || p->a_dt == QCC_I8 ? 1 : 0;
    int16_t *quad = (int16_t *)scratch;
    int8_t *bt = (int8_t *)(quad + qcc_quad_len(p->k));
    qcc_rqf q;
    int32_t t, i, r, fast8;
    if (!p->packed || ea == 0 || (p->b_dt != QCC_I8 && p->b_dt != QCC_U8) || p->k < 1
        || need > 2 * ((int64_t)p->k + (int64_t)p->n * p->k) || ((uintptr_t)scratch & 3) != 0
        || p->a_zp < (p->a_dt == QCC_U8 ? 0 : -128) || p->a_zp > (p->a_dt == QCC_U8 ? 255 : 127)
        || p->b_zp < -65536 || p->b_zp > 65536)
        return 0;
    if (mult != NULL)
        qcc_rqf_init_dt(&q, mult[0], shift[0], p->y_zp,
                        p->y_dt == QCC_I8 || p->y_dt == QCC_I16 ? p->y_dt : QCC_I8);
    else
        q.m = q.c = q.sh = q.s = 0;
    fast8 = mult != NULL && q.sh > 0 && p->y_dt == QCC_I8 && p->lo >= -128 && p->hi <= 127;
    for (t = 0; t < p->batch; t++) {
        if (t == 0 || b_off[t] != b_off[t - 1])
            qcc_matmul_dsp_pack_b(p, (const int8_t *)b + b_off[t], bt);
        for (i = 0; i < p->m; i += 4) {
            const int32_t rows = p->m - i < 4 ? p->m - i : 4;
            const size_t row0 = ((size_t)t * p->m + i) * p->n;
            int32_t rs[4], zr[4];
            qcc_matmul_dsp_quad(p, (const int8_t *)a + a_off[t] + (size_t)i * p->k, rows, quad, rs);
            for (r = 0; r < 4; r++)
                zr[r] = (int32_t)((uint32_t)zb * (uint32_t)rs[r]);
            if (mult == NULL)  /* direct calls (the static stack bound) */
                qcc_matmul_dsp_cols32(p, bt, quad, zr, rows, &q, y, row0);
            else if (fast8 && rows == 4)
                qcc_matmul_dsp_cols8(p, bt, quad, zr, rows, &q, y, row0);
            else
                qcc_matmul_dsp_cols(p, bt, quad, zr, rows, &q, y, row0);
        }
    }
    return 1;
}
#endif
