#ifdef QCC_SIMD_SSE2
/* One-group convs without im2col on the default x86-64 build (SSE2; docs/target_c.md "ISA
 * variants"): plain int8 weights, dilation 1, a kernel larger than 1x1, output plane >= 64,
 * output rows of 8 or more that waste at most a quarter of the last tile's lanes.
 * The input is laid out once per band of output rows as int16 pairs of two channels,
 * P[cp][a][b][r][c] = (x[2cp] - zp, x[2cp + 1] - zp) at padded row r*sh + a and padded column
 * c*sw + b (zero in the padding and past C), the stride phases split as in the depthwise
 * kernel, so tap (u, v) of output (i, j) is the pair at phase (u % sh, v % sw), row
 * i + u / sh, column j + v / sw: eight consecutive outputs of a row are eight consecutive
 * pairs. The reduction runs over k = (cp, u, v) through a table of those offsets; the weights
 * are packed once per band and chunk of output channels as the matching int16 pairs of four
 * channels; a 4 x 8 tile (four channels x eight outputs of a row, eight accumulators, one
 * PMADDWD each per step against the PSHUFD-broadcast weight pair) walks the whole reduction,
 * exact as the GEMM (|w * (x - zp)| <= 128 * 255, pair sums below 2^17). Each band's int32
 * rows then take the conv epilogue. Every activation is read once per band instead of once
 * per tap (the im2col rows of qcc_conv2d_pws), with (kh - 1) / sh halo rows per band.
 * Stack: about 68 KiB. 0: not taken. */
#define QCC_PDS_BUF 8192  /* int32 pairs of one band */
#define QCC_PDS_WQ 4096   /* int32 weight pairs of one chunk of output channels */
#define QCC_PDS_K 1024    /* reduction steps (channel pairs x taps) at most */
#define QCC_PDS_ACC 4096  /* int32 accumulators of one band and chunk */

typedef struct {
    int32_t c2, ph, pw, br, kk;  /* channel pairs, phases (sh*sw), phase row width, band rows, steps */
} qcc_pds_geo;

/* The band's pairs from output row i0 (br phase rows per phase). */
static inline void qcc_pds_fill(const qcc_conv2d_p *p, const int8_t *x, const qcc_pds_geo *g, int32_t i0,
                                int32_t *P)
{
    int32_t cp, a, bb, rr, c, c0, c1;
    for (cp = 0; cp < g->c2; cp++)
        for (a = 0; a < p->sh; a++)
            for (bb = 0; bb < p->sw; bb++) {
                const int32_t off = bb - p->pl;
                qcc_valid_range(off, p->sw, p->w, g->pw, &c0, &c1);  /* phase columns inside x */
                for (rr = 0; rr < g->br; rr++) {
                    const int32_t ih = (i0 + rr) * p->sh + a - p->pt;
                    int32_t *d = P + ((size_t)(cp * g->ph + a * p->sw + bb) * g->br + rr) * g->pw;
                    const int8_t *s0, *s1;
                    if (ih < 0 || ih >= p->h || c1 <= c0) {
                        memset(d, 0, (size_t)g->pw * sizeof(int32_t));
                        continue;
                    }
                    s0 = x + ((size_t)(2 * cp) * p->h + ih) * p->w;
                    s1 = 2 * cp + 1 < p->c ? s0 + (size_t)p->h * p->w : NULL;
                    for (c = 0; c < c0; c++)
                        d[c] = 0;
                    if (p->sw == 1)
                        qcc_simd_pairrow(s0 + c0 + off, s1 ? s1 + c0 + off : NULL, c1 - c0, p->x_zp, d + c0);
                    else
                        for (c = c0; c < c1; c++) {
                            const int32_t e0 = s0[c * p->sw + off] - p->x_zp;
                            const int32_t e1 = s1 ? s1[c * p->sw + off] - p->x_zp : 0;
                            d[c] = (int32_t)((uint32_t)(uint16_t)(int16_t)e0 | (uint32_t)(uint16_t)(int16_t)e1 << 16);
                        }
                    for (c = c1; c < g->pw; c++)
                        d[c] = 0;
                }
            }
}

/* Weight pairs of output channels o0 .. o0 + nc - 1 (zero past nc, rounded up to 4), step
 * order (cp, u, v): wq[(o / 4 * kk + k) * 4 + o % 4]; b4: their bias. */
static inline void qcc_pds_weights(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                   const qcc_pds_geo *g, int32_t o0, int32_t nc, int32_t *wq, int32_t *b4)
{
    const int32_t taps = p->kh * p->kw, nc4 = (nc + 3) / 4 * 4;
    int32_t o, cp, t;
    for (o = 0; o < nc4; o++) {
        const int8_t *wo = w + (size_t)(o0 + o) * p->c * taps;
        int32_t *d = wq + (size_t)(o / 4) * g->kk * 4 + o % 4;
        b4[o] = o < nc && bias ? bias[o0 + o] : 0;
        for (cp = 0; cp < g->c2; cp++)
            for (t = 0; t < taps; t++) {
                const int32_t w0 = o < nc ? wo[(size_t)(2 * cp) * taps + t] : 0;
                const int32_t w1 = o < nc && 2 * cp + 1 < p->c ? wo[(size_t)(2 * cp + 1) * taps + t] : 0;
                d[(size_t)(cp * taps + t) * 4] = (int32_t)((uint32_t)(uint16_t)(int16_t)w0
                                                           | (uint32_t)(uint16_t)(int16_t)w1 << 16);
            }
    }
}

/* Four channels (weight pairs wq, bias b4) x the eight outputs whose first step pair is at
 * xb: the accumulators into acc[i * as], i < 4 (nv of the eight lanes stored). */
static inline void qcc_pds_tile(const int32_t *xb, const int32_t *offs, int32_t kk, const int32_t *wq,
                                const int32_t *b4, int32_t *acc, int32_t as, int32_t nv)
{
    __m128i a0 = _mm_set1_epi32(b4[0]), a1 = a0, c0 = _mm_set1_epi32(b4[1]), c1 = c0;
    __m128i d0 = _mm_set1_epi32(b4[2]), d1 = d0, e0 = _mm_set1_epi32(b4[3]), e1 = e0;
    int32_t k, r[4][8], i;
    for (k = 0; k < kk; k++) {
        const int32_t *xk = xb + offs[k];
        const __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)xk);
        const __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(xk + 4));
        const __m128i wv = _mm_loadu_si128((const __m128i *)(const void *)(wq + (size_t)k * 4));
        __m128i b = _mm_shuffle_epi32(wv, 0x00);
        a0 = _mm_add_epi32(a0, _mm_madd_epi16(x0, b));
        a1 = _mm_add_epi32(a1, _mm_madd_epi16(x1, b));
        b = _mm_shuffle_epi32(wv, 0x55);
        c0 = _mm_add_epi32(c0, _mm_madd_epi16(x0, b));
        c1 = _mm_add_epi32(c1, _mm_madd_epi16(x1, b));
        b = _mm_shuffle_epi32(wv, 0xAA);
        d0 = _mm_add_epi32(d0, _mm_madd_epi16(x0, b));
        d1 = _mm_add_epi32(d1, _mm_madd_epi16(x1, b));
        b = _mm_shuffle_epi32(wv, 0xFF);
        e0 = _mm_add_epi32(e0, _mm_madd_epi16(x0, b));
        e1 = _mm_add_epi32(e1, _mm_madd_epi16(x1, b));
    }
    if (nv == 8) {
        _mm_storeu_si128((__m128i *)(void *)acc, a0);
        _mm_storeu_si128((__m128i *)(void *)(acc + 4), a1);
        _mm_storeu_si128((__m128i *)(void *)(acc + as), c0);
        _mm_storeu_si128((__m128i *)(void *)(acc + as + 4), c1);
        _mm_storeu_si128((__m128i *)(void *)(acc + 2 * (size_t)as), d0);
        _mm_storeu_si128((__m128i *)(void *)(acc + 2 * (size_t)as + 4), d1);
        _mm_storeu_si128((__m128i *)(void *)(acc + 3 * (size_t)as), e0);
        _mm_storeu_si128((__m128i *)(void *)(acc + 3 * (size_t)as + 4), e1);
        return;
    }
    _mm_storeu_si128((__m128i *)(void *)r[0], a0);
    _mm_storeu_si128((__m128i *)(void *)(r[0] + 4), a1);
    _mm_storeu_si128((__m128i *)(void *)r[1], c0);
    _mm_storeu_si128((__m128i *)(void *)(r[1] + 4), c1);
    _mm_storeu_si128((__m128i *)(void *)r[2], d0);
    _mm_storeu_si128((__m128i *)(void *)(r[2] + 4), d1);
    _mm_storeu_si128((__m128i *)(void *)r[3], e0);
    _mm_storeu_si128((__m128i *)(void *)(r[3] + 4), e1);
    for (i = 0; i < 4; i++)
        memcpy(acc + (size_t)i * as, r[i], (size_t)nv * sizeof(int32_t));
}

/* The band geometry: 0 when the conv is not for this kernel or a band of one row does not fit. */
static inline int qcc_pds_geometry(const qcc_conv2d_p *p, qcc_pds_geo *g, int32_t *rows)
{
    const int32_t hal = (p->kh - 1) / p->sh, plane = p->oh * p->ow;
    int32_t r;
    if (p->group != 1 || p->wbits != 8 || p->dh != 1 || p->dw != 1 || p->kh * p->kw < 2
        || plane < 64 || p->ow < 8 || ((p->ow + 7) / 8 * 8 - p->ow) * 4 > p->ow)
        return 0;  /* (narrow rows waste lanes of the last tile: qcc_conv2d_pws packs rows) */
    g->c2 = (p->c + 1) / 2;
    g->ph = p->sh * p->sw;
    g->pw = (p->ow + 7) / 8 * 8 + (p->kw - 1) / p->sw;
    g->kk = g->c2 * p->kh * p->kw;
    if (g->kk > QCC_PDS_K || 4 * g->kk > QCC_PDS_WQ)
        return 0;
    r = QCC_PDS_BUF / (g->c2 * g->ph * g->pw) - hal;  /* output rows per band */
    r = r < QCC_PDS_ACC / 4 / p->ow ? r : QCC_PDS_ACC / 4 / p->ow;
    r = r < p->oh ? r : p->oh;
    if (r < 1)
        return 0;
    g->br = r + hal;
    *rows = r;
    return 1;
}

static inline int qcc_conv2d_pds(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift, void *y)
{
    const int32_t plane = p->oh * p->ow;
    int32_t P[QCC_PDS_BUF], wq[QCC_PDS_WQ], offs[QCC_PDS_K], b4[QCC_PDS_WQ / 4], acc[QCC_PDS_ACC];
    qcc_pds_geo g;
    int32_t rows, mc, b, i0, o0, o, i, j, cp, u, v;
    if (!qcc_pds_geometry(p, &g, &rows))
        return 0;
    mc = QCC_PDS_WQ / 4 / g.kk * 4;  /* output channels per chunk: weights and accumulators fit */
    mc = mc < QCC_PDS_ACC / (rows * p->ow) / 4 * 4 ? mc : QCC_PDS_ACC / (rows * p->ow) / 4 * 4;
    mc = mc < (p->m + 3) / 4 * 4 ? mc : (p->m + 3) / 4 * 4;
    for (cp = 0, i = 0; cp < g.c2; cp++)
        for (u = 0; u < p->kh; u++)
            for (v = 0; v < p->kw; v++)
                offs[i++] = ((cp * g.ph + (u % p->sh) * p->sw + v % p->sw) * g.br + u / p->sh) * g.pw + v / p->sw;
    for (b = 0; b < p->n; b++)
        for (i0 = 0; i0 < p->oh; i0 += rows) {
            const int32_t nr = p->oh - i0 < rows ? p->oh - i0 : rows, as = nr * p->ow;
            qcc_pds_fill(p, x + (size_t)b * p->c * p->h * p->w, &g, i0, P);
            for (o0 = 0; o0 < p->m; o0 += mc) {
                const int32_t nc = p->m - o0 < mc ? p->m - o0 : mc;
                qcc_pds_weights(p, w, bias, &g, o0, nc, wq, b4);
                for (i = 0; i < nr; i++)
                    for (j = 0; j < p->ow; j += 8)
                        for (o = 0; o < nc; o += 4)
                            qcc_pds_tile(P + (size_t)i * g.pw + j, offs, g.kk, wq + (size_t)o * g.kk,
                                         b4 + o, acc + (size_t)o * as + (size_t)i * p->ow + j, as,
                                         p->ow - j < 8 ? p->ow - j : 8);
                for (o = 0; o < nc; o++)
                    qcc_conv_epilogue(p, acc + (size_t)o * as, as, mult, shift, o0 + o, y,
                                      ((size_t)b * p->m + o0 + o) * plane + (size_t)i0 * p->ow);
            }
        }
    return 1;
}
#endif
