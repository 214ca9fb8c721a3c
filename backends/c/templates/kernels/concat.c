static inline int qcc_concat_part(const qcc_concat_p *p, const void *x, void *y)
{
    int32_t o, i;
    for (o = 0; o < p->outer; o++) {
        const size_t xo = (size_t)o * p->inner, yo = (size_t)o * p->stride + p->offset;
        if (p->x_dt == QCC_I8 && p->y_dt == QCC_I8) {
            const int8_t *xr = (const int8_t *)x + xo;
            int8_t *yr = (int8_t *)y + yo;
            for (i = 0; i < p->inner; i++)
                yr[i] = (int8_t)qcc_requant((int32_t)xr[i] - p->x_zp, p->m, p->s, p->y_zp, p->lo, p->hi);
            continue;
        }
        for (i = 0; i < p->inner; i++)  /* int16 parts or output (wide concats) */
            qcc_store(y, yo + (size_t)i, p->y_dt,
                      qcc_requant(qcc_load(x, xo + (size_t)i, p->x_dt) - p->x_zp, p->m, p->s,
                                  p->y_zp, p->lo, p->hi));
    }
    return QCC_OK;
}
