#ifdef QCC_ARM_DSP
/* Arm DSP qcc.requant of int8 / int16 into int8 / int16 (|x - x_zp| < 2^17): per channel the
 * SMMLA requantization (qcc_rqf; shifts below 33 with the value pre-shifted, qcc_rqf_init_pre)
 * of the centred value, or qcc_requant32 where that form does not apply. Returns 0 for other
 * dtypes. */
__attribute__((always_inline)) static inline void
qcc_requant_dsp_body(const void *x, void *y, int32_t n, int32_t zp, const qcc_rqf *q, int32_t yzp,
                     int32_t lo, int32_t hi, int32_t lsh, int xdt, int ydt, int fast)
{
    const int32_t m = q->m, c = q->c, sh = q->sh;
    int32_t i;
    for (i = 0; i < n; i++) {
        const int32_t v = qcc_ld816(x, i, xdt) - zp;
        int32_t r;
        if (fast) {
            r = qcc_smmla(v * ((int32_t)1 << lsh), m, c) >> sh;
            r = r < lo ? lo : (r > hi ? hi : r);
        } else {
            r = qcc_requant32(v, q->m, q->s, yzp, lo, hi);
        }
        if (ydt == QCC_I8)
            ((int8_t *)y)[i] = (int8_t)r;
        else
            ((int16_t *)y)[i] = (int16_t)r;
    }
}

static __attribute__((noinline, unused)) void
qcc_requant_dsp_88(const void *x, void *y, int32_t n, int32_t zp, const qcc_rqf *q, int32_t yzp,
                   int32_t lo, int32_t hi, int32_t lsh)
{
    qcc_requant_dsp_body(x, y, n, zp, q, yzp, lo, hi, lsh, QCC_I8, QCC_I8, 1);
}

static __attribute__((noinline, unused)) void
qcc_requant_dsp_any(const void *x, void *y, int32_t n, int32_t zp, const qcc_rqf *q, int32_t yzp,
                    int32_t lo, int32_t hi, int32_t lsh, int32_t xdt, int32_t ydt)
{
    if (q->sh > 0)
        qcc_requant_dsp_body(x, y, n, zp, q, yzp, lo, hi, lsh, xdt, ydt, 1);
    else
        qcc_requant_dsp_body(x, y, n, zp, q, yzp, lo, hi, 0, xdt, ydt, 0);
}

static inline int qcc_requant_dsp(const qcc_requant_p *p, const void *x, const int32_t *mult,
                                  const int32_t *shift, void *y)
{
    const size_t ex = p->x_dt == QCC_I8 ? 1 : 2, ey = p->y_dt == QCC_I8 ? 1 : 2;
    const int32_t ylo = p->y_dt == QCC_I8 ? -128 : -32768, yhi = p->y_dt == QCC_I8 ? 127 : 32767;
    const int64_t vmax = (p->x_dt == QCC_I8 ? 128 : 32768) + (p->x_zp < 0 ? -(int64_t)p->x_zp : p->x_zp);
    int32_t o, c, lsh;
    size_t k = 0;
    if ((p->x_dt != QCC_I8 && p->x_dt != QCC_I16) || (p->y_dt != QCC_I8 && p->y_dt != QCC_I16)
        || p->lo < ylo || p->hi > yhi || p->lo > p->hi || p->x_zp < -65536 || p->x_zp > 65536)
        return 0;
    for (o = 0; o < p->outer; o++)
        for (c = 0; c < p->channels; c++) {
            qcc_rqf q;
            lsh = qcc_rqf_init_pre(&q, mult[p->per_channel ? c : 0], shift[p->per_channel ? c : 0],
                                   p->y_zp, p->y_dt, vmax);
            if (q.sh > 0 && p->x_dt == QCC_I8 && p->y_dt == QCC_I8)
                qcc_requant_dsp_88((const int8_t *)x + k, (int8_t *)y + k, p->inner, p->x_zp, &q,
                                   p->y_zp, p->lo, p->hi, lsh);
            else
                qcc_requant_dsp_any((const char *)x + k * ex, (char *)y + k * ey, p->inner, p->x_zp,
                                    &q, p->y_zp, p->lo, p->hi, lsh, p->x_dt, p->y_dt);
            k += (size_t)p->inner;
        }
    return 1;
}
#endif
