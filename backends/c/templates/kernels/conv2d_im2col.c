/* qcc_conv2d's im2col GEMM (pb > 0: general, grouped, packed int4/int2 and per-group weights)
 * with its Arm DSP 1x4 form, and the block size it runs with; included by conv2d.c. */
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
/* a pointwise conv's scratch columns: more where the memory plan had room (p->pwc,
 * rules_nn.conv2d and plan.widen_scratch) */
static inline int32_t qcc_conv_pwc(const qcc_conv2d_p *p)
{
    return p->pwc > 0 ? p->pwc : QCC_PW_DSP_COLS;
}
/* The depthwise kernels' scratch in int16 (rules_nn.conv_scratch: the portable kernel's
 * accumulators and phase planes or the DSP kernel's padded plane and table, the larger). */
static inline int32_t qcc_conv_dw_n16(const qcc_conv2d_p *p)
{
    int32_t phh, pw, dph, dpw, nt, a, d;
    qcc_dw_dims(p, &phh, &pw);
    a = 4 * p->oh * pw + 2 * p->sh * p->sw * phh * pw;
#ifdef QCC_ARM_DSP
    qcc_dwd_dims(p, &dph, &dpw, &nt);
    d = (dph * dpw + 6) / 4 * 4 + 24 * p->kh * nt;
#else
    (void)dph, (void)dpw, (void)nt;
    d = 0;
#endif
    return (a > d ? a : d) / 2;
}

/* A first layer (one input channel, several outputs: the depthwise kernels' channel
 * multiplier) runs in the DSP build as a small-K GEMM (conv2d_gemm_dsp.c,
 * qcc_conv_first_gemm4) in the depthwise scratch on a plane of QCC_FIRST_GEMM_PLANE outputs or
 * more, or of QCC_FIRST_GEMM_PLANE4 or more when its kernel rows are four taps and K >= 16
 * (measured, docs/target_c_log.md, eighth round: a 10x4 kernel on 125 outputs 4.53 -> 1.17
 * instructions per MAC; a 3x3 one on 64 outputs 2.33 -> 3.08, so it keeps the depthwise
 * forms). */
#define QCC_FIRST_GEMM_PLANE 256
#define QCC_FIRST_GEMM_PLANE4 64
static inline int qcc_conv_first_dsp(const qcc_conv2d_p *p, const int32_t *gmult)
{
#ifdef QCC_ARM_GEMM4
    return p->pb == 0 && p->c == 1 && p->group == 1 && p->m > 1 && p->dh == 1 && p->dw == 1
           && p->wbits == 8 && gmult == NULL
           && (p->oh * p->ow >= QCC_FIRST_GEMM_PLANE
               || (p->oh * p->ow >= QCC_FIRST_GEMM_PLANE4 && p->kw == 4 && p->kh >= 4));
#else
    (void)p, (void)gmult;
    return 0;
#endif
}

static inline int32_t qcc_conv_pb(const qcc_conv2d_p *p, const int32_t *gmult)
{
#ifdef QCC_ARM_DSP
    const int32_t plane = p->oh * p->ow, cg = p->c / p->group;
    if (qcc_conv_first_dsp(p, gmult)) {
        const int32_t cols = qcc_conv_dw_n16(p) / (p->kh * p->kw);
        return cols < plane ? cols : plane;
    }
    if (p->pb == 0 && p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0
        && p->pl == 0 && p->oh == p->h && p->ow == p->w && p->wbits == 8 && gmult == NULL
        && cg > 0) {  /* the scratch: max(2*plane, cg*min(plane, cols)) int16 (rules_nn.conv_scratch) */
        const int32_t cols = plane < qcc_conv_pwc(p) ? plane : qcc_conv_pwc(p);
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
    const int32_t cols = plane < qcc_conv_pwc(p) ? plane : qcc_conv_pwc(p);
    if (p->pb > 0)
        return p->pb * cg * p->kh * p->kw;
    if (qcc_conv_first_dsp(p, NULL))
        return qcc_conv_dw_n16(p);
    return 2 * plane > cg * cols ? 2 * plane : cg * cols;
}
