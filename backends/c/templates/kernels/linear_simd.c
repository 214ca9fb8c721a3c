#ifdef QCC_SIMD
/* qcc_linear on the host SIMD variants (simd.h), plain int8 weights: 8 outputs at a time
 * (lanes past N repeat the last row and are not stored), every row of x against the same 8
 * weight rows, requantization on 8 lanes. K % QCC_SIMD_CH: the tails are copied, zero padded,
 * into local buffers. No scratch. */
typedef struct {
    const int8_t *w[8];   /* the 8 weight rows */
    int8_t wt[8][QCC_SIMD_CH];  /* their tails, zero padded */
    int32_t b[8], m[8], s[8];   /* bias minus the VNNI offset correction; requant */
    int32_t nv;           /* valid lanes */
} qcc_linear_blk;

static inline void qcc_linear_simd_blk(const qcc_linear_p *p, const int8_t *wt, const int32_t *bias,
                                       const int32_t *mult, const int32_t *shift, int32_t j,
                                       qcc_linear_blk *B)
{
    const int32_t k = p->k, kv = k - k % QCC_SIMD_CH;
    int32_t i;
    B->nv = p->n - j < 8 ? p->n - j : 8;
    memset(B->wt, 0, sizeof B->wt);
    for (i = 0; i < 8; i++) {
        const int32_t jj = i < B->nv ? j + i : p->n - 1, ch = p->per_channel ? jj : 0;
        B->w[i] = wt + (size_t)jj * k;
        memcpy(B->wt[i], B->w[i] + kv, (size_t)(k - kv));
        B->b[i] = bias ? bias[jj] : 0;
#ifdef QCC_SIMD_CORR  /* sum w*(x - zp) = sum w*v - (zp + off)*sum w, modulo 2^32 */
        B->b[i] = (int32_t)((uint32_t)B->b[i] - (uint32_t)(p->x_zp + qcc_simd_off(p->x_dt))
                            * (uint32_t)qcc_simd_wsum(B->w[i], k));
#endif
        B->m[i] = mult ? mult[ch] : 0;
        B->s[i] = mult ? shift[ch] : 1;
    }
}

/* Stores row r's 8 accumulators of block j: fused int8 requantization, or the scalar epilogue. */
static inline void qcc_linear_simd_out(const qcc_linear_p *p, const int32_t *mult, const int32_t *shift,
                                       const qcc_linear_blk *B, void *y, int32_t r, int32_t j, qcc_v8 acc)
{
    int32_t a[8], i;
    if (mult != NULL && p->y_dt == QCC_I8) {
        qcc_v8_store_i8((int8_t *)y + (size_t)r * p->n + j,
                        qcc_v8_requant(acc, qcc_v8_load(B->m), qcc_v8_load(B->s), p->y_zp, p->lo, p->hi),
                        B->nv);
        return;
    }
    if (mult != NULL && p->y_dt == QCC_I16) {  /* e.g. into a GELU: the same 8-lane requant */
        qcc_v8_store(a, qcc_v8_requant(acc, qcc_v8_load(B->m), qcc_v8_load(B->s), p->y_zp, p->lo, p->hi));
        for (i = 0; i < B->nv; i++)
            ((int16_t *)y)[(size_t)r * p->n + j + i] = (int16_t)a[i];
        return;
    }
    qcc_v8_store(a, acc);
    for (i = 0; i < B->nv; i++)
        qcc_linear_store(p, mult, shift, y, (size_t)r * p->n, j + i, a[i]);
}

{% include "kernels/linear_simd_packed.c" %}
#ifdef QCC_SIMD_IL
/* x86, packed / per-group weights that qcc_linear_simd_packed does not take (a group size
 * that is no multiple of its step, e.g. 16 on VNNI): the features in the lanes (simd_il.h). */
static inline int qcc_linear_simd_il(const qcc_linear_p *p, const void *x, const int8_t *wt,
                                     const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                     const int32_t *gmult, void *y)
{
    qcc_il_p ip;
    ip.rows = p->rows, ip.k = p->k, ip.n = p->n, ip.x_dt = p->x_dt, ip.y_dt = p->y_dt;
    ip.x_zp = p->x_zp, ip.y_zp = p->y_zp, ip.lo = p->lo, ip.hi = p->hi, ip.per_channel = p->per_channel;
    ip.gsize = p->gsize, ip.gshift = p->gshift, ip.ng = p->ng, ip.wbits = p->wbits;
    ip.xs = (size_t)p->k, ip.ys_r = (size_t)p->n, ip.ys_j = 1, ip.y0 = 0;
    return qcc_il_run(&ip, x, wt, bias, mult, shift, gmult, y);
}
#endif

static inline int qcc_linear_simd(const qcc_linear_p *p, const void *x, const int8_t *wt,
                                  const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                  const int32_t *gmult, void *y)
{
    const int32_t k = p->k, n = p->n, kv = k - k % QCC_SIMD_CH;
    const uint8_t flip = qcc_simd_flip(p->x_dt);
    const int32_t zpd = p->x_zp + qcc_simd_off(p->x_dt);
    qcc_linear_blk B;
    int32_t j, r, i;
    if (p->x_dt != QCC_I8 && p->x_dt != QCC_U8)
        return 0;
    if (gmult != NULL || p->wbits != 8) {
        if (qcc_linear_simd_packed(p, x, wt, bias, mult, shift, gmult, y))
            return 1;
#ifdef QCC_SIMD_IL
        return qcc_linear_simd_il(p, x, wt, bias, mult, shift, gmult, y);
#else
        return 0;
#endif
    }
#ifdef QCC_SIMD_SSE2  /* plain int8 weights: the portable four-row kernel measured faster (also
                        * than simd_il.h: tiny_bert's 128 x 128 layers 25.8 against 35.9 µs) */
    return 0;
#endif
    for (j = 0; j < n; j += 8) {
        qcc_linear_simd_blk(p, wt, bias, mult, shift, j, &B);
        for (r = 0; r < p->rows; r++) {
            const uint8_t *xr = (const uint8_t *)x + (size_t)r * k;
            qcc_v8 acc = qcc_v8_add(qcc_simd_dot8(NULL, xr, B.w, NULL, kv, flip, zpd), qcc_v8_load(B.b));
            if (kv < k) {
                uint8_t xt[QCC_SIMD_CH];
                const int8_t *wl[8];
                memset(xt, 0, sizeof xt);
                memcpy(xt, xr + kv, (size_t)(k - kv));
                for (i = 0; i < 8; i++)
                    wl[i] = B.wt[i];
                acc = qcc_v8_add(acc, qcc_simd_dot8(NULL, xt, wl, NULL, QCC_SIMD_CH, flip, zpd));
            }
            qcc_linear_simd_out(p, mult, shift, &B, y, r, j, acc);
        }
    }
    return 1;
}
#endif

{% include "kernels/linear_lut.c" %}
