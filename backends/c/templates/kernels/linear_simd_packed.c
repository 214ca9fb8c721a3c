/* Packed int4 / int2 weights and per-group weights (docs/integer_ops.md): 8 weight rows are
 * unpacked a chunk of up to QCC_SIMD_KC elements at a time into int8 (whole bytes at once),
 * zero padded to QCC_SIMD_CH, then run through the same dot products. With one chunk (K <=
 * QCC_SIMD_KC) they are unpacked once for all rows. Per-group weights: each group's exact
 * int32 partial sum is scaled by its gmult in 64-bit lanes and rounded back by gshift; the
 * byte dot products subtract each group's own offset correction. Needs group_size a multiple
 * of QCC_SIMD_CH (else the portable code runs). Stack: about 14 KiB. */
#define QCC_SIMD_KC 1024
#define QCC_SIMD_NG (QCC_SIMD_KC / QCC_SIMD_CH)

typedef struct {
    int8_t w[8][QCC_SIMD_KC];    /* unpacked rows of the chunk */
    uint8_t ones[QCC_SIMD_KC];
    uint8_t xt[QCC_SIMD_KC];     /* a row's last, partial step of x, zero padded */
    qcc_v8 corr[QCC_SIMD_NG];    /* per group: (zp + off) * sum w (byte dot products) */
    qcc_v8 gm[QCC_SIMD_NG];      /* per group: gmult of the 8 rows */
} qcc_linear_chunk;

/* Unpacks the chunk [k0, k0 + len) of block j's rows; per group of gs: the correction and gmult. */
static inline void qcc_linear_chunk_fill(const qcc_linear_p *p, const int8_t *wt, const int32_t *gmult,
                                         const qcc_linear_blk *B, int32_t j, int32_t k0, int32_t len,
                                         int32_t gs, qcc_linear_chunk *C)
{
    const size_t rowb = ((size_t)p->k * p->wbits + 7) / 8;
    const int32_t lp = (len + QCC_SIMD_CH - 1) / QCC_SIMD_CH * QCC_SIMD_CH;
    int32_t i, g, g0;
    for (i = 0; i < 8; i++) {
        const int32_t jj = i < B->nv ? j + i : p->n - 1;
        qcc_simd_unpack(wt + (size_t)jj * rowb, p->wbits, k0, len, C->w[i]);
        memset(C->w[i] + len, 0, (size_t)(lp - len));
    }
    for (g = 0, g0 = 0; g0 < len; g++, g0 += gs) {
        int32_t gv[8];
        for (i = 0; i < 8; i++) {
            const int32_t jj = i < B->nv ? j + i : p->n - 1;
            gv[i] = gmult != NULL ? gmult[(size_t)jj * p->ng + (k0 + g0) / gs] : 0;
        }
        C->gm[g] = qcc_v8_load(gv);
        C->corr[g] = qcc_v8_set1(0);
#ifdef QCC_SIMD_CORR
        {
            const int32_t gl = ((len - g0 < gs ? len - g0 : gs) + QCC_SIMD_CH - 1) / QCC_SIMD_CH * QCC_SIMD_CH;
            const int8_t *wl[8];
            int32_t cz[8], sw[8];
            for (i = 0; i < 8; i++)
                wl[i] = C->w[i] + g0;
            qcc_v8_store(sw, qcc_simd_dot8(NULL, C->ones, wl, NULL, gl, 0, 0));
            for (i = 0; i < 8; i++)
                cz[i] = (int32_t)((uint32_t)(p->x_zp + qcc_simd_off(p->x_dt)) * (uint32_t)sw[i]);
            C->corr[g] = qcc_v8_load(cz);
        }
#endif
    }
}

/* Row r of x against the chunk: the plain sum (acc) or the gmult-scaled group sums (big). */
static inline void qcc_linear_chunk_row(const qcc_linear_p *p, const uint8_t *xr, int32_t k0, int32_t len,
                                        int32_t gs, int32_t grouped, qcc_linear_chunk *C, qcc_v8 *acc,
                                        qcc_v8w *big)
{
    const uint8_t flip = qcc_simd_flip(p->x_dt);
    const int32_t zpd = p->x_zp + qcc_simd_off(p->x_dt);
    int32_t g, g0, i;
    for (g = 0, g0 = 0; g0 < len; g++, g0 += gs) {
        const int32_t gl = ((len - g0 < gs ? len - g0 : gs) + QCC_SIMD_CH - 1) / QCC_SIMD_CH * QCC_SIMD_CH;
        const uint8_t *xa = xr + k0 + g0;
        const int8_t *wl[8];
        qcc_v8 part;
        if (k0 + g0 + gl > p->k) {  /* the last step reads past the row: a padded copy */
            memset(C->xt, 0, (size_t)gl);
            memcpy(C->xt, xa, (size_t)(p->k - k0 - g0));
            xa = C->xt;
        }
        for (i = 0; i < 8; i++)
            wl[i] = C->w[i] + g0;
        part = qcc_v8_sub(qcc_simd_dot8(NULL, xa, wl, NULL, gl, flip, zpd), C->corr[g]);
        if (grouped)
            *big = qcc_v8w_madd(*big, part, C->gm[g]);
        else
            *acc = qcc_v8_add(*acc, part);
    }
}

static inline int qcc_linear_simd_packed(const qcc_linear_p *p, const void *x, const int8_t *wt,
                                         const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                         const int32_t *gmult, void *y)
{
    const int32_t k = p->k, grouped = gmult != NULL;
    const int32_t kc = k <= QCC_SIMD_KC ? k : QCC_SIMD_KC - (grouped ? QCC_SIMD_KC % p->gsize : 0);
    const int32_t gs = grouped ? p->gsize : kc;  /* without groups: one "group" per chunk */
    qcc_linear_chunk C;
    qcc_linear_blk B;
    int32_t j, r, k0, i;
    if ((grouped && (gs % QCC_SIMD_CH != 0 || gs > QCC_SIMD_KC))
        || (p->wbits != 8 && p->wbits != 4 && p->wbits != 2))
        return 0;
    memset(C.ones, 1, sizeof C.ones);
    for (j = 0; j < p->n; j += 8) {
        B.nv = p->n - j < 8 ? p->n - j : 8;
        for (i = 0; i < 8; i++) {
            const int32_t jj = i < B.nv ? j + i : p->n - 1, ch = p->per_channel ? jj : 0;
            B.b[i] = bias ? bias[jj] : 0;
            B.m[i] = mult ? mult[ch] : 0;
            B.s[i] = mult ? shift[ch] : 1;
        }
        for (r = 0; r < p->rows; r++) {
            const uint8_t *xr = (const uint8_t *)x + (size_t)r * k;
            qcc_v8 acc = qcc_v8_load(B.b);
            qcc_v8w big = qcc_v8w_init(acc, grouped ? p->gshift : 1);
            for (k0 = 0; k0 < k; k0 += kc) {
                const int32_t len = k - k0 < kc ? k - k0 : kc;
                if (r == 0 || kc < k)
                    qcc_linear_chunk_fill(p, wt, gmult, &B, j, k0, len, gs, &C);
                qcc_linear_chunk_row(p, xr, k0, len, gs, grouped, &C, &acc, &big);
            }
            if (grouped)
                acc = qcc_v8w_round(big, p->gshift);
            qcc_linear_simd_out(p, mult, shift, &B, y, r, j, acc);
        }
    }
    return 1;
}
