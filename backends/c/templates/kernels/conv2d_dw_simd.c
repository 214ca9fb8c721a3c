/* Depthwise convs on the host SIMD variants (one input channel per output, channel
 * multiplier 1, dilation 1): eight output channels in the eight int32 lanes, the accumulators
 * of one output position in one register across all its taps. Two horizontally adjacent taps
 * (u, v), (u, v + 1) are one VPMADDWD (NEON: LD2 + SMLAL/SMLAL2): a band of padded input rows
 * is laid out, per position and lane, as the int16 pair (x[col] - zp, x[col + 1] - zp) (0 in
 * the padding), and the weights as the pairs (w[u, v], w[u, v + 1]) (0 past kw), both
 * precomputed per block of eight channels. |w * (x - zp)| <= 128 * 255: each pair sums exactly
 * in int32, as the portable kernel's int16 products. Scratch: none from the arena; the band
 * (QCC_DWS_BAND int32) and the block's weights live on the stack (host builds only). With a
 * channel multiplier (e.g. a 1-channel stem) the portable phase-plane kernel measured faster:
 * its planes are large and the lanes would repeat one input channel. */
#define QCC_DWS_BAND 8192  /* int32 pairs of one band of padded rows: 8 lanes * rows * wp */
#define QCC_DWS_TAPS 64    /* kh * ceil(kw / 2) weight pairs per channel at most */
#define QCC_DWS_WP 512     /* padded input columns read, at most */

/* The band's padded rows [r0, r0 + nr) of image b, lanes l < 8 from input channel (c0 + l) / mg
 * (lanes past nv zero): xs[(r * wp + col) * 8 + l] = the pair at padded column col. Per row,
 * each distinct channel's centred row is made once (lanes sharing a channel copy it), then
 * the lanes are transposed and paired (qcc_simd_pairs8). */
static inline void qcc_dws_band(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t nv,
                                int32_t mg, int32_t r0, int32_t nr, int32_t wp, int32_t *xs)
{
    int16_t rows[8][QCC_DWS_WP + 16], tc[(QCC_DWS_WP + 16) * 8];  /* wp + 1 columns per lane, read to 8 past */
    const int32_t off = -p->pl, zp = p->x_zp;
    int32_t l, r, j0, j1;
    qcc_valid_range(off, 1, p->w, wp + 1, &j0, &j1);  /* padded columns inside x */
    for (l = 0; l < 8; l++)  /* only the columns qcc_simd_pairs8 reads: wp + 1 rounded up to 8, + 8 */
        memset(rows[l], 0, (size_t)(wp + 16 < QCC_DWS_WP + 16 ? wp + 16 : QCC_DWS_WP + 16) * sizeof(int16_t));
    for (r = 0; r < nr; r++) {
        const int32_t ih = r0 + r - p->pt;
        int32_t *restrict dst = xs + (size_t)r * wp * 8;
        if (ih < 0 || ih >= p->h) {
            memset(dst, 0, (size_t)wp * 8 * sizeof(int32_t));
            continue;
        }
        for (l = 0; l < nv; l++) {
            const int32_t ci = (c0 + l) / mg;
            const int8_t *restrict xr = x + ((size_t)ci * p->h + ih) * p->w + off;
            int16_t *restrict rl = rows[l];
            if (l > 0 && ci == (c0 + l - 1) / mg) {
                memcpy(rl, rows[l - 1], (size_t)(wp + 1) * sizeof(int16_t));
                continue;
            }
            qcc_simd_centre16(xr + j0, j1 - j0, zp, rl + j0);
        }
        qcc_simd_pairs8(&rows[0][0], QCC_DWS_WP + 16, wp, tc, dst);
    }
}

#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
/* Small planes (h * w <= QCC_DWS_FLAT, x86): each channel's whole plane is one contiguous row,
 * so the eight lanes are centred and transposed once per block of channels, plane-wide
 * (t[q * 8 + l] = x[c0 + l][q] - zp, lanes past nv 0), instead of once per band row; the
 * band rows are then copies of t's rows into padded columns, paired. */
#define QCC_DWS_FLAT 1024

static inline void qcc_dws_plane8(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t nv,
                                  int16_t *rows, int16_t *t)
{
    const int32_t hw = p->h * p->w, rs = QCC_DWS_FLAT + 8;
    int32_t l, q;
    for (l = 0; l < 8; l++) {
        int16_t *rl = rows + (size_t)l * rs;
        if (l < nv) {
            qcc_simd_centre16(x + (size_t)(c0 + l) * hw, hw, p->x_zp, rl);
            memset(rl + hw, 0, 8 * sizeof(int16_t));  /* t8x8 reads to hw rounded up to 8 */
        } else {
            memset(rl, 0, (size_t)(hw + 8) * sizeof(int16_t));
        }
    }
    for (q = 0; q < hw; q += 8)
        qcc_simd_t8x8(rows, rs, q, t);
}

/* The band's padded rows [r0, r0 + nr) as qcc_dws_band lays them out, from the plane-wide t:
 * tc = one padded row of wp + 1 columns of 8 lanes (0 in the padding), then column c paired
 * with c + 1. */
static inline void qcc_dws_band_t(const qcc_conv2d_p *p, const int16_t *t, int32_t r0, int32_t nr,
                                  int32_t wp, int16_t *tc, int32_t *xs)
{
    int32_t r, c, l, j0, j1;
    qcc_valid_range(-p->pl, 1, p->w, wp + 1, &j0, &j1);
    j1 = j1 > j0 ? j1 : j0;
    memset(tc, 0, (size_t)(wp + 1) * 8 * sizeof(int16_t));
    for (r = 0; r < nr; r++) {
        const int32_t ih = r0 + r - p->pt;
        int32_t *restrict dst = xs + (size_t)r * wp * 8;
        if (ih < 0 || ih >= p->h) {
            memset(dst, 0, (size_t)wp * 8 * sizeof(int32_t));
            continue;
        }
        memcpy(tc + (size_t)j0 * 8, t + ((size_t)ih * p->w + j0 - p->pl) * 8, (size_t)(j1 - j0) * 8 * sizeof(int16_t));
        for (c = 0; c < wp; c++)
            for (l = 0; l < 8; l++)
                dst[(size_t)c * 8 + l] = (int32_t)((uint32_t)(uint16_t)tc[(size_t)c * 8 + l]
                                                   | (uint32_t)(uint16_t)tc[(size_t)(c + 1) * 8 + l] << 16);
    }
}
#endif

/* The block's weight pairs ws[(u * np + t) * 8 + l] = (w[u, 2t], w[u, 2t + 1]) of output
 * channel c0 + l (0 past kw and for lanes past nv), and its bias / requant lanes. */
static inline void qcc_dws_weights(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                   const int32_t *mult, const int32_t *shift, int32_t c0, int32_t nv,
                                   int32_t np, int32_t *ws, int32_t *b8, int32_t *m8, int32_t *s8)
{
    int32_t l, u, t;
    for (l = 0; l < 8; l++) {
        const int32_t o = c0 + (l < nv ? l : nv - 1), ch = p->per_channel ? o : 0;
        const int8_t *wo = w + (size_t)o * p->kh * p->kw;
        for (u = 0; u < p->kh; u++)
            for (t = 0; t < np; t++) {
                const int32_t v = 2 * t, w0 = l < nv ? wo[u * p->kw + v] : 0;
                const int32_t w1 = l < nv && v + 1 < p->kw ? wo[u * p->kw + v + 1] : 0;
                ws[((size_t)u * np + t) * 8 + l] = (int32_t)((uint32_t)(uint16_t)(int16_t)w0
                                                             | (uint32_t)(uint16_t)(int16_t)w1 << 16);
            }
        b8[l] = bias && l < nv ? bias[o] : 0;
        m8[l] = mult ? mult[ch] : 0;
        s8[l] = mult ? shift[ch] : 1;
    }
}

/* acc[j * 8 + l] = b + the taps of output column j (< ow) of one output row: xr = the band's
 * first padded row of it, rs = int32 per band row, s8 = 8 * stride. kh and np constants at
 * the call sites below, so the tap loops unroll. */
static inline void qcc_dws_row(const int32_t *xr, size_t rs, int32_t s8, const int32_t *ws,
                               int32_t kh, int32_t np, int32_t ow, qcc_v8 b, int32_t *acc)
{
    int32_t j, u, t;
    for (j = 0; j < ow; j++) {
        const int32_t *xj = xr + (size_t)j * s8;
        qcc_v8 a = b;
        for (u = 0; u < kh; u++)
            for (t = 0; t < np; t++)
                a = qcc_v8_madd16(a, xj + u * rs + 16 * t, ws + (size_t)(u * np + t) * 8);
        qcc_v8_store(acc + (size_t)j * 8, a);
    }
}

/* y[l * plane + q] = r8[q * 8 + l] for lanes l < nv and positions q < n: the int8 results of
 * one band, position-major, written channel by channel. Eight positions at a time as an 8 x 8
 * byte transpose in eight 64-bit words (swaps of 4-, 2-, 1-byte blocks; little-endian hosts),
 * then one 8-byte store per channel; the rest byte by byte. */
static inline void qcc_dws_store8(const int8_t *r8, int32_t n, int32_t nv, int32_t plane, int8_t *y)
{
    int32_t q = 0, l, i;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    static const uint64_t mk[3] = {0x00000000FFFFFFFFull, 0x0000FFFF0000FFFFull, 0x00FF00FF00FF00FFull};
    for (; q + 8 <= n; q += 8) {
        uint64_t a[8], t;
        int32_t k, s;
        memcpy(a, r8 + (size_t)q * 8, sizeof a);
        for (s = 0, k = 4; k >= 1; k /= 2, s++)
            for (i = 0; i < 8; i++)
                if ((i & k) == 0) {
                    t = ((a[i] >> (8 * k)) ^ a[i + k]) & mk[s];
                    a[i] ^= t << (8 * k);
                    a[i + k] ^= t;
                }
        for (l = 0; l < nv; l++)
            memcpy(y + (size_t)l * plane + q, &a[l], 8);
    }
#endif
    for (; q < n; q++)
        for (l = 0; l < nv; l++)
            y[(size_t)l * plane + q] = r8[(size_t)q * 8 + l];
}

/* Output rows [i0, i0 + bn) of the block's nv channels from the band (padded row i0*sh first). */
static inline void qcc_dws_rows(const qcc_conv2d_p *p, const int32_t *xs, const int32_t *ws,
                                const int32_t *b8, const int32_t *m8, const int32_t *s8,
                                const int32_t *mult, const int32_t *shift, void *y, size_t ybase,
                                int32_t c0, int32_t nv, int32_t i0, int32_t bn, int32_t wp, int32_t np)
{
    const int32_t plane = p->oh * p->ow, s8w = 8 * p->sw;
    const size_t rs = (size_t)wp * 8;
    const int fused = mult != NULL && p->y_dt == QCC_I8;
    const qcc_v8 bias = qcc_v8_load(b8), mv = qcc_v8_load(m8), sv = qcc_v8_load(s8);
    int32_t acc[QCC_DWS_WP * 8];
    int8_t r8[QCC_DWS_BAND];  /* the band's int8 results, position-major: bn * ow <= 1024 positions */
    int32_t i, j, l;
    for (i = i0; i < i0 + bn; i++) {
        const int32_t *xr = xs + (size_t)(i - i0) * p->sh * rs;
        if (p->kh == 3 && np == 2)
            qcc_dws_row(xr, rs, s8w, ws, 3, 2, p->ow, bias, acc);
        else if (p->kh == 5 && np == 3)
            qcc_dws_row(xr, rs, s8w, ws, 5, 3, p->ow, bias, acc);
        else
            qcc_dws_row(xr, rs, s8w, ws, p->kh, np, p->ow, bias, acc);
        for (j = 0; j < p->ow; j++) {
            const size_t at = ybase + (size_t)i * p->ow + j;
            if (fused) {
                qcc_v8_store_i8(r8 + ((size_t)(i - i0) * p->ow + j) * 8,
                                qcc_v8_requant(qcc_v8_load(acc + (size_t)j * 8), mv, sv, p->y_zp, p->lo, p->hi), 8);
            } else {
                for (l = 0; l < nv; l++)
                    qcc_conv_store(p, mult, shift, c0 + l, y, at + (size_t)l * plane, acc[(size_t)j * 8 + l]);
            }
        }
    }
    if (fused)  /* the band's rows are contiguous in each channel's plane */
        qcc_dws_store8(r8, bn * p->ow, nv, plane, (int8_t *)y + ybase + (size_t)i0 * p->ow);
}

/* qcc_conv2d for c == group == m and dilation 1 on eight-lane SIMD; w: int8 [m, kh*kw]. 0: not
 * taken (the band or the weights do not fit the stack buffers). */
static inline int qcc_conv2d_dws(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 void *y)
{
    const int32_t mg = p->m / p->group, np = (p->kw + 1) / 2, plane = p->oh * p->ow;
    const int32_t wp = (p->ow - 1) * p->sw + p->kw;  /* padded columns read */
    int32_t xs[QCC_DWS_BAND], ws[QCC_DWS_TAPS * 8], b8[8], m8[8], s8[8];
    int32_t b, c0, i0, bn;
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
    int16_t rows[8 * (QCC_DWS_FLAT + 8)], t[(QCC_DWS_FLAT + 8) * 8], tc[(QCC_DWS_WP + 1) * 8];
    const int flat = p->h * p->w <= QCC_DWS_FLAT;
#endif
    if (p->c != p->group || mg != 1 || p->dh != 1 || p->dw != 1 || p->kh * np > QCC_DWS_TAPS || wp > QCC_DWS_WP
        || (size_t)p->kh * wp * 8 > QCC_DWS_BAND)
        return 0;
    /* output rows per band: (bn - 1) * sh + kh padded rows of wp * 8 pairs */
    bn = (int32_t)(((size_t)QCC_DWS_BAND / ((size_t)wp * 8) - (size_t)p->kh) / (size_t)p->sh + 1);
    bn = bn < p->oh ? bn : p->oh;
    for (b = 0; b < p->n; b++)
        for (c0 = 0; c0 < p->m; c0 += 8) {
            const int32_t nv = p->m - c0 < 8 ? p->m - c0 : 8;
            const int8_t *xb = x + (size_t)b * p->c * p->h * p->w;
            qcc_dws_weights(p, w, bias, mult, shift, c0, nv, np, ws, b8, m8, s8);
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
            if (flat)
                qcc_dws_plane8(p, xb, c0, nv, rows, t);
#endif
            for (i0 = 0; i0 < p->oh; i0 += bn) {
                const int32_t nb = p->oh - i0 < bn ? p->oh - i0 : bn, nr = (nb - 1) * p->sh + p->kh;
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
                if (flat)
                    qcc_dws_band_t(p, t, i0 * p->sh, nr, wp, tc, xs);
                else
#endif
                    qcc_dws_band(p, xb, c0, nv, mg, i0 * p->sh, nr, wp, xs);
                qcc_dws_rows(p, xs, ws, b8, m8, s8, mult, shift, y, ((size_t)b * p->m + c0) * plane,
                             c0, nv, i0, nb, wp, np);
            }
        }
    return 1;
}
