static inline int qcc_concat_part(const qcc_concat_p *p, const int8_t *x, int8_t *y)
{
    int32_t o, i;
    for (o = 0; o < p->outer; o++) {
        const int8_t *xr = x + (size_t)o * p->inner;
        int8_t *yr = y + (size_t)o * p->stride + p->offset;
        for (i = 0; i < p->inner; i++)
            yr[i] = (int8_t)qcc_requant((int32_t)xr[i] - p->x_zp, p->m, p->s, p->y_zp, p->lo, p->hi);
    }
    return QCC_OK;
}
