#define QCC_CONCAT_LUT 1024  /* host: int8 parts of at least this many elements, a table */

static inline int qcc_concat_part(const qcc_concat_p *p, const void *x, void *y)
{
    int32_t o, i;
#ifdef QCC_TYPED_ROWS  /* host builds (the MCUs keep their stack) */
    if (p->x_dt == QCC_I8 && p->y_dt == QCC_I8 && (int64_t)p->outer * p->inner >= QCC_CONCAT_LUT) {
        /* int8 in and out: the requantization of each of the 256 values once (the same
         * qcc_requant, so the same bytes), then one lookup per element */
        const int32_t outer = p->outer, n = p->inner, stride = p->stride, offset = p->offset;
        uint8_t t[256];
        for (i = -128; i < 128; i++)
            t[i + 128] = (uint8_t)(int8_t)qcc_requant((int32_t)i - p->x_zp, p->m, p->s, p->y_zp,
                                                      p->lo, p->hi);
        for (o = 0; o < outer; o++)
            qcc_lut_row((const uint8_t *)x + (size_t)o * n, t,
                        (uint8_t *)y + (size_t)o * stride + offset, n, 0x80u);
        return QCC_OK;
    }
#endif
    for (o = 0; o < p->outer; o++) {
        const size_t xo = (size_t)o * p->inner, yo = (size_t)o * p->stride + p->offset;
        if (p->x_dt == QCC_I8 && p->y_dt == QCC_I8) {
            /* the parameters in locals: an int8 store may alias *p, and with them re-read
             * every element gcc cannot count the loop's trips nor vectorize it (measured:
             * 10x slower with -march=native once the function is no longer inlined) */
            const int8_t *xr = (const int8_t *)x + xo;
            int8_t *yr = (int8_t *)y + yo;
            const int32_t n = p->inner, xz = p->x_zp, m = p->m, s = p->s, yz = p->y_zp;
            const int32_t lo = p->lo, hi = p->hi;
            for (i = 0; i < n; i++)
                yr[i] = (int8_t)qcc_requant((int32_t)xr[i] - xz, m, s, yz, lo, hi);
            continue;
        }
        if (p->x_dt == QCC_I8 && p->y_dt == QCC_I16) {  /* an int8 part of a wide concat */
            const int8_t *xr = (const int8_t *)x + xo;
            int16_t *yr = (int16_t *)y + yo;
            const int32_t n = p->inner, xz = p->x_zp, m = p->m, s = p->s, yz = p->y_zp;
            const int32_t lo = p->lo, hi = p->hi;
            for (i = 0; i < n; i++)
                yr[i] = (int16_t)qcc_requant((int32_t)xr[i] - xz, m, s, yz, lo, hi);
            continue;
        }
        for (i = 0; i < p->inner; i++)  /* other int16 parts or outputs */
            qcc_store(y, yo + (size_t)i, p->y_dt,
                      qcc_requant(qcc_load(x, xo + (size_t)i, p->x_dt) - p->x_zp, p->m, p->s,
                                  p->y_zp, p->lo, p->hi));
    }
    return QCC_OK;
}
