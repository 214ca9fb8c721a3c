/* qcc_conv2d (conv2d.h): the helpers every algorithm shares (valid output ranges, the
 * per-tap and pointwise accumulation, the requantizing epilogue), the direct kernel, the
 * dispatcher and the int64 form. The depthwise kernel lives in conv2d_dw.c, the im2col GEMM
 * in conv2d_im2col.c, the host SIMD forms in conv2d_simd.c (after this file). */

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

{% include "kernels/conv2d_dw.c" %}

/* Direct, weight-stationary (pb == 0, not depthwise): one int32 plane of accumulators per
 * output channel. */
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

{% include "kernels/conv2d_im2col.c" %}

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
    if (pb > 0 && qcc_conv_first_dsp(p, gmult)
        && qcc_conv_first_gemm4(p, x, w, bias, mult, shift, y, (int16_t *)scratch, qcc_conv_n16(p)))
        return QCC_OK;
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
