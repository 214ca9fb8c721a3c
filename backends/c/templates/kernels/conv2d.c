/* First output column j with j*s + off >= 0, and one past the last with j*s + off < size. */
static inline void qcc_valid_range(int32_t off, int32_t s, int32_t size, int32_t out, int32_t *j0, int32_t *j1)
{
    int32_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int32_t b = size - off <= 0 ? 0 : (size - off - 1) / s + 1;
    *j0 = a;
    *j1 = b < out ? b : out;
}

/* acc[i, j] += wv * (x[i*sh + u*dh - pt, j*sw + v*dw - pl] - zp) over the valid window.
 * |w| <= 128 and |x - zp| <= 255: each product fits int16 (a 16-bit vector multiply). */
static inline void qcc_conv_tap(const qcc_conv2d_p *p, const int8_t *xin, int32_t wv, int32_t u,
                         int32_t v, int32_t *acc)
{
    int32_t i, j, i0, i1, j0, j1;
    const int32_t offh = u * p->dh - p->pt, offw = v * p->dw - p->pl, sh = p->sh, sw = p->sw;
    const int32_t w = p->w, ow = p->ow;
    const int16_t w16 = (int16_t)wv, z16 = (int16_t)p->x_zp;
    qcc_valid_range(offh, sh, p->h, p->oh, &i0, &i1);
    qcc_valid_range(offw, sw, w, ow, &j0, &j1);
    for (i = i0; i < i1; i++) {
        const int8_t *restrict r = xin + (size_t)(i * sh + offh) * w + offw;
        int32_t *restrict arow = acc + (size_t)i * ow;
        if (sw == 1) {
            for (j = j0; j < j1; j++)
                arow[j] += (int16_t)(w16 * (int16_t)(r[j] - z16));
        } else if (sw == 2) {
            for (j = j0; j < j1; j++)
                arow[j] += (int16_t)(w16 * (int16_t)(r[2 * j] - z16));
        } else {
            for (j = j0; j < j1; j++)
                arow[j] += (int16_t)(w16 * (int16_t)(r[j * sw] - z16));
        }
    }
}

/* Pointwise 1x1, stride 1, no padding: four input channels (planes `plane` apart) per pass,
 * acc[q] += sum_t w[t] * (x_t[q] - zp). With no weight -128, w*x pairs sum to at most
 * 2 * 127 * 128 < 2^15, so the zero point is folded out (acc -= zp * sum w) and the products
 * are summed in int16 pairs; else each centred product (|w * (x - zp)| <= 128 * 255) in int16. */
static inline void qcc_conv_pointwise_4(int32_t plane, const int8_t *xin, const int8_t *wk,
                                        int32_t zp, int32_t *restrict acc)
{
    const int8_t *restrict x0 = xin, *restrict x1 = xin + plane;
    const int8_t *restrict x2 = xin + 2 * (size_t)plane, *restrict x3 = xin + 3 * (size_t)plane;
    const int16_t w0 = wk[0], w1 = wk[1], w2 = wk[2], w3 = wk[3], z16 = (int16_t)zp;
    int32_t q;
    if (w0 > -128 && w1 > -128 && w2 > -128 && w3 > -128) {
        const int32_t off = -zp * ((int32_t)w0 + w1 + w2 + w3);
        for (q = 0; q < plane; q++)
            acc[q] += off + (int16_t)(w0 * x0[q] + w1 * x1[q]) + (int16_t)(w2 * x2[q] + w3 * x3[q]);
        return;
    }
    for (q = 0; q < plane; q++)
        acc[q] += (int32_t)(int16_t)(w0 * (int16_t)(x0[q] - z16))
                  + (int16_t)(w1 * (int16_t)(x1[q] - z16))
                  + (int16_t)(w2 * (int16_t)(x2[q] - z16))
                  + (int16_t)(w3 * (int16_t)(x3[q] - z16));
}

/* Pointwise 1x1, stride 1, no padding: a GEMM row, acc[q] += wv * (x[q] - zp). */
static inline void qcc_conv_pointwise_tap(int32_t plane, const int8_t *xin, int32_t wv, int32_t zp,
                                   int32_t *restrict acc)
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
        if (p->y_dt == QCC_I8) {  /* locals: the int8 stores may alias *p */
            int8_t *restrict yo = (int8_t *)y + base;
            const int32_t zp = p->y_zp, lo = p->lo, hi = p->hi;
#ifndef QCC_ARM_DSP
            if (qcc_requant_i8_u64(acc, plane, m, s, zp, lo, hi, yo))
                return;
#endif
            qcc_requant_i8_row(acc, plane, m, s, zp, lo, hi, yo);
        } else {
            for (q = 0; q < plane; q++)
                qcc_store(y, base + (size_t)q, p->y_dt, qcc_requant(acc[q], m, s, p->y_zp, p->lo, p->hi));
        }
    }
}

/* One input channel per output, dilation 1 (depthwise, or a 1-channel first layer): the
 * zero-padded centred int16 input is split into sh*sw phase planes, phase (a, b) holding
 * padded rows a, a + sh, ... and columns b, b + sw, ..., each pw columns wide and phh rows
 * high (one spare row for the flat loops' overrun). Tap (u, v) = (u1*sh + a, v1*sw + b) is
 * then acc[q] += w * phase_ab[q + u1*pw + v1] over one flat, vectorizable range of oh*pw
 * accumulators (columns >= ow are junk, dropped afterwards). Scratch: int32 oh*pw, then
 * int16 sh*sw*phh*pw (rules_nn.conv_scratch). */
static inline void qcc_dw_dims(const qcc_conv2d_p *p, int32_t *phh, int32_t *pw)
{
    *phh = ((p->oh - 1) * p->sh + p->kh + p->sh - 1) / p->sh + 1;
    *pw = ((p->ow - 1) * p->sw + p->kw + p->sw - 1) / p->sw;
}

static inline void qcc_dw_phases(const qcc_conv2d_p *p, const int8_t *xin, int32_t phh, int32_t pw,
                                 int16_t *restrict ph)
{
    const int16_t z16 = (int16_t)p->x_zp;
    int32_t a, b, r, c, c0, c1;
    for (a = 0; a < p->sh; a++)
        for (b = 0; b < p->sw; b++) {
            const int32_t off = b - p->pl;
            qcc_valid_range(off, p->sw, p->w, pw, &c0, &c1);  /* phase columns inside x */
            for (r = 0; r < phh; r++) {
                const int32_t ih = r * p->sh + a - p->pt;
                int16_t *restrict dst = ph + ((size_t)(a * p->sw + b) * phh + r) * pw;
                const int8_t *restrict src;
                if (ih < 0 || ih >= p->h || c1 <= c0) {
                    memset(dst, 0, (size_t)pw * sizeof(int16_t));
                    continue;
                }
                src = xin + (size_t)ih * p->w;  /* phase column c is x column c*sw + off */
                for (c = 0; c < c0; c++)
                    dst[c] = 0;
                if (p->sw == 1)
                    for (c = c0; c < c1; c++)
                        dst[c] = (int16_t)(src[c + off] - z16);
                else
                    for (c = c0; c < c1; c++)
                        dst[c] = (int16_t)(src[c * p->sw + off] - z16);
                for (c = c1; c < pw; c++)
                    dst[c] = 0;
            }
        }
}

/* acc[0, oh*ow) = init + the conv of one output channel over the phase planes. */
static inline void qcc_dw_plane(const qcc_conv2d_p *p, const int8_t *wk, const int16_t *ph,
                                int32_t phh, int32_t pw, int32_t init, int32_t *restrict acc)
{
    const int32_t n = p->oh * pw;
    int32_t u, v, q, i;
    for (q = 0; q < n; q++)
        acc[q] = init;
    for (u = 0; u < p->kh; u++)
        for (v = 0; v < p->kw; v++) {
            const int16_t w16 = (int16_t)wk[u * p->kw + v];  /* |w * x| <= 128 * 255: int16 */
            const int16_t *restrict src = ph + ((size_t)((u % p->sh) * p->sw + v % p->sw) * phh
                                                + u / p->sh) * pw + v / p->sw;
            if (w16 == 0)
                continue;
            for (q = 0; q < n; q++)
                acc[q] += (int16_t)(w16 * src[q]);
        }
    if (pw != p->ow)  /* rows pw apart -> rows ow apart (ow <= pw, moving forward) */
        for (i = 1; i < p->oh; i++)
            memmove(acc + (size_t)i * p->ow, acc + (size_t)i * pw, (size_t)p->ow * sizeof(int32_t));
}

{% include "kernels/conv2d_dw_dsp.c" %}
{% include "kernels/conv2d_dw_mve.c" %}

QCC_ARM_OUTLINE int qcc_conv2d_dw(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                void *y, int32_t *acc)
{
    const int32_t mg = p->m / p->group, plane = p->oh * p->ow, taps = p->kh * p->kw;
    int32_t b, o, phh, pw, filled = -1;
    int16_t *ph;
    qcc_dw_dims(p, &phh, &pw);
    ph = (int16_t *)(acc + (size_t)p->oh * pw);
    for (b = 0; b < p->n; b++)
        for (o = 0; o < p->m; o++) {
            const int32_t c0 = b * p->c + o / mg;  /* the one input channel of output o */
            if (c0 != filled)
                qcc_dw_phases(p, x + (size_t)c0 * p->h * p->w, phh, pw, ph);
            filled = c0;
            qcc_dw_plane(p, w + (size_t)o * taps, ph, phh, pw, bias ? bias[o] : 0, acc);
            qcc_conv_epilogue(p, acc, plane, mult, shift, o, y, ((size_t)b * p->m + o) * plane);
        }
    return QCC_OK;
}

QCC_ARM_OUTLINE int qcc_conv2d_direct(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
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
            const int32_t ci4 = pointwise ? cg - cg % 4 : 0;  /* explicit bounds (qcc_linear) */
            for (ci = 0; ci < ci4; ci += 4)  /* four input channels per pass over the accumulators */
                qcc_conv_pointwise_4(plane, x + ((size_t)b * p->c + c0 + ci) * plane,
                                     w + (size_t)o * cg + ci, p->x_zp, acc);
            for (ci = ci4; ci < cg; ci++) {
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
    if (p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0
        && p->oh == p->h && p->ow == p->w) {  /* pointwise: column q is x[:, q0 + q] */
        const size_t plane = (size_t)p->h * p->w;
        const int16_t z16 = (int16_t)p->x_zp;
        for (ci = 0; ci < cg; ci++) {
            const int8_t *restrict xr = x + (c0 + ci) * plane + q0;
            int16_t *restrict cq = col + ci;
            for (q = 0; q < qn; q++)
                cq[(size_t)q * cg] = (int16_t)(xr[q] - z16);
        }
        return;
    }
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
        ((int8_t *)y)[at] = (int8_t)qcc_requant32(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi);
    else
        qcc_store(y, at, p->y_dt, qcc_requant32(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi));
}

/* Output channels o..o+3 (plain int8 weights) of qn im2col columns; base: y index of (o, q0). */
QCC_ARM_OUTLINE void qcc_conv_im2col_4(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                     const int32_t *mult, const int32_t *shift, void *y,
                                     const int16_t *col, int32_t k, int32_t o, size_t base,
                                     int32_t plane, int32_t qn)
{
    int32_t q, i, a4[4];
#if defined(QCC_ARM_DSP) && !defined(QCC_ARM_GEMM4)  /* GEMM4: only a rare fallback here */
    if (mult != NULL && p->y_dt == QCC_I8 && qn >= 4) {  /* the four channels' requant prepared once */
        int8_t *restrict yo = (int8_t *)y + base;
        const int8_t *w4 = w + (size_t)o * k;
        qcc_rq rq[4];
        qcc_rqo ro;
        int32_t b4[4];
        qcc_rqo_init(&ro, p->y_zp, p->lo, p->hi);
        for (i = 0; i < 4; i++) {
            const int32_t ch = p->per_channel ? o + i : 0;
            qcc_rq_init(&rq[i], mult[ch], shift[ch], &ro);
            b4[i] = bias ? bias[o + i] : 0;
        }
        for (q = 0; q < qn; q++) {
            qcc_dot4_w8(w4, (size_t)k, col + (size_t)q * k, k, a4);
            yo[q] = (int8_t)qcc_rq_i8(a4[0] + b4[0], &rq[0], &ro);
            yo[(size_t)plane + q] = (int8_t)qcc_rq_i8(a4[1] + b4[1], &rq[1], &ro);
            yo[2 * (size_t)plane + q] = (int8_t)qcc_rq_i8(a4[2] + b4[2], &rq[2], &ro);
            yo[3 * (size_t)plane + q] = (int8_t)qcc_rq_i8(a4[3] + b4[3], &rq[3], &ro);
        }
        return;
    }
#endif
    if (mult != NULL && p->y_dt == QCC_I8) {  /* int8 out: parameters hoisted, requant fused */
        int8_t *restrict yo = (int8_t *)y + base;
        const int32_t zp = p->y_zp, lo = p->lo, hi = p->hi, pc = p->per_channel;
        for (q = 0; q < qn; q++) {
            qcc_dot4_w8(w + (size_t)o * k, (size_t)k, col + (size_t)q * k, k, a4);
            for (i = 0; i < 4; i++) {
                const int32_t ch = pc ? o + i : 0;
                yo[(size_t)i * plane + q] = (int8_t)qcc_requant32(a4[i] + (bias ? bias[o + i] : 0),
                                                                  mult[ch], shift[ch], zp, lo, hi);
            }
        }
        return;
    }
    for (q = 0; q < qn; q++) {
        qcc_dot4_w8(w + (size_t)o * k, (size_t)k, col + (size_t)q * k, k, a4);
        for (i = 0; i < 4; i++)
            qcc_conv_store(p, mult, shift, o + i, y, base + (size_t)i * plane + q,
                           a4[i] + (bias ? bias[o + i] : 0));
    }
}

{% include "kernels/conv2d_gemm_dsp.c" %}

QCC_ARM_OUTLINE int qcc_conv2d_im2col(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                    const int32_t *bias, const int32_t *mult,
                                    const int32_t *shift, const int32_t *gmult, void *y,
                                    int16_t *col, int32_t pb)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, plane = p->oh * p->ow;
    const int32_t k = cg * p->kh * p->kw;
    int32_t b, g, o, q0, q;
    for (b = 0; b < p->n; b++)
        for (g = 0; g < p->group; g++)
            for (q0 = 0; q0 < plane; q0 += pb) {
                const int32_t qn = plane - q0 < pb ? plane - q0 : pb;
                qcc_im2col(p, x + (size_t)b * p->c * p->h * p->w, g * cg, cg, q0, qn, col);
                /* explicit bounds for every loop over o (see qcc_linear: gcc -O3 for 32-bit
                 * targets cannot bound a loop that starts where another stopped) */
                const int32_t o0 = g * mg, o1 = (g + 1) * mg, o4 = o0 + mg - mg % 4;
                if (gmult == NULL && p->wbits == 8) {  /* plain int8: four outputs per column */
                    for (q = 0; q < qn; q++)
                        qcc_col_prep(col + (size_t)q * k, k);
                    for (o = o0; o < o4; o += 4)
                        qcc_conv_im2col_4(p, w, bias, mult, shift, y, col, k, o,
                                          ((size_t)b * p->m + o) * plane + q0, plane, qn);
                    for (o = o4; o < o1; o++)
                        for (q = 0; q < qn; q++)
                            qcc_conv_store(p, mult, shift, o, y, ((size_t)b * p->m + o) * plane + q0 + q,
                                           (bias ? bias[o] : 0)
                                           + qcc_dot_w8c(w + (size_t)o * k, col + (size_t)q * k, k));
                    continue;
                }
                for (o = o0; o < o1; o++) {
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

/* Output positions per im2col block: the compiled pb, or with the DSP extension, for a
 * pointwise conv with plain int8 weights, as many as the direct kernel's scratch holds
 * (oh*ow int32 = 2*oh*ow int16): it then runs as an im2col GEMM feeding the SMLAD dot
 * products. 0: not im2col. */
#define QCC_PW_DSP_COLS 8 /* == rules_nn.PW_DSP_COLS */
static inline int32_t qcc_conv_pb(const qcc_conv2d_p *p, const int32_t *gmult)
{
#ifdef QCC_ARM_DSP
    const int32_t plane = p->oh * p->ow, cg = p->c / p->group;
    if (p->pb == 0 && p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0
        && p->pl == 0 && p->oh == p->h && p->ow == p->w && p->wbits == 8 && gmult == NULL
        && cg > 0) {  /* the scratch holds max(2*plane, cg*min(plane, 8)) int16 (rules_nn.conv_scratch) */
        const int32_t cols = plane < QCC_PW_DSP_COLS ? plane : QCC_PW_DSP_COLS;
        const int32_t n16 = 2 * plane > cg * cols ? 2 * plane : cg * cols;
        return n16 / cg < plane ? n16 / cg : plane;
    }
#else
    (void)gmult;
#endif
    return p->pb;
}

/* The im2col scratch in int16 (rules_nn.conv_scratch): pb columns of C/group*kH*kW, or for
 * the DSP build's pointwise reroute (p->pb == 0) the larger of its two needs. */
static inline int32_t qcc_conv_n16(const qcc_conv2d_p *p)
{
    const int32_t plane = p->oh * p->ow, cg = p->c / p->group;
    const int32_t cols = plane < QCC_PW_DSP_COLS ? plane : QCC_PW_DSP_COLS;
    if (p->pb > 0)
        return p->pb * cg * p->kh * p->kw;
    return 2 * plane > cg * cols ? 2 * plane : cg * cols;
}

#ifdef QCC_SIMD  /* host SIMD variants: conv2d_simd.c */
static inline int qcc_conv2d_simd(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                  const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                  const int32_t *gmult, void *y, void *scratch);
#endif

static inline int qcc_conv2d(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                             const int32_t *bias, const int32_t *mult, const int32_t *shift,
                             const int32_t *gmult, void *y, void *scratch)
{
    const int32_t pb = qcc_conv_pb(p, gmult);
#ifdef QCC_SIMD
    if (qcc_conv2d_simd(p, x, w, bias, mult, shift, gmult, y, scratch))
        return QCC_OK;
#endif
#ifdef QCC_ARM_GEMM4
    if (pb > 0 && gmult == NULL && p->wbits == 8
        && qcc_conv2d_gemm4(p, x, w, bias, mult, shift, y, (int16_t *)scratch, qcc_conv_n16(p)))
        return QCC_OK;
#endif
    if (pb > 0)
        return qcc_conv2d_im2col(p, x, w, bias, mult, shift, gmult, y, (int16_t *)scratch, pb);
#ifdef QCC_ARM_MVE
    if (p->c == p->group && p->dh == 1 && p->dw == 1 && mult != NULL && p->y_dt == QCC_I8
        && 2 * p->sw + p->kw + 3 <= QCC_DWD_ROW)  /* the DSP kernel's scratch */
        return qcc_conv2d_dwm(p, x, w, bias, mult, shift, (int8_t *)y, scratch);
#endif
#ifdef QCC_ARM_DSP
    if (p->c == p->group && p->dh == 1 && p->dw == 1 && mult != NULL && p->y_dt == QCC_I8
        && 2 * p->sw + p->kw + 3 <= QCC_DWD_ROW)
        return qcc_conv2d_dwd(p, x, w, bias, mult, shift, (int8_t *)y, scratch);
#endif
    if (p->c == p->group && p->dh == 1 && p->dw == 1)
        return qcc_conv2d_dw(p, x, w, bias, mult, shift, y, (int32_t *)scratch);
    return qcc_conv2d_direct(p, x, w, bias, mult, shift, y, (int32_t *)scratch);
}

/* acc_bits = 64 (docs/arithmetic.md 5.1): every output one int64 sum over its C/group*kH*kW
 * taps (pads contribute 0: centered), requantized with the narrowed multiplier.  No scratch;
 * plain or packed weights, no per-group weights. */
static inline int qcc_conv2d64(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift,
                               const int32_t *gmult, void *y, void *scratch)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, kk = cg * p->kh * p->kw;
    const size_t row_bytes = (size_t)(kk * p->wbits + 7) / 8;
    int32_t b, m, i, j, c, u, v;
    (void)gmult;
    (void)scratch;
    for (b = 0; b < p->n; b++)
        for (m = 0; m < p->m; m++) {
            const int8_t *wm = w + (size_t)m * row_bytes;
            const int32_t c0 = (m / mg) * cg, ch = p->per_channel ? m : 0;
            for (i = 0; i < p->oh; i++)
                for (j = 0; j < p->ow; j++) {
                    int64_t acc = bias ? bias[m] : 0;
                    for (c = 0; c < cg; c++)
                        for (u = 0; u < p->kh; u++) {
                            const int32_t iy = i * p->sh - p->pt + u * p->dh;
                            if (iy < 0 || iy >= p->h)
                                continue;
                            for (v = 0; v < p->kw; v++) {
                                const int32_t ix = j * p->sw - p->pl + v * p->dw;
                                if (ix < 0 || ix >= p->w)
                                    continue;
                                acc += (int64_t)((int32_t)x[(((size_t)b * p->c + c0 + c) * p->h + iy)
                                                            * p->w + ix] - p->x_zp)
                                       * qcc_wget(wm, (c * p->kh + u) * p->kw + v, p->wbits);
                            }
                        }
                    qcc_store(y, (((size_t)b * p->m + m) * p->oh + i) * p->ow + j, p->y_dt,
                              qcc_requant(acc, mult[ch], shift[ch], p->y_zp, p->lo, p->hi));
                }
        }
    return QCC_OK;
}
