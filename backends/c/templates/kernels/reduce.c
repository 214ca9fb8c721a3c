static inline int qcc_reduce(const qcc_reduce_p *p, const int8_t *x, int8_t *y, int32_t *acc)
{
    int32_t i0, i1, i2, i3, i4, i5, k;
    size_t e = 0;
    for (k = 0; k < p->out_count; k++)
        acc[k] = p->op == 0 ? 0 : (p->op == 1 ? -128 : 127);
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++)
                for (i3 = 0; i3 < p->d[3]; i3++)
                    for (i4 = 0; i4 < p->d[4]; i4++)
                        for (i5 = 0; i5 < p->d[5]; i5++, e++) {
                            const size_t o = (size_t)i0 * p->ys[0] + (size_t)i1 * p->ys[1]
                                + (size_t)i2 * p->ys[2] + (size_t)i3 * p->ys[3]
                                + (size_t)i4 * p->ys[4] + (size_t)i5 * p->ys[5];
                            const int32_t v = x[e];
                            if (p->op == 0)
                                acc[o] += v - p->x_zp;
                            else if (p->op == 1)
                                acc[o] = v > acc[o] ? v : acc[o];
                            else
                                acc[o] = v < acc[o] ? v : acc[o];
                        }
    for (k = 0; k < p->out_count; k++)
        y[k] = (int8_t)(p->op == 0 ? qcc_requant(acc[k], p->m, p->s, p->y_zp, p->lo, p->hi) : acc[k]);
    return QCC_OK;
}

static inline int qcc_argmax(const qcc_argmax_p *p, const void *x, int64_t *y)
{
    int32_t o, i, k;
    for (o = 0; o < p->outer; o++)
        for (i = 0; i < p->inner; i++) {
            const size_t base = (size_t)o * p->n * p->inner + (size_t)i;
            int64_t best = qcc_load(x, base, p->x_dt);
            int32_t at = 0;
            for (k = 1; k < p->n; k++) {
                const int64_t v = qcc_load(x, base + (size_t)k * p->inner, p->x_dt);
                const int better = p->is_min ? (v < best || (p->select_last && v == best))
                                             : (v > best || (p->select_last && v == best));
                if (better) {
                    best = v;
                    at = k;
                }
            }
            y[(size_t)o * p->inner + (size_t)i] = at;
        }
    return QCC_OK;
}

/* op 0 with acc_bits = 64: int64 sums (acc: scratch of out_count int64). */
static inline int qcc_reduce_sum64(const qcc_reduce_p *p, const int8_t *x, int8_t *y, int64_t *acc)
{
    int32_t i0, i1, i2, i3, i4, i5, k;
    size_t e = 0;
    for (k = 0; k < p->out_count; k++)
        acc[k] = 0;
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++)
                for (i3 = 0; i3 < p->d[3]; i3++)
                    for (i4 = 0; i4 < p->d[4]; i4++)
                        for (i5 = 0; i5 < p->d[5]; i5++, e++)
                            acc[(size_t)i0 * p->ys[0] + (size_t)i1 * p->ys[1]
                                + (size_t)i2 * p->ys[2] + (size_t)i3 * p->ys[3]
                                + (size_t)i4 * p->ys[4] + (size_t)i5 * p->ys[5]]
                                += (int32_t)x[e] - p->x_zp;
    for (k = 0; k < p->out_count; k++)
        y[k] = (int8_t)qcc_requant(acc[k], p->m, p->s, p->y_zp, p->lo, p->hi);
    return QCC_OK;
}
