/* Convolutions of one group (pointwise or not, any stride, padding and dilation; int8
 * weights) on the host SIMD variants as a GEMM with the output positions in the lanes (NCHW
 * keeps them contiguous) and the reduction (c, u, v) in pairs. For a block of up to QCC_PWS_Q
 * positions the activations are laid out once, K-major, as the int16 pairs
 * xp[(k / 2) * Q + q] = (x_k(q) - zp, x_(k+1)(q) - zp) (pointwise: k = c, straight from the
 * rows of x; else the implicit im2col rows, one contiguous copy per output-row segment for
 * stride 1; 0 in the padding, for a missing last element and past the block); every output
 * channel's weights are broadcast as the pairs (w[o, k], w[o, k + 1]): one VPMADDWD (NEON:
 * LD2 + SMLAL) per 2 reduction elements x 8 positions, exact in int32 (|w * (x - zp)| <=
 * 128 * 255). Four output channels x 16 positions per pass keep eight accumulators in
 * registers; each output row is then requantized by the direct kernel's epilogue. Scratch:
 * none from the arena (the block lives on the stack, host builds only). */
#define QCC_PWS_BUF 16384  /* int32 pairs of one block of positions */
#define QCC_PWS_Q 256      /* positions per block at most */

/* Accumulators of output channels o .. o + no - 1 (no <= 4) over the block's qv positions. */
static inline void qcc_pws_block(const int32_t *xp, int32_t cp, int32_t qs, int32_t qv,
                                 const int32_t *wq, const int32_t *b4, int32_t (*acc)[QCC_PWS_Q])
{
    int32_t q, k;
    for (q = 0; q < qv; q += 16) {
        qcc_v8 a0 = qcc_v8_set1(b4[0]), a1 = a0, c0 = qcc_v8_set1(b4[1]), c1 = c0;
        qcc_v8 d0 = qcc_v8_set1(b4[2]), d1 = d0, e0 = qcc_v8_set1(b4[3]), e1 = e0;
        for (k = 0; k < cp; k++) {
            const int32_t *xk = xp + (size_t)k * qs + q;
            const int32_t *wk = wq + (size_t)k * 4;
            a0 = qcc_v8_madd16b(a0, xk, wk[0]);
            a1 = qcc_v8_madd16b(a1, xk + 8, wk[0]);
            c0 = qcc_v8_madd16b(c0, xk, wk[1]);
            c1 = qcc_v8_madd16b(c1, xk + 8, wk[1]);
            d0 = qcc_v8_madd16b(d0, xk, wk[2]);
            d1 = qcc_v8_madd16b(d1, xk + 8, wk[2]);
            e0 = qcc_v8_madd16b(e0, xk, wk[3]);
            e1 = qcc_v8_madd16b(e1, xk + 8, wk[3]);
        }
        qcc_v8_store(acc[0] + q, a0);
        qcc_v8_store(acc[0] + q + 8, a1);
        qcc_v8_store(acc[1] + q, c0);
        qcc_v8_store(acc[1] + q + 8, c1);
        qcc_v8_store(acc[2] + q, d0);
        qcc_v8_store(acc[2] + q + 8, d1);
        qcc_v8_store(acc[3] + q, e0);
        qcc_v8_store(acc[3] + q + 8, e1);
    }
}

/* The weight pairs wq[k * 4 + i] = (w[o + i, 2k], w[o + i, 2k + 1]) (kk reduction elements per
 * row) and the biases of output channels o .. o + no - 1 (past no: zero weights and bias). */
static inline void qcc_pws_weights(const int8_t *w, const int32_t *bias, int32_t o, int32_t no,
                                   int32_t kk, int32_t cp, int32_t *wq, int32_t *b4)
{
    int32_t i, k;
    for (i = 0; i < 4; i++) {
        const int8_t *wo = w + (size_t)(o + (i < no ? i : 0)) * kk;
        for (k = 0; k < cp; k++) {
            const int32_t w0 = i < no ? wo[2 * k] : 0, w1 = i < no && 2 * k + 1 < kk ? wo[2 * k + 1] : 0;
            wq[(size_t)k * 4 + i] = (int32_t)((uint32_t)(uint16_t)(int16_t)w0
                                              | (uint32_t)(uint16_t)(int16_t)w1 << 16);
        }
        b4[i] = bias && i < no ? bias[o + i] : 0;
    }
}

/* row[q] = x[k-th (ci, u, v) tap of output position q0 + q] - zp (0 in the padding), q < qn:
 * one K-major row of the implicit im2col; row segments of one output row at a time. */
static inline void qcc_pws_col(const qcc_conv2d_p *p, const int8_t *xb, int32_t k, int32_t q0,
                               int32_t qn, int16_t *row)
{
    const int32_t v = k % p->kw, u = k / p->kw % p->kh, ci = k / (p->kw * p->kh);
    const int32_t offw = v * p->dw - p->pl;
    const int8_t *xc = xb + (size_t)ci * p->h * p->w;
    int32_t q = 0, j0, j1, t;
    qcc_valid_range(offw, p->sw, p->w, p->ow, &j0, &j1);  /* output columns inside x */
    while (q < qn) {
        const int32_t i = (q0 + q) / p->ow, j = (q0 + q) % p->ow;
        const int32_t n = p->ow - j < qn - q ? p->ow - j : qn - q, ih = i * p->sh + u * p->dh - p->pt;
        const int32_t a = j0 > j ? (j0 < j + n ? j0 : j + n) : j, b = j1 < j + n ? (j1 > a ? j1 : a) : j + n;
        int16_t *r = row + q - j;  /* r[jj] for output column jj */
        if (ih < 0 || ih >= p->h) {
            memset(row + q, 0, (size_t)n * sizeof(int16_t));
            q += n;
            continue;
        }
        for (t = j; t < a; t++)
            r[t] = 0;
        if (p->sw == 1)
            qcc_simd_centre16(xc + (size_t)ih * p->w + a + offw, b - a, p->x_zp, r + a);
        else
            for (t = a; t < b; t++)
                r[t] = (int16_t)(xc[(size_t)ih * p->w + t * p->sw + offw] - p->x_zp);
        for (t = b; t < j + n; t++)
            r[t] = 0;
        q += n;
    }
}

/* The block's pairs xp[kp * qs + q], q < qn, of reduction elements (2kp, 2kp + 1), then zeros to qv. */
static inline void qcc_pws_pairs(const qcc_conv2d_p *p, const int8_t *xb, int32_t kk, int32_t q0,
                                 int32_t qn, int32_t qv, int32_t qs, int32_t *xp)
{
    const int32_t plane = p->oh * p->ow, cp = (kk + 1) / 2;
    int16_t r0[QCC_PWS_Q], r1[QCC_PWS_Q];
    int32_t kp;
    for (kp = 0; kp < cp; kp++) {
        int32_t *d = xp + (size_t)kp * qs;
        if (qcc_conv_simd_pointwise(p))
            qcc_simd_pairrow(xb + (size_t)2 * kp * plane + q0,
                             2 * kp + 1 < kk ? xb + (size_t)(2 * kp + 1) * plane + q0 : NULL, qn, p->x_zp, d);
        else {
            qcc_pws_col(p, xb, 2 * kp, q0, qn, r0);
            if (2 * kp + 1 < kk)
                qcc_pws_col(p, xb, 2 * kp + 1, q0, qn, r1);
            else
                memset(r1, 0, (size_t)qn * sizeof(int16_t));
            qcc_simd_pair16(r0, r1, qn, d);
        }
        memset(d + qn, 0, (size_t)(qv - qn) * sizeof(int32_t));
    }
}

/* qcc_conv2d for one group and plain int8 weights on output planes of at least 64 positions:
 * pointwise convs straight from x, others through K-major im2col rows (qcc_pws_col); 0: not
 * taken (small planes, where the im2col dot products win, or K larger than the block holds). */
static inline int qcc_conv2d_pws(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 void *y)
{
    const int32_t plane = p->oh * p->ow, kk = p->c * p->kh * p->kw, cp = (kk + 1) / 2;
    int32_t xp[QCC_PWS_BUF], wq[4 * 512], b4[4], acc[4][QCC_PWS_Q];
    int32_t qs, b, q0, o, i;
    if (p->group != 1 || p->wbits != 8 || plane < 64 || cp > 512)
        return 0;
    qs = QCC_PWS_BUF / cp / 16 * 16;  /* positions per block, a multiple of 16 */
    qs = qs < QCC_PWS_Q ? qs : QCC_PWS_Q;
    if (qs < 16)
        return 0;
    for (b = 0; b < p->n; b++)
        for (q0 = 0; q0 < plane; q0 += qs) {
            const int32_t qn = plane - q0 < qs ? plane - q0 : qs, qv = (qn + 15) / 16 * 16;
            qcc_pws_pairs(p, x + (size_t)b * p->c * p->h * p->w, kk, q0, qn, qv, qs, xp);
            for (o = 0; o < p->m; o += 4) {
                const int32_t no = p->m - o < 4 ? p->m - o : 4;
                qcc_pws_weights(w, bias, o, no, kk, cp, wq, b4);
                qcc_pws_block(xp, cp, qs, qv, wq, b4, acc);
                for (i = 0; i < no; i++)
                    qcc_conv_epilogue(p, acc[i], qn, mult, shift, o + i, y,
                                      ((size_t)b * p->m + o + i) * plane + q0);
            }
        }
    return 1;
}
