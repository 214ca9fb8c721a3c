static inline int qcc_concat_part(const qcc_concat_p *p, const void *x, void *y)
{
    int32_t o, i;
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
