#ifdef QCC_ARM_DSP
/* Arm DSP depthwise conv (one input channel per output, dilation 1, int8 out; any kernel
 * size and stride), straight from the int8 input, accumulators in registers:
 *   - the input plane is copied once per channel into a plane padded with the raw input
 *     zero point (so a padded tap contributes w * (zp - zp) = 0), and the zero point is
 *     folded into the accumulator: acc = bias - zp * sum(w) + sum(w * x), the same integer;
 *   - one word load of four int8 inputs b0..b3 gives, by SXTB16 and SXTB16 ror 8, the int16
 *     pairs E = (b0, b2) and O = (b1, b3); two outputs j, j + 1 (stride s) use them as
 *     y_j += E.(w_4t, w_4t+2) + O.(w_4t+1, w_4t+3) and
 *     y_j+1 += E.(w_4t-s, w_4t+2-s) + O.(w_4t+1-s, w_4t+3-s) (SMLAD; taps outside the kernel
 *     row weigh 0), four outputs of a row (two such pairs) per pass over the taps;
 *   - the four weight pair words of each (kernel row, word) are formed once per output
 *     channel into a table; requantization fused.
 * Scratch: the padded int8 plane (qcc_dwd_dims: ph rows of pw bytes, rounded up to 4) and
 * the table (kh * nt entries of 20 bytes: the entry's byte offset in the padded plane and
 * its four weight words); rules_nn.conv_scratch reserves the larger of this and the
 * portable kernel's need. */
static inline void qcc_dwd_dims(const qcc_conv2d_p *p, int32_t *ph, int32_t *pw, int32_t *nt)
{
    const int32_t ow4 = (p->ow + 3) / 4 * 4;
    *nt = (p->sw + p->kw - 1) / 4 + 1;  /* words per kernel row: taps of y_j+1 reach s + kw - 1 */
    *ph = (p->oh - 1) * p->sh + p->kh;
    *pw = (ow4 - 2) * p->sw + 4 * *nt;  /* the last pair starts at column (ow4 - 2) * s */
}

static inline uint32_t qcc_sxtb16_r8(uint32_t v)  /* bytes 1 and 3, sign-extended */
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

#define QCC_DWD_ROW 32 /* s + 4 * nt <= QCC_DWD_ROW: the zero-extended kernel row */

/* The table of one output channel (offset, four weight pair words per entry); returns sum(w).
 * Each kernel row is first copied into wz (zeroed by the caller; index v + s for tap v, the
 * rest stays 0), so the pair words are packed without bounds tests. */
static inline int32_t qcc_dwd_table(const qcc_conv2d_p *p, const int8_t *wk, int32_t pw, int32_t nt,
                                    int8_t *wz, uint32_t *tab)
{
    const int32_t kw = p->kw, s = p->sw;
    int32_t u, t, v, sum = 0;
    for (u = 0; u < p->kh; u++) {
        const int8_t *wr = wk + u * kw;
        for (v = 0; v < kw; v++) {
            wz[s + v] = wr[v];
            sum += wr[v];
        }
        for (t = 0; t < nt; t++, tab += 5) {
            const int8_t *z = wz + s + 4 * t;  /* z[d]: tap 4t + d */
            tab[0] = (uint32_t)(u * pw + 4 * t);
            tab[1] = (uint32_t)(uint16_t)z[0] | ((uint32_t)(uint16_t)z[2] << 16);
            tab[2] = (uint32_t)(uint16_t)z[1] | ((uint32_t)(uint16_t)z[3] << 16);
            tab[3] = (uint32_t)(uint16_t)z[-s] | ((uint32_t)(uint16_t)z[2 - s] << 16);
            tab[4] = (uint32_t)(uint16_t)z[1 - s] | ((uint32_t)(uint16_t)z[3 - s] << 16);
        }
    }
    return sum;
}

/* Copies input plane xin into the interior of the padded plane (its border keeps the zero
 * point written once per call). */
static inline void qcc_dwd_fill(const qcc_conv2d_p *p, const int8_t *xin, int32_t ph, int32_t pw,
                                int8_t *pad)
{
    const int32_t c0 = p->pl > 0 ? p->pl : 0, c1 = p->pl + p->w < pw ? p->pl + p->w : pw;
    int32_t r;
    if (c1 <= c0)
        return;
    for (r = 0; r < ph; r++) {
        const int32_t ih = r - p->pt;
        if (ih >= 0 && ih < p->h)
            memcpy(pad + (size_t)r * pw + c0, xin + (size_t)ih * p->w + (c0 - p->pl), (size_t)(c1 - c0));
    }
}

/* One output channel: y[i, j] for the whole plane from the padded plane; n table entries. */
static inline void qcc_dwd_plane(const qcc_conv2d_p *p, const int8_t *pad, int32_t pw, int32_t n,
                                 const uint32_t *tab, int32_t init, const qcc_rq *rq,
                                 const qcc_rqo *ro, int8_t *restrict y)
{
    const int32_t ow = p->ow, sw2 = 2 * p->sw, rstep = p->sh * pw, sw4 = 4 * p->sw;
    const uint32_t *tend = tab + 5 * n;
    int32_t i, j;
    for (i = 0; i < p->oh; i++) {
        const int8_t *xa = pad + (size_t)i * rstep;
        int8_t *yr = y + (size_t)i * ow;
        for (j = 0; j < ow; j += 4, xa += sw4) {
            int32_t a0 = init, a1 = init, a2 = init, a3 = init;
            const uint32_t *wt;
            for (wt = tab; wt < tend; wt += 5) {
                const int8_t *xe = xa + wt[0];
                const uint32_t va = qcc_ld32(xe), vb = qcc_ld32(xe + sw2);
                const int32_t ea = __sxtb16((int32_t)va), oa = (int32_t)qcc_sxtb16_r8(va);
                const int32_t eb = __sxtb16((int32_t)vb), ob = (int32_t)qcc_sxtb16_r8(vb);
                const int32_t w0 = (int32_t)wt[1], w1 = (int32_t)wt[2];
                const int32_t w2 = (int32_t)wt[3], w3 = (int32_t)wt[4];
                a0 = __smlad(ea, w0, a0);
                a0 = __smlad(oa, w1, a0);
                a1 = __smlad(ea, w2, a1);
                a1 = __smlad(oa, w3, a1);
                a2 = __smlad(eb, w0, a2);
                a2 = __smlad(ob, w1, a2);
                a3 = __smlad(eb, w2, a3);
                a3 = __smlad(ob, w3, a3);
            }
            if (ow - j >= 4) {
                yr[j] = (int8_t)qcc_rq_i8(a0, rq, ro);
                yr[j + 1] = (int8_t)qcc_rq_i8(a1, rq, ro);
                yr[j + 2] = (int8_t)qcc_rq_i8(a2, rq, ro);
                yr[j + 3] = (int8_t)qcc_rq_i8(a3, rq, ro);
            } else {
                yr[j] = (int8_t)qcc_rq_i8(a0, rq, ro);
                if (ow - j > 1)
                    yr[j + 1] = (int8_t)qcc_rq_i8(a1, rq, ro);
                if (ow - j > 2)
                    yr[j + 2] = (int8_t)qcc_rq_i8(a2, rq, ro);
            }
        }
    }
}

QCC_ARM_OUTLINE int qcc_conv2d_dwd(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 int8_t *y, void *scratch)
{
    const int32_t mg = p->m / p->group, plane = p->oh * p->ow, taps = p->kh * p->kw;
    int32_t b, o, ph, pw, nt, filled = -1;
    int8_t *pad = (int8_t *)scratch, wz[QCC_DWD_ROW];
    qcc_rqo ro;
    uint32_t *tab;
    qcc_dwd_dims(p, &ph, &pw, &nt);
    tab = (uint32_t *)(void *)((uint8_t *)scratch + ((size_t)ph * pw + 3) / 4 * 4);
    memset(pad, (int8_t)p->x_zp, (size_t)ph * pw);
    memset(wz, 0, sizeof wz);
    qcc_rqo_init(&ro, p->y_zp, p->lo, p->hi);
    for (b = 0; b < p->n; b++)
        for (o = 0; o < p->m; o++) {
            const int32_t c0 = b * p->c + o / mg, ch = p->per_channel ? o : 0;
            const int32_t sum = qcc_dwd_table(p, w + (size_t)o * taps, pw, nt, wz, tab);
            qcc_rq rq;
            if (c0 != filled)
                qcc_dwd_fill(p, x + (size_t)c0 * p->h * p->w, ph, pw, pad);
            filled = c0;
            qcc_rq_init(&rq, mult[ch], shift[ch], &ro);
            qcc_dwd_plane(p, pad, pw, p->kh * nt, tab, (bias ? bias[o] : 0) - p->x_zp * sum, &rq,
                          &ro, y + ((size_t)b * p->m + o) * plane);
        }
    return QCC_OK;
}
#endif
