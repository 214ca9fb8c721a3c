static inline int qcc_requant_op(const qcc_requant_p *p, const void *x, const int32_t *mult,
                   const int32_t *shift, void *y)
{
    int32_t o, c, i;
    size_t k = 0;
    for (o = 0; o < p->outer; o++)
        for (c = 0; c < p->channels; c++) {
            const int32_t m = mult[p->per_channel ? c : 0], s = shift[p->per_channel ? c : 0];
            if (p->x_dt == QCC_I8 && p->y_dt == QCC_I8) {
                const int8_t *xi = (const int8_t *)x + k;
                int8_t *yi = (int8_t *)y + k;
                for (i = 0; i < p->inner; i++)
                    yi[i] = (int8_t)qcc_requant((int32_t)xi[i] - p->x_zp, m, s, p->y_zp, p->lo, p->hi);
                k += (size_t)p->inner;
                continue;
            }
            for (i = 0; i < p->inner; i++, k++) {
                const int64_t v = qcc_load(x, k, p->x_dt) - p->x_zp;
                qcc_store(y, k, p->y_dt, qcc_requant(v, m, s, p->y_zp, p->lo, p->hi));
            }
        }
    return QCC_OK;
}
