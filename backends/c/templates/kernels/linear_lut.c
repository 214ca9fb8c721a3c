/* Table lookup over weight bits (T-MAC's route, docs/target_c_log.md "Table lookup"): int4 / int2
 * weights of a linear layer, per group or per channel, on x86 with AVX2 (QCC_WLUT).
 *
 * Bit-serial: a two's-complement weight w of b bits is sum_t c_t * bit_t(w) with c = (1, 2, 4,
 * -8) (int4) or (1, -2) (int2), so a dot product over four activations is sum_t c_t * T[i_t],
 * where T[i] = sum of the centred activations (x - zp) whose bit is set in the 4-bit index i
 * and i_t holds bit t of the four weights. Per row of x and quad of activations the 16
 * entries of T (|T| <= 4 * 255) are built once, biased by 1024 into [4, 2044] and split into a
 * low-byte and a high-byte table; per 16 output features one VPSHUFB per table looks up a
 * quad for every (feature, plane), VPMADDUBSW multiplies by c_t and adds two planes into the
 * feature's int16 lane; these add up over at most 8 quad pairs (int4: -4 080 <= sum <= 3 570
 * per pair) or 32 (int2: -1 020 .. 510), within int16, before they are widened into int32
 * (low + 256 * high). The bias takes
 * back sum_t c_t * 1024 = -1024 per quad. Everything is exact: the group's int32 partial sum
 * is the portable code's, then scaled by gmult in 64-bit lanes as in linear_simd_packed.c.
 *
 * Weights: repacked at compile time (qcc.backends.c.lut_pack) into wl: per block of 16
 * features, group g (each group padded to gsp = roundup(gs, 8) with zero bits), pair of quads
 * qq and pair of planes pp, 32 bytes; byte 2i + e is feature i's plane 2pp + e, its low
 * nibble the first quad's four bits, its high nibble the second's. Scratch: the centred row,
 * padded per group like the weights (K x 2 bytes of the caller's scratch do not hold it; it
 * and the tables are on the stack: QCC_WLUT_KP padded activations, 8 bytes each for the
 * tables, 2 for the row: 20 KiB). */
#if defined(QCC_SIMD_X86) && !defined(QCC_NO_LUT)
#define QCC_WLUT 1
#define QCC_WLUT_KP 2048  /* padded K (ng * gsp) the tables hold; the lowering keeps to it */

static inline __m256i qcc_wlut_coef(int32_t wbits, int32_t pp)
{
    /* bytes (c_2pp, c_2pp+1) in every int16 lane: (1, -2); (1, 2), (4, -8) */
    if (wbits == 2)
        return _mm256_set1_epi16((int16_t)0xFE01);
    return pp == 0 ? _mm256_set1_epi16(0x0201) : _mm256_set1_epi16((int16_t)0xF804);
}

/* The tables of one row: quad q at tab + 32 q, 16 low bytes then 16 high bytes of T + 1024. */
static inline void qcc_wlut_tables(const int16_t *xc, int32_t nq, uint8_t *tab)
{
    const __m256i pat = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m256i m0 = _mm256_cmpeq_epi16(_mm256_and_si256(pat, _mm256_set1_epi16(1)), _mm256_set1_epi16(1));
    const __m256i m1 = _mm256_cmpeq_epi16(_mm256_and_si256(pat, _mm256_set1_epi16(2)), _mm256_set1_epi16(2));
    const __m256i m2 = _mm256_cmpeq_epi16(_mm256_and_si256(pat, _mm256_set1_epi16(4)), _mm256_set1_epi16(4));
    const __m256i m3 = _mm256_cmpeq_epi16(_mm256_and_si256(pat, _mm256_set1_epi16(8)), _mm256_set1_epi16(8));
    const __m256i bias = _mm256_set1_epi16(1024), low = _mm256_set1_epi16(0xff);
    int32_t q;
    for (q = 0; q < nq; q++) {
        const int16_t *a = xc + 4 * q;
        __m256i e = _mm256_add_epi16(_mm256_and_si256(_mm256_set1_epi16(a[0]), m0),
                                     _mm256_and_si256(_mm256_set1_epi16(a[1]), m1));
        e = _mm256_add_epi16(e, _mm256_and_si256(_mm256_set1_epi16(a[2]), m2));
        e = _mm256_add_epi16(e, _mm256_and_si256(_mm256_set1_epi16(a[3]), m3));
        e = _mm256_add_epi16(e, bias);
        e = _mm256_packus_epi16(_mm256_and_si256(e, low), _mm256_srli_epi16(e, 8));
        _mm256_storeu_si256((__m256i *)(void *)(tab + 32 * q), _mm256_permute4x64_epi64(e, 0xD8));
    }
}

/* a (two int32 x 8: features 0-7, 8-15) += lo + 256 * hi of the 16 int16 lanes. */
static inline void qcc_wlut_flush(__m256i *a, __m256i lo, __m256i hi)
{
    a[0] = _mm256_add_epi32(a[0], _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(lo)),
               _mm256_slli_epi32(_mm256_cvtepi16_epi32(_mm256_castsi256_si128(hi)), 8)));
    a[1] = _mm256_add_epi32(a[1], _mm256_add_epi32(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(lo, 1)),
               _mm256_slli_epi32(_mm256_cvtepi16_epi32(_mm256_extracti128_si256(hi, 1)), 8)));
}

/* The partial sums of one group (npairs quad pairs from w, tables from tab) of 16 features. */
static inline void qcc_wlut_group(const uint8_t *w, const uint8_t *tab, int32_t npairs, int32_t wbits,
                                 __m256i *part)
{
    const int32_t npp = wbits / 2, flush = wbits == 4 ? 8 : 32;  /* quad pairs per int16 sum */
    const __m256i nib = _mm256_set1_epi8(0x0f), c0 = qcc_wlut_coef(wbits, 0), c1 = qcc_wlut_coef(wbits, 1);
    __m256i lo = _mm256_setzero_si256(), hi = lo;
    int32_t qq, n = 0;
    part[0] = part[1] = _mm256_set1_epi32(1024 * 2 * npairs);  /* -sum c * 1024 per quad */
    for (qq = 0; qq < npairs; qq++, w += 32 * npp, tab += 64) {
        const __m256i l0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)tab));
        const __m256i h0 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(tab + 16)));
        const __m256i l1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(tab + 32)));
        const __m256i h1 = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(tab + 48)));
        int32_t pp;
        for (pp = 0; pp < npp; pp++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(w + 32 * pp));
            const __m256i i0 = _mm256_and_si256(v, nib), i1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
            const __m256i c = pp ? c1 : c0;
            lo = _mm256_add_epi16(lo, _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi8(l0, i0), c),
                                                       _mm256_maddubs_epi16(_mm256_shuffle_epi8(l1, i1), c)));
            hi = _mm256_add_epi16(hi, _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi8(h0, i0), c),
                                                       _mm256_maddubs_epi16(_mm256_shuffle_epi8(h1, i1), c)));
        }
        if (++n == flush) {
            qcc_wlut_flush(part, lo, hi);
            lo = hi = _mm256_setzero_si256();
            n = 0;
        }
    }
    if (n)
        qcc_wlut_flush(part, lo, hi);
}

/* Row r of x, centred, into xc padded per group (zeros in each group's tail up to gsp). */
static inline void qcc_wlut_row(const qcc_linear_p *p, const void *x, int32_t r, int32_t gs, int32_t gsp,
                               int32_t ng, int16_t *xc)
{
    int32_t g, t;
    for (g = 0; g < ng; g++) {
        const int32_t k0 = g * gs, len = p->k - k0 < gs ? p->k - k0 : gs;
        int16_t *d = xc + (size_t)g * gsp;
        if (p->x_dt == QCC_U8) {
            const uint8_t *xr = (const uint8_t *)x + (size_t)r * p->k + k0;
            for (t = 0; t < len; t++)
                d[t] = (int16_t)(xr[t] - p->x_zp);
        } else {
            const int8_t *xr = (const int8_t *)x + (size_t)r * p->k + k0;
            for (t = 0; t < len; t++)
                d[t] = (int16_t)(xr[t] - p->x_zp);
        }
        for (t = len; t < gsp; t++)
            d[t] = 0;
    }
}

/* The 8 lanes of features j .. j + 7 (lanes past n repeat the last feature): bias, requant. */
static inline void qcc_wlut_half(const qcc_linear_p *p, const int32_t *bias, const int32_t *mult,
                                const int32_t *shift, int32_t j, qcc_linear_blk *B)
{
    int32_t i;
    B->nv = j >= p->n ? 0 : p->n - j < 8 ? p->n - j : 8;
    for (i = 0; i < 8; i++) {
        const int32_t jj = i < B->nv ? j + i : p->n - 1, ch = p->per_channel ? jj : 0;
        B->b[i] = bias ? bias[jj] : 0;
        B->m[i] = mult ? mult[ch] : 0;
        B->s[i] = mult ? shift[ch] : 1;
    }
}

/* One block of 16 features (j0 ..; wb its planes, gb its gmult as [ng][16] or NULL) for one
 * prepared row: accumulate, requantize, store. */
static inline void qcc_wlut_block(const qcc_linear_p *p, const uint8_t *wb, const int32_t *gb,
                                 const uint8_t *tab, int32_t gsp, int32_t ng, const int32_t *bias,
                                 const int32_t *mult, const int32_t *shift, void *y, int32_t r, int32_t j0)
{
    const int32_t blk = 32 * (gsp / 8) * (p->wbits / 2), s = gb != NULL ? p->gshift : 1;
    qcc_linear_blk B[2];
    __m256i part[2];
    qcc_v8w big[2];
    qcc_v8 acc[2];
    int32_t h, g;
    for (h = 0; h < 2; h++) {
        qcc_wlut_half(p, bias, mult, shift, j0 + 8 * h, &B[h]);
        acc[h] = qcc_v8_load(B[h].b);
        big[h] = qcc_v8w_init(acc[h], s);
    }
    for (g = 0; g < ng; g++) {
        qcc_wlut_group(wb + (size_t)g * blk, tab + (size_t)g * gsp * 8, gsp / 8, p->wbits, part);
        if (gb == NULL) {
            acc[0] = qcc_v8_add(acc[0], part[0]);
            acc[1] = qcc_v8_add(acc[1], part[1]);
        } else {
            big[0] = qcc_v8w_madd(big[0], part[0], qcc_v8_load(gb + 16 * g));
            big[1] = qcc_v8w_madd(big[1], part[1], qcc_v8_load(gb + 16 * g + 8));
        }
    }
    for (h = 0; h < 2 && B[h].nv > 0; h++) {
        if (gb != NULL)
            acc[h] = qcc_v8w_round(big[h], p->gshift);
        qcc_linear_simd_out(p, mult, shift, &B[h], y, r, j0 + 8 * h, acc[h]);
    }
}

/* gml: the per-group multipliers by blocks (qcc.backends.c.lut_pack.lut_gmult), NULL without
 * groups. */
static inline int qcc_linear_lut_run(const qcc_linear_p *p, const void *x, const uint8_t *wl,
                                     const int32_t *gml, const int32_t *bias, const int32_t *mult,
                                     const int32_t *shift, void *y)
{
    const int32_t gs = gml != NULL ? p->gsize : p->k, gsp = (gs + 7) / 8 * 8;
    const int32_t ng = (p->k + gs - 1) / gs, kp = ng * gsp;
    const size_t bstride = (size_t)kp / 8 * (size_t)(p->wbits / 2) * 32;  /* bytes per 16 features */
    int16_t xc[QCC_WLUT_KP];
    uint8_t tab[QCC_WLUT_KP * 8];
    int32_t r, j;
    if ((p->wbits != 4 && p->wbits != 2) || kp > QCC_WLUT_KP || (p->x_dt != QCC_I8 && p->x_dt != QCC_U8))
        return 0;
    for (r = 0; r < p->rows; r++) {
        qcc_wlut_row(p, x, r, gs, gsp, ng, xc);
        qcc_wlut_tables(xc, kp / 4, tab);
        for (j = 0; j < p->n; j += 16)
            qcc_wlut_block(p, wl + (size_t)(j / 16) * bstride, gml ? gml + (size_t)(j / 16) * ng * 16 : NULL,
                          tab, gsp, ng, bias, mult, shift, y, r, j);
    }
    return 1;
}
#endif

/* A linear layer whose int4 / int2 weights also come as bit planes (wl; NULL in the builds
 * that do not take them, docs/target_c.md): the table-lookup kernel, else qcc_linear. */
static inline int qcc_linear_lut(const qcc_linear_p *p, const void *x, const int8_t *wt, const uint8_t *wl,
                                 const int32_t *gml, const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 const int32_t *gmult, void *y, int16_t *xc)
{
#ifdef QCC_WLUT
    if (wl != NULL && (gmult == NULL) == (gml == NULL)
        && qcc_linear_lut_run(p, x, wl, gml, bias, mult, shift, y))
        return QCC_OK;
#endif
    (void)wl;
    (void)gml;
    return qcc_linear(p, x, wt, bias, mult, shift, gmult, y, xc);
}
