#ifdef QCC_SIMD
/* qcc_conv2d on the host SIMD variants (simd.h), plain int8 weights: the im2col convs as a
 * GEMM of byte columns
 * (the operand bytes of x, each column padded to kp, a multiple of QCC_SIMD_CH, with the zero
 * point's byte, so padding contributes exactly 0) against each output channel's weight row,
 * 8 output positions at a time, requantization fused on 8 lanes. */
static inline int qcc_conv_simd_pointwise(const qcc_conv2d_p *p)
{
    return p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0
           && p->oh == p->h && p->ow == p->w;
}

/* qcc_im2col_simd's columns without weight groups (t' = t = (ci, u, v)): per output position
 * and (ci, u) the kw taps are one run, copied without per-tap bounds checks when the run lies
 * inside x's row (2026-12-06, round "Small planes": the per-tap checks and the group counter
 * were most of a small strided conv's time). */
static inline void qcc_im2col_simd_runs(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t cg,
                                        int32_t q0, int32_t qn, int32_t kp, uint8_t *col)
{
    const uint8_t flip = QCC_SIMD_FLIP, zb = (uint8_t)((uint8_t)(int8_t)p->x_zp ^ flip);
    const int32_t kw = p->kw, dw = p->dw;
    const size_t plane = (size_t)p->h * p->w;
    int32_t q, ci, u, v;
    for (q = 0; q < qn; q++) {
        const int32_t i = (q0 + q) / p->ow, j = (q0 + q) % p->ow;
        const int32_t iw0 = j * p->sw - p->pl, inrow = iw0 >= 0 && iw0 + (kw - 1) * dw < p->w;
        uint8_t *restrict cq = col + (size_t)q * kp;
        for (ci = 0; ci < cg; ci++) {
            const uint8_t *xc = (const uint8_t *)x + (size_t)(c0 + ci) * plane;
            for (u = 0; u < p->kh; u++, cq += kw) {
                const int32_t ih = i * p->sh + u * p->dh - p->pt;
                if (ih < 0 || ih >= p->h)
                    for (v = 0; v < kw; v++)
                        cq[v] = zb;
                else if (inrow) {
                    const uint8_t *xr = xc + (size_t)ih * p->w + iw0;
                    for (v = 0; v < kw; v++)
                        cq[v] = (uint8_t)(xr[v * dw] ^ flip);
                } else
                    for (v = 0; v < kw; v++) {
                        const int32_t iw = iw0 + v * dw;
                        cq[v] = iw >= 0 && iw < p->w ? (uint8_t)(xc[(size_t)ih * p->w + iw] ^ flip) : zb;
                    }
            }
        }
    }
}

/* col[q*kp + t'] for output positions [q0, q0 + qn) of one image, group channels from c0.
 * t' = t without weight groups (gs = 0); with them, element t of group t / gs sits at
 * (t / gs) * gp + t % gs: every group starts on a step (gp = gs rounded up to QCC_SIMD_CH),
 * the gaps hold the zero point's byte. */
static inline void qcc_im2col_simd(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t cg,
                                   int32_t q0, int32_t qn, int32_t kp, int32_t gs, int32_t gp,
                                   uint8_t *col)
{
    const uint8_t flip = QCC_SIMD_FLIP, zb = (uint8_t)((uint8_t)(int8_t)p->x_zp ^ flip);
    const int32_t k = cg * p->kh * p->kw, g = gs > 0 ? gs : k + 1;
    int32_t q, ci, u, v;
    for (q = 0; q < qn; q++)
        memset(col + (size_t)q * kp + (gs > 0 ? 0 : k), zb, (size_t)(gs > 0 ? kp : kp - k));
    if (qcc_conv_simd_pointwise(p)) {  /* column q is x[:, q0 + q] */
        const size_t plane = (size_t)p->h * p->w;
        for (ci = 0; ci < cg; ci++) {
            const uint8_t *restrict xr = (const uint8_t *)x + (c0 + ci) * plane + q0;
            uint8_t *restrict cq = col + (gs > 0 ? (ci / gs) * gp + ci % gs : ci);
            for (q = 0; q < qn; q++)
                cq[(size_t)q * kp] = (uint8_t)(xr[q] ^ flip);
        }
        return;
    }
    if (gs == 0) {  /* no weight groups: each (ci, u) is one run of kw bytes, checked once */
        qcc_im2col_simd_runs(p, x, c0, cg, q0, qn, kp, col);
        return;
    }
    for (q = 0; q < qn; q++) {
        const int32_t i = (q0 + q) / p->ow, j = (q0 + q) % p->ow;
        uint8_t *cq = col + (size_t)q * kp, *cg0 = cq;
        int32_t left = g;
        for (ci = 0; ci < cg; ci++) {
            const uint8_t *xc = (const uint8_t *)x + (size_t)(c0 + ci) * p->h * p->w;
            for (u = 0; u < p->kh; u++) {
                const int32_t ih = i * p->sh + u * p->dh - p->pt;
                for (v = 0; v < p->kw; v++) {
                    const int32_t iw = j * p->sw + v * p->dw - p->pl;
                    const int inside = ih >= 0 && ih < p->h && iw >= 0 && iw < p->w;
                    *cq++ = inside ? (uint8_t)(xc[ih * p->w + iw] ^ flip) : zb;
                    if (--left == 0) {  /* the next weight group starts on the next step */
                        cg0 += gp;
                        cq = cg0;
                        left = g;
                    }
                }
            }
        }
    }
}

/* Output channel o over the qn columns: y[base + q]. */
static inline void qcc_conv_simd_channel(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                         const int32_t *mult, const int32_t *shift, void *y,
                                         const uint8_t *col, int32_t k, int32_t kp, int32_t o,
                                         size_t base, int32_t qn)
{
    const int32_t kv = k - k % QCC_SIMD_CH, ch = p->per_channel ? o : 0;
    const int32_t zpd = p->x_zp + qcc_simd_off(QCC_I8);
    const int8_t *wo = w + (size_t)o * k;
    int8_t wt[QCC_SIMD_CH];
    int32_t init = bias ? bias[o] : 0, q, i;
    memset(wt, 0, sizeof wt);
    memcpy(wt, wo + kv, (size_t)(k - kv));
#ifdef QCC_SIMD_CORR  /* sum w*(x - zp) = sum w*v - (zp + off)*sum w, modulo 2^32 */
    init = (int32_t)((uint32_t)init - (uint32_t)zpd * (uint32_t)qcc_simd_wsum(wo, k));
#endif
    for (q = 0; q < qn; q += 8) {
        const uint8_t *a[8], *at[8];
        const int32_t nv = qn - q < 8 ? qn - q : 8;
        qcc_v8 acc;
        int32_t r[8];
        for (i = 0; i < 8; i++) {  /* lanes past qn repeat the last column, not stored */
            a[i] = col + (size_t)(i < nv ? q + i : qn - 1) * kp;
            at[i] = a[i] + kv;
        }
        acc = qcc_v8_add(qcc_simd_dot8(a, NULL, NULL, wo, kv, 0, zpd), qcc_v8_set1(init));
        if (kv < k)
            acc = qcc_v8_add(acc, qcc_simd_dot8(at, NULL, NULL, wt, QCC_SIMD_CH, 0, zpd));
        if (mult != NULL && p->y_dt == QCC_I8) {
            qcc_v8_store_i8((int8_t *)y + base + q, qcc_v8_requant(acc, qcc_v8_set1(mult[ch]),
                            qcc_v8_set1(shift[ch]), p->y_zp, p->lo, p->hi), nv);
            continue;
        }
        qcc_v8_store(r, acc);
        for (i = 0; i < nv; i++)
            qcc_conv_store(p, mult, shift, o, y, base + (size_t)(q + i), r[i]);
    }
}

#define QCC_SIMD_KCONV 4096  /* packed / per-group weights: the longest row unpacked (on the stack) */

/* Output channel o with packed int4/int2 or per-group weights: the row unpacked once into int8
 * (zero padded to kp); per group its exact int32 partial sum (minus its own offset correction),
 * scaled by gmult in 64-bit lanes and rounded back by gshift (docs/integer_ops.md). */
static inline void qcc_conv_simd_channel_packed(const qcc_conv2d_p *p, const int8_t *w,
                                                const int32_t *bias, const int32_t *mult,
                                                const int32_t *shift, const int32_t *gmult, void *y,
                                                const uint8_t *col, int32_t k, int32_t kp, int32_t o,
                                                size_t base, int32_t qn)
{
    const int32_t ch = p->per_channel ? o : 0, gs = gmult != NULL ? p->gsize : k;
    const int32_t gp = gmult != NULL ? (gs + QCC_SIMD_CH - 1) / QCC_SIMD_CH * QCC_SIMD_CH : kp;
    const int32_t zpd = p->x_zp + qcc_simd_off(QCC_I8), init = bias ? bias[o] : 0;
    const size_t rowb = ((size_t)k * p->wbits + 7) / 8;
    int8_t wu[QCC_SIMD_KCONV], wb[QCC_SIMD_KCONV];
    int32_t corr[QCC_SIMD_KCONV / QCC_SIMD_CH], q, i, g, g0;
    qcc_simd_unpack(w + (size_t)o * rowb, p->wbits, 0, k, wu);
    memset(wb, 0, (size_t)kp);  /* the column layout: group g from g*gp, zeros between */
    for (g = 0, g0 = 0; g0 < k; g++, g0 += gs) {
        const int32_t gl = k - g0 < gs ? k - g0 : gs;
        memcpy(wb + (size_t)g * gp, wu + g0, (size_t)gl);
        corr[g] = 0;  /* per group: (zp + off) * sum w (byte dot products) */
#ifdef QCC_SIMD_CORR
        corr[g] = (int32_t)((uint32_t)zpd * (uint32_t)qcc_simd_wsum(wu + g0, gl));
#endif
    }
    for (q = 0; q < qn; q += 8) {
        const uint8_t *a[8];
        const int32_t nv = qn - q < 8 ? qn - q : 8;
        qcc_v8 acc = qcc_v8_set1(init);
        qcc_v8w big = qcc_v8w_init(acc, gmult != NULL ? p->gshift : 1);
        int32_t r[8];
        for (i = 0; i < 8; i++)
            a[i] = col + (size_t)(i < nv ? q + i : qn - 1) * kp;
        for (g = 0, g0 = 0; g0 < k; g++, g0 += gs) {
            const int32_t gl = ((k - g0 < gs ? k - g0 : gs) + QCC_SIMD_CH - 1) / QCC_SIMD_CH * QCC_SIMD_CH;
            const uint8_t *ag[8];
            qcc_v8 part;
            for (i = 0; i < 8; i++)
                ag[i] = a[i] + (size_t)g * gp;
            part = qcc_v8_sub(qcc_simd_dot8(ag, NULL, NULL, wb + (size_t)g * gp, gl, 0, zpd),
                              qcc_v8_set1(corr[g]));
            if (gmult != NULL)
                big = qcc_v8w_madd(big, part, qcc_v8_set1(gmult[(size_t)o * p->ng + g]));
            else
                acc = qcc_v8_add(acc, part);
        }
        if (gmult != NULL)
            acc = qcc_v8w_round(big, p->gshift);
        if (mult != NULL && p->y_dt == QCC_I8) {
            qcc_v8_store_i8((int8_t *)y + base + q, qcc_v8_requant(acc, qcc_v8_set1(mult[ch]),
                            qcc_v8_set1(shift[ch]), p->y_zp, p->lo, p->hi), nv);
            continue;
        }
        qcc_v8_store(r, acc);
        for (i = 0; i < nv; i++)
            qcc_conv_store(p, mult, shift, o, y, base + (size_t)(q + i), r[i]);
    }
}

{% include "kernels/conv2d_dw_simd.c" %}

{% include "kernels/conv2d_dwf_simd.c" %}

{% include "kernels/conv2d_dwc_simd.c" %}

{% include "kernels/conv2d_pw_simd.c" %}

{% include "kernels/conv2d_pwt_simd.c" %}

{% include "kernels/conv2d_direct_sse2.c" %}

/* Depthwise convs (one input channel per output, dilation 1) with packed int4/int2 weights,
 * per channel: the compiler gave them im2col blocks (K = kh*kw, mostly padding in byte
 * steps); instead all weights are unpacked to int8 (at most QCC_SIMD_KCONV) and the int8
 * SIMD depthwise kernel runs (qcc_conv2d_dws), or the int8 build's portable one when its
 * phase planes fit the scratch. 0: not taken. */
static inline int qcc_conv_simd_dw_packed(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                          const int32_t *bias, const int32_t *mult,
                                          const int32_t *shift, void *y, void *scratch)
{
    const int32_t taps = p->kh * p->kw;
    const size_t rowb = ((size_t)taps * p->wbits + 7) / 8;
    int8_t wu[QCC_SIMD_KCONV];
    int32_t phh, pw, o;
    qcc_dw_dims(p, &phh, &pw);
    if ((size_t)p->m * taps > QCC_SIMD_KCONV)
        return 0;
    for (o = 0; o < p->m; o++)
        qcc_simd_unpack(w + (size_t)o * rowb, p->wbits, 0, taps, wu + (size_t)o * taps);
    if (qcc_conv2d_dws(p, x, wu, bias, mult, shift, y))
        return 1;
    if (p->pb < 1 || 4 * (size_t)p->oh * pw + 2 * (size_t)p->sh * p->sw * phh * pw > 2 * (size_t)p->pb * taps)
        return 0;
    return qcc_conv2d_dw(p, x, wu, bias, mult, shift, y, (int32_t *)scratch) == QCC_OK;
}

/* One-group convs with packed int4/int2 weights, per channel (no groups), planes of 64 or
 * more: the weights (at most QCC_SIMD_KCONV) unpacked to int8 once per call, then the int8
 * GEMM (qcc_conv2d_pws). 0: not taken. */
static inline int qcc_conv_simd_pw_packed(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                          const int32_t *bias, const int32_t *mult,
                                          const int32_t *shift, void *y)
{
    const int32_t k = p->c * p->kh * p->kw;
    const size_t rowb = ((size_t)k * p->wbits + 7) / 8;
    int8_t wu[QCC_SIMD_KCONV];
    qcc_conv2d_p q = *p;
    int32_t o;
    if (p->group != 1 || (size_t)p->m * k > QCC_SIMD_KCONV || p->oh * p->ow < 64)
        return 0;
    for (o = 0; o < p->m; o++)
        qcc_simd_unpack(w + (size_t)o * rowb, p->wbits, 0, k, wu + (size_t)o * k);
    q.wbits = 8;
    return qcc_conv2d_pws(&q, x, wu, bias, mult, shift, y);
}

static inline int qcc_conv2d_simd(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                  const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                  const int32_t *gmult, void *y, void *scratch)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, plane = p->oh * p->ow;
    const int32_t k = cg * p->kh * p->kw;
    /* per-group weights: each group of the columns starts on a step (qcc_im2col_simd) */
    const int32_t gs = gmult != NULL ? p->gsize : 0;
    const int32_t gp = gs > 0 ? (gs + QCC_SIMD_CH - 1) / QCC_SIMD_CH * QCC_SIMD_CH : 0;
    const int32_t kp = gs > 0 ? (k + gs - 1) / gs * gp : (k + QCC_SIMD_CH - 1) / QCC_SIMD_CH * QCC_SIMD_CH;
    /* the scratch the compiler sized for int16 im2col blocks. (Pointwise convs on planes of
     * at least 64 positions run as qcc_conv2d_pws, depthwise ones as qcc_conv2d_dws, before
     * this: as byte-column GEMMs they measured 2-3x slower on AVX-512 VNNI, the transposition
     * of x costing more than the dot products save.) */
    const size_t bytes = 2 * (size_t)p->pb * k;
    const int32_t pb = bytes / kp < (size_t)plane ? (int32_t)(bytes / kp) : plane;
    int32_t b, g, o, q0;
    const int packed = gmult != NULL || p->wbits != 8;
#ifdef QCC_DWC  /* AVX-512 VNNI: sixteen channels in the lanes, four taps per VPDPBUSD */
    if (!packed && p->c == p->group && qcc_conv2d_dwc(p, x, w, bias, mult, shift, y))
        return 1;
#endif
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
    /* depthwise: the flat phase-plane kernel along the rows, except on rows narrower than 16
     * with AVX2, where the band kernel's eight channel lanes measured faster (docs/target_c.md;
     * it takes no dilation) */
    if (!packed && p->c == p->group && (p->ow >= QCC_DWF_MIN_OW || p->dh != 1 || p->dw != 1)
        && qcc_conv2d_dwf(p, x, w, bias, mult, shift, y))
        return 1;
#endif
    if (!packed && p->c == p->group && qcc_conv2d_dws(p, x, w, bias, mult, shift, y))
        return 1;
#ifdef QCC_SIMD_SSE2
    if (!packed && qcc_conv2d_pds(p, x, w, bias, mult, shift, y))
        return 1;
#endif
#ifdef QCC_SIMD_X86  /* AVX2 / AVX-512: on SSE2 the band kernel above (same layout) and the
                      * GEMM measured faster (a 1x3 conv on a 1x49 row: 11.9 against 13.2 us) */
    if (!packed && qcc_conv2d_pwt(p, x, w, bias, mult, shift, y))
        return 1;
#endif
    if (!packed && qcc_conv2d_pws(p, x, w, bias, mult, shift, y))
        return 1;
    if (packed && gmult == NULL && p->c == p->group && p->dh == 1 && p->dw == 1
        && qcc_conv_simd_dw_packed(p, x, w, bias, mult, shift, y, scratch))
        return 1;
    if (packed && gmult == NULL && qcc_conv_simd_pw_packed(p, x, w, bias, mult, shift, y))
        return 1;
#ifdef QCC_SIMD_SSE2  /* plain int8 im2col: the portable four-channel kernel measured faster */
    if (!packed)
        return 0;
#endif
    if (pb < 1 || (pb < 8 && pb < plane))
        return 0;
    if (packed && (kp > QCC_SIMD_KCONV || (p->wbits != 8 && p->wbits != 4 && p->wbits != 2)))
        return 0;
    for (b = 0; b < p->n; b++)
        for (g = 0; g < p->group; g++)
            for (q0 = 0; q0 < plane; q0 += pb) {
                const int32_t qn = plane - q0 < pb ? plane - q0 : pb;
                qcc_im2col_simd(p, x + (size_t)b * p->c * p->h * p->w, g * cg, cg, q0, qn, kp, gs,
                                gp, (uint8_t *)scratch);
                for (o = g * mg; o < (g + 1) * mg; o++)
                    if (packed)
                        qcc_conv_simd_channel_packed(p, w, bias, mult, shift, gmult, y,
                                                     (const uint8_t *)scratch, k, kp, o,
                                                     ((size_t)b * p->m + o) * plane + q0, qn);
                    else
                        qcc_conv_simd_channel(p, w, bias, mult, shift, y, (const uint8_t *)scratch, k, kp,
                                          o, ((size_t)b * p->m + o) * plane + q0, qn);
            }
    return 1;
}
#endif
