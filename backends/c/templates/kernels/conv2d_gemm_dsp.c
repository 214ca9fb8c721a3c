#ifdef QCC_ARM_GEMM2
/* Arm DSP im2col / pointwise GEMM with 2x2 register blocking (common_dsp.h): the im2col
 * columns are written straight into pair blocks (two output positions per block, chunks of
 * four in SXTB16 pair order), then each pair of output channels runs over every pair block of
 * the current group of columns, requantization fused. Scratch: the im2col scratch, holding
 * n16 / qcc_pair_len(K) pair blocks (an odd last column is paired with a copy of itself). */

/* Centred column q (output position) of image x, group channels from c0, into dst (one slot
 * of a pair block: element t at dst[qcc_pair_at(t)]), 0 in the padding. */
QCC_ARM_OUTLINE void qcc_im2col_pair(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t cg,
                                     int32_t q, int16_t *dst)
{
    const int32_t zp = p->x_zp, kh = p->kh, kw = p->kw, h = p->h, wd = p->w;
    const size_t plane = (size_t)h * wd;
    int32_t ci, u, v, t = 0;
    if (kh == 1 && kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0
        && p->oh == h && p->ow == wd) {  /* pointwise: column q is x[:, q] */
        const int8_t *xr = x + (size_t)c0 * plane + q;
        for (ci = 0; ci < cg; ci++, xr += plane)
            dst[qcc_pair_at(ci)] = (int16_t)(*xr - zp);
        return;
    }
    {
        const int32_t i = q / p->ow, j = q % p->ow;
        const int32_t ih0 = i * p->sh - p->pt, iw0 = j * p->sw - p->pl, dh = p->dh, dw = p->dw;
        if (ih0 >= 0 && ih0 + (kh - 1) * dh < h && iw0 >= 0 && iw0 + (kw - 1) * dw < wd) {
            /* the window inside the input: no bounds tests */
            for (ci = 0; ci < cg; ci++)
                for (u = 0; u < kh; u++) {
                    const int8_t *xr = x + (size_t)(c0 + ci) * plane + (size_t)(ih0 + u * dh) * wd + iw0;
                    for (v = 0; v < kw; v++, t++)
                        dst[qcc_pair_at(t)] = (int16_t)(xr[v * dw] - zp);
                }
            return;
        }
        for (ci = 0; ci < cg; ci++) {
            const int8_t *xc = x + (size_t)(c0 + ci) * plane;
            for (u = 0; u < kh; u++) {
                const int32_t ih = ih0 + u * p->dh;
                if (ih < 0 || ih >= h) {
                    for (v = 0; v < kw; v++, t++)
                        dst[qcc_pair_at(t)] = 0;
                    continue;
                }
                for (v = 0; v < kw; v++, t++) {
                    const int32_t iw = iw0 + v * p->dw;
                    dst[qcc_pair_at(t)] = (int16_t)(iw >= 0 && iw < wd ? xc[(size_t)ih * wd + iw] - zp : 0);
                }
            }
        }
    }
}

/* Output channels o (w0 row) and o1 (w1 row; o1 == o: an odd last channel, its copy dropped)
 * over the pair blocks of qn columns (odd: the last block's second slot is dropped); y0 / y1
 * point at the channels' outputs of the first column. Both channels in the fast requant form;
 * narrow is a constant at each call (the clamp compiled in or out). */
__attribute__((always_inline)) static inline void
qcc_gemm2_rows(const int8_t *w0, const int8_t *w1, int32_t b0, int32_t b1, const qcc_rqf *r0,
               const qcc_rqf *r1, const int16_t *col, int32_t k, int32_t qn, int8_t *y0,
               int8_t *y1, const int narrow, int32_t lo, int32_t hi, const int tail)
{
    const int32_t pl = qcc_pair_len(k), n2 = qn >> 1;
    const int32_t m0 = r0->m, c0 = r0->c, s0 = r0->sh, m1 = r1->m, c1 = r1->c, s1 = r1->sh;
    int32_t pr, acc[4];
    for (pr = 0; pr < n2; pr++, col += pl, y0 += 2, y1 += 2) {
        acc[0] = acc[1] = b0;
        acc[2] = acc[3] = b1;
        qcc_gemm2x2_t(w0, w1, col, k, acc, tail);
        QCC_RQF_FAST(acc[0], m0, c0, s0, narrow, lo, hi, y0[0]);
        QCC_RQF_FAST(acc[1], m0, c0, s0, narrow, lo, hi, y0[1]);
        QCC_RQF_FAST(acc[2], m1, c1, s1, narrow, lo, hi, y1[0]);
        QCC_RQF_FAST(acc[3], m1, c1, s1, narrow, lo, hi, y1[1]);
    }
    if (qn & 1) {
        acc[0] = acc[1] = b0;
        acc[2] = acc[3] = b1;
        qcc_gemm2x2_t(w0, w1, col, k, acc, tail);
        QCC_RQF_FAST(acc[0], m0, c0, s0, narrow, lo, hi, y0[0]);
        QCC_RQF_FAST(acc[2], m1, c1, s1, narrow, lo, hi, y1[0]);
    }
}

/* The two variants out of line, so that their register allocation does not depend on the
 * rest of qcc_conv2d_gemm2 (inlined, an unrelated change there cost 15 % on K = 16). */
__attribute__((noinline, unused)) static void
qcc_gemm2_rows_w(const int8_t *w0, const int8_t *w1, int32_t b0, int32_t b1, const qcc_rqf *r0,
                 const qcc_rqf *r1, const int16_t *col, int32_t k, int32_t qn, int8_t *y0,
                 int8_t *y1)
{
    if (k & 3)
        qcc_gemm2_rows(w0, w1, b0, b1, r0, r1, col, k, qn, y0, y1, 0, -128, 127, 1);
    else
        qcc_gemm2_rows(w0, w1, b0, b1, r0, r1, col, k, qn, y0, y1, 0, -128, 127, 0);
}

__attribute__((noinline, unused)) static void
qcc_gemm2_rows_n(const int8_t *w0, const int8_t *w1, int32_t b0, int32_t b1, const qcc_rqf *r0,
                 const qcc_rqf *r1, const int16_t *col, int32_t k, int32_t qn, int8_t *y0,
                 int8_t *y1, int32_t lo, int32_t hi)
{
    if (k & 3)
        qcc_gemm2_rows(w0, w1, b0, b1, r0, r1, col, k, qn, y0, y1, 1, lo, hi, 1);
    else
        qcc_gemm2_rows(w0, w1, b0, b1, r0, r1, col, k, qn, y0, y1, 1, lo, hi, 0);
}

/* The general (non int8 / int32) outputs of one channel pair: qcc_conv_store per output. */
QCC_ARM_OUTLINE void qcc_gemm2_rows_any(const qcc_conv2d_p *p, const int8_t *w0, const int8_t *w1,
                                      int32_t o, int32_t o1, int32_t b0, int32_t b1,
                                      const int32_t *mult, const int32_t *shift, void *y,
                                      const int16_t *col, int32_t k, int32_t qn, size_t at0,
                                      size_t at1)
{
    const int32_t pl = qcc_pair_len(k);
    int32_t q, acc[4];
    for (q = 0; q < qn; q += 2, col += pl) {
        acc[0] = acc[1] = b0;
        acc[2] = acc[3] = b1;
        qcc_gemm2x2(w0, w1, col, k, acc);
        qcc_conv_store(p, mult, shift, o, y, at0 + q, acc[0]);
        if (q + 1 < qn)
            qcc_conv_store(p, mult, shift, o, y, at0 + q + 1, acc[1]);
        if (o1 != o) {
            qcc_conv_store(p, mult, shift, o1, y, at1 + q, acc[2]);
            if (q + 1 < qn)
                qcc_conv_store(p, mult, shift, o1, y, at1 + q + 1, acc[3]);
        }
    }
}

/* Plain int8 weights; n16: the scratch in int16. Returns 0 (nothing done) when the scratch
 * holds less than one pair block. */
QCC_ARM_OUTLINE int qcc_conv2d_gemm2(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                     const int32_t *bias, const int32_t *mult,
                                     const int32_t *shift, void *y, int16_t *col, int32_t n16)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, plane = p->oh * p->ow;
    const int32_t k = cg * p->kh * p->kw, pl = qcc_pair_len(k), pbd = n16 / pl * 2;
    const int fast = mult != NULL && p->y_dt == QCC_I8;
    const int32_t lo = p->lo, hi = p->hi, narrow = lo > -128 || hi < 127;
    int32_t b, g, o, q0, q;
    if (pbd < 2)
        return 0;
    for (b = 0; b < p->n; b++)
        for (g = 0; g < p->group; g++)
            for (q0 = 0; q0 < plane; q0 += pbd) {
                const int32_t qn = plane - q0 < pbd ? plane - q0 : pbd;
                const int8_t *xb = x + (size_t)b * p->c * p->h * p->w;
                const int32_t o0 = g * mg, o1 = (g + 1) * mg;
                for (q = 0; q < qn; q++)
                    qcc_im2col_pair(p, xb, g * cg, cg, q0 + q, col + (size_t)(q >> 1) * pl + (q & 1) * 4);
                for (o = o0; o < o1; o += 2) {
                    const int32_t oo = o + 1 < o1 ? o + 1 : o;
                    const int8_t *w0 = w + (size_t)o * k, *w1 = w + (size_t)oo * k;
                    const int32_t b0 = bias ? bias[o] : 0, b1 = bias ? bias[oo] : 0;
                    const size_t at0 = ((size_t)b * p->m + o) * plane + q0;
                    const size_t at1 = ((size_t)b * p->m + oo) * plane + q0;
                    qcc_rqf r0 = {0, 0, 0, 0}, r1 = {0, 0, 0, 0};
                    if (fast) {
                        const int32_t c0 = p->per_channel ? o : 0, c1 = p->per_channel ? oo : 0;
                        qcc_rqf_init(&r0, mult[c0], shift[c0], p->y_zp);
                        qcc_rqf_init(&r1, mult[c1], shift[c1], p->y_zp);
                    }
                    /* an odd last channel: its copy lands on its own outputs (same values) */
                    if (fast && r0.sh > 0 && r1.sh > 0 && !narrow) {
                        qcc_gemm2_rows_w(w0, w1, b0, b1, &r0, &r1, col, k, qn, (int8_t *)y + at0,
                                         (int8_t *)y + at1);
                    } else if (fast && r0.sh > 0 && r1.sh > 0) {
                        qcc_gemm2_rows_n(w0, w1, b0, b1, &r0, &r1, col, k, qn, (int8_t *)y + at0,
                                         (int8_t *)y + at1, lo, hi);
                    } else {
                        qcc_gemm2_rows_any(p, w0, w1, o, oo, b0, b1, mult, shift, y, col, k, qn,
                                           at0, at1);
                    }
                }
            }
    return 1;
}
#endif
