/* One-group convs of stride 1 with a kernel larger than 1x1 (3x3, 1x3, 5x5, dilated; int8
 * weights) on the x86 AVX2 / AVX-512 builds (the AVX2 / VNNI counterpart of SSE2's
 * qcc_conv2d_pds) as a GEMM over the *padded* plane, im2col-free: the
 * input rows a block needs are laid out once as R-tuples of input channels (qcc_pws_tile's
 * tuples: R = 4 operand bytes on VNNI, R = 2 centred int16 on AVX2) on a plane of
 * width wp = ow + (kw - 1) * dw with the padding filled in (the zero point's byte, or 0 once
 * centred), so output position (i, j) of tap (u, v) reads the tuple at
 * (i + u*dh) * wp + j + v*dw: one contiguous run per tap, shifted, instead of kh*kw copies of
 * the input (qcc_conv2d_pws's implicit im2col). The GEMM computes every position of the
 * padded width (the wp - ow extra columns of each row are computed and dropped), four output
 * channels x 16 positions per pass with eight accumulators in registers, then each output
 * row is requantized by the direct kernel's epilogue. Taken where the padded width wastes at
 * most a third of the lanes (ow >= 2 * (kw - 1) * dw). Scratch: none from the arena (the
 * block lives on the stack, host builds only: QCC_PWS_BUF int32 tuples, QCC_PWT_W of weight
 * tuples). The weights are laid out once per call (every output channel's tuples in the
 * block loop's order, when they fit QCC_PWT_W; else per block): packing them per block
 * instead cost 5 % of a U-Net's run, packing them once per call 1.3 % (perf, -march=native), which is all that
 * packing at compile time could save. */
#define QCC_PWT_K 1024   /* (C / R) * kh * kw reduction tuples at most */
#define QCC_PWT_W 16384  /* int32 of the weight tuples and initial accumulators packed once */

/* Weight tuples of output channels o .. o + no - 1 in the block's reduction order, k =
 * ct * taps + tap: wq[k * 4 + i] = w[o + i, ct*R .. ct*R + R - 1, tap] (zero past c and past
 * no), and their initial accumulators (as qcc_pws_weights). */
static inline void qcc_pwt_weights(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                   int32_t o, int32_t no, int32_t ct, int32_t *wq, int32_t *b4)
{
    const int32_t taps = p->kh * p->kw, kk = p->c * taps;
    int32_t i, c, t, r;
    for (i = 0; i < 4; i++) {
        const int8_t *wo = w + (size_t)(o + i) * kk;
        for (c = 0; c < ct; c++)
            for (t = 0; t < taps; t++) {
#ifdef QCC_SIMD_QUAD
                uint32_t v = 0;
                for (r = 0; r < 4; r++)
                    if (i < no && c * 4 + r < p->c)
                        v |= (uint32_t)(uint8_t)wo[(size_t)(c * 4 + r) * taps + t] << (8 * r);
#else
                uint32_t v = 0;
                for (r = 0; r < 2; r++)
                    if (i < no && c * 2 + r < p->c)
                        v |= (uint32_t)(uint16_t)(int16_t)wo[(size_t)(c * 2 + r) * taps + t] << (16 * r);
#endif
                wq[((size_t)c * taps + t) * 4 + i] = (int32_t)v;
            }
        b4[i] = bias && i < no ? bias[o + i] : 0;
#ifdef QCC_SIMD_QUAD  /* sum w*(x - zp) = sum w*v - (zp + off)*sum w, modulo 2^32 */
        if (i < no)
            b4[i] = (int32_t)((uint32_t)b4[i] - (uint32_t)(p->x_zp + qcc_simd_off(QCC_I8))
                                                * (uint32_t)qcc_simd_wsum(wo, kk));
#endif
    }
}

/* The tuples of input rows i0 - pt .. i0 - pt + rows - 1 on the padded width wp, channel tuple
 * ct at xp + ct * qs, then `tail` zero tuples (read only by dropped lanes). */
static inline void qcc_pwt_tuples(const qcc_conv2d_p *p, const int8_t *xb, int32_t i0, int32_t rows,
                                  int32_t wp, int32_t ct, int32_t qs, int32_t tail, int32_t *xp)
{
    const int32_t plane = p->h * p->w, w = p->w, pl = p->pl;
    const int32_t in0 = pl < wp ? pl : wp, in1 = pl + w < wp ? pl + w : wp;  /* columns inside x */
    const int8_t zb = (int8_t)p->x_zp;
    int8_t rb[QCC_PWS_R][QCC_PWS_Q + 16];
    int32_t c, hr, t, j;
    for (t = 0; t < QCC_PWS_R; t++)
        for (j = 0; j < wp; j++)
            rb[t][j] = zb;
    for (c = 0; c < ct; c++) {
        int32_t *d = xp + (size_t)c * qs;
        for (hr = 0; hr < rows; hr++, d += wp) {
            const int32_t ih = i0 - p->pt + hr;
            const int inside = ih >= 0 && ih < p->h;
            for (t = 0; t < QCC_PWS_R; t++) {
                const int32_t ci = c * QCC_PWS_R + t;
                if (ci < p->c && inside)
                    memcpy(rb[t] + in0, xb + (size_t)ci * plane + (size_t)ih * w + (in0 - pl),
                           (size_t)(in1 - in0));
                else
                    memset(rb[t] + in0, zb, (size_t)(in1 - in0));
            }
#ifdef QCC_SIMD_QUAD
            {
                const uint32_t f = (uint32_t)QCC_SIMD_FLIP * 0x01010101u;  /* the operand domain */
                const uint8_t *r0 = (const uint8_t *)rb[0], *r1 = (const uint8_t *)rb[1];
                const uint8_t *r2 = (const uint8_t *)rb[2], *r3 = (const uint8_t *)rb[3];
                for (j = 0; j < wp; j++)
                    d[j] = (int32_t)(((uint32_t)r0[j] | (uint32_t)r1[j] << 8 | (uint32_t)r2[j] << 16
                                      | (uint32_t)r3[j] << 24) ^ f);
            }
#else
            qcc_simd_pairrow(rb[0], rb[1], wp, p->x_zp, d);
#endif
        }
        for (j = 0; j < tail; j++)
            d[j] = 0;
    }
}

/* Output rows per block (whole rows of the padded width, at most QCC_PWS_Q lanes) with the
 * block's tuples within QCC_PWS_BUF; 0: not for this kernel. */
static inline int32_t qcc_pwt_rows(const qcc_conv2d_p *p, int32_t *wp, int32_t *qs, int32_t *tail)
{
    const int32_t taps = p->kh * p->kw, ct = (p->c + QCC_PWS_R - 1) / QCC_PWS_R;
    const int32_t halo = (p->kh - 1) * p->dh;
    int32_t rb;
    if (p->group != 1 || p->wbits != 8 || p->sh != 1 || p->sw != 1 || taps < 2
        || ct * taps > QCC_PWT_K || p->oh * p->ow < qcc_pws_min_plane(p)
        || p->ow < 2 * (p->kw - 1) * p->dw)
        return 0;
    *wp = p->ow + (p->kw - 1) * p->dw;
    *tail = (p->kw - 1) * p->dw + 16;
    if (*wp > QCC_PWS_Q)
        return 0;
    rb = QCC_PWS_Q / *wp;
    rb = rb < p->oh ? rb : p->oh;
    while (rb > 0 && (size_t)ct * ((size_t)(rb + halo) * *wp + *tail) > QCC_PWS_BUF)
        rb--;
    *qs = (rb + halo) * *wp + *tail;
    return rb;
}

/* qcc_conv2d for the convs qcc_pwt_rows accepts; 0: not taken. */
static inline int qcc_conv2d_pwt(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 void *y)
{
    const int32_t taps = p->kh * p->kw, ct = (p->c + QCC_PWS_R - 1) / QCC_PWS_R;
    const int32_t plane = p->oh * p->ow, halo = (p->kh - 1) * p->dh, cr = ct * taps;
    const int32_t chunk = 4 + 4 * cr, once = (p->m + 3) / 4 * chunk <= QCC_PWT_W;
    int32_t xp[QCC_PWS_BUF], wall[QCC_PWT_W], off[QCC_PWT_K], acc[4][QCC_PWS_Q];
    int32_t wp = 0, qs = 0, tail = 0, rb, b, i0, o, i, r, c, t;
    rb = qcc_pwt_rows(p, &wp, &qs, &tail);
    if (rb < 1)
        return 0;
    for (o = 0; once && o < p->m; o += 4)  /* every output channel's tuples once per call */
        qcc_pwt_weights(p, w, bias, o, p->m - o < 4 ? p->m - o : 4, ct, wall + (o / 4) * chunk + 4,
                        wall + (o / 4) * chunk);
    for (c = 0; c < ct; c++)
        for (t = 0; t < taps; t++)
            off[c * taps + t] = c * qs + (t / p->kw) * p->dh * wp + (t % p->kw) * p->dw;
    for (b = 0; b < p->n; b++)
        for (i0 = 0; i0 < p->oh; i0 += rb) {
            const int32_t nr = p->oh - i0 < rb ? p->oh - i0 : rb, qv = (nr * wp + 15) / 16 * 16;
            qcc_pwt_tuples(p, x + (size_t)b * p->c * p->h * p->w, i0, nr + halo, wp, ct, qs, tail, xp);
            for (o = 0; o < p->m; o += 4) {
                const int32_t no = p->m - o < 4 ? p->m - o : 4, *wq = wall + (once ? (o / 4) * chunk : 0);
                if (!once)  /* more than the buffer holds: per block */
                    qcc_pwt_weights(p, w, bias, o, no, ct, wall + 4, wall);
                qcc_pws_tile(xp, off, 0, cr, qv, wq + 4, wq, acc[0], QCC_PWS_Q);
                for (i = 0; i < no; i++)
                    for (r = 0; r < nr; r++)
                        qcc_conv_epilogue(p, acc[i] + (size_t)r * wp, p->ow, mult, shift, o + i, y,
                                          ((size_t)b * p->m + o + i) * plane + (size_t)(i0 + r) * p->ow);
            }
        }
    return 1;
}
