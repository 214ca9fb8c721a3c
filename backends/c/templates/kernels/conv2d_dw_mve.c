#if defined(QCC_ARM_MVE) && defined(QCC_ARM_DSP)
/* Arm Helium (MVE) depthwise conv (one input channel per output, dilation 1, int8 out; any
 * kernel size and stride): sixteen outputs of a row per pass in four int32x4 accumulators
 * (then eight, then four per pass for the rest of the row),
 * each tap one widening byte load per vector (VLDRB.S32; a gather VLDRB with offsets
 * {0, s, 2s, 3s} for stride s > 1) and one VMLA by the scalar weight; the requantization
 * vectorized (VMULH: the high word of acc * m, the rounding term with the zero point, a
 * shift, the bounds) and a narrowing byte store; the row's last vector runs under a VCTP
 * lane predicate. The input plane is padded with its zero point as for the DSP kernel
 * (qcc_dwd_dims / qcc_dwd_fill, the same scratch) and acc starts at
 * bias - zp * sum(w). Channels whose shift takes the general requantization (qcc_rqf sh == 0)
 * store the accumulators and requantize them one by one. Same integers as the portable
 * kernel. */
static inline void qcc_dwm_store(int32x4_t a, const qcc_rqf *rq, int32_t zp, int32_t lo,
                                 int32_t hi, int8_t *y, mve_pred16_t pr)
{
    if (rq->sh > 0) {
        int32x4_t r = vmulhq_s32(a, vdupq_n_s32(rq->m));
        r = vshlq_r_s32(vaddq_n_s32(r, rq->c), -rq->sh);
        r = vminq_s32(vmaxq_s32(r, vdupq_n_s32(lo)), vdupq_n_s32(hi));
        vstrbq_p_s32(y, r, pr);
    } else {
        int32_t v[4], d;
        vst1q_s32(v, a);
        for (d = 0; d < 4; d++)
            if (pr & (1u << (4 * d)))
                y[d] = (int8_t)qcc_requant32(v[d], rq->m, rq->s, zp, lo, hi);
    }
}

static inline int32x4_t qcc_dwm_load(const int8_t *x, int32_t sw, uint32x4_t offs, mve_pred16_t pr)
{
    return sw == 1 ? vldrbq_z_s32(x, pr) : vldrbq_gather_offset_z_s32(x, offs, pr);
}

/* One output channel's plane: wk its kh*kw weights, init = bias - zp * sum(w). Sixteen
 * outputs per pass while a row has them, then eight, then vectors of four (the last one
 * predicated). */
static inline void qcc_dwm_plane(const qcc_conv2d_p *p, const int8_t *pad, int32_t pw,
                                 const int8_t *wk, int32_t init, const qcc_rqf *rq, int8_t *y)
{
    const int32_t ow = p->ow, sw = p->sw, kh = p->kh, kw = p->kw, s4 = 4 * sw;
    const int32_t zp = p->y_zp, lo = p->lo, hi = p->hi;
    const uint32x4_t offs = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)sw);
    const mve_pred16_t all = vctp32q(4);
    int32_t i, j, u, v;
    for (i = 0; i < p->oh; i++) {
        const int8_t *xr = pad + (size_t)i * p->sh * pw;
        int8_t *yr = y + (size_t)i * ow;
        for (j = 0; j + 16 <= ow; j += 16) {
            int32x4_t a0 = vdupq_n_s32(init), a1 = a0, a2 = a0, a3 = a0;
            for (u = 0; u < kh; u++) {
                const int8_t *xu = xr + (size_t)u * pw + (size_t)j * sw;
                const int8_t *wu = wk + u * kw;
                for (v = 0; v < kw; v++) {
                    const int32_t w = wu[v];
                    const int8_t *xv = xu + v;
                    a0 = vmlaq_n_s32(a0, qcc_dwm_load(xv, sw, offs, all), w);
                    a1 = vmlaq_n_s32(a1, qcc_dwm_load(xv + s4, sw, offs, all), w);
                    a2 = vmlaq_n_s32(a2, qcc_dwm_load(xv + 2 * s4, sw, offs, all), w);
                    a3 = vmlaq_n_s32(a3, qcc_dwm_load(xv + 3 * s4, sw, offs, all), w);
                }
            }
            qcc_dwm_store(a0, rq, zp, lo, hi, yr + j, all);
            qcc_dwm_store(a1, rq, zp, lo, hi, yr + j + 4, all);
            qcc_dwm_store(a2, rq, zp, lo, hi, yr + j + 8, all);
            qcc_dwm_store(a3, rq, zp, lo, hi, yr + j + 12, all);
        }
        for (; j + 8 <= ow; j += 8) {
            int32x4_t a0 = vdupq_n_s32(init), a1 = a0;
            for (u = 0; u < kh; u++) {
                const int8_t *xu = xr + (size_t)u * pw + (size_t)j * sw;
                const int8_t *wu = wk + u * kw;
                for (v = 0; v < kw; v++) {
                    const int32_t w = wu[v];
                    a0 = vmlaq_n_s32(a0, qcc_dwm_load(xu + v, sw, offs, all), w);
                    a1 = vmlaq_n_s32(a1, qcc_dwm_load(xu + v + s4, sw, offs, all), w);
                }
            }
            qcc_dwm_store(a0, rq, zp, lo, hi, yr + j, all);
            qcc_dwm_store(a1, rq, zp, lo, hi, yr + j + 4, all);
        }
        for (; j < ow; j += 4) {
            const mve_pred16_t pr = vctp32q((uint32_t)(ow - j));
            int32x4_t a0 = vdupq_n_s32(init);
            for (u = 0; u < kh; u++) {
                const int8_t *xu = xr + (size_t)u * pw + (size_t)j * sw;
                const int8_t *wu = wk + u * kw;
                for (v = 0; v < kw; v++)
                    a0 = vmlaq_n_s32(a0, qcc_dwm_load(xu + v, sw, offs, pr), wu[v]);
            }
            qcc_dwm_store(a0, rq, zp, lo, hi, yr + j, pr);
        }
    }
}

QCC_ARM_OUTLINE int qcc_conv2d_dwm(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 int8_t *y, void *scratch)
{
    const int32_t mg = p->m / p->group, plane = p->oh * p->ow, taps = p->kh * p->kw;
    int32_t b, o, t, ph, pw, nt, filled = -1;
    int8_t *pad = (int8_t *)scratch;
    qcc_dwd_dims(p, &ph, &pw, &nt);
    memset(pad, (int8_t)p->x_zp, (size_t)ph * pw);
    for (b = 0; b < p->n; b++)
        for (o = 0; o < p->m; o++) {
            const int32_t c0 = b * p->c + o / mg, ch = p->per_channel ? o : 0;
            const int8_t *wk = w + (size_t)o * taps;
            int32_t sum = 0;
            qcc_rqf rq;
            for (t = 0; t < taps; t++)
                sum += wk[t];
            if (c0 != filled)
                qcc_dwd_fill(p, x + (size_t)c0 * p->h * p->w, ph, pw, pad);
            filled = c0;
            qcc_rqf_init(&rq, mult[ch], shift[ch], p->y_zp);
            qcc_dwm_plane(p, pad, pw, wk, (bias ? bias[o] : 0) - p->x_zp * sum, &rq,
                          y + ((size_t)b * p->m + o) * plane);
        }
    return QCC_OK;
}
#endif
