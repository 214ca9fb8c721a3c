static inline int32_t qcc_linear_grouped(const qcc_linear_p *p, const int8_t *w, const int16_t *xc,
                                         int32_t bias, const int32_t *gm)
{
    int64_t big = (int64_t)bias * ((int64_t)1 << p->gshift);
    int32_t g, k0;
    for (g = 0, k0 = 0; k0 < p->k; g++, k0 += p->gsize) {
        const int32_t len = p->k - k0 < p->gsize ? p->k - k0 : p->gsize;
        big += (int64_t)qcc_dot_w(w, p->wbits, k0, xc + k0, len) * gm[g];
    }
    return (int32_t)qcc_rshift_round(big, p->gshift);
}

static inline void qcc_center_row(const qcc_linear_p *p, const void *x, size_t base, int16_t *xc)
{
    int32_t t;
    if (p->x_dt == QCC_U8) {
        const uint8_t *xr = (const uint8_t *)x + base;
        for (t = 0; t < p->k; t++)
            xc[t] = (int16_t)((int32_t)xr[t] - p->x_zp);
    } else {
        const int8_t *xr = (const int8_t *)x + base;
        for (t = 0; t < p->k; t++)
            xc[t] = (int16_t)((int32_t)xr[t] - p->x_zp);
    }
}

static inline void qcc_linear_store(const qcc_linear_p *p, const int32_t *mult, const int32_t *shift,
                                    void *y, size_t ybase, int32_t j, int32_t acc)
{
    const int32_t ch = p->per_channel ? j : 0;
    if (mult == NULL)
        ((int32_t *)y)[ybase + j] = acc;
    else if (p->y_dt == QCC_I8)
        ((int8_t *)y)[ybase + j] = (int8_t)qcc_requant32(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi);
    else
        qcc_store(y, ybase + (size_t)j, p->y_dt,
                  qcc_requant32(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi));
}

#ifdef QCC_SIMD  /* host SIMD variants: linear_simd.c */
static inline int qcc_linear_simd(const qcc_linear_p *p, const void *x, const int8_t *wt,
                                  const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                  const int32_t *gmult, void *y);
#endif

static inline int qcc_linear(const qcc_linear_p *p, const void *x, const int8_t *wt, const int32_t *bias,
               const int32_t *mult, const int32_t *shift, const int32_t *gmult, void *y,
               int16_t *xc)
{
    const int32_t n = p->n, k = p->k;
    /* outputs done four per pass (plain int8 weights), then one by one from n4: the
     * bound of each loop is explicit.  (With the second loop starting where the first
     * stopped, gcc -O3 for 32-bit targets could not bound its trip count once the first
     * loop was unrolled, and proved an overflowing row offset "reachable":
     * -Werror=aggressive-loop-optimizations under arm-none-eabi-gcc.) */
    const int32_t n4 = (gmult == NULL && p->wbits == 8) ? n - n % 4 : 0;
    int32_t r, j;
#ifdef QCC_SIMD
    if (qcc_linear_simd(p, x, wt, bias, mult, shift, gmult, y))
        return QCC_OK;
#endif
    for (r = 0; r < p->rows; r++) {
        const size_t ybase = (size_t)r * n;
        qcc_center_row(p, x, (size_t)r * k, xc);
        j = 0;
        if (gmult == NULL && p->wbits == 8) {  /* plain int8 weights: four outputs per pass */
            qcc_col_prep(xc, k);
            if (mult != NULL && p->y_dt == QCC_I8) {  /* int8 out: requant fused, inline */
                int8_t *restrict yr = (int8_t *)y + ybase;
                const int32_t zp = p->y_zp, lo = p->lo, hi = p->hi, pc = p->per_channel;
                for (; j < n4; j += 4) {
                    int32_t a4[4], i;
                    qcc_dot4_w8(wt + (size_t)j * k, (size_t)k, xc, k, a4);
                    for (i = 0; i < 4; i++) {
                        const int32_t ch = pc ? j + i : 0;
                        yr[j + i] = (int8_t)qcc_requant32(a4[i] + (bias ? bias[j + i] : 0), mult[ch],
                                                          shift[ch], zp, lo, hi);
                    }
                }
            }
            for (; j < n4; j += 4) {
                int32_t a4[4], i;
                qcc_dot4_w8(wt + (size_t)j * k, (size_t)k, xc, k, a4);
                for (i = 0; i < 4; i++)
                    qcc_linear_store(p, mult, shift, y, ybase, j + i, a4[i] + (bias ? bias[j + i] : 0));
            }
            for (j = n4; j < n; j++)
                qcc_linear_store(p, mult, shift, y, ybase, j,
                                 (bias ? bias[j] : 0) + qcc_dot_w8c(wt + (size_t)j * k, xc, k));
            continue;
        }
        for (j = 0; j < n; j++) {
            const int8_t *wj = wt + (size_t)j * ((k * p->wbits + 7) / 8);
            const int32_t b = bias ? bias[j] : 0;
            const int32_t acc = gmult != NULL ? qcc_linear_grouped(p, wj, xc, b, gmult + (size_t)j * p->ng)
                                              : b + qcc_dot_w(wj, p->wbits, 0, xc, k);
            qcc_linear_store(p, mult, shift, y, ybase, j, acc);
        }
    }
    return QCC_OK;
}

/* acc_bits = 64 (docs/arithmetic.md 5.1): every output one int64 dot product, requantized
 * with the narrowed multiplier (mult != NULL: the widened form always requantizes).
 * No scratch; no per-group weights. */
static inline int qcc_linear64(const qcc_linear_p *p, const void *x, const int8_t *wt,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift,
                               const int32_t *gmult, void *y, int16_t *xc)
{
    int32_t r, j, t;
    (void)gmult;
    (void)xc;
    for (r = 0; r < p->rows; r++)
        for (j = 0; j < p->n; j++) {
            const int8_t *wj = wt + (size_t)j * ((p->k * p->wbits + 7) / 8);
            const int32_t ch = p->per_channel ? j : 0;
            int64_t acc = bias ? bias[j] : 0;
            for (t = 0; t < p->k; t++)
                acc += (int64_t)(qcc_load(x, (size_t)r * p->k + (size_t)t, p->x_dt) - p->x_zp)
                       * qcc_wget(wj, t, p->wbits);
            qcc_store(y, (size_t)r * p->n + (size_t)j, p->y_dt,
                      qcc_requant(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi));
        }
    return QCC_OK;
}
