/* First output column j with j*s + off >= 0, and one past the last with j*s + off < size. */
static inline void qcc_valid_range(int32_t off, int32_t s, int32_t size, int32_t out, int32_t *j0, int32_t *j1)
{
    int32_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int32_t b = size - off <= 0 ? 0 : (size - off - 1) / s + 1;
    *j0 = a;
    *j1 = b < out ? b : out;
}

/* acc[i, j] += wv * (x[i*sh + u*dh - pt, j*sw + v*dw - pl] - zp) over the valid window. */
static inline void qcc_conv_tap(const qcc_conv2d_p *p, const int8_t *xin, int32_t wv, int32_t u,
                         int32_t v, int32_t *acc)
{
    int32_t i, j, i0, i1, j0, j1;
    const int32_t offh = u * p->dh - p->pt, offw = v * p->dw - p->pl, zp = p->x_zp;
    qcc_valid_range(offh, p->sh, p->h, p->oh, &i0, &i1);
    qcc_valid_range(offw, p->sw, p->w, p->ow, &j0, &j1);
    for (i = i0; i < i1; i++) {
        const int8_t *row = xin + (size_t)(i * p->sh + offh) * p->w;
        int32_t *arow = acc + (size_t)i * p->ow;
        if (p->sw == 1) {
            /* |w| <= 128 and |x - zp| <= 255: the product fits int16 (a 16-bit vector multiply) */
            const int8_t *r = row + offw;
            const int16_t w16 = (int16_t)wv, z16 = (int16_t)zp;
            for (j = j0; j < j1; j++)
                arow[j] += (int16_t)(w16 * (int16_t)(r[j] - z16));
        } else {
            for (j = j0; j < j1; j++)
                arow[j] += wv * ((int32_t)row[j * p->sw + offw] - zp);
        }
    }
}

/* Pointwise 1x1, stride 1, no padding: a GEMM row, acc[q] += wv * (x[q] - zp). */
static inline void qcc_conv_pointwise_tap(int32_t plane, const int8_t *xin, int32_t wv, int32_t zp,
                                   int32_t *acc)
{
    const int16_t w16 = (int16_t)wv, z16 = (int16_t)zp;  /* the product fits int16 */
    int32_t q;
    for (q = 0; q < plane; q++)
        acc[q] += (int16_t)(w16 * (int16_t)(xin[q] - z16));
}

static inline void qcc_conv_epilogue(const qcc_conv2d_p *p, const int32_t *acc, int32_t plane,
                              const int32_t *mult, const int32_t *shift, int32_t o, void *y,
                              size_t base)
{
    int32_t q;
    if (mult == NULL) {
        memcpy((int32_t *)y + base, acc, (size_t)plane * sizeof(int32_t));
        return;
    } else {
        const int32_t ch = p->per_channel ? o : 0, m = mult[ch], s = shift[ch];
        if (p->y_dt == QCC_I8) {
            int8_t *yo = (int8_t *)y + base;
            for (q = 0; q < plane; q++)
                yo[q] = (int8_t)qcc_requant(acc[q], m, s, p->y_zp, p->lo, p->hi);
        } else {
            for (q = 0; q < plane; q++)
                qcc_store(y, base + (size_t)q, p->y_dt, qcc_requant(acc[q], m, s, p->y_zp, p->lo, p->hi));
        }
    }
}

static inline int qcc_conv2d_direct(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                    const int32_t *bias, const int32_t *mult,
                                    const int32_t *shift, void *y, int32_t *acc)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, plane = p->oh * p->ow;
    const int32_t taps = p->kh * p->kw;
    const int pointwise = taps == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0
                          && p->oh == p->h && p->ow == p->w;
    int32_t b, o, ci, u, v, q;
    for (b = 0; b < p->n; b++) {
        for (o = 0; o < p->m; o++) {
            const int32_t c0 = (o / mg) * cg;
            const int32_t init = bias ? bias[o] : 0;
            for (q = 0; q < plane; q++)
                acc[q] = init;
            for (ci = 0; ci < cg; ci++) {
                const int8_t *xin = x + ((size_t)b * p->c + c0 + ci) * p->h * p->w;
                const int8_t *wk = w + ((size_t)o * cg + ci) * taps;
                for (u = 0; u < p->kh; u++) {
                    for (v = 0; v < p->kw; v++) {
                        const int32_t wv = wk[u * p->kw + v];
                        if (wv == 0)
                            continue;
                        if (pointwise)
                            qcc_conv_pointwise_tap(plane, xin, wv, p->x_zp, acc);
                        else
                            qcc_conv_tap(p, xin, wv, u, v, acc);
                    }
                }
            }
            qcc_conv_epilogue(p, acc, plane, mult, shift, o, y, ((size_t)b * p->m + o) * plane);
        }
    }
    return QCC_OK;
}

/* Centered int16 columns of output positions [q0, q0 + qn) of image b, group channels
 * from c0: col[q][(ci*kh + u)*kw + v] = x - zp, 0 in the padding. */
static inline void qcc_im2col(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t cg,
                              int32_t q0, int32_t qn, int16_t *col)
{
    int32_t q, ci, u, v;
    for (q = 0; q < qn; q++) {
        const int32_t i = (q0 + q) / p->ow, j = (q0 + q) % p->ow;
        int16_t *cq = col + (size_t)q * cg * p->kh * p->kw;
        for (ci = 0; ci < cg; ci++) {
            const int8_t *xc = x + (size_t)(c0 + ci) * p->h * p->w;
            for (u = 0; u < p->kh; u++) {
                const int32_t ih = i * p->sh + u * p->dh - p->pt;
                for (v = 0; v < p->kw; v++) {
                    const int32_t iw = j * p->sw + v * p->dw - p->pl;
                    const int inside = ih >= 0 && ih < p->h && iw >= 0 && iw < p->w;
                    *cq++ = (int16_t)(inside ? (int32_t)xc[ih * p->w + iw] - p->x_zp : 0);
                }
            }
        }
    }
}

/* Per-group weights: int32 partial dot products over groups of gsize taps, rescaled by the
 * group multipliers gm[0..ng) into an int64 sum with the bias, rounded back by gshift. */
static inline int32_t qcc_dot_grouped(const qcc_conv2d_p *p, const int8_t *w, const int16_t *c,
                                      int32_t k, int32_t bias, const int32_t *gm)
{
    int64_t big = (int64_t)bias * ((int64_t)1 << p->gshift);
    int32_t g, k0;
    for (g = 0, k0 = 0; k0 < k; g++, k0 += p->gsize) {
        const int32_t len = k - k0 < p->gsize ? k - k0 : p->gsize;
        big += (int64_t)qcc_dot_w(w, p->wbits, k0, c + k0, len) * gm[g];
    }
    return (int32_t)qcc_rshift_round(big, p->gshift);
}

static inline void qcc_conv_store(const qcc_conv2d_p *p, const int32_t *mult, const int32_t *shift,
                                  int32_t o, void *y, size_t at, int32_t acc)
{
    const int32_t ch = p->per_channel ? o : 0;
    if (mult == NULL)
        ((int32_t *)y)[at] = acc;
    else if (p->y_dt == QCC_I8)
        ((int8_t *)y)[at] = (int8_t)qcc_requant(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi);
    else
        qcc_store(y, at, p->y_dt, qcc_requant(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi));
}

/* Output channels o..o+3 (plain int8 weights) of qn im2col columns; base: y index of (o, q0). */
static inline void qcc_conv_im2col_4(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                     const int32_t *mult, const int32_t *shift, void *y,
                                     const int16_t *col, int32_t k, int32_t o, size_t base,
                                     int32_t plane, int32_t qn)
{
    int32_t q, i, a4[4];
    for (q = 0; q < qn; q++) {
        qcc_dot4_w8(w + (size_t)o * k, (size_t)k, col + (size_t)q * k, k, a4);
        for (i = 0; i < 4; i++)
            qcc_conv_store(p, mult, shift, o + i, y, base + (size_t)i * plane + q,
                           a4[i] + (bias ? bias[o + i] : 0));
    }
}

static inline int qcc_conv2d_im2col(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                    const int32_t *bias, const int32_t *mult,
                                    const int32_t *shift, const int32_t *gmult, void *y,
                                    int16_t *col)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, plane = p->oh * p->ow;
    const int32_t k = cg * p->kh * p->kw;
    int32_t b, g, o, q0, q;
    for (b = 0; b < p->n; b++)
        for (g = 0; g < p->group; g++)
            for (q0 = 0; q0 < plane; q0 += p->pb) {
                const int32_t qn = plane - q0 < p->pb ? plane - q0 : p->pb;
                qcc_im2col(p, x + (size_t)b * p->c * p->h * p->w, g * cg, cg, q0, qn, col);
                o = g * mg;
                if (gmult == NULL && p->wbits == 8)  /* plain int8: four outputs per column */
                    for (; o + 4 <= (g + 1) * mg; o += 4)
                        qcc_conv_im2col_4(p, w, bias, mult, shift, y, col, k, o,
                                          ((size_t)b * p->m + o) * plane + q0, plane, qn);
                for (; o < (g + 1) * mg; o++) {
                    const int8_t *wo = w + (size_t)o * ((k * p->wbits + 7) / 8);
                    const int32_t init = bias ? bias[o] : 0, ch = p->per_channel ? o : 0;
                    const size_t base = ((size_t)b * p->m + o) * plane + q0;
                    for (q = 0; q < qn; q++) {
                        const int32_t acc = gmult != NULL
                            ? qcc_dot_grouped(p, wo, col + (size_t)q * k, k, init, gmult + (size_t)o * p->ng)
                            : init + qcc_dot_w(wo, p->wbits, 0, col + (size_t)q * k, k);
                        if (mult == NULL)
                            ((int32_t *)y)[base + q] = acc;
                        else if (p->y_dt == QCC_I8)
                            ((int8_t *)y)[base + q] = (int8_t)qcc_requant(acc, mult[ch], shift[ch],
                                                                          p->y_zp, p->lo, p->hi);
                        else
                            qcc_store(y, base + q, p->y_dt, qcc_requant(acc, mult[ch], shift[ch],
                                                                        p->y_zp, p->lo, p->hi));
                    }
                }
            }
    return QCC_OK;
}

static inline int qcc_conv2d(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                             const int32_t *bias, const int32_t *mult, const int32_t *shift,
                             const int32_t *gmult, void *y, void *scratch)
{
    if (p->pb > 0)
        return qcc_conv2d_im2col(p, x, w, bias, mult, shift, gmult, y, (int16_t *)scratch);
    return qcc_conv2d_direct(p, x, w, bias, mult, shift, y, (int32_t *)scratch);
}
