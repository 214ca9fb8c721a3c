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

#ifdef QCC_ARM_GEMM4
/* Rows r .. r + nr - 1 of x (nr <= 4), centred, into one quad block (common_dsp.h); the slots
 * of missing rows are left as they are (their outputs are not stored). */
static inline void qcc_linear_pack4(const qcc_linear_p *p, const void *x, size_t base, int32_t nr,
                                    int16_t *xc)
{
    const int32_t k = p->k, zp = p->x_zp;
    int32_t t, c;
    for (c = 0; c < nr; c++, xc += 4) {
        if (p->x_dt == QCC_U8) {
            const uint8_t *xr = (const uint8_t *)x + base + (size_t)c * k;
            for (t = 0; t < k; t++)
                xc[qcc_quad_at(t)] = (int16_t)((int32_t)xr[t] - zp);
        } else {
            const int8_t *xr = (const int8_t *)x + base + (size_t)c * k;
            const int32_t k4 = k & ~3;
            int16_t *d = xc;
            for (t = 0; t < k4; t += 4, d += 16) {
                d[0] = (int16_t)(xr[t] - zp), d[1] = (int16_t)(xr[t + 2] - zp);
                d[2] = (int16_t)(xr[t + 1] - zp), d[3] = (int16_t)(xr[t + 3] - zp);
            }
            for (t = k4; t < k; t++)
                d[qcc_quad_at(t - k4)] = (int16_t)(xr[t] - zp);
        }
    }
}

/* The outputs of one row quad (quad block xc of nr rows; y0: the first row's offset in y),
 * one output feature at a time; kind 1: int8 outputs, 2: int16 outputs, in the fast
 * requant form (channels in other forms through qcc_linear_store), 0: any output; full: nr
 * == 4, a constant (the partial quad of three rows takes kind 0); narrow: bounds compiled
 * in; tail: K % 4 != 0. The forms run out of line (qcc_linear_quads_*) so that gcc
 * allocates registers for each alone. */
__attribute__((always_inline)) static inline void
qcc_linear_quads(const qcc_linear_p *p, const int8_t *wt, const int32_t *bias, const int32_t *mult,
                 const int32_t *shift, void *y, const int16_t *xc, size_t y0, int32_t nr,
                 const int kind, const int narrow, const int tail)
{
    const int32_t n = p->n, k = p->k, pc = p->per_channel, zp = p->y_zp, lo = p->lo, hi = p->hi;
    int32_t j, i;
    for (j = 0; j < n; j++) {
        int32_t a0, a1, a2, a3, acc[4];
        qcc_rqf q0 = {0, 0, 0, 0};
        a0 = a1 = a2 = a3 = bias ? bias[j] : 0;
        qcc_gemm1x4_s(wt + (size_t)j * k, xc, k, &a0, &a1, &a2, &a3, tail);
        if (kind) {
            qcc_rqf_init(&q0, mult[pc ? j : 0], shift[pc ? j : 0], zp);
            if (kind == 1 && q0.sh > 0) {
                int8_t *a = (int8_t *)y + y0 + j;
                QCC_RQF_FAST(a0, q0.m, q0.c, q0.sh, narrow, lo, hi, a[0]);
                QCC_RQF_FAST(a1, q0.m, q0.c, q0.sh, narrow, lo, hi, a[n]);
                QCC_RQF_FAST(a2, q0.m, q0.c, q0.sh, narrow, lo, hi, a[2 * n]);
                QCC_RQF_FAST(a3, q0.m, q0.c, q0.sh, narrow, lo, hi, a[3 * n]);
                continue;
            }
            if (kind == 2 && q0.sh > 0) {
                int16_t *a = (int16_t *)y + y0 + j;
                QCC_RQF_FAST16(a0, q0.m, q0.c, q0.sh, narrow, lo, hi, a[0]);
                QCC_RQF_FAST16(a1, q0.m, q0.c, q0.sh, narrow, lo, hi, a[n]);
                QCC_RQF_FAST16(a2, q0.m, q0.c, q0.sh, narrow, lo, hi, a[2 * n]);
                QCC_RQF_FAST16(a3, q0.m, q0.c, q0.sh, narrow, lo, hi, a[3 * n]);
                continue;
            }
        }
        acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
        for (i = 0; i < nr; i++)
            qcc_linear_store(p, mult, shift, y, y0 + (size_t)i * n, j, acc[i]);
    }
}

#define QCC_LINEAR_QUADS_FN(name, kind, narrow)                                                 \
    __attribute__((noinline, unused)) static void name(                                         \
        const qcc_linear_p *p, const int8_t *wt, const int32_t *bias, const int32_t *mult,      \
        const int32_t *shift, void *y, const int16_t *xc, size_t y0, int32_t nr)                \
    {                                                                                           \
        qcc_linear_quads(p, wt, bias, mult, shift, y, xc, y0, kind ? 4 : nr, kind, narrow, 1);  \
    }
QCC_LINEAR_QUADS_FN(qcc_linear_quads_w, 1, 0)
QCC_LINEAR_QUADS_FN(qcc_linear_quads_n, 1, 1)
QCC_LINEAR_QUADS_FN(qcc_linear_quads_h, 2, 0)
QCC_LINEAR_QUADS_FN(qcc_linear_quads_any, 0, 0)

/* Plain int8 weights, four rows of x at a time (a last group of three rows too): each output
 * j of the four rows from one 1x4 register block (qcc_gemm1x4), requantization fused.
 * Scratch: one quad block, 4 * roundup(k, 4) int16 (rules_nn.linear_scratch). Returns the
 * number of rows done (the rest, one or two rows, take qcc_linear_rows). */
QCC_ARM_OUTLINE int32_t qcc_linear_gemm4(const qcc_linear_p *p, const void *x, const int8_t *wt,
                                         const int32_t *bias, const int32_t *mult,
                                         const int32_t *shift, void *y, int16_t *xc)
{
    const int32_t lo = p->lo, hi = p->hi, rows = p->rows;
    const int i8 = mult != NULL && p->y_dt == QCC_I8, narrow = lo > -128 || hi < 127;
    /* int16 outputs with bounds narrower than int16 take the general form */
    const int i16 = mult != NULL && p->y_dt == QCC_I16, narrow16 = lo > -32768 || hi < 32767;
    int32_t r;
    for (r = 0; rows - r >= 3; r += 4) {
        const size_t y0 = (size_t)r * p->n;
        const int32_t nr = rows - r < 4 ? rows - r : 4;
        qcc_linear_pack4(p, x, (size_t)r * p->k, nr, xc);
        if (nr < 4 || (!i8 && !(i16 && !narrow16)))
            qcc_linear_quads_any(p, wt, bias, mult, shift, y, xc, y0, nr);
        else if (i8 && !narrow)
            qcc_linear_quads_w(p, wt, bias, mult, shift, y, xc, y0, nr);
        else if (i8)
            qcc_linear_quads_n(p, wt, bias, mult, shift, y, xc, y0, nr);
        else
            qcc_linear_quads_h(p, wt, bias, mult, shift, y, xc, y0, nr);
    }
    return r < rows ? r : rows;
}
#endif

#ifdef QCC_SIMD  /* host SIMD variants: linear_simd.c */
static inline int qcc_linear_simd(const qcc_linear_p *p, const void *x, const int8_t *wt,
                                  const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                  const int32_t *gmult, void *y);
#endif

/* Rows r0.. of qcc_linear (below), one row at a time. */
QCC_ARM_OUTLINE int qcc_linear_rows(const qcc_linear_p *p, const void *x, const int8_t *wt,
                                    const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                    const int32_t *gmult, void *y, int16_t *xc, int32_t r0)
{
    const int32_t n = p->n, k = p->k;
    /* outputs done four per pass (plain int8 weights), then one by one from n4: the
     * bound of each loop is explicit.  (With the second loop starting where the first
     * stopped, gcc -O3 for 32-bit targets could not bound its trip count once the first
     * loop was unrolled, and proved an overflowing row offset "reachable":
     * -Werror=aggressive-loop-optimizations under arm-none-eabi-gcc.) */
    const int32_t n4 = (gmult == NULL && p->wbits == 8) ? n - n % 4 : 0;
    int32_t r, j;
    for (r = r0; r < p->rows; r++) {
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

/* A thin dispatcher (on Arm its frame stays small: the row kernels run out of line). */
static inline int qcc_linear(const qcc_linear_p *p, const void *x, const int8_t *wt, const int32_t *bias,
               const int32_t *mult, const int32_t *shift, const int32_t *gmult, void *y,
               int16_t *xc)
{
    int32_t r = 0;
#ifdef QCC_SIMD
    if (qcc_linear_simd(p, x, wt, bias, mult, shift, gmult, y))
        return QCC_OK;
#endif
#ifdef QCC_ARM_GEMM4
    if (gmult == NULL && p->wbits == 8 && p->rows >= 3)
        r = qcc_linear_gemm4(p, x, wt, bias, mult, shift, y, xc);
#endif
    return r < p->rows ? qcc_linear_rows(p, x, wt, bias, mult, shift, gmult, y, xc, r) : QCC_OK;
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
