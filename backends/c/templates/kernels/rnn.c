/* Interpolated lookup of an int16 Q3.12 value in a 513-entry table (docs/integer_ops.md). */
static inline int32_t qcc_lut16(const int16_t *t, int32_t g)
{
    const int32_t u = g + 32768, i = u >> 7, f = u & 127;
    const int32_t lo = t[i], hi = t[i < 512 ? i + 1 : 512];
    return lo + (((hi - lo) * f + 64) >> 7);
}

static inline int64_t qcc_rq32(int32_t acc, int32_t m, int32_t s)
{
    return qcc_clamp(qcc_rshift_round((int64_t)acc * m, s), INT32_MIN, INT32_MAX);
}

static inline int32_t qcc_rnn_x(const qcc_rnn_p *p, const void *x, size_t i)
{
    return (p->x_dt == QCC_U8 ? (int32_t)((const uint8_t *)x)[i] : (int32_t)((const int8_t *)x)[i])
           - p->x_zp;
}

/* dot products of one gate row with x[t, b] and with the hidden state */
static inline int32_t qcc_rnn_dot_x(const qcc_rnn_p *p, const int8_t *row, const void *x, size_t base)
{
    int32_t k, acc = 0;
    for (k = 0; k < p->in; k++)
        acc += (int32_t)row[k] * qcc_rnn_x(p, x, base + (size_t)k);
    return acc;
}

static inline int32_t qcc_rnn_dot_h(const qcc_rnn_p *p, const int8_t *row, const int8_t *h)
{
    int32_t k, acc = 0;
    for (k = 0; k < p->hid; k++)
        acc += (int32_t)row[k] * ((int32_t)h[k] - p->h_zp);
    return acc;
}

static inline int32_t qcc_rnn_step(const qcc_rnn_p *p, int32_t d, int32_t s)
{
    return (p->reverse || d == 1) ? p->seq - 1 - s : s;
}

static inline void qcc_rnn_init(const qcc_rnn_p *p, const int8_t *h0, int8_t *yh)
{
    const size_t n = (size_t)p->dirs * p->batch * p->hid;
    size_t i;
    for (i = 0; i < n; i++)
        yh[i] = h0 != NULL ? h0[i] : (int8_t)p->h_zp;
}

static inline int qcc_lstm(const qcc_rnn_p *p, const void *x, const int8_t *w, const int8_t *r,
                           const int32_t *bias, const int32_t *mx, const int32_t *sx,
                           const int32_t *mh, const int32_t *sh, const int8_t *h0,
                           const int16_t *c0, const int16_t *sig, const int16_t *tanh_t,
                           int8_t *y, int8_t *yh, int16_t *yc, int32_t *scratch)
{
    const int32_t hid = p->hid, g4 = 4 * hid, cf = p->cell_frac;
    int32_t d, s, b, j, k;
    size_t i;
    qcc_rnn_init(p, h0, yh);
    for (i = 0; i < (size_t)p->dirs * p->batch * hid; i++)
        yc[i] = c0 != NULL ? c0[i] : 0;
    for (d = 0; d < p->dirs; d++)
        for (s = 0; s < p->seq; s++) {
            const int32_t t = qcc_rnn_step(p, d, s);
            for (b = 0; b < p->batch; b++) {
                int8_t *hb = yh + ((size_t)d * p->batch + b) * hid;
                int16_t *cb = yc + ((size_t)d * p->batch + b) * hid;
                int8_t *yt = y + (((size_t)t * p->dirs + d) * p->batch + b) * hid;
                for (j = 0; j < g4; j++) {
                    const size_t row = (size_t)d * g4 + j;
                    const int32_t ax = qcc_rnn_dot_x(p, w + row * p->in, x, ((size_t)t * p->batch + b) * p->in);
                    const int32_t ah = qcc_rnn_dot_h(p, r + row * hid, hb);
                    scratch[j] = qcc_clamp(qcc_rq32(ax, mx[row], sx[row]) + qcc_rq32(ah, mh[row], sh[row])
                                           + bias[row], -32768, 32767);
                }
                for (k = 0; k < hid; k++) {
                    const int64_t ig = qcc_lut16(sig, scratch[k]), og = qcc_lut16(sig, scratch[hid + k]);
                    const int64_t fg = qcc_lut16(sig, scratch[2 * hid + k]);
                    const int64_t cg = qcc_lut16(tanh_t, scratch[3 * hid + k]);
                    const int32_t c = qcc_clamp(qcc_rshift_round(fg * cb[k], 15)
                                                + qcc_rshift_round(ig * cg, 30 - cf), -32768, 32767);
                    const int32_t c12 = cf > 12 ? (int32_t)qcc_rshift_round(c, cf - 12)
                                                : qcc_clamp((int64_t)c * ((int64_t)1 << (12 - cf)), -32768, 32767);
                    const int64_t hp = og * qcc_lut16(tanh_t, c12);
                    cb[k] = (int16_t)c;
                    hb[k] = (int8_t)qcc_clamp(qcc_rshift_round(hp * p->mo, p->so) + p->h_zp, -128, 127);
                    yt[k] = hb[k];
                }
            }
        }
    return QCC_OK;
}

static inline int qcc_gru(const qcc_rnn_p *p, const void *x, const int8_t *w, const int8_t *r,
                          const int32_t *bx, const int32_t *bh, const int32_t *mx,
                          const int32_t *sx, const int32_t *mh, const int32_t *sh,
                          const int8_t *h0, const int16_t *sig, const int16_t *tanh_t,
                          int8_t *y, int8_t *yh, int32_t *scratch)
{
    const int32_t hid = p->hid, g3 = 3 * hid;
    int32_t *gx = scratch, *gh = scratch + g3, *rh = scratch + 2 * g3;
    int32_t d, s, b, j, k;
    qcc_rnn_init(p, h0, yh);
    for (d = 0; d < p->dirs; d++)
        for (s = 0; s < p->seq; s++) {
            const int32_t t = qcc_rnn_step(p, d, s);
            const size_t o = (size_t)d * g3;
            for (b = 0; b < p->batch; b++) {
                int8_t *hb = yh + ((size_t)d * p->batch + b) * hid;
                int8_t *yt = y + (((size_t)t * p->dirs + d) * p->batch + b) * hid;
                for (j = 0; j < g3; j++) {
                    const size_t row = o + j;
                    gx[j] = (int32_t)qcc_rq32(qcc_rnn_dot_x(p, w + row * p->in, x, ((size_t)t * p->batch + b) * p->in),
                                              mx[row], sx[row]);
                    gh[j] = (int32_t)qcc_rq32(qcc_rnn_dot_h(p, r + row * hid, hb), mh[row], sh[row]);
                }
                for (k = 0; k < hid; k++) {  /* z into gh[k], r into gh[hid + k] */
                    gh[k] = qcc_lut16(sig, qcc_clamp((int64_t)gx[k] + gh[k] + bx[o + k] + bh[o + k], -32768, 32767));
                    gh[hid + k] = qcc_lut16(sig, qcc_clamp((int64_t)gx[hid + k] + gh[hid + k] + bx[o + hid + k]
                                                           + bh[o + hid + k], -32768, 32767));
                    rh[k] = qcc_clamp(qcc_rshift_round((int64_t)gh[hid + k] * ((int32_t)hb[k] - p->h_zp), 15),
                                      -128 - p->h_zp, 127 - p->h_zp);
                }
                for (k = 0; k < hid; k++) {
                    const size_t row = o + 2 * hid + k;
                    int64_t hterm, upd;
                    int32_t n, z = gh[k];
                    if (p->lbr) {
                        hterm = qcc_rshift_round((int64_t)gh[hid + k] * qcc_clamp((int64_t)gh[2 * hid + k] + bh[row],
                                                                                  -32768, 32767), 15);
                    } else {
                        int32_t acc = 0;
                        for (j = 0; j < hid; j++)
                            acc += (int32_t)r[row * hid + j] * rh[j];
                        hterm = qcc_rq32(acc, mh[row], sh[row]) + bh[row];
                    }
                    n = qcc_lut16(tanh_t, qcc_clamp((int64_t)gx[2 * hid + k] + bx[row] + hterm, -32768, 32767));
                    upd = qcc_rshift_round((int64_t)(32768 - z) * n * p->mo, p->so)
                          + qcc_rshift_round((int64_t)z * ((int32_t)hb[k] - p->h_zp), 15);
                    hb[k] = (int8_t)qcc_clamp(upd + p->h_zp, -128, 127);
                    yt[k] = hb[k];
                }
            }
        }
    return QCC_OK;
}
