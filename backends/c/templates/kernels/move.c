/* y[i] = x[at + i * step] for i < n, elements of es = 1, 2 or 4 bytes (one loop each). */
static inline void qcc_copy_strided(uint8_t *y, const uint8_t *x, int64_t at, int32_t step, int32_t n,
                                    int32_t es)
{
    int32_t i;
    if (es == 1)
        for (i = 0; i < n; i++, at += step)
            y[i] = x[at];
    else if (es == 2)
        for (i = 0; i < n; i++, at += step)
            memcpy(y + (size_t)i * 2, x + (size_t)at * 2, 2);
    else
        for (i = 0; i < n; i++, at += step)
            memcpy(y + (size_t)i * 4, x + (size_t)at * 4, 4);
}

static inline int qcc_copy_nd(const qcc_copy_p *p, const void *x, void *y)
{
    const uint8_t *xb = (const uint8_t *)x;
    uint8_t *yb = (uint8_t *)y;
    const size_t es = (size_t)p->esize;
    int32_t i0, i1, i2, i3, i4, i5;
    size_t o = 0;
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++)
                for (i3 = 0; i3 < p->d[3]; i3++)
                    for (i4 = 0; i4 < p->d[4]; i4++) {
                        const int64_t base = (int64_t)p->off + (int64_t)i0 * p->xs[0]
                            + (int64_t)i1 * p->xs[1] + (int64_t)i2 * p->xs[2]
                            + (int64_t)i3 * p->xs[3] + (int64_t)i4 * p->xs[4];
                        if (p->xs[5] == 1) {
                            memcpy(yb + o * es, xb + (size_t)base * es, (size_t)p->d[5] * es);
                            o += (size_t)p->d[5];
                            continue;
                        }
                        if (es == 1 || es == 2 || es == 4) {  /* transposes: strided loops of
                                                               * fixed-size moves, no calls */
                            qcc_copy_strided(yb + o * es, xb, base, p->xs[5], p->d[5], (int32_t)es);
                            o += (size_t)p->d[5];
                            continue;
                        }
                        for (i5 = 0; i5 < p->d[5]; i5++, o++)
                            memcpy(yb + o * es, xb + (size_t)(base + (int64_t)i5 * p->xs[5]) * es, es);
                    }
    return QCC_OK;
}

static inline int qcc_gather_table(const qcc_table_p *p, const void *x, const int32_t *table, void *y)
{
    const uint8_t *xb = (const uint8_t *)x;
    uint8_t *yb = (uint8_t *)y;
    const size_t es = (size_t)p->esize;
    int32_t i;
    if (es == 1) {
        for (i = 0; i < p->count; i++)
            yb[i] = table[i] < 0 ? (uint8_t)p->fill : xb[table[i]];
        return QCC_OK;
    }
    for (i = 0; i < p->count; i++) {
        if (table[i] < 0) {
            int64_t f = p->fill;
            memcpy(yb + (size_t)i * es, &f, es); /* little-endian fill */
        } else {
            memcpy(yb + (size_t)i * es, xb + (size_t)table[i] * es, es);
        }
    }
    return QCC_OK;
}

static inline int qcc_gather(const qcc_gather_p *p, const void *data, const void *idx, void *y)
{
    const uint8_t *db = (const uint8_t *)data;
    uint8_t *yb = (uint8_t *)y;
    const size_t row = (size_t)p->inner * p->esize;
    int32_t o, k;
    for (o = 0; o < p->outer; o++)
        for (k = 0; k < p->idx_count; k++) {
            int64_t t = p->idx_64 ? ((const int64_t *)idx)[k] : ((const int32_t *)idx)[k];
            if (t < 0)
                t += p->axis;
            if (t < 0 || t >= p->axis)
                return QCC_ERR_INDEX;
            memcpy(yb + ((size_t)o * p->idx_count + k) * row,
                   db + ((size_t)o * p->axis + (size_t)t) * row, row);
        }
    return QCC_OK;
}
