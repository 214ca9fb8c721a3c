/* Pointwise 1x1 convs (stride 1, no padding, one group, int8 weights) on the host SIMD
 * variants, without im2col: the output positions in the lanes (NCHW keeps them contiguous),
 * the input channels in pairs. The activations of a block of up to QCC_PWS_Q positions are
 * laid out once as the int16 pairs xp[(c / 2) * Q + q] = (x[c, q] - zp, x[c + 1, q] - zp) (0 for
 * a missing last channel and past the block), every output channel's weights broadcast as
 * the pairs (w[o, c], w[o, c + 1]): one VPMADDWD (NEON: LD2 + SMLAL) per 2 channels x 8
 * positions, exact in int32 (|w * (x - zp)| <= 128 * 255). Four output channels x 16 positions
 * per pass keep eight accumulators in registers; each output row is then requantized by the
 * direct kernel's epilogue. Scratch: none from the arena (the block lives on the stack). */
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

/* The weight pairs wq[k * 4 + i] = (w[o + i, 2k], w[o + i, 2k + 1]) and the biases of output
 * channels o .. o + no - 1 (lanes past no repeat nothing: zero weights, zero bias). */
static inline void qcc_pws_weights(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                   int32_t o, int32_t no, int32_t cp, int32_t *wq, int32_t *b4)
{
    int32_t i, k;
    for (i = 0; i < 4; i++) {
        const int8_t *wo = w + (size_t)(o + i) * p->c;
        for (k = 0; k < cp; k++) {
            const int32_t w0 = i < no ? wo[2 * k] : 0, w1 = i < no && 2 * k + 1 < p->c ? wo[2 * k + 1] : 0;
            wq[(size_t)k * 4 + i] = (int32_t)((uint32_t)(uint16_t)(int16_t)w0
                                              | (uint32_t)(uint16_t)(int16_t)w1 << 16);
        }
        b4[i] = bias && i < no ? bias[o + i] : 0;
    }
}

/* qcc_conv2d for pointwise convs with plain int8 weights; 0: not taken (small planes, where
 * the im2col GEMM wins, or more channels than the block holds). */
static inline int qcc_conv2d_pws(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 void *y)
{
    const int32_t plane = p->oh * p->ow, cp = (p->c + 1) / 2;
    int32_t xp[QCC_PWS_BUF], wq[4 * 512], b4[4], acc[4][QCC_PWS_Q];
    int32_t qs, b, q0, o, k, i;
    if (!qcc_conv_simd_pointwise(p) || p->group != 1 || p->wbits != 8 || plane < 64 || cp > 512)
        return 0;
    qs = QCC_PWS_BUF / cp / 16 * 16;  /* positions per block, a multiple of 16 */
    qs = qs < QCC_PWS_Q ? qs : QCC_PWS_Q;
    if (qs < 16)
        return 0;
    for (b = 0; b < p->n; b++)
        for (q0 = 0; q0 < plane; q0 += qs) {
            const int32_t qn = plane - q0 < qs ? plane - q0 : qs, qv = (qn + 15) / 16 * 16;
            const int8_t *xb = x + (size_t)b * p->c * plane + q0;
            for (k = 0; k < cp; k++) {
                int32_t *d = xp + (size_t)k * qs;
                qcc_simd_pairrow(xb + (size_t)2 * k * plane,
                                 2 * k + 1 < p->c ? xb + (size_t)(2 * k + 1) * plane : NULL, qn, p->x_zp, d);
                memset(d + qn, 0, (size_t)(qv - qn) * sizeof(int32_t));
            }
            for (o = 0; o < p->m; o += 4) {
                const int32_t no = p->m - o < 4 ? p->m - o : 4;
                qcc_pws_weights(p, w, bias, o, no, cp, wq, b4);
                qcc_pws_block(xp, cp, qs, qv, wq, b4, acc);
                for (i = 0; i < no; i++)
                    qcc_conv_epilogue(p, acc[i], qn, mult, shift, o + i, y,
                                      ((size_t)b * p->m + o + i) * plane + q0);
            }
        }
    return 1;
}
